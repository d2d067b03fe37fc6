package shards_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentErasuresCountEachClickOnce checks that the erasures'
// counts ("destroys every held click ... and reports how many") add up
// across a fleet: three instances erase the same visitors and links at
// once, by visitor and by link in every order, and the counts they report
// sum to the clicks held, each click counted by exactly one erasure;
// nothing is left.
//
// Checked to fail: counting each instance's calls twice (or dropping the
// link erasures) breaks the sum.
func TestConcurrentErasuresCountEachClickOnce(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	clk := newClock(base)
	p := prefix()
	var ins [3]*instance
	for i := range ins {
		ins[i] = join(t, plainClient(t, srv.Addr()), p, clk.now, nil)
	}
	const visitors, links = 60, 4
	held := 0
	for v := range visitors {
		for l := range links {
			first, err := ins[(v+l)%3].store.Record(ctx, clickOf(visitor(v), fmt.Sprint("e", l), clk.now()))
			require.NoError(t, err)
			require.True(t, first)
			held++
		}
	}
	for _, in := range ins {
		require.NoError(t, in.store.Flush(ctx))
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range visitors {
				v := (k*7 + i*13) % visitors
				n, err := in.store.EraseVisitor(ctx, visitor(v))
				if assert.NoError(t, err) {
					total.Add(int64(n))
				}
				if k%15 == i {
					n, err := in.store.EraseLink(ctx, fmt.Sprint("e", (k+i)%links))
					if assert.NoError(t, err) {
						total.Add(int64(n))
					}
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(held), total.Load(), "each click counted by exactly one erasure")
	for c, err := range ins[0].store.All(ctx) {
		require.NoError(t, err)
		t.Errorf("a click of link %q is left", c.Link)
	}

}
