package sqlsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/axiomhq/hyperloglog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/pgtest"
)

// sketchOf returns the encoding of a sketch of visitors first to last-1.
func sketchOf(t *testing.T, first, last int) []byte {
	t.Helper()
	sk := newSketch()
	for i := first; i < last; i++ {
		sk.Insert([]byte(fmt.Sprint("visitor", i)))
	}
	enc, err := sk.MarshalBinary()
	require.NoError(t, err)
	return enc
}

func estimate(t *testing.T, enc []byte) uint64 {
	t.Helper()
	var sk hyperloglog.Sketch
	require.NoError(t, sk.UnmarshalBinary(enc))
	return sk.Estimate()
}

// Merging through the cache gives the union a plain merge gives, round
// after round as the stored sketch grows from sparse to dense, for two
// cells holding the same visitors (the second finds the union made), and
// the cache serves the stored sketch it made rather than decoding it.
// (A cell's first sketch is stored as sent, without a merge: the cache
// meets it first when the next batch is merged into it.)
func TestSketchCacheMergesAsPlainMerge(t *testing.T) {
	c := newSketchCache(sketchCacheBytes)
	var plain, cellA, cellB []byte
	for round := range 40 {
		mine := sketchOf(t, round*300, (round+1)*300)
		var err error
		plain, err = (*sketchCache)(nil).merge(plain, mine)
		require.NoError(t, err)
		cellA, err = c.merge(cellA, mine)
		require.NoError(t, err)
		cellB, err = c.merge(cellB, mine)
		require.NoError(t, err)
		assert.Equal(t, estimate(t, plain), estimate(t, cellA), "round %d", round)
		assert.Equal(t, cellA, cellB, "round %d: the same cells", round)
	}
	assert.InEpsilon(t, 12000, estimate(t, cellA), 0.02, "the union of 40 rounds of 300 visitors")
	assert.Equal(t, uint64(1), c.misses.Load(), "only the first stored sketch, which no merge made, decoded")
	assert.Equal(t, uint64(2*39-1), c.hits.Load(), "every other merge served from the cache")
}

// A stored sketch the cache does not hold (another writer's) is decoded,
// and bytes that are not a sketch fail with an error that gives their
// length, not their content.
func TestSketchCacheOtherWriter(t *testing.T) {
	c := newSketchCache(sketchCacheBytes)
	mine := sketchOf(t, 0, 10)
	ours, err := c.merge(sketchOf(t, 100, 110), mine)
	require.NoError(t, err)
	theirs, err := (*sketchCache)(nil).merge(ours, sketchOf(t, 200, 210))
	require.NoError(t, err)
	merged, err := c.merge(theirs, sketchOf(t, 300, 310))
	require.NoError(t, err)
	assert.Equal(t, uint64(40), estimate(t, merged), "the other writer's visitors kept")
	assert.Equal(t, uint64(2), c.misses.Load(), "the first stored sketch and the other writer's decoded")

	_, err = c.merge([]byte("not a sketch at all"), mine)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stored sketch of 19 bytes")
	assert.NotContains(t, err.Error(), "not a sketch")
	_, err = c.merge(merged, []byte("garbage!!"))
	assert.Error(t, err, "a batch's sketch that does not decode")
	again, err := c.merge(merged, sketchOf(t, 400, 410))
	require.NoError(t, err)
	assert.Equal(t, uint64(50), estimate(t, again), "the failed merge left the cached sketch as it was")
	other, err := c.merge(merged, sketchOf(t, 500, 520))
	require.NoError(t, err)
	assert.Equal(t, uint64(60), estimate(t, other), "the same stored sketch with another batch's: merged anew")
}

// The cache stays within its bound: old generations are dropped.
func TestSketchCacheBound(t *testing.T) {
	const bound = 64 << 10
	c := newSketchCache(bound)
	for i := range 200 {
		_, err := c.merge(sketchOf(t, i*50, i*50+40), sketchOf(t, 1_000_000+i, 1_000_001+i))
		require.NoError(t, err)
		c.mu.Lock()
		held := heldCost(&c.gens, func(_ uint64, e *cachedSketch) int { return sketchCost(len(e.enc)) + len(e.mine) })
		c.mu.Unlock()
		require.LessOrEqual(t, held, bound, "after %d merges", i+1)
	}
}

// Two Sinks write the same cells in turn, each with a cache of what it
// wrote: a Sink must decode what the other wrote, not trust its cache,
// and a flush rolled back after its merge leaves nothing that later
// flushes trust wrongly. The visitors and clicks read back are exact.
func TestSketchCacheTwoSinksAndRollback(t *testing.T) {
	run := func(t *testing.T, dsn string, inSQL bool) {
		ctx := context.Background()
		quiet := &Options{Logger: slog.New(slog.DiscardHandler)}
		a, b := open(t, dsn, quiet), open(t, dsn, quiet)
		a.sqlMerge, b.sqlMerge = inSQL, inSQL
		write := func(s *Sink, from, to int) {
			t.Helper()
			for i := from; i < to; i++ {
				require.NoError(t, s.Add(ctx, click("shared", i), clickstore.Unique))
			}
			require.NoError(t, s.Flush(ctx))
		}
		write(a, 0, 10)
		write(a, 10, 20) // a's cache serves what a wrote
		write(b, 20, 30) // b decodes what a wrote
		write(a, 30, 40) // a decodes what b wrote
		for i := 40; i < 50; i++ {
			require.NoError(t, a.Add(ctx, click("shared", i), clickstore.Unique))
		}
		a.beforeCommit = func() error { return errors.New("rolled back") }
		require.Error(t, a.Flush(ctx), "merged, then rolled back")
		a.beforeCommit = nil
		write(a, 50, 60) // 40 to 59 into the same stored sketches: the last merge's union does not fit
		write(b, 60, 70)
		for i := 70; i < 75; i++ {
			require.NoError(t, a.Add(ctx, click("shared", i), clickstore.Unique))
		}
		a.beforeCommit = func() error { return errors.New("rolled back") }
		require.Error(t, a.Flush(ctx), "merged, then rolled back")
		a.beforeCommit = nil
		write(b, 75, 78)
		write(a, 78, 80) // writes 70 to 79 where b wrote after the rolled-back union
		assertMinuteCells(t, a, "shared", 80, 80)
		assert.NotZero(t, a.sketches.hits.Load(), "a's cache served its own writes")
		assert.NotZero(t, a.sketches.misses.Load(), "a decoded b's writes")
	}
	t.Run("sqlite, merged in SQL", func(t *testing.T) { run(t, sqlitePath(t), true) })
	t.Run("sqlite, merged by the sink", func(t *testing.T) { run(t, sqlitePath(t), false) })
	t.Run("postgresql, merged by the sink", func(t *testing.T) { run(t, pgtest.DB(t), false) })
}

// SQLite's merge function finds a Sink's cache by the id in the Sink's
// statements until Close, which lets the cache go.
func TestSketchCacheRegisteredUntilClose(t *testing.T) {
	s := open(t, sqlitePath(t), nil)
	require.NotZero(t, s.cacheID)
	assert.Same(t, s.sketches, sketchCacheOf(int64(s.cacheID)))
	require.NoError(t, s.Close(context.Background()))
	assert.Nil(t, sketchCacheOf(int64(s.cacheID)), "unregistered")
	assert.Nil(t, sketchCacheOf(0), "no cache has id 0: merged without one")
}
