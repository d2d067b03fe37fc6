package tally_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// TestMergeWhileOtherCounts merges a rollup that goroutines are still
// adding to ("other ... may be in use concurrently"): each link's merged
// minutes, hours, days and breakdowns agree with each other (no click is
// taken in one granularity and not another), no more than was added is
// taken, and merging the rest afterwards (into a fresh rollup, both
// merged) gives every click exactly once.
func TestMergeWhileOtherCounts(t *testing.T) {
	base := time.Date(2026, 5, 1, 23, 59, 30, 0, time.UTC)
	from, to := base.Add(-48*time.Hour), base.Add(48*time.Hour)
	keep := &aggregate.Options{MinuteRetention: aggregate.KeepForever, HourRetention: aggregate.KeepForever}
	src, err := aggregate.New(keep)
	require.NoError(t, err)
	defer src.Close()
	const workers, per, links = 4, 250, 5
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				c := click(fmt.Sprintf("l%d", i%links), base.Add(time.Duration(i%90)*time.Second), w*per+i)
				assert.NoError(t, src.Add(context.Background(), c, clickstore.Unique))
			}
		}(w)
	}
	var snaps []*aggregate.Rollup
	for i := 0; i < 5; i++ {
		s, err := aggregate.New(keep)
		require.NoError(t, err)
		defer s.Close()
		require.NoError(t, s.Merge(src))
		snaps = append(snaps, s)
	}
	wg.Wait()
	for _, s := range snaps {
		for l := 0; l < links; l++ {
			link := fmt.Sprintf("l%d", l)
			rngs, dims := sums(t, s, link, from, to)
			for _, g := range granularities {
				assert.Equal(t, rngs[aggregate.Day], rngs[g], "%s: %s total differs from the day total", link, g)
				assert.LessOrEqual(t, rngs[g], uint64(workers*per/links))
				for d, n := range dims[g] {
					assert.Equal(t, rngs[g], n, "%s: %s %s breakdown differs from its total", link, g, d)
				}
			}
		}
	}
	final, err := aggregate.New(keep)
	require.NoError(t, err)
	defer final.Close()
	require.NoError(t, final.Merge(src))
	for l := 0; l < links; l++ {
		rngs, _ := sums(t, final, fmt.Sprintf("l%d", l), from, to)
		for _, g := range granularities {
			assert.Equal(t, uint64(workers*per/links), rngs[g], "l%d %s after the Adds", l, g)
		}
	}
}
