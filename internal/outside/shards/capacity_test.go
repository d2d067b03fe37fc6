package shards_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
)

// TestCapacityOfStoresSharingAServer checks Options.Capacity ("the number
// of held clicks at which Record returns an error wrapping ErrFull", "the
// capacity is a count over the whole store", "never evicts a held click
// early") for three stores of different prefixes and capacities on one
// server, each run by three Store values, filled at once by goroutines
// mixing first clicks, repeats of held clicks, clicks with a previous
// pseudonym and batches. Each prefix holds exactly its Capacity (another
// prefix's clicks never count), every refused click is refused with
// ErrFull (UniqueUnknown in a batch), no repeat is ever reported first,
// and every click reported held is readable. Erasing k clicks frees
// exactly k places; once the window is over by the stores' clock, with no
// Sweep, the store holds no live click and takes Capacity new ones.
//
// Checked to fail: with one prefix's Store values given twice the
// Capacity, more than Capacity clicks are held.
func TestCapacityOfStoresSharingAServer(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	clk := newClock(base)
	caps := []int{3, 20, 50}
	type shard struct {
		p     string
		cap   int
		fleet []*instance
	}
	var shards []*shard
	for _, c := range caps {
		sh := &shard{p: prefix(), cap: c}
		for range 3 {
			sh.fleet = append(sh.fleet, join(t, plainClient(t, srv.Addr()), sh.p, clk.now, &redisstore.Options{Capacity: c}))
		}
		shards = append(shards, sh)
	}

	// fill makes 8 goroutines per shard record 30 new visitors each (from
	// id on) and repeats, all shards at once, and returns each shard's
	// held clicks.
	fill := func(id int) [][]clickstore.Click {
		held := make([][]clickstore.Click, len(shards))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for si, sh := range shards {
			for g := range 8 {
				in := sh.fleet[g%3]
				wg.Add(1)
				go func() {
					defer wg.Done()
					var batch []clickstore.Click
					keep := func(c clickstore.Click) {
						mu.Lock()
						held[si] = append(held[si], c)
						mu.Unlock()
					}
					for i := range 30 {
						c := clickOf(visitor(id+g*1000+i), "cap", clk.now())
						switch i % 3 {
						case 0:
							batch = append(batch, c)
							continue
						case 1:
							c.PrevVisitor = visitor(id + 500000 + g*1000 + i)
						}
						first, err := in.store.Record(ctx, c)
						switch {
						case errors.Is(err, clickstore.ErrFull):
						case !assert.NoError(t, err):
						case assert.True(t, first, "a new visitor's click"):
							keep(c)
							// A repeat of a held click, full or not, is never first.
							again, err := in.store.Record(ctx, c)
							if err == nil {
								assert.False(t, again, "a repeat reported first")
							} else {
								assert.ErrorIs(t, err, clickstore.ErrFull)
							}
						}
					}
					us, err := in.store.RecordBatch(ctx, batch)
					if err != nil {
						assert.ErrorIs(t, err, clickstore.ErrFull)
					}
					for i, u := range us {
						switch u {
						case clickstore.Unique:
							keep(batch[i])
						case clickstore.UniqueUnknown:
						default:
							t.Errorf("a new visitor's batch click reported %v", u)
						}
					}
				}()
			}
		}
		wg.Wait()
		return held
	}
	readable := func(sh *shard, cs []clickstore.Click) {
		for _, c := range cs {
			_, ok, err := sh.fleet[0].store.Latest(ctx, c.Visitor, clickstore.Pseudonym{}, c.Link)
			require.NoError(t, err)
			assert.True(t, ok, "a click reported held is readable")
		}
	}

	held := fill(1)
	for si, sh := range shards {
		assert.Len(t, held[si], sh.cap, "prefix %d holds exactly its Capacity", si)
		readable(sh, held[si])
	}

	// Erase k clicks of each shard: exactly k places come free.
	for si, sh := range shards {
		k := min(2, sh.cap)
		for _, c := range held[si][:k] {
			n, err := sh.fleet[1].store.EraseVisitor(ctx, c.Visitor)
			require.NoError(t, err)
			require.Equal(t, 1, n)
		}
	}
	again := fill(100000)
	for si, sh := range shards {
		assert.Len(t, again[si], min(2, sh.cap), "prefix %d: an erasure frees its places", si)
		readable(sh, again[si])
	}

	// The window ends by the stores' clock; nothing sweeps.
	clk.add(retentionWindow + time.Millisecond)
	late := fill(200000)
	for si, sh := range shards {
		assert.Len(t, late[si], sh.cap, "prefix %d: expired clicks hold no place (%s)", si, fmt.Sprint(sh.cap))
		readable(sh, late[si])
	}
}
