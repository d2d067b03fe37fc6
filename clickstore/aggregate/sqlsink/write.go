package sqlsink

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"modernc.org/sqlite"

	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// chunkSizes are the row counts of the SQLite upserts a Sink prepares
// once and reuses, largest first: a batch is written in chunks of the
// largest size that fits what is left (480 rows: 256 + 128 + 64 + 32), so
// that no flush makes the database parse a statement again and a batch of
// n rows takes at most n/256 + 8 statements. 256 rows of 12 parameters
// stay under SQLite's 32766 parameters. (PostgreSQL's: see pgRows.)
var chunkSizes = [...]int{256, 128, 64, 32, 16, 8, 4, 2, 1}

// pgRows bounds the rows of one PostgreSQL upsert: a batch is one
// statement up to that size. The upsert takes one array per column, or
// (valuesBytes) rows of parameters, in statements for a power of two of
// rows, the unused ones NULL (480 rows: one statement for 512), whose 13
// parameters a row stay under PostgreSQL's 65535.
const pgRows = 4096

// chunkLen returns the size of the chunk that writes the next of n rows.
func (s *Sink) chunkLen(n int) int {
	if s.dialect == PostgreSQL {
		return min(n, pgRows)
	}
	for _, c := range chunkSizes {
		if c <= n {
			return c
		}
	}
	return n
}

// stmtRows returns the row count that names the statement of mode m
// writing a chunk of n rows: n on SQLite; on PostgreSQL the power of two
// at or above n, or 0 (any) for the second write, which takes arrays.
func (s *Sink) stmtRows(m upsertMode, n int) int {
	switch {
	case s.dialect != PostgreSQL:
		return n
	case m == upsertSketch:
		return 0
	}
	return 1 << bits.Len(uint(n-1))
}

// cellParams is the number of parameters a row of clickanon_cells takes.
const cellParams = 12

const cellColumns = "link, granularity, bucket, dimension, other, value, clicks, uniq, unknown, bots, conversions, sketch"

const cellKeyColumns = "link, granularity, bucket, dimension, other, value"

// sums adds a row's counts to the stored ones, in an upsert's DO UPDATE.
const sums = `clicks = clickanon_cells.clicks + excluded.clicks, uniq = clickanon_cells.uniq + excluded.uniq,
unknown = clickanon_cells.unknown + excluded.unknown, bots = clickanon_cells.bots + excluded.bots,
conversions = clickanon_cells.conversions + excluded.conversions`

const conflict = " ON CONFLICT (" + cellKeyColumns + ") DO UPDATE SET "

// stmtKey names a prepared statement: an upsert of a mode and a row
// count (0 for PostgreSQL's that take arrays, of any length), or the
// batch token's insert (mode insertToken, no rows).
type stmtKey struct {
	m    upsertMode
	rows int
}

// prepare makes sure s.stmts holds every statement a write of n rows in
// the current mode uses, preparing the missing ones on s.db. It runs
// before the write's transaction begins: a database limited to one
// connection (as Open makes SQLite) could not prepare on s.db while the
// transaction holds it. The caller holds flushMu, which guards s.stmts.
func (s *Sink) prepare(ctx context.Context, n int) error {
	modes := []upsertMode{upsertReturn, upsertSketch}
	if s.sqlMerge {
		modes = []upsertMode{upsertMerge}
	}
	if s.stmts == nil {
		s.stmts = make(map[stmtKey]*sql.Stmt, 1+len(modes)*len(chunkSizes))
	}
	need := []stmtKey{{m: insertToken}}
	for _, m := range modes {
		if s.dialect == PostgreSQL { // the sizes this write may need
			need = append(need, stmtKey{m, 0})
			for lo := 0; m == upsertReturn && lo < n; lo += s.chunkLen(n - lo) {
				need = append(need, stmtKey{m, s.stmtRows(m, s.chunkLen(n-lo))})
			}
			continue
		}
		for _, c := range chunkSizes {
			need = append(need, stmtKey{m, c})
		}
	}
	for _, k := range need {
		if s.stmts[k] != nil {
			continue
		}
		q := s.dialect.rebind("INSERT INTO clickanon_batches (token, at) VALUES (?, " + s.dialect.unixNow() + ") ON CONFLICT (token) DO NOTHING")
		if s.dialect == PostgreSQL {
			// It also tells the database that this transaction keeps the
			// versions of the sketches it writes (see migration 0002).
			q = `INSERT INTO clickanon_batches (token, at)
SELECT $1::text, ` + s.dialect.unixNow() + ` FROM (SELECT set_config('clickanon.versioned', 'on', true)) AS versioned
ON CONFLICT (token) DO NOTHING`
		}
		if k.m != insertToken {
			q = s.upsertSQL(k.m, k.rows)
		}
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare statements: %w", err)
		}
		s.stmts[k] = st
	}
	return nil
}

