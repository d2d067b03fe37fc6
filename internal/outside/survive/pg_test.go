package survive_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/internal/pgtest"
)

// pgExec runs statements on the database at dsn.
func pgExec(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer db.Close()
	for _, st := range stmts {
		_, err := db.Exec(st)
		require.NoError(t, err, "%s", st)
	}
}

// withQuery returns dsn with the query parameter k=v added.
func withQuery(t *testing.T, dsn, k, v string) string {
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	// %20, not '+', for a space: pgx reads a query value with
	// PathUnescape, as libpq does, and keeps a '+'.
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += k + "=" + url.PathEscape(v)
	return u.String()
}

// roundTrip starts the linktracker on flag, makes sure the links in have
// redirect, creates one more, clicks every link once and stops; it
// returns the links, the new one included.
func roundTrip(t *testing.T, flag string, have map[string]string) map[string]string {
	t.Helper()
	p, out := start(t, t.TempDir(), "-db", flag)
	require.NotNil(t, p, "%s", out)
	target := fmt.Sprintf("https://example.com/%d", len(have))
	code, id := p.create(target)
	require.Equal(t, http.StatusCreated, code)
	next := map[string]string{id: target}
	for id, u := range have {
		next[id] = u
	}
	for id, u := range next {
		code, loc, _ := p.get("/l/" + id)
		assert.Equal(t, http.StatusFound, code)
		assert.Equal(t, u, loc)
	}
	p.stop()
	return next
}

// TestPostgresSchemaFromSearchPath runs two linktrackers on one
// PostgreSQL database, each in its own schema chosen with the URL's
// search_path (a database shared by services, each in its schema, as a
// managed PostgreSQL is often set up): each must keep its links and
// statistics in its own schema, restart on them, and see none of the
// other's, and the public schema must stay empty.
func TestPostgresSchemaFromSearchPath(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DB(t)
	pgExec(t, dsn, `CREATE SCHEMA tracker_a`, `CREATE SCHEMA "Tracker B"`)
	a := withQuery(t, dsn, "search_path", "tracker_a")
	b := withQuery(t, dsn, "search_path", `"Tracker B"`)
	var linksA, linksB map[string]string
	runsA := map[string]uint64{} // the runs that clicked each link of a
	for range 2 {
		linksA = roundTrip(t, a, linksA)
		for id := range linksA {
			runsA[id]++
		}
		linksB = roundTrip(t, b, linksB)
	}
	p, out := start(t, t.TempDir(), "-db", a)
	require.NotNil(t, p, "%s", out)
	for id := range linksB {
		code, _, _ := p.get("/l/" + id)
		assert.Equal(t, http.StatusNotFound, code, "a link of the other schema")
	}
	for id := range linksA {
		assert.Equal(t, runsA[id], p.clicks(id), "link %s: clicked once in each run since it was made", id)
	}
	p.stop()

	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer db.Close()
	var public int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&public))
	assert.Zero(t, public, "tables in the public schema")
	for schema, links := range map[string]map[string]string{"tracker_a": linksA, "Tracker B": linksB} {
		var n int
		require.NoError(t, db.QueryRow(fmt.Sprintf(`SELECT count(*) FROM %q.linktracker_links`, schema)).Scan(&n))
		assert.Equal(t, len(links), n, "links in schema %s", schema)
		var cells int
		require.NoError(t, db.QueryRow(fmt.Sprintf(`SELECT count(*) FROM %q.clickanon_cells`, schema)).Scan(&cells))
		assert.Positive(t, cells, "statistics in schema %s", schema)
	}
}

