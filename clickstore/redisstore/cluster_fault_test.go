package redisstore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
)

// While the store's slot migrates to another master under load, no answer
// is ever wrong: a held click is found by Latest (on its link and on any
// link) or the call fails, a repeat is never reported first, an erasure
// counts exactly the visitor's clicks over its calls, and once erased a
// visitor is never found again. Errors (TRYAGAIN once go-redis's redirects
// are spent) are allowed; silent not-founds are not.
func TestClusterSlotMigration(t *testing.T) {
	c, client := clusterClient(t)
	ctx := context.Background()
	s := newStore(t, client, &redisstore.Options{Prefix: prefix(t)})
	_, err := s.Clear(ctx) // -count=N reuses the prefix on the shared cluster
	require.NoError(t, err)
	const held, erased = 60, 30
	vis := func(i int) clickstore.Pseudonym { return clickstore.Pseudonym{byte(i), byte(i >> 8), 7} }
	rec := func(i int, link string) clickstore.Click {
		c := click(0, link)
		c.Visitor = vis(i)
		return c
	}
	for i := range held + erased {
		for _, l := range []string{"a", "b"} {
			first, err := s.Record(ctx, rec(i, l))
			require.NoError(t, err)
			require.True(t, first)
		}
	}

	slot := c.KeySlot(t, "{"+prefix(t)+"}")
	from := c.SlotOwner(t, slot)
	var to string
	for _, n := range c.Nodes(t) {
		if n.Master && n.Addr != from {
			to = n.Addr
			break
		}
	}
	require.NotEmpty(t, to)

	var calls, failures, wrong atomic.Int64
	var erasedCount [erased]atomic.Int64
	var eraseDone [erased]atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				i := (k*4 + g) % held
				calls.Add(4)
				if got, ok, err := s.Latest(ctx, vis(i), clickstore.Pseudonym{}, "a"); err != nil {
					failures.Add(1)
				} else if !ok || got.Link != "a" {
					wrong.Add(1)
					t.Errorf("Latest on a link: held click of visitor %d not found", i)
				}
				if _, ok, err := s.Latest(ctx, vis(i), clickstore.Pseudonym{}, ""); err != nil {
					failures.Add(1)
				} else if !ok {
					wrong.Add(1)
					t.Errorf("Latest on any link: held click of visitor %d not found", i)
				}
				if first, err := s.Record(ctx, rec(i, "b")); err != nil {
					failures.Add(1)
				} else if first {
					wrong.Add(1)
					t.Errorf("a repeat of visitor %d reported first", i)
				}
				e := (k*4 + g) % erased
				if eraseDone[e].Load() {
					if _, ok, err := s.Latest(ctx, vis(held+e), clickstore.Pseudonym{}, ""); err == nil && ok {
						wrong.Add(1)
						t.Errorf("erased visitor %d found", held+e)
					}
					continue
				}
				n, err := s.EraseVisitor(ctx, vis(held+e))
				erasedCount[e].Add(int64(n))
				if err != nil {
					failures.Add(1)
				} else {
					eraseDone[e].Store(true)
				}
			}
		})
	}
	start := time.Now()
	err = c.MigrateSlot(t, slot, to, 10, 2*time.Millisecond)
	migration := time.Since(start)
	time.Sleep(100 * time.Millisecond) // load on the new owner too
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	assert.Equal(t, to, c.SlotOwner(t, slot), "the slot moved")
	assert.Zero(t, wrong.Load(), "wrong answers")
	for e := range erased {
		if eraseDone[e].Load() {
			assert.Equal(t, int64(2), erasedCount[e].Load(), "visitor %d: clicks erased over its calls", held+e)
		}
	}
	t.Logf("migration of %d keys took %v; %d calls, %d failed (allowed), 0 wrong", 3*(held+erased)+1, migration, calls.Load(), failures.Load())
}
