package transient_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/retention"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

// TestOneFirstAcrossAnEpochBoundary: after a key epoch ends, a visitor's
// clicks carry a new pseudonym W and the old one V as PrevVisitor. With V
// holding clicks on some links, many goroutines recording {W, prev V} on
// every link in shuffled orders, while others read (Latest, All), get
// exactly one first per link V does not hold and none on the links V
// holds; the repeats do not extend V's clicks (first again at V's t+W,
// not later), and Latest under (W, V) finds the held click whichever
// pseudonym it is held under. Checked to fail: with PrevVisitor left
// zero in the goroutines' clicks, the links V holds get a first each.
func TestOneFirstAcrossAnEpochBoundary(t *testing.T) {
	ctx := context.Background()
	const (
		visitors   = 24
		links      = 12
		goroutines = 16
	)
	clk := clickstoretest.NewClock(t0)
	m := newMemory(t, &clickstore.MemoryOptions{Now: clk.Now})
	oldV := func(i int) clickstore.Pseudonym { return pseudonym(i) }
	newV := func(i int) clickstore.Pseudonym { return pseudonym(1000 + i) }
	heldOld := func(i, l int) bool { return (i+l)%3 == 0 }
	for i := range visitors {
		for l := range links {
			if heldOld(i, l) {
				first, err := m.Record(ctx, click(oldV(i), fmt.Sprint("l", l), t0))
				require.NoError(t, err)
				require.True(t, first)
			}
		}
	}
	clk.Set(t0.Add(time.Minute))

	var firsts [visitors][links]atomic.Int32
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			order := rng.Perm(visitors * links)
			for _, k := range order {
				i, l := k/links, k%links
				c := click(newV(i), fmt.Sprint("l", l), clk.Now())
				c.PrevVisitor = oldV(i)
				first, err := m.Record(ctx, c)
				if !assert.NoError(t, err) {
					return
				}
				if first {
					firsts[i][l].Add(1)
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _, err := m.Latest(ctx, newV(3), oldV(3), "")
				assert.NoError(t, err)
				for _, err := range m.All(ctx) {
					assert.NoError(t, err)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	for i := range visitors {
		for l := range links {
			want := int32(1)
			if heldOld(i, l) {
				want = 0
			}
			assert.Equal(t, want, firsts[i][l].Load(), "visitor %d, link %d", i, l)
			got, ok, err := m.Latest(ctx, newV(i), oldV(i), fmt.Sprint("l", l))
			require.NoError(t, err)
			if assert.True(t, ok, "visitor %d, link %d", i, l) {
				assert.Equal(t, map[bool]clickstore.Pseudonym{true: oldV(i), false: newV(i)}[heldOld(i, l)], got.Visitor)
			}
		}
	}
	assert.Equal(t, visitors*links, m.Len(), "repeats are not held")

	// V's clicks end at t0+W, repeats or not: then {W, prev V} is first.
	for _, at := range []time.Duration{retention.DefaultWindow - time.Nanosecond, retention.DefaultWindow} {
		clk.Set(t0.Add(at))
		for i := range visitors {
			for l := range links {
				if !heldOld(i, l) {
					continue
				}
				c := click(newV(i), fmt.Sprint("l", l), t0.Add(at))
				c.PrevVisitor = oldV(i)
				first, err := m.Record(ctx, c)
				require.NoError(t, err)
				assert.Equal(t, at == retention.DefaultWindow, first, "visitor %d, link %d at t0+%v", i, l, at)
			}
		}
	}
}

// TestEraseIsExactAndLeavesTheRest: over many visitors and links (spread
// over the store's shards), EraseVisitor and EraseLink report how many
// clicks they destroyed (held ones only: a click past its window, not yet
// swept, is not counted), destroy them physically (Len drops by as many
// plus the expired ones they swept), leave every other click readable,
// and the erased visitor's next click is first. Erasing what is not held
// reports 0. Checked to fail: expecting the erased visitor's next click to
// be a repeat, and counting the expired clicks in the report, both fail.
func TestEraseIsExactAndLeavesTheRest(t *testing.T) {
	ctx := context.Background()
	const visitors, links = 300, 7
	clk := clickstoretest.NewClock(t0)
	m := newMemory(t, &clickstore.MemoryOptions{Now: clk.Now})
	type key struct{ v, l int }
	held := map[key]bool{}
	rng := rand.New(rand.NewPCG(3, 4))
	// An early batch that expires before the erasures, unswept.
	for i := range 50 {
		_, err := m.Record(ctx, click(pseudonym(5000+i), "l0", t0))
		require.NoError(t, err)
	}
	clk.Set(t0.Add(time.Minute))
	for i := range visitors {
		for l := range links {
			if rng.IntN(2) == 0 {
				first, err := m.Record(ctx, click(pseudonym(i), fmt.Sprint("l", l), clk.Now()))
				require.NoError(t, err)
				require.True(t, first)
				held[key{i, l}] = true
			}
		}
	}
	clk.Set(t0.Add(retention.DefaultWindow)) // the early batch has just expired
	check := func() {
		t.Helper()
		for i := range visitors {
			for l := range links {
				_, ok, err := m.Latest(ctx, pseudonym(i), clickstore.Pseudonym{}, fmt.Sprint("l", l))
				require.NoError(t, err)
				assert.Equal(t, held[key{i, l}], ok, "visitor %d, link %d", i, l)
			}
		}
	}
	for _, v := range []int{0, 17, 5000, 299, 123456} {
		want := 0
		for l := range links {
			if held[key{v, l}] {
				want++
				delete(held, key{v, l})
			}
		}
		n, err := m.EraseVisitor(ctx, pseudonym(v))
		require.NoError(t, err)
		assert.Equal(t, want, n, "visitor %d", v)
	}
	check()
	for _, l := range []int{3, 0, 6, 99} {
		want := 0
		for k := range held {
			if k.l == l {
				want++
				delete(held, k)
			}
		}
		n, err := m.EraseLink(ctx, fmt.Sprint("l", l))
		require.NoError(t, err)
		assert.Equal(t, want, n, "link %d", l)
	}
	check()
	st, err := m.Sweep(ctx, clk.Now())
	require.NoError(t, err)
	assert.Equal(t, len(held), st.Held)
	assert.Equal(t, len(held), m.Len(), "erased and expired clicks are physically gone")
	first, err := m.Record(ctx, click(pseudonym(17), "l1", clk.Now()))
	require.NoError(t, err)
	assert.True(t, first, "an erased visitor's next click is first")
}

// TestFullNeverEvicts: a store at its capacity refuses a new click with an
// error wrapping ErrFull, whatever shard the click falls in, while repeats
// of held clicks are still answered (first = false, no error) and every
// held click stays readable; once clicks expire, even with no Sweep and
// spread over other shards than the new click's, room is made again
// without an error. Checked to fail: expecting the 1st refused click to
// be accepted, and expecting Record to fail at t+W (before the expired
// clicks are counted out) both fail.
func TestFullNeverEvicts(t *testing.T) {
	ctx := context.Background()
	for _, capacity := range []int{1, 2, 63, 64, 65, 500} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			clk := clickstoretest.NewClock(t0)
			m := newMemory(t, &clickstore.MemoryOptions{Now: clk.Now, Capacity: capacity})
			for i := range capacity {
				first, err := m.Record(ctx, click(pseudonym(i), "l", t0))
				require.NoError(t, err)
				require.True(t, first)
			}
			clk.Set(t0.Add(time.Minute))
			for i := capacity; i < capacity+100; i++ {
				_, err := m.Record(ctx, click(pseudonym(i), "l", clk.Now()))
				require.ErrorIs(t, err, clickstore.ErrFull, "click %d", i)
				_, err = m.Record(ctx, click(pseudonym(i%capacity), fmt.Sprint("other", i), clk.Now()))
				require.ErrorIs(t, err, clickstore.ErrFull, "a held visitor on a new link is a new click")
			}
			for i := range capacity {
				first, err := m.Record(ctx, click(pseudonym(i), "l", clk.Now()))
				require.NoError(t, err, "a repeat needs no room")
				assert.False(t, first)
				assert.True(t, visible(t, m, pseudonym(i), "l"), "click %d evicted", i)
			}
			assert.Equal(t, capacity, m.Len())
			// At t0+W the clicks have expired, unswept: a new visitor on
			// any shard finds room.
			clk.Set(t0.Add(retention.DefaultWindow))
			for i := range capacity {
				first, err := m.Record(ctx, click(pseudonym(10_000+i*7919), "l", clk.Now()))
				require.NoError(t, err, "click %d", i)
				assert.True(t, first)
			}
			_, err := m.Record(ctx, click(pseudonym(99_999), "l", clk.Now()))
			assert.ErrorIs(t, err, clickstore.ErrFull, "full again")
		})
	}
}