// TestPostgresDatabaseNameWithOddCharacters runs the linktracker, and a
// sqlsink.Sink, on a database whose name holds a space, a per cent sign,
// a slash, a question mark, a quote and non-ASCII letters, written
// percent-encoded in the URL's path as URLs do.
func TestPostgresDatabaseNameWithOddCharacters(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DB(t)
	const name = `clicks 100% /é?#'"`
	pgExec(t, dsn, `CREATE DATABASE "clicks 100% /é?#'""`+`"`)
	t.Cleanup(func() { pgExec(t, dsn, `DROP DATABASE IF EXISTS "clicks 100% /é?#'""" WITH (FORCE)`) })
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.Path = "/" + name
	odd := u.String()
	require.Contains(t, odd, "%25", "the name is percent-encoded in the URL")

	links := roundTrip(t, odd, nil)
	links = roundTrip(t, odd, links)
	assert.Len(t, links, 2)

	ctx := context.Background()
	s, err := sqlsink.Open(ctx, odd, &sqlsink.Options{FlushInterval: time.Hour})
	require.NoError(t, err)
	require.NoError(t, s.Close(ctx))

	db, err := sql.Open("pgx", odd)
	require.NoError(t, err)
	defer db.Close()
	var current string
	require.NoError(t, db.QueryRow(`SELECT current_database()`).Scan(&current))
	assert.Equal(t, name, current)
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM linktracker_links`).Scan(&n))
	assert.Equal(t, 2, n)
}

// TestPostgresRoleWithoutCreate runs the linktracker, and a sqlsink.Sink,
// as a role that may read and write the tables but not create any (the
// least privilege a service is given once an owner role has migrated the
// schema: README says PostgreSQL needs nothing unusual). The owner runs
// the current release once, which creates the schema; after that the
// service's role must start, keep links and count clicks.
func TestPostgresRoleWithoutCreate(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DB(t)
	links := roundTrip(t, dsn, nil) // the owner migrates

	role := fmt.Sprintf("tracker_%d", time.Now().UnixNano())
	pgExec(t, dsn,
		`REVOKE CREATE ON SCHEMA public FROM PUBLIC`,
		`CREATE ROLE `+role+` LOGIN PASSWORD 'pw'`,
		`GRANT USAGE ON SCHEMA public TO `+role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO `+role,
		`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO `+role,
	)
	t.Cleanup(func() {
		pgExec(t, dsn, `DROP OWNED BY `+role, `DROP ROLE IF EXISTS `+role)
	})
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.User = url.UserPassword(role, "pw")
	app := u.String()
	// The role may not create a table: the precondition of the test.
	db, err := sql.Open("pgx", app)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE not_allowed (x int)`)
	require.Error(t, err, "the role must not be able to create tables")

	links = roundTrip(t, app, links)
	assert.Len(t, links, 2)

	// The statistics the linktracker counted as the role reached the
	// database: one click per link and run.
	p, out := start(t, t.TempDir(), "-db", app)
	require.NotNil(t, p, "%s", out)
	total := uint64(0)
	for id := range links {
		total += p.clicks(id)
	}
	assert.Equal(t, uint64(3), total, "the first link clicked in both runs, the second in one")
	p.stop()

	// And a Sink of the role's own does all it does.
	ctx := context.Background()
	s, err := sqlsink.Open(ctx, app, &sqlsink.Options{FlushInterval: time.Hour})
	require.NoError(t, err, "sqlsink.Open as a role without CREATE on a migrated database")
	at := time.Now().Add(-time.Hour)
	for i := range 20 {
		require.NoError(t, s.Add(ctx, click("role-link", uint64(i), at), clickstore.Unique))
	}
	require.NoError(t, s.Flush(ctx))
	cells, err := s.Cells(ctx, aggregate.Query{Link: "role-link", Granularity: aggregate.Day, From: at.Add(-48 * time.Hour), To: at.Add(48 * time.Hour), K: 1})
	require.NoError(t, err)
	assert.NotEmpty(t, cells)
	_, err = s.Sweep(ctx, time.Now())
	assert.NoError(t, err)
	n, err := s.EraseLink(ctx, "role-link")
	assert.NoError(t, err)
	assert.Positive(t, n)
	require.NoError(t, s.Close(ctx))
}
