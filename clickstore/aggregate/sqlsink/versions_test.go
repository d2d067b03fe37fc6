package sqlsink

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/pgtest"
)

// upsertForms runs f with Sinks whose PostgreSQL upserts take arrays, and
// with Sinks whose upserts take rows of parameters (as they do for dense
// sketches); f opens its Sinks on dsn with open, which discards their
// logs.
func upsertForms(t *testing.T, f func(t *testing.T, open func(dsn string) *Sink)) {
	for _, form := range []struct {
		name        string
		valuesBytes int
	}{{"arrays", 1 << 40}, {"values", -1}} {
		t.Run(form.name, func(t *testing.T) {
			f(t, func(dsn string) *Sink {
				s := open(t, dsn, &Options{Logger: slog.New(slog.DiscardHandler)})
				s.valuesBytes = form.valuesBytes
				return s
			})
		})
	}
}

// addVisitors adds a click on link by each visitor from first to last-1.
func addVisitors(t *testing.T, s *Sink, link string, first, last int) {
	t.Helper()
	for i := first; i < last; i++ {
		require.NoError(t, s.Add(context.Background(), click(link, i), clickstore.Unique))
	}
}

// writeVisitors adds a click on link by each visitor from first to last-1
// and flushes.
func writeVisitors(t *testing.T, s *Sink, link string, first, last int) {
	t.Helper()
	addVisitors(t, s, link, first, last)
	require.NoError(t, s.Flush(context.Background()))
}

// assertVersions checks that every stored sketch of link has a version,
// and an even one (an odd one is only ever sent to ask for a check).
func assertVersions(t *testing.T, db *sql.DB, link string) {
	t.Helper()
	var rows, versioned, even int
	require.NoError(t, db.QueryRow(`SELECT count(*), count(ver), count(*) FILTER (WHERE ver % 2 = 0)
FROM clickanon_cells WHERE link = $1 AND sketch IS NOT NULL`, link).Scan(&rows, &versioned, &even))
	require.Positive(t, rows)
	assert.Equal(t, rows, versioned, "every stored sketch of %s has a version", link)
	assert.Equal(t, rows, even, "every version of %s is even", link)
}

// storedVersion returns the version of link's minute total.
func storedVersion(t *testing.T, db *sql.DB, link string) sql.NullInt64 {
	t.Helper()
	var v sql.NullInt64
	require.NoError(t, db.QueryRow("SELECT ver FROM clickanon_cells WHERE link = $1 AND granularity = $2 AND dimension = $3",
		link, int64(aggregate.Minute), int64(aggregate.Total)).Scan(&v))
	return v
}

// minuteTotal is the key of link's minute total in t0's minute.
func minuteTotal(link string) key {
	return key{link: link, g: aggregate.Minute, start: t0.Unix(), dim: aggregate.Total}
}

// Several Sinks (a fleet's instances) flush the same cells of one
// PostgreSQL at once, round after round, each with visitors of its own
// and some batches of bots alone: no increment and no visitor is lost.
// The sketches stay small, where the estimate is the exact count.
func TestConcurrentSinksLoseNoVisitor(t *testing.T) {
	upsertForms(t, func(t *testing.T, open func(string) *Sink) {
		const (
			sinks, rounds, perRound = 3, 8, 6
			links                   = 3
		)
		dsn := pgtest.DB(t)
		ss := make([]*Sink, sinks)
		for k := range ss {
			ss[k] = open(dsn)
		}
		ctx := context.Background()
		var humans, bots [links]int
		for r := range rounds {
			var start, done sync.WaitGroup
			start.Add(1)
			errs := make(chan error, sinks)
			for k, s := range ss {
				for l := range links {
					link := fmt.Sprintf("fleet-%d", l)
					onlyBots := l == 2 && (r+k)%3 == 0 // a batch whose cells get no visitor
					for j := range perRound {
						c := click(link, 10_000*k+perRound*r+j)
						if onlyBots {
							c.Bot = "crawler"
							bots[l]++
						} else {
							humans[l]++
						}
						require.NoError(t, s.Add(ctx, c, clickstore.Unique))
					}
				}
				done.Go(func() {
					start.Wait()
					errs <- s.Flush(ctx)
				})
			}
			start.Done() // the flushes of the round race
			done.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err, "round %d", r)
			}
		}
		var rewrites uint64
		for _, s := range ss {
			rewrites += s.rewrites.Load()
		}
		assert.Positive(t, rewrites, "sinks found cells the others had changed")
		for l := range links {
			link := fmt.Sprintf("fleet-%d", l)
			assertMinuteCells(t, ss[0], link, uint64(humans[l]), uint64(humans[l]+bots[l]))
			assertVersions(t, ss[0].db, link)
		}
	})
}

