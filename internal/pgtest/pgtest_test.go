package pgtest_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func query(t *testing.T, url, q string) (string, error) {
	t.Helper()
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer db.Close()
	var s string
	err = db.QueryRowContext(context.Background(), q).Scan(&s)
	return s, err
}

func TestDBsAreSeparate(t *testing.T) {
	a, b := pgtest.DB(t), pgtest.DB(t)
	require.NotEqual(t, a, b)
	db, err := sql.Open("pgx", a)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("CREATE TABLE only_in_a (x int)")
	require.NoError(t, err)
	_, err = query(t, b, "SELECT count(*)::text FROM only_in_a")
	assert.Error(t, err, "a table of one database is not in another")
	n, err := query(t, a, "SELECT count(*)::text FROM only_in_a")
	require.NoError(t, err)
	assert.Equal(t, "0", n)
}

func TestRestartKeepsData(t *testing.T) {
	s := pgtest.Start(t)
	url := s.DB(t)
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
	require.NoError(t, err)
	s.Stop(t)
	_, err = query(t, url, "SELECT x::text FROM kept")
	assert.Error(t, err, "a stopped server does not answer")
	s.Resume(t)
	v, err := query(t, url, "SELECT x::text FROM kept")
	require.NoError(t, err)
	assert.Equal(t, "42", v, "committed data survives an immediate shutdown")
	s.Restart(t, 10*time.Millisecond)
	v, err = query(t, url, "SELECT x::text FROM kept")
	require.NoError(t, err)
	assert.Equal(t, "42", v)
}
