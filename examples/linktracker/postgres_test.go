package main

import (
	"context"
	"database/sql"
	"io/fs"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/pgtest"
)

// startPostgres returns the URL of a fresh database on a throwaway
// PostgreSQL server of the test's own (internal/pgtest: it fails in CI,
// CI=true, and skips elsewhere when PostgreSQL is not installed).
func startPostgres(t *testing.T) string {
	t.Helper()
	return pgtest.Start(t).DB(t)
}

// On PostgreSQL, as on SQLite: links survive a restart, two instances see
// each other's links, and starting again does not re-run the migrations.
func TestLinksOnPostgres(t *testing.T) {
	t.Parallel() // starting PostgreSQL is mostly waiting
	cfg := config{db: startPostgres(t)}
	a, b := newTrackerWith(t, cfg), newTrackerWith(t, cfg)
	id := a.create("https://example.com/pg")["id"]
	w := b.do("GET", "/l/"+id, "198.51.100.7", browser, nil)
	assert.Equal(t, http.StatusFound, w.Code, "made on a, found by b in the database")
	require.NoError(t, a.app.Close())

	c := newTrackerWith(t, cfg)
	assert.Equal(t, 1, c.app.links.Len(), "loaded at start")
	w = c.do("GET", "/l/"+id, "198.51.100.7", browser, nil)
	assert.Equal(t, "https://example.com/pg", w.Header().Get("Location"))
	var rows, versions int
	require.NoError(t, c.app.db.QueryRow("SELECT count(*), count(DISTINCT version) FROM linktracker_schema").Scan(&rows, &versions))
	files, err := fs.ReadDir(migrations, "migrations/postgres")
	require.NoError(t, err)
	assert.Equal(t, len(files), versions, "every migration applied")
	assert.Equal(t, versions, rows, "each migration recorded once")
}

// A database made read-only (ALTER DATABASE … SET
// default_transaction_read_only, as an operator or a managed service does
// when its disk fills up) and writable again: creating a link fails while
// it is read-only, and works again once it is writable, within as many
// tries as the pool keeps idle sessions, though PostgreSQL keeps the
// sessions opened meanwhile read-only; every later one works.
func TestCreateAfterReadOnlySpell(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := startPostgres(t)
	db, err := openDB(ctx, dsn+"&application_name=ltlinks")
	require.NoError(t, err)
	defer db.Close()
	ls := newLinks(db, time.Now)
	create := func() error {
		_, err := ls.Create(ctx, "https://example.com/spell", geoTargets{})
		return err
	}
	require.NoError(t, create())

	adm, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer adm.Close()
	adm.SetMaxOpenConns(1)
	var name string
	require.NoError(t, adm.QueryRow("SELECT current_database()").Scan(&name))
	_, err = adm.Exec("ALTER DATABASE " + name + " SET default_transaction_read_only = on")
	require.NoError(t, err)
	_, err = adm.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ltlinks'")
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 4 { // at once: the pool opens several sessions, read-only
		wg.Go(func() { _ = create() })
	}
	wg.Wait()
	for range 3 {
		assert.Error(t, create(), "read-only")
	}
	_, err = adm.Exec("ALTER DATABASE " + name + " RESET default_transaction_read_only")
	require.NoError(t, err)
	ok := false
	for range 3 { // the pool keeps two idle sessions (database/sql's default)
		if ok = create() == nil; ok {
			break
		}
	}
	assert.True(t, ok, "a link is created once the database takes writes again")
	for i := range 5 {
		assert.NoError(t, create(), "link %d after", i)
	}
}
