package transient_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/retention"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAllWhileTheStoreChanges: All yields every click held from before
// the iteration to after it exactly once, and no click twice, while the
// loop body records new clicks into the same shards, erases others, and
// moves the clock past the deadline of an older batch (which the next
// Record destroys, moving the slabs' heads), at every point of the
// iteration, with over a batch (256) of clicks per shard. Checked to
// fail: a Memory whose All stepped its cursor back one record after each
// full batch yields clicks twice.
func TestAllWhileTheStoreChanges(t *testing.T) {
	ctx := context.Background()
	for _, every := range []int{1, 7, 255, 256, 257, 1000} {
		t.Run(fmt.Sprint(every), func(t *testing.T) {
			clk := clickstoretest.NewClock(t0)
			m := newMemory(t, &clickstore.MemoryOptions{Now: clk.Now})
			const old, stable, doomed = 20_000, 20_000, 2000 // over 256 (a batch) per shard
			for i := range old {
				_, err := m.Record(ctx, click(pseudonym(i), "old", clk.Now()))
				require.NoError(t, err)
			}
			clk.Set(t0.Add(time.Minute))
			for i := range stable {
				_, err := m.Record(ctx, click(pseudonym(100_000+i), "stable", clk.Now()))
				require.NoError(t, err)
			}
			for i := range doomed {
				_, err := m.Record(ctx, click(pseudonym(200_000+i), "doomed", clk.Now()))
				require.NoError(t, err)
			}
			seen := map[clickstore.Pseudonym]int{}
			n, fresh := 0, 0
			for c, err := range m.All(ctx) {
				require.NoError(t, err)
				seen[c.Visitor]++
				n++
				if n%every != 0 || fresh >= 20_000 {
					continue
				}
				switch (n / every) % 4 {
				case 0:
					for range 50 {
						_, err := m.Record(ctx, click(pseudonym(300_000+fresh), "fresh", clk.Now()))
						require.NoError(t, err)
						fresh++
					}
				case 1:
					_, err := m.EraseLink(ctx, "doomed")
					require.NoError(t, err)
				case 2:
					clk.Set(t0.Add(retention.DefaultWindow)) // "old" has expired
					for range 50 {
						_, err := m.Record(ctx, click(pseudonym(300_000+fresh), "fresh", clk.Now()))
						require.NoError(t, err)
						fresh++
					}
				case 3:
					_, err := m.Sweep(ctx, clk.Now())
					require.NoError(t, err)
				}
			}
			for v, k := range seen {
				assert.Equal(t, 1, k, "click of %v yielded %d times", v, k)
			}
			for i := range stable {
				assert.Equal(t, 1, seen[pseudonym(100_000+i)], "stable click %d", i)
			}
		})
	}
}