// TestCloseUnderLoad: Close while goroutines record, read and erase wipes
// everything (Len 0, nothing read back), makes every method fail with
// ErrClosed (none panics), is idempotent (nil again, from many goroutines
// at once), and leaves nothing running (synctest fails a bubble with a
// goroutine or timer callback left). Checked to fail: expecting any read
// after Close to succeed fails; a Memory whose Close were not idempotent
// would fail the concurrent Closes.
func TestCloseUnderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		m, err := clickstore.NewMemory(nil)
		require.NoError(t, err)
		for i := range 500 {
			_, err := m.Record(ctx, click(pseudonym(i), fmt.Sprint("l", i%5), time.Now()))
			require.NoError(t, err)
		}
		var wg sync.WaitGroup
		var closedSeen atomic.Int64
		note := func(err error) {
			if err != nil {
				if assert.ErrorIs(t, err, clickstore.ErrClosed) {
					closedSeen.Add(1)
				}
			}
		}
		for g := range 8 {
			wg.Go(func() {
				for i := range 400 {
					v := pseudonym(g*1000 + i)
					_, err := m.Record(ctx, click(v, "l1", time.Now()))
					note(err)
					_, _, err = m.Latest(ctx, v, clickstore.Pseudonym{}, "")
					note(err)
					for _, err := range m.All(ctx) {
						note(err)
						break
					}
					if i%50 == 0 {
						_, err = m.EraseLink(ctx, "l3")
						note(err)
					}
					if i == 200 && g == 0 {
						assert.NoError(t, m.Close())
					}
				}
			})
		}
		wg.Wait()
		var closers sync.WaitGroup
		for range 4 {
			closers.Go(func() { assert.NoError(t, m.Close()) })
		}
		closers.Wait()
		assert.Positive(t, closedSeen.Load())
		assert.Zero(t, m.Len())
		_, err = m.Record(ctx, click(pseudonym(1), "l1", time.Now()))
		assert.ErrorIs(t, err, clickstore.ErrClosed)
		_, ok, err := m.Latest(ctx, pseudonym(1), clickstore.Pseudonym{}, "")
		assert.ErrorIs(t, err, clickstore.ErrClosed)
		assert.False(t, ok)
		n := 0
		for c, err := range m.All(ctx) {
			assert.ErrorIs(t, err, clickstore.ErrClosed)
			assert.Zero(t, c)
			n++
		}
		assert.Equal(t, 1, n, "one error, no click")
		_, err = m.EraseVisitor(ctx, pseudonym(1))
		assert.ErrorIs(t, err, clickstore.ErrClosed)
		_, err = m.EraseLink(ctx, "l1")
		assert.ErrorIs(t, err, clickstore.ErrClosed)
		_, err = m.Sweep(ctx, time.Now())
		assert.ErrorIs(t, err, clickstore.ErrClosed)
		time.Sleep(2 * retention.DefaultWindow)
		synctest.Wait()
	})
}