// A Sink writes a cell it wrote last once, and a cell another Sink
// changed behind its back is merged, not overwritten: its first write
// leaves the sketch alone, the Sink reads and merges the stored one and
// writes the union a second time, and from then on writes once again.
func TestSketchChangedBehindTheSinkIsMerged(t *testing.T) {
	upsertForms(t, func(t *testing.T, open func(string) *Sink) {
		dsn := pgtest.DB(t)
		a, b := open(dsn), open(dsn)
		const link, cells = "behind", 15
		writeVisitors(t, a, link, 0, 10) // new rows, with a's versions
		writeVisitors(t, a, link, 10, 20)
		assert.Zero(t, a.rewrites.Load(), "a wrote the cells last: one write each")
		v := storedVersion(t, a.db, link)
		m, ok := a.memory.get(minuteTotal(link))
		require.True(t, ok, "a remembers the cell")
		assert.Equal(t, v, sql.NullInt64{Int64: m.ver, Valid: true}, "a remembers the stored version")

		writeVisitors(t, a, link, 0, 20) // no new visitor: the version checked, nothing written
		assert.Zero(t, a.rewrites.Load())
		assert.Equal(t, v, storedVersion(t, a.db, link), "a sketch without new visitors is not written")

		writeVisitors(t, b, link, 20, 30) // b does not remember the cells: it reads and merges
		assert.Equal(t, uint64(cells), b.rewrites.Load(), "b merged what a wrote")
		assert.NotEqual(t, v, storedVersion(t, a.db, link), "b's write has a version of its own")
		writeVisitors(t, a, link, 30, 40)
		assert.Equal(t, uint64(cells), a.rewrites.Load(), "a found b's versions and merged b's visitors")
		m, ok = a.memory.get(minuteTotal(link))
		require.True(t, ok)
		assert.True(t, m.contended, "a cell another writer changed is contended")
		writeVisitors(t, a, link, 40, 50)
		assert.Equal(t, uint64(2*cells), a.rewrites.Load(), "a contended cell: the check alone, then the union")
		writeVisitors(t, a, link, 50, 60)
		assert.Equal(t, uint64(2*cells), a.rewrites.Load(), "the check passed: one write each again")
		assertMinuteCells(t, a, link, 60, 80)
		assertVersions(t, a.db, link)
	})
}

