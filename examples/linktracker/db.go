package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver, pure Go
)

//go:embed migrations
var migrations embed.FS

// database is the durable half: the SQL database that holds the links
// (and, with the SQL sink, the statistics). Nothing about a visitor is
// ever written to it.
type database struct {
	*sql.DB
	dialect string // "sqlite" or "postgres": the migrations directory
	name    string // for the start-up line: no password, no query
}

// openDB opens the database named by the -db flag, sqlite:PATH or a
// postgres:// URL, and brings its schema up to date. Errors never repeat
// the flag's text, since a URL can hold a password.
func openDB(ctx context.Context, dsn string) (*database, error) {
	var d database
	var err error
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		file := strings.TrimPrefix(dsn, "sqlite:")
		if file == "" || strings.ContainsAny(file, "?#\x00") {
			return nil, errors.New("-db: sqlite: wants a file path after \"sqlite:\", without ?, # or a NUL byte")
		}
		// WAL lets the redirects read while a link is written; the busy
		// timeout makes two instances on one file wait for each other
		// rather than fail, and immediate transactions take the write
		// lock at BEGIN, so that the statistics sink's read-then-write
		// transactions wait for it instead of failing with SQLITE_BUSY
		// (as sqlsink asks).
		q := url.Values{"_pragma": {"busy_timeout(5000)", "journal_mode(WAL)", "synchronous(NORMAL)"}, "_txlock": {"immediate"}}
		d = database{dialect: "sqlite", name: "sqlite " + file}
		// SQLite decodes %HH in a file: URI's path: a '%' is written %25,
		// so that the file opened is the one named.
		d.DB, err = sql.Open("sqlite", "file:"+strings.ReplaceAll(file, "%", "%25")+"?"+q.Encode())
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		u, perr := url.Parse(dsn)
		if perr != nil {
			return nil, errors.New("-db: the postgres URL does not parse")
		}
		d = database{dialect: "postgres", name: "postgres " + u.Host + u.Path}
		d.DB, err = sql.Open("pgx", dsn)
	default:
		return nil, fmt.Errorf("-db: want sqlite:PATH or a postgres:// URL (got %d bytes starting with neither)", len(dsn))
	}
	if err != nil {
		return nil, fmt.Errorf("-db: %s: %w", d.dialect, err)
	}
	if err := d.migrate(ctx); err != nil {
		d.Close()
		if d.dialect == "sqlite" && cannotWrite(err) {
			return nil, fmt.Errorf("-db: %s: %w (this user must be able to write the file and its directory: run it in such a directory, or name another file with -db sqlite:PATH)", d.name, err)
		}
		return nil, fmt.Errorf("-db: %s: %w", d.name, err)
	}
	return &d, nil
}

// migrate applies, in one transaction, every embedded migration of the
// dialect newer than the version the database records. On PostgreSQL an
// advisory lock makes instances that start together take turns. A
// database whose recorded version is newer than every embedded migration
// (upgraded by a newer release) is refused with an error.
func (d *database) migrate(ctx context.Context) error {
	dir := path.Join("migrations", d.dialect)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })

	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if d.dialect == "postgres" {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7364921)"); err != nil {
			return err
		}
	}
	// Created only when missing: PostgreSQL refuses even CREATE TABLE IF
	// NOT EXISTS of a table that exists to a role without CREATE on the
	// schema, and a role that may only read and write the tables, once an
	// owner has migrated them, must be able to run the tracker.
	exists := "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'linktracker_schema')"
	if d.dialect == "postgres" {
		exists = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'linktracker_schema')"
	}
	var found bool
	if err := tx.QueryRowContext(ctx, exists).Scan(&found); err != nil {
		return err
	}
	if !found {
		if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS linktracker_schema (version INTEGER NOT NULL)"); err != nil {
			return err
		}
	}
	var have int
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM linktracker_schema").Scan(&have); err != nil {
		return err
	}
	newest := 0
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migration %s: name must start with a number and _", e.Name())
		}
		newest = max(newest, v)
	}
	if have > newest {
		// A newer release changed the schema: this one would read and
		// write tables it does not know, so it refuses them, as the SQL
		// sink refuses statistics of a newer schema.
		return fmt.Errorf("links schema version %d is newer than this linktracker's %d: run the newer release", have, newest)
	}
	for _, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		v, _ := strconv.Atoi(num) // checked above
		if v <= have {
			continue
		}
		body, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		if _, err := tx.ExecContext(ctx, d.rebind("INSERT INTO linktracker_schema (version) VALUES (?)"), v); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// rebind turns the ? placeholders of a query into PostgreSQL's $1, $2...
func (d *database) rebind(q string) string {
	if d.dialect != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// exec runs a statement that writes on a connection of its own, and
// closes that connection if the statement fails, so that the next write
// opens a new session: PostgreSQL keeps the sessions opened while a
// database was read-only (ALTER DATABASE … SET
// default_transaction_read_only, as a managed service sets it when its
// disk fills up) read-only after, and a pool that kept them would refuse
// every link until a restart.
func (d *database) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	conn, err := d.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	res, err := conn.ExecContext(ctx, q, args...)
	if err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // closed, not pooled again
	}
	return res, err
}

// cannotWrite reports whether err is SQLite's answer to a file or a
// directory this user may not write: SQLITE_PERM, SQLITE_READONLY or
// SQLITE_CANTOPEN, by their primary codes.
func cannotWrite(err error) bool {
	var e interface{ Code() int }
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case 3, 8, 14:
		return true
	}
	return false
}