// closeStmts closes the prepared statements; the next write prepares them
// again. A failed write calls it, so that a statement the database no
// longer accepts (its schema changed under it) is not reused forever.
// The caller holds flushMu.
func (s *Sink) closeStmts() error {
	var err error
	for k, st := range s.stmts {
		err = errors.Join(err, st.Close())
		delete(s.stmts, k)
	}
	return err
}

// write applies b in one transaction: it records b's token, and only if
// the token is new adds b's counts (INSERT … ON CONFLICT DO UPDATE with
// sums, so concurrent writers never lose an increment) and merges b's
// sketches into the stored ones. The upsert locks every row it touches
// (rows are sorted, so writers lock in one order and do not deadlock) and
// returns the stored sketches that differ from b's; the rows whose sketch
// the merge changed are written once more, still under the lock. A retry
// of a batch whose commit went through finds its token and changes
// nothing. Every statement is prepared once per Sink and reused (see
// chunkSizes and pgRows).
//
// The transaction runs on a connection of its own, closed if the write
// fails, so that the next write opens a new session.
//
// It reports whether an error leaves the batch's fate unknown (the commit
// was sent and its reply lost); an error before the commit means the
// batch was certainly not written.
func (s *Sink) write(ctx context.Context, b *batch) (unknown bool, err error) {
	if s.beforeWrite != nil {
		if err := s.beforeWrite(); err != nil {
			return false, err
		}
	}
	defer func() {
		if err != nil {
			_ = s.closeStmts() // closing what failed: its error adds nothing
		}
	}()
	if err := s.prepare(ctx, len(b.rows)); err != nil {
		return false, err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil {
			// The session of a failed write is closed, not reused: a
			// server may have left it unable to write for good (a
			// database made read-only and then writable again keeps the
			// sessions opened meanwhile read-only).
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	res, err := s.stmt(ctx, tx, insertToken, 0).ExecContext(ctx, b.token)
	if err != nil {
		return false, fmt.Errorf("record batch token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record batch token: %w", err)
	}
	clear(s.memos)
	s.memos = s.memos[:0]
	if n == 1 {
		args := make([]any, 0, chunkSizes[0]*cellParams)
		for lo := 0; lo < len(b.rows); {
			rows := b.rows[lo : lo+s.chunkLen(len(b.rows)-lo)]
			if err := s.writeChunk(ctx, tx, rows, args); err != nil {
				return false, fmt.Errorf("rows %d to %d of %d: %w", lo+1, lo+len(rows), len(b.rows), err)
			}
			lo += len(rows)
		}
	}
	if s.beforeCommit != nil {
		if err := s.beforeCommit(); err != nil {
			return false, err // rolled back
		}
	}
	err = tx.Commit()
	if err == nil && s.afterCommit != nil {
		err = s.afterCommit()
	}
	if err != nil {
		// The batch's writes may or may not be in the database: what
		// the Sink remembers of its cells may be stale either way.
		if s.memory != nil {
			for i := range b.rows {
				s.memory.forget(b.rows[i].key)
			}
		}
		return true, err
	}
	if s.memory != nil {
		for _, m := range s.memos {
			s.memory.put(m.k, m.r)
		}
	}
	return false, nil
}

// stmt returns the prepared statement k for use in tx.
func (s *Sink) stmt(ctx context.Context, tx *sql.Tx, m upsertMode, rows int) *sql.Stmt {
	return tx.StmtContext(ctx, s.stmts[stmtKey{m, s.stmtRows(m, rows)}])
}

// writeChunk writes rows, as many as chunkLen gave, in tx; args
// is a buffer for the statement's arguments.
func (s *Sink) writeChunk(ctx context.Context, tx *sql.Tx, rows []row, args []any) error {
	if s.dialect == PostgreSQL {
		return s.writeVersioned(ctx, tx, rows, args)
	}
	args = appendRowArgs(args[:0], rows, nil, nil)
	if s.sqlMerge {
		_, err := s.stmt(ctx, tx, upsertMerge, len(rows)).ExecContext(ctx, args...)
		return err
	}
	res, err := s.stmt(ctx, tx, upsertReturn, len(rows)).QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	index := make(map[key]int, len(rows)) // the returned rows come by key
	for i := range rows {
		index[rows[i].key] = i
	}
	var again []row // rows whose merged sketch must be written
	for res.Next() {
		i, stored, err := scanReturned(res, index)
		if err != nil {
			res.Close()
			return err
		}
		mine := rows[i].sketch
		if mine == nil || bytes.Equal(stored, mine) {
			continue // nothing to merge, or the row is new and holds ours
		}
		merged, err := s.sketches.merge(stored, mine)
		if err != nil {
			res.Close()
			return fmt.Errorf("row %d: %w", i+1, err)
		}
		if !bytes.Equal(merged, stored) {
			u := rows[i]
			u.n, u.sketch = aggregate.Counts{}, merged
			again = append(again, u)
		}
	}
	if err := res.Close(); err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return err
	}
	for lo := 0; lo < len(again); {
		rows := again[lo : lo+s.chunkLen(len(again)-lo)]
		args = appendRowArgs(args[:0], rows, nil, nil)
		if _, err := s.stmt(ctx, tx, upsertSketch, len(rows)).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("merged sketches: %w", err)
		}
		lo += len(rows)
	}
	return nil
}

