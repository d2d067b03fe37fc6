package main

import (
	"io/fs"
	"net/http"
	"testing"

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