// A flush whose commit reply is lost forgets the cells it wrote (it may
// or may not have changed them); its retry changes nothing, and the next
// flush reads those cells and merges. A flush rolled back leaves what
// the Sink remembers true, and it writes once.
func TestLostCommitReplyForgetsCells(t *testing.T) {
	upsertForms(t, func(t *testing.T, open func(string) *Sink) {
		s := open(pgtest.DB(t))
		const link, cells = "unsure", 15
		writeVisitors(t, s, link, 0, 10)
		_, ok := s.memory.get(minuteTotal(link))
		require.True(t, ok, "remembered after its commit")

		addVisitors(t, s, link, 10, 20)
		s.afterCommit = func() error { return errors.New("connection reset after commit") }
		require.Error(t, s.Flush(context.Background()))
		s.afterCommit = nil
		_, ok = s.memory.get(minuteTotal(link))
		assert.False(t, ok, "a batch of unknown fate: its cells are forgotten")
		require.NoError(t, s.Flush(context.Background()), "the retry finds its token")
		assert.Zero(t, s.rewrites.Load(), "the retry wrote nothing")

		writeVisitors(t, s, link, 20, 30)
		assert.Equal(t, uint64(cells), s.rewrites.Load(), "the forgotten cells were read and merged")
		writeVisitors(t, s, link, 30, 35) // their check passes: the union written next, once
		assert.Equal(t, uint64(2*cells), s.rewrites.Load())

		addVisitors(t, s, link, 35, 40)
		s.beforeCommit = func() error { return errors.New("rolled back") }
		require.Error(t, s.Flush(context.Background()))
		s.beforeCommit = nil
		require.NoError(t, s.Flush(context.Background()), "the batch, back in the buffer")
		assert.Equal(t, uint64(2*cells), s.rewrites.Load(), "after a rollback the Sink remembers the cells right")
		assertMinuteCells(t, s, link, 40, 40)
		assertVersions(t, s.db, link)
	})
}

// A row deleted behind a Sink's back (another instance erased the link)
// is inserted anew by the Sink's next flush with that batch's visitors
// alone, not with those the Sink remembers.
func TestRememberedRowDeletedIsWrittenAnew(t *testing.T) {
	upsertForms(t, func(t *testing.T, open func(string) *Sink) {
		s := open(pgtest.DB(t))
		const link, cells = "erased", 15
		writeVisitors(t, s, link, 0, 10)
		_, err := s.db.Exec("DELETE FROM clickanon_cells WHERE link = $1", link)
		require.NoError(t, err)
		writeVisitors(t, s, link, 10, 30)
		assert.Equal(t, uint64(cells), s.rewrites.Load(), "the inserted rows were given the batch's sketch")
		assertMinuteCells(t, s, link, 20, 20)
		assertVersions(t, s.db, link)
		writeVisitors(t, s, link, 30, 35)
		assert.Equal(t, uint64(cells), s.rewrites.Load(), "and remembered")
		assertMinuteCells(t, s, link, 25, 25)
	})
}

// A database of schema version 1 is upgraded on start; its sketches,
// which have no version, are read and merged, and then given one.
func TestSketchesWithoutVersionAreMerged(t *testing.T) {
	upsertForms(t, func(t *testing.T, open func(string) *Sink) {
		dsn := pgtest.DB(t)
		ctx := context.Background()
		old := open(dsn)
		const link, cells = "v1", 15
		writeVisitors(t, old, link, 0, 10)
		require.NoError(t, old.Close(ctx))
		db, err := sql.Open("pgx", dsn)
		require.NoError(t, err)
		defer db.Close()
		for _, q := range []string{"DROP TRIGGER clickanon_cells_unversion ON clickanon_cells", "DROP FUNCTION clickanon_cells_unversion()",
			"ALTER TABLE clickanon_cells DROP COLUMN ver", "DELETE FROM clickanon_schema_version WHERE version > 1"} {
			_, err := db.Exec(q)
			require.NoError(t, err, "back to version 1")
		}

		s := open(dsn)
		var v int
		require.NoError(t, db.QueryRow("SELECT max(version) FROM clickanon_schema_version").Scan(&v))
		assert.Equal(t, SchemaVersion, v, "upgraded")
		assert.False(t, storedVersion(t, db, link).Valid, "a sketch of version 1 has none")
		writeVisitors(t, s, link, 10, 20)
		assert.Equal(t, uint64(cells), s.rewrites.Load(), "sketches without a version read and merged")
		assertMinuteCells(t, s, link, 20, 20)
		assertVersions(t, db, link)
	})
}