// scanReturned reads a row SQLite's upsertReturn statement returned:
// which of the rows written it is (index maps their keys to their
// places), and its stored sketch.
func scanReturned(res *sql.Rows, index map[key]int) (int, []byte, error) {
	var (
		stored []byte
		r      row
		other  int64
	)
	if err := res.Scan(&r.link, &r.g, &r.start, &r.dim, &other, &r.value, &stored); err != nil {
		return 0, nil, err
	}
	r.other = other != 0
	i, ok := index[r.key]
	if !ok {
		return 0, nil, errors.New("database returned a row that was not written")
	}
	return i, stored, nil
}

// sqlMergeFunc is the SQL function, registered with the SQLite driver,
// that merges a stored sketch and a batch's (either may be NULL), with
// the sketchCache registered under its third argument (if any: another
// id merges without a cache).
const sqlMergeFunc = "clickanon_hll_merge"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(sqlMergeFunc, 3, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		stored, _ := args[0].([]byte)
		mine, _ := args[1].([]byte)
		if mine == nil || bytes.Equal(stored, mine) {
			return stored, nil
		}
		id, _ := args[2].(int64)
		return sketchCacheOf(id).merge(stored, mine)
	})
}

// hasSQLMerge reports whether db's connections have sqlMergeFunc: SQLite
// databases opened through the driver registered as "sqlite" do.
func hasSQLMerge(ctx context.Context, db *sql.DB) bool {
	var b []byte
	return db.QueryRowContext(ctx, "SELECT "+sqlMergeFunc+"(NULL, NULL, 0)").Scan(&b) == nil
}

type upsertMode uint8

const (
	upsertReturn upsertMode = iota // add counts; SQLite: keep the stored sketch, return it; PostgreSQL: see writeVersioned
	upsertMerge                    // add counts, merge sketches in SQL
	upsertSketch                   // replace the stored sketch
	insertToken                    // not an upsert: record a batch token
)

// upsertSQL returns the statement that writes n rows in mode m; on
// PostgreSQL, see pgUpsertSQL (n 0: any number of rows, as arrays).
func (s *Sink) upsertSQL(m upsertMode, n int) string {
	if s.dialect == PostgreSQL {
		return pgUpsertSQL(m, n)
	}
	var sb strings.Builder
	sb.Grow(400 + n*64)
	sb.WriteString("INSERT INTO clickanon_cells (" + cellColumns + ") VALUES ")
	s.dialect.values(&sb, n, cellParams)
	sb.WriteString(conflict)
	switch m {
	case upsertReturn:
		sb.WriteString(sums + " RETURNING " + cellKeyColumns + ", sketch")
	case upsertMerge:
		// Only sketches that differ cross into Go to be merged. SQLite
		// leaves versions NULL (see writeVersioned): a sketch it writes
		// has none that could claim other content.
		sb.WriteString(sums + `, sketch = CASE
WHEN excluded.sketch IS NULL THEN clickanon_cells.sketch
WHEN clickanon_cells.sketch IS NULL OR clickanon_cells.sketch = excluded.sketch THEN excluded.sketch
ELSE ` + sqlMergeFunc + `(clickanon_cells.sketch, excluded.sketch, ` + strconv.FormatUint(s.cacheID, 10) + `) END, ver = NULL`)
	case upsertSketch:
		sb.WriteString("sketch = excluded.sketch, ver = NULL")
	}
	return sb.String()
}

// appendRowArgs appends the parameters of rows, row by row: each row's
// sketch is sketches[i], or its own if sketches is nil, and if vers is
// not nil its version vers[i] follows. Rows are sorted, so neighbours
// often share a link and a bucket: those are boxed once and shared, which
// spares an allocation each.
func appendRowArgs(args []any, rows []row, sketches [][]byte, vers []int64) []any {
	var link, start any
	for i := range rows {
		r := &rows[i]
		if i == 0 || r.link != rows[i-1].link {
			link = r.link
		}
		if i == 0 || r.start != rows[i-1].start {
			start = r.start
		}
		other := int64(0)
		if r.other {
			other = 1
		}
		sk := r.sketch
		if sketches != nil {
			sk = sketches[i]
		}
		args = append(args, link, int64(r.g), start, int64(r.dim), other, r.value,
			int64(r.n.Clicks), int64(r.n.Unique), int64(r.n.UnknownUniqueness), int64(r.n.Bots), int64(r.n.Conversions), sk)
		if vers != nil {
			args = append(args, vers[i])
		}
	}
	return args
}
