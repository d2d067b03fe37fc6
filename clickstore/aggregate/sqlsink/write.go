package sqlsink

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/axiomhq/hyperloglog"
	"modernc.org/sqlite"

	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// chunkSizes are the row counts of the upserts a Sink prepares once and
// reuses, largest first: a batch is written in chunks of the largest size
// that fits what is left (480 rows: 256 + 128 + 64 + 32), so that no flush
// makes the database parse a statement again and a batch of n rows takes
// at most n/256 + 8 statements. 256 rows of 12 parameters stay under
// SQLite's 32766 and PostgreSQL's 65535 parameters.
var chunkSizes = [...]int{256, 128, 64, 32, 16, 8, 4, 2, 1}

// chunkLen returns the size of the chunk that writes the next of n rows.
func chunkLen(n int) int {
	for _, c := range chunkSizes {
		if c <= n {
			return c
		}
	}
	return n
}

// cellParams is the number of parameters a row of clickanon_cells takes.
const cellParams = 12

const cellColumns = "link, granularity, bucket, dimension, other, value, clicks, uniq, unknown, bots, conversions, sketch"

const cellKeyColumns = "link, granularity, bucket, dimension, other, value"

// stmtKey names a prepared statement: an upsert of a mode and a row
// count, or the batch token's insert (mode insertToken, no rows).
type stmtKey struct {
	m    upsertMode
	rows int
}

// prepare makes sure s.stmts holds every statement a write in the current
// mode uses, preparing the missing ones on s.db. It runs before the
// write's transaction begins: a database limited to one connection (as
// Open makes SQLite) could not prepare on s.db while the transaction holds
// it. The caller holds flushMu, which guards s.stmts.
func (s *Sink) prepare(ctx context.Context) error {
	modes := []upsertMode{upsertReturn, upsertSketch}
	if s.sqlMerge {
		modes = []upsertMode{upsertMerge}
	}
	if s.stmts == nil {
		s.stmts = make(map[stmtKey]*sql.Stmt, 1+len(modes)*len(chunkSizes))
	}
	need := []stmtKey{{m: insertToken}}
	for _, m := range modes {
		for _, n := range chunkSizes {
			need = append(need, stmtKey{m, n})
		}
	}
	for _, k := range need {
		if s.stmts[k] != nil {
			continue
		}
		q := s.dialect.rebind("INSERT INTO clickanon_batches (token, at) VALUES (?, ?) ON CONFLICT (token) DO NOTHING")
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
// returns the stored sketch; the rows whose sketch the merge changed are
// written once more, still under the lock. A retry of a batch whose
// commit went through finds its token and changes nothing. Every
// statement is prepared once per Sink and reused (see chunkSizes).
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
	if err := s.prepare(ctx); err != nil {
		return false, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	res, err := s.stmt(ctx, tx, insertToken, 0).ExecContext(ctx, b.token, s.cfg.now().Unix())
	if err != nil {
		return false, fmt.Errorf("record batch token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record batch token: %w", err)
	}
	if n == 1 {
		args := make([]any, 0, chunkSizes[0]*cellParams)
		for lo := 0; lo < len(b.rows); {
			rows := b.rows[lo : lo+chunkLen(len(b.rows)-lo)]
			if err := s.writeChunk(ctx, tx, rows, args); err != nil {
				return false, fmt.Errorf("rows %d to %d of %d: %w", lo+1, lo+len(rows), len(b.rows), err)
			}
			lo += len(rows)
		}
	}
	if err := tx.Commit(); err != nil {
		return true, err
	}
	if s.afterCommit != nil {
		if err := s.afterCommit(); err != nil {
			return true, err
		}
	}
	return false, nil
}

// stmt returns the prepared statement k for use in tx.
func (s *Sink) stmt(ctx context.Context, tx *sql.Tx, m upsertMode, rows int) *sql.Stmt {
	return tx.StmtContext(ctx, s.stmts[stmtKey{m, rows}])
}

// writeChunk writes rows, whose count is one of chunkSizes, in tx; args
// is a buffer for the statement's arguments.
func (s *Sink) writeChunk(ctx context.Context, tx *sql.Tx, rows []row, args []any) error {
	args = appendArgs(args[:0], rows)
	if s.sqlMerge {
		_, err := s.stmt(ctx, tx, upsertMerge, len(rows)).ExecContext(ctx, args...)
		return err
	}
	res, err := s.stmt(ctx, tx, upsertReturn, len(rows)).QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	index := make(map[key]int, len(rows))
	for i := range rows {
		index[rows[i].key] = i
	}
	var again []row // rows whose merged sketch must be written
	for res.Next() {
		var (
			r      row
			other  int64
			stored []byte
		)
		if err := res.Scan(&r.link, &r.g, &r.start, &r.dim, &other, &r.value, &stored); err != nil {
			res.Close()
			return err
		}
		r.other = other != 0
		i, ok := index[r.key]
		if !ok {
			res.Close()
			return errors.New("database returned a row that was not written")
		}
		mine := rows[i].sketch
		if mine == nil || bytes.Equal(stored, mine) {
			continue // nothing to merge, or the row is new and holds ours
		}
		merged, err := mergeSketches(stored, mine)
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
		rows := again[lo : lo+chunkLen(len(again)-lo)]
		args = appendArgs(args[:0], rows)
		if _, err := s.stmt(ctx, tx, upsertSketch, len(rows)).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("merged sketches: %w", err)
		}
		lo += len(rows)
	}
	return nil
}

// mergeSketches returns the union of two marshalled sketches, marshalled;
// stored may be nil.
func mergeSketches(stored, mine []byte) ([]byte, error) {
	var m hyperloglog.Sketch
	if err := m.UnmarshalBinary(mine); err != nil {
		return nil, fmt.Errorf("sketch: %w", err)
	}
	if stored == nil {
		return mine, nil
	}
	var st hyperloglog.Sketch
	if err := st.UnmarshalBinary(stored); err != nil {
		return nil, fmt.Errorf("stored sketch of %d bytes: %w", len(stored), err)
	}
	if err := st.Merge(&m); err != nil {
		return nil, fmt.Errorf("stored sketch: %w", err)
	}
	return st.MarshalBinary()
}

// sqlMergeFunc is the SQL function, registered with the SQLite driver,
// that merges a stored sketch and a batch's (either may be NULL).
const sqlMergeFunc = "clickanon_hll_merge"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(sqlMergeFunc, 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		stored, _ := args[0].([]byte)
		mine, _ := args[1].([]byte)
		if mine == nil || bytes.Equal(stored, mine) {
			return stored, nil
		}
		return mergeSketches(stored, mine)
	})
}