// A writer that does not know versions (a release before them, or a
// person) changes a sketch: the database clears its version, so the Sink
// that remembers the cell merges what that writer added rather than
// writing over it.
func TestUpdateOutsideAFlushClearsTheVersion(t *testing.T) {
	s := open(t, pgtest.DB(t), &Options{Logger: slog.New(slog.DiscardHandler)})
	const link = "old-writer"
	writeVisitors(t, s, link, 0, 10)
	require.True(t, storedVersion(t, s.db, link).Valid)
	rows, err := s.db.Query("SELECT dimension, other, value, granularity, sketch FROM clickanon_cells WHERE link = $1", link)
	require.NoError(t, err)
	type cell struct {
		dim, other, g int64
		value         string
		sketch        []byte
	}
	var cells []cell
	for rows.Next() {
		var c cell
		require.NoError(t, rows.Scan(&c.dim, &c.other, &c.value, &c.g, &c.sketch))
		cells = append(cells, c)
	}
	require.NoError(t, rows.Err())
	require.Len(t, cells, 15)
	theirs := sketchOf(t, 100, 110) // 10 visitors of theirs
	for _, c := range cells {
		merged, err := (*sketchCache)(nil).merge(c.sketch, theirs)
		require.NoError(t, err)
		_, err = s.db.Exec("UPDATE clickanon_cells SET sketch = $1 WHERE link = $2 AND granularity = $3 AND dimension = $4 AND other = $5 AND value = $6",
			merged, link, c.g, c.dim, c.other, c.value)
		require.NoError(t, err)
	}
	assert.False(t, storedVersion(t, s.db, link).Valid, "the version cleared")
	writeVisitors(t, s, link, 10, 20)
	assertMinuteCells(t, s, link, 30, 20)
	assertVersions(t, s.db, link)
}

// SQLite merges in SQL and never gives a sketch a version: none it writes
// could claim content it does not hold.
func TestSQLiteLeavesVersionsNull(t *testing.T) {
	for _, inSQL := range []bool{true, false} {
		t.Run(fmt.Sprintf("merged in SQL %v", inSQL), func(t *testing.T) {
			s := open(t, sqlitePath(t), nil)
			s.sqlMerge = inSQL
			writeVisitors(t, s, "lite", 0, 10)
			writeVisitors(t, s, "lite", 5, 20)
			assertMinuteCells(t, s, "lite", 20, 25)
			var n, versioned int
			require.NoError(t, s.db.QueryRow("SELECT count(*), count(ver) FROM clickanon_cells").Scan(&n, &versioned))
			assert.Equal(t, 15, n, "one minute's cells")
			assert.Zero(t, versioned, "no version on SQLite")
			assert.Nil(t, s.memory, "a SQLite Sink remembers no cell")
		})
	}
}

// What a Sink remembers stays within its bound, dropping the oldest
// generation, and forgetting a link drops its cells alone.
func TestCellMemoryBound(t *testing.T) {
	const bound = 64 << 10
	m := newCellMemory(bound)
	enc := make([]byte, 1000)
	for i := range 500 {
		k := key{link: fmt.Sprintf("link-%d", i%7), start: int64(i)}
		m.put(k, remembered{ver: int64(2 * i), enc: enc})
		held := heldCost(&m.gens, func(k key, r remembered) int { return rememberCost(&k, r) })
		require.LessOrEqual(t, held, bound, "after %d cells", i+1)
		r, ok := m.get(k)
		require.True(t, ok, "the cell just remembered")
		require.Equal(t, int64(2*i), r.ver)
	}
	_, ok := m.get(key{link: "link-0", start: 0})
	assert.False(t, ok, "the first cells are dropped")
	last := key{link: fmt.Sprintf("link-%d", 499%7), start: 499}
	m.forgetLink(last.link)
	_, ok = m.get(last)
	assert.False(t, ok, "forgotten with its link")
	_, ok = m.get(key{link: fmt.Sprintf("link-%d", 498%7), start: 498})
	assert.True(t, ok, "another link's cell kept")
	m.put(key{link: "huge"}, remembered{enc: make([]byte, bound)})
	_, ok = m.get(key{link: "huge"})
	assert.False(t, ok, "a sketch larger than a generation is not remembered")
}
