package survive_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/clickanon/clickanon/clickstore/aggregate/sqlsink" // registers the "sqlite" and "pgx" drivers the tests read with
	"github.com/clickanon/clickanon/internal/pgtest"
)

// version1 is the links schema of the first release with links in SQL
// (examples/linktracker/migrations/*/0001_links.sql at commit 0f366bb),
// as that release left a database: the table, and version 1 recorded.
var version1 = map[string][]string{
	"sqlite": {
		`CREATE TABLE linktracker_links (
			seq        INTEGER PRIMARY KEY AUTOINCREMENT,
			id         TEXT    NOT NULL UNIQUE,
			url        TEXT    NOT NULL,
			created_ms INTEGER NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS linktracker_schema (version INTEGER NOT NULL)`,
		`INSERT INTO linktracker_schema (version) VALUES (1)`,
	},
	"pgx": {
		`CREATE TABLE linktracker_links (
			seq        BIGSERIAL PRIMARY KEY,
			id         TEXT      NOT NULL UNIQUE,
			url        TEXT      NOT NULL,
			created_ms BIGINT    NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS linktracker_schema (version INTEGER NOT NULL)`,
		`INSERT INTO linktracker_schema (version) VALUES (1)`,
	},
}

// oldLinks are links the version-1 release stored, of several URL forms.
var oldLinks = map[string]string{
	"abcdefgh": "https://example.com/",
	"ZZZZ2345": "http://example.org:8080/a/b?q=1&r=%C3%A9#frag",
	"mnpqrstu": "https://xn--bcher-kva.example/%E2%82%AC",
	"22222222": "https://example.net/long/1234567890?utm_source=a%20b",
}

// TestOlderLinksSchemaMigratedOnce opens, with the current binary, a links
// database made by the first release (schema version 1, before the geo
// targets), on SQLite and PostgreSQL: the binary must migrate it (the
// issue: "embedded, versioned migrations that a new version applies on
// start"), once, losing nothing: every old link redirects to its URL
// after the upgrade and after a restart, new links are created after the
// old ones, and the recorded versions are 1 and the current one, each
// once.
func TestOlderLinksSchemaMigratedOnce(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		file := filepath.Join(dir, "old links.db")
		olderSchema(t, "sqlite", file, "sqlite:"+file, dir)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dsn := pgtest.DB(t)
		olderSchema(t, "pgx", dsn, dsn, t.TempDir())
	})
}

func olderSchema(t *testing.T, driver, source, flag, dir string) {
	db, err := sql.Open(driver, source)
	require.NoError(t, err)
	defer db.Close()
	for _, st := range version1[driver] {
		_, err := db.Exec(st)
		require.NoError(t, err)
	}
	insert := "INSERT INTO linktracker_links (id, url, created_ms) VALUES (?, ?, ?)"
	if driver == "pgx" {
		insert = "INSERT INTO linktracker_links (id, url, created_ms) VALUES ($1, $2, $3)"
	}
	for id, u := range oldLinks {
		_, err := db.Exec(insert, id, u, int64(1764547200000))
		require.NoError(t, err)
	}

	var created []string
	for run := range 3 {
		p, out := start(t, dir, "-db", flag)
		require.NotNil(t, p, "run %d: the current binary refused a version-1 database:\n%s", run, out)
		for id, u := range oldLinks {
			code, loc, _ := p.get("/l/" + id)
			assert.Equal(t, http.StatusFound, code, "run %d: link %s of the old release", run, id)
			assert.Equal(t, u, loc, "run %d: link %s of the old release", run, id)
		}
		for i, id := range created {
			code, loc, _ := p.get("/l/" + id)
			assert.Equal(t, http.StatusFound, code, "run %d: link made in run %d", run, i)
			assert.Equal(t, fmt.Sprintf("https://example.com/new/%d", i), loc)
		}
		code, id := p.create(fmt.Sprintf("https://example.com/new/%d", run))
		require.Equal(t, http.StatusCreated, code, "run %d: create after the upgrade", run)
		created = append(created, id)
		for id := range oldLinks {
			assert.Equal(t, uint64(run+1), p.clicks(id), "run %d: link %s's clicks", run, id)
		}
		p.stop()

		var versions []int
		rows, err := db.Query("SELECT version FROM linktracker_schema ORDER BY version")
		require.NoError(t, err)
		for rows.Next() {
			var v int
			require.NoError(t, rows.Scan(&v))
			versions = append(versions, v)
		}
		require.NoError(t, rows.Err())
		rows.Close()
		require.NotEmpty(t, versions)
		want := []int{}
		for v := 1; v <= versions[len(versions)-1]; v++ {
			want = append(want, v)
		}
		assert.Equal(t, want, versions, "run %d: each version recorded once", run)
		assert.Greater(t, versions[len(versions)-1], 1, "run %d: migrated past version 1", run)
		var n int
		require.NoError(t, db.QueryRow("SELECT count(*) FROM linktracker_links").Scan(&n))
		assert.Equal(t, len(oldLinks)+run+1, n, "run %d: no link lost or doubled", run)
	}
}
