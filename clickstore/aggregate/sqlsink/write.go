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

// chunkRows is how many rows one statement writes: 12 parameters a row
// stays under SQLite's 32766 and PostgreSQL's 65535 parameters.
const chunkRows = 1000

const cellColumns = "link, granularity, bucket, dimension, other, value, clicks, uniq, unknown, bots, conversions, sketch"

const cellKeyColumns = "link, granularity, bucket, dimension, other, value"

// write applies b in one transaction: it records b's token, and only if
// the token is new adds b's counts (INSERT … ON CONFLICT DO UPDATE with
// sums, so concurrent writers never lose an increment) and merges b's
// sketches into the stored ones. The upsert locks every row it touches
// (rows are sorted, so writers lock in one order and do not deadlock) and
// returns the stored sketch; the rows whose sketch the merge changed are
// written once more, still under the lock. A retry of a batch whose
// commit went through finds its token and changes nothing.
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
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	res, err := tx.ExecContext(ctx, s.dialect.rebind("INSERT INTO clickanon_batches (token, at) VALUES (?, ?) ON CONFLICT (token) DO NOTHING"),
		b.token, s.cfg.now().Unix())
	if err != nil {
		return false, fmt.Errorf("record batch token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record batch token: %w", err)
	}
	if n == 1 {
		for lo := 0; lo < len(b.rows); lo += chunkRows {
			rows := b.rows[lo:min(lo+chunkRows, len(b.rows))]
			if err := s.writeChunk(ctx, tx, rows); err != nil {
				return false, fmt.Errorf("rows %d to %d of %d: %w", lo+1, lo+len(rows), len(b.rows), err)
			}
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

func (s *Sink) writeChunk(ctx context.Context, tx *sql.Tx, rows []row) error {
	if s.sqlMerge {
		q, args := s.upsert(rows, upsertMerge)
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	}
	q, args := s.upsert(rows, upsertReturn)
	res, err := tx.QueryContext(ctx, q, args...)
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
	if len(again) > 0 {
		q, args := s.upsert(again, upsertSketch)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("merged sketches: %w", err)
		}
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
)

// upsert returns the statement that writes rows in mode m, and its
// arguments.
func (s *Sink) upsert(rows []row, m upsertMode) (string, []any) {
	var sb strings.Builder
	sb.Grow(400 + len(rows)*64)
	sb.WriteString("INSERT INTO clickanon_cells (" + cellColumns + ") VALUES ")
	args := make([]any, 0, len(rows)*12)
	for i := range rows {
		r := &rows[i]
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('(')
		s.dialect.placeholders(&sb, len(args)+1, 12)
		sb.WriteByte(')')
		other := 0
		if r.other {
			other = 1
		}
		args = append(args, r.link, int64(r.g), r.start, int64(r.dim), int64(other), r.value,
			int64(r.n.Clicks), int64(r.n.Unique), int64(r.n.UnknownUniqueness), int64(r.n.Bots), int64(r.n.Conversions), r.sketch)
	}
	sb.WriteString(" ON CONFLICT (" + cellKeyColumns + ") DO UPDATE SET ")
	const sums = `clicks = clickanon_cells.clicks + excluded.clicks, uniq = clickanon_cells.uniq + excluded.uniq,
unknown = clickanon_cells.unknown + excluded.unknown, bots = clickanon_cells.bots + excluded.bots,
conversions = clickanon_cells.conversions + excluded.conversions`
	switch m {
	case upsertReturn:
		sb.WriteString(sums + " RETURNING " + cellKeyColumns + ", sketch")
	case upsertMerge:
		sb.WriteString(sums + ", sketch = " + sqlMergeFunc + "(clickanon_cells.sketch, excluded.sketch)")
	case upsertSketch:
		sb.WriteString("sketch = excluded.sketch")
	}
	return sb.String(), args
}
