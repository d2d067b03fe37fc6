package fleet_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
)

// TestEraseSeesWhatEachInstanceShows checks EraseVisitor and Latest (any
// link) across instances whose clocks differ by less than the skew the
// package documents (instances' clocks must agree within the 2 s slack):
// an instance records a visitor's click, the other instance, whose clock
// runs ahead by each skew, records that visitor's clicks on other links
// near the first click's end (its index writes trim what its own clock
// calls expired), and then the first instance, which still shows its
// click, must find it through the visitor (Latest on any link) and erase
// it (EraseVisitor counts it, and Latest on its link no longer finds it).
// Every path of the trim is covered: the index writer (one Record at a
// time, and RecordBatch) and the record script (Capacity).
//
// Checked to fail: before the fix in this commit (the index writer and
// the record script trimmed a visitor's index at the faster instance's
// now-W, without the slack) every row with a skew above the time left
// failed, all three paths: EraseVisitor counted 64 of 65 and the slow
// instance still showed the click after it; restoring either trim
// without the slack fails that path's rows again.
func TestEraseSeesWhatEachInstanceShows(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	const w = 10 * time.Minute
	for _, mode := range []string{"record", "batch", "capacity"} {
		for _, skew := range []time.Duration{time.Millisecond, 500 * time.Millisecond, 1900 * time.Millisecond} {
			for _, left := range []time.Duration{time.Millisecond, skew / 2} {
				t.Run(fmt.Sprintf("%s/skew=%v/left=%v", mode, skew, left), func(t *testing.T) {
					clk := newClock(base)
					p := prefix()
					var opts *redisstore.Options
					if mode == "capacity" {
						opts = &redisstore.Options{Capacity: 1 << 20}
					}
					slow := join(t, srv.Addr(), p, w, clk.now, opts)
					fast := join(t, srv.Addr(), p, w, clk.skewed(skew), opts)
					v := visitor(1)
					held := clickOf(v, "held", clk.now())
					first, err := slow.store.Record(ctx, held)
					require.NoError(t, err)
					require.True(t, first)
					require.NoError(t, slow.store.Flush(ctx))

					// Near the end of the held click's window by the slow
					// clock: the fast instance calls it expired already
					// when skew > left.
					clk.add(w - left)
					var batch []clickstore.Click
					for i := range 64 {
						c := clickOf(v, fmt.Sprintf("other-%d", i), clk.now())
						if mode == "batch" {
							batch = append(batch, c)
							continue
						}
						_, err := fast.store.Record(ctx, c)
						require.NoError(t, err)
					}
					if batch != nil {
						_, err := fast.store.RecordBatch(ctx, batch)
						require.NoError(t, err)
					}
					require.NoError(t, fast.store.Flush(ctx))

					got, ok, err := slow.store.Latest(ctx, v, clickstore.Pseudonym{}, "held")
					require.NoError(t, err)
					require.True(t, ok, "the slow instance still shows its click")
					require.True(t, got.Time.Equal(held.Time))

					n, err := slow.store.EraseVisitor(ctx, v)
					require.NoError(t, err)
					assert.Equal(t, 65, n, "the erasure counts every click the instance shows, its own included")
					_, ok, err = slow.store.Latest(ctx, v, clickstore.Pseudonym{}, "held")
					require.NoError(t, err)
					assert.False(t, ok, "after EraseVisitor the click is gone")
				})
			}
		}
	}
}