// hasSQLMerge reports whether db's connections have sqlMergeFunc: SQLite
// databases opened through the driver registered as "sqlite" do.
func hasSQLMerge(ctx context.Context, db *sql.DB) bool {
	var b []byte
	return db.QueryRowContext(ctx, "SELECT "+sqlMergeFunc+"(NULL, NULL)").Scan(&b) == nil
}

type upsertMode uint8

const (
	upsertReturn upsertMode = iota // add counts, keep the stored sketch, return it
	upsertMerge                    // add counts, merge sketches in SQL
	upsertSketch                   // replace the stored sketch
	insertToken                    // not an upsert: record a batch token
)

// upsertSQL returns the statement that writes n rows in mode m.
func (s *Sink) upsertSQL(m upsertMode, n int) string {
	var sb strings.Builder
	sb.Grow(400 + n*64)
	sb.WriteString("INSERT INTO clickanon_cells (" + cellColumns + ") VALUES ")
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('(')
		s.dialect.placeholders(&sb, i*cellParams+1, cellParams)
		sb.WriteByte(')')
	}
	sb.WriteString(" ON CONFLICT (" + cellKeyColumns + ") DO UPDATE SET ")
	const sums = `clicks = clickanon_cells.clicks + excluded.clicks, uniq = clickanon_cells.uniq + excluded.uniq,
unknown = clickanon_cells.unknown + excluded.unknown, bots = clickanon_cells.bots + excluded.bots,
conversions = clickanon_cells.conversions + excluded.conversions`
	switch m {
	case upsertReturn:
		sb.WriteString(sums + " RETURNING " + cellKeyColumns + ", sketch")
	case upsertMerge:
		// Only sketches that differ cross into Go to be merged.
		sb.WriteString(sums + `, sketch = CASE
WHEN excluded.sketch IS NULL THEN clickanon_cells.sketch
WHEN clickanon_cells.sketch IS NULL OR clickanon_cells.sketch = excluded.sketch THEN excluded.sketch
ELSE ` + sqlMergeFunc + `(clickanon_cells.sketch, excluded.sketch) END`)
	case upsertSketch:
		sb.WriteString("sketch = excluded.sketch")
	}
	return sb.String()
}

// appendArgs appends the parameters of rows, in upsertSQL's order. Rows
// are sorted, so neighbours often share a link and a bucket: those are
// boxed once and shared, which spares an allocation each.
func appendArgs(args []any, rows []row) []any {
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
		args = append(args, link, int64(r.g), start, int64(r.dim), other, r.value,
			int64(r.n.Clicks), int64(r.n.Unique), int64(r.n.UnknownUniqueness), int64(r.n.Bots), int64(r.n.Conversions), r.sketch)
	}
	return args
}
