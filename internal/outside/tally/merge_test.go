package tally_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// TestMergeOfOverlappingVisitorsIsTheirUnion has two instances see
// overlapping sets of visitors (the same people coming back on other days
// and through the other instance), of sizes on both sides of the sketch's
// sparse limit, and checks the merged rollup's range visitors are the
// union: exact while small (under 2^p/64 = 256 at the default precision),
// within three standard errors (2.4%) above, never the sum, and the same
// as one rollup that saw every click.
func TestMergeOfOverlappingVisitorsIsTheirUnion(t *testing.T) {
	base := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, size := range []int{1, 7, 120, 255, 3000} {
		for _, overlap := range []float64{0, 0.5, 1} {
			rng := rand.New(rand.NewPCG(uint64(size), uint64(overlap*10)))
			a, err := aggregate.New(nil)
			require.NoError(t, err)
			b, err := aggregate.New(nil)
			require.NoError(t, err)
			one, err := aggregate.New(nil)
			require.NoError(t, err)
			// a sees visitors [0, size), b sees [shift, shift+size),
			// each on several days, in random order.
			shift := size - int(overlap*float64(size))
			union := size + shift
			type add struct {
				r   *aggregate.Rollup
				vis int
				day int
			}
			var adds []add
			for day := 0; day < 3; day++ {
				for i := 0; i < size; i++ {
					adds = append(adds, add{a, i, day}, add{b, shift + i, day})
				}
			}
			rng.Shuffle(len(adds), func(i, j int) { adds[i], adds[j] = adds[j], adds[i] })
			for _, x := range adds {
				c := click("m", base.Add(time.Duration(x.day)*24*time.Hour+time.Duration(rng.IntN(3600))*time.Second), x.vis)
				require.NoError(t, x.r.Add(context.Background(), c, clickstore.Unique))
				require.NoError(t, one.Add(context.Background(), c, clickstore.Unique))
			}
			require.NoError(t, a.Merge(b))
			q := aggregate.Query{Link: "m", From: base.Add(-24 * time.Hour), To: base.Add(4 * 24 * time.Hour)}
			_, merged := totals(t, a, q)
			_, single := totals(t, one, q)
			assert.Equal(t, single.Visitors, merged.Visitors, "size %d overlap %v: merged differs from one rollup", size, overlap)
			assert.Equal(t, uint64(6*size), merged.Clicks)
			if union <= 256 {
				assert.Equal(t, uint64(union), merged.Visitors, "size %d overlap %v: not the exact union", size, overlap)
			} else {
				rel := math.Abs(float64(merged.Visitors)-float64(union)) / float64(union)
				assert.LessOrEqual(t, rel, 0.024, "size %d overlap %v: %d for %d", size, overlap, merged.Visitors, union)
			}
			// Per day too: each day's bucket is the union of that day.
			days, _ := totals(t, a, q)
			for _, c := range days {
				if union <= 256 {
					assert.Equal(t, uint64(union), c.Visitors, "size %d overlap %v: day %v", size, overlap, c.Start)
				}
			}
			for _, r := range []*aggregate.Rollup{a, b, one} {
				r.Close()
			}
		}
	}
}
