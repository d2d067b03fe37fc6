package sqlsink

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
)

// migrations are the schema's versions, applied in order: NNNN_name.sql,
// statements separated by semicolons at line ends; a file named
// NNNN_name.postgresql.sql is applied to PostgreSQL alone.
//
//go:embed migrations/*.sql
var migrations embed.FS

// SchemaVersion is the schema version this package writes and reads; a
// database at a newer version is refused.
const SchemaVersion = 2

// migrationLock is the PostgreSQL advisory lock key that serializes
// migrations of instances starting at once ("clickano" in ASCII).
const migrationLock = 0x636c69636b616e6f

type migration struct {
	version int
	stmts   []string
	only    []Dialect // the dialect of each statement, or 0 for both
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var ms []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("sqlsink: migration %q: no version number", base)
		}
		text, err := migrations.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var only Dialect
		if strings.HasSuffix(base, ".postgresql.sql") {
			only = PostgreSQL
		}
		if len(ms) == 0 || ms[len(ms)-1].version != v {
			ms = append(ms, migration{version: v})
		}
		m := &ms[len(ms)-1]
		for _, st := range strings.Split(string(text), ";\n") {
			if strings.TrimSpace(stripComments(st)) != "" {
				m.stmts, m.only = append(m.stmts, st), append(m.only, only)
			}
		}
	}
	return ms, nil
}

func stripComments(s string) string {
	var sb strings.Builder
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			sb.WriteString(line)
		}
	}
	return sb.String()
}

// migrate brings db's schema to SchemaVersion in one transaction. On
// PostgreSQL the transaction first takes an advisory lock, so instances
// starting at once apply each migration once; on SQLite the sink's
// connections begin IMMEDIATE transactions, which serialize writers.
//
// SQLite answers SQLITE_BUSY at once, without waiting out its busy
// timeout, to one of two connections that find a new file at the same
// moment and both turn it to WAL (each holds a read lock and wants the
// write lock, so one must give way). Instances opening one new file at
// once would then fail to start; so on SQLite a busy database is tried
// again, after a short wait, for up to busyWait.
func migrate(ctx context.Context, db *sql.DB, d Dialect) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	wait := 5 * time.Millisecond
	deadline := time.Now().Add(busyWait)
	for {
		err := migrateOnce(ctx, db, d, ms)
		if err == nil || d != SQLite || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// busyWait bounds how long migrate tries a busy SQLite database again:
// the busy timeout Open sets.
const busyWait = 10 * time.Second

// isBusy reports whether err is SQLite's SQLITE_BUSY (or one of its
// extended codes).
func isBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == 5 // SQLITE_BUSY
}

// migrateOnce is one attempt of migrate.
func migrateOnce(ctx context.Context, db *sql.DB, d Dialect, ms []migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlsink: migrate: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if d == PostgreSQL {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
			return fmt.Errorf("sqlsink: migrate: lock: %w", err)
		}
	}
	// The table is created only when it is missing: PostgreSQL refuses
	// even CREATE TABLE IF NOT EXISTS of a table that exists to a role
	// without CREATE on the schema, and a service's role that may only
	// read and write the tables an owner role migrated must start.
	var exists bool
	if err := tx.QueryRowContext(ctx, d.versionTableExists()).Scan(&exists); err != nil {
		return fmt.Errorf("sqlsink: migrate: read version: %w", err)
	}
	if !exists {
		if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS clickanon_schema_version (version INTEGER NOT NULL)"); err != nil {
			return fmt.Errorf("sqlsink: migrate: %w", err)
		}
	}
	var cur sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT max(version) FROM clickanon_schema_version").Scan(&cur); err != nil {
		return fmt.Errorf("sqlsink: migrate: read version: %w", err)
	}
	if cur.Int64 > SchemaVersion {
		return fmt.Errorf("sqlsink: migrate: database schema version %d is newer than this package's %d", cur.Int64, SchemaVersion)
	}
	for _, m := range ms {
		if int64(m.version) <= cur.Int64 {
			continue
		}
		for i, st := range m.stmts {
			if m.only[i] != 0 && m.only[i] != d {
				continue
			}
			if _, err := tx.ExecContext(ctx, st); err != nil {
				return fmt.Errorf("sqlsink: migrate to version %d, statement %d: %w", m.version, i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, d.rebind("INSERT INTO clickanon_schema_version (version) VALUES (?)"), m.version); err != nil {
			return fmt.Errorf("sqlsink: migrate to version %d: %w", m.version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlsink: migrate: %w", err)
	}
	return nil
}

// versionTableExists is a query for whether clickanon_schema_version
// exists where CREATE TABLE would make it: on PostgreSQL in the first
// schema of search_path (current_schema()), as the other tables.
func (d Dialect) versionTableExists() string {
	if d == PostgreSQL {
		return "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'clickanon_schema_version')"
	}
	return "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'clickanon_schema_version')"
}
