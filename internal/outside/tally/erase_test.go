package tally_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// sums returns, per granularity, the clicks of link's range cell over
// [from, to), and per dimension the sum of its bucket cells.
func sums(t *testing.T, r *aggregate.Rollup, link string, from, to time.Time) (map[aggregate.Granularity]uint64, map[aggregate.Granularity]map[aggregate.Dimension]uint64) {
	t.Helper()
	rngs := map[aggregate.Granularity]uint64{}
	dims := map[aggregate.Granularity]map[aggregate.Dimension]uint64{}
	for _, g := range granularities {
		cells, err := r.Cells(context.Background(), aggregate.Query{Link: link, Granularity: g, From: from, To: to})
		require.NoError(t, err)
		dims[g] = map[aggregate.Dimension]uint64{}
		for _, c := range cells {
			if c.Scope == aggregate.ScopeRange {
				rngs[g] = c.Clicks
				continue
			}
			dims[g][c.Dimension] += c.Clicks
		}
	}
	return rngs, dims
}

// TestEraseLinkWhileAddsRun erases a link over and over while goroutines
// add clicks to it and to other links, over many buckets: other links keep
// every click; the erased link is never left half-counted (its minutes,
// hours and days, and every breakdown, add up to the same total, at most
// what was added); and what is added after the last erasure is counted
// exactly once.
func TestEraseLinkWhileAddsRun(t *testing.T) {
	base := time.Date(2026, 5, 1, 23, 58, 0, 0, time.UTC) // spans a day edge
	from, to := base.Add(-48*time.Hour), base.Add(48*time.Hour)
	r, err := aggregate.New(&aggregate.Options{MinuteRetention: aggregate.KeepForever, HourRetention: aggregate.KeepForever})
	require.NoError(t, err)
	defer r.Close()
	const workers, per = 6, 300
	var wg sync.WaitGroup
	var stop atomic.Bool
	var erased atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			n, err := r.EraseLink(context.Background(), "gone")
			assert.NoError(t, err)
			erased.Add(int64(n))
		}
	}()
	var adders sync.WaitGroup
	for w := 0; w < workers; w++ {
		adders.Add(1)
		go func(w int) {
			defer adders.Done()
			for i := 0; i < per; i++ {
				tm := base.Add(time.Duration((w*per+i)%240) * time.Second)
				link := "kept"
				if i%2 == 0 {
					link = "gone"
				}
				c := click(link, tm, w*per+i)
				c.Country = []string{"DE", "FR", ""}[i%3]
				assert.NoError(t, r.Add(context.Background(), c, clickstore.Unique))
			}
		}(w)
	}
	adders.Wait()
	stop.Store(true)
	wg.Wait()

	kept, keptDims := sums(t, r, "kept", from, to)
	for _, g := range granularities {
		assert.Equal(t, uint64(workers*per/2), kept[g], "kept link, %s", g)
		for d, n := range keptDims[g] {
			if d != aggregate.Total {
				assert.Equal(t, uint64(workers*per/2), n, "kept link, %s, %s", g, d)
			}
		}
	}
	gone, goneDims := sums(t, r, "gone", from, to)
	for _, g := range granularities {
		assert.Equal(t, gone[aggregate.Day], gone[g], "erased link: %s total differs from day total", g)
		assert.LessOrEqual(t, gone[g], uint64(workers*per/2))
		for d, n := range goneDims[g] {
			assert.Equal(t, gone[g], n, "erased link: %s %s breakdown differs from its total", g, d)
		}
	}

	// After a last erasure, every new click is counted once.
	_, err = r.EraseLink(context.Background(), "gone")
	require.NoError(t, err)
	gone, _ = sums(t, r, "gone", from, to)
	for _, g := range granularities {
		assert.Zero(t, gone[g], "erased link keeps %s clicks", g)
	}
	for i := 0; i < 50; i++ {
		require.NoError(t, r.Add(context.Background(), click("gone", base.Add(time.Duration(i)*37*time.Second), i), clickstore.Repeat))
	}
	gone, _ = sums(t, r, "gone", from, to)
	for _, g := range granularities {
		assert.Equal(t, uint64(50), gone[g], "%s after erasure", g)
	}
}
