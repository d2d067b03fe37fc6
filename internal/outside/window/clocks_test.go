package window_test

import (
	"context"
	"errors"
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

const window = retention.DefaultWindow

// steps are the moves of the store's clock between phases: a tick, the
// window's edges, a stall, jumps ahead, and jumps back of every size.
var steps = []time.Duration{
	1, time.Second, window/2 - 1, window - 1, window, window + 1, 0, 0,
	3 * window, -1, -time.Second, -window, -48 * time.Hour,
}

// The keys of the phase test: visitors × links. Visitors from erasedFrom
// on are erased by visitor, and link 3 by link, now and then; the other
// keys' firsts and visibility are checked exactly against a model.
const (
	visitors   = 24
	links      = 4
	erasedFrom = 20
	erasedLink = links - 1
	capacity   = 48 // below visitors × links: the store fills up
	goroutines = 8
	opsPerG    = 40
)

func linkName(l int) string { return fmt.Sprint("link-", l) }

// phaseTime is the Click.Time that says which phase recorded a click.
func phaseTime(p int) time.Time { return time.Unix(int64(p)+1, 0) }

// A Memory whose clock is stepped ahead, stalled and set back, with and
// without a monotonic reading, between phases in which goroutines record,
// read, erase and sweep at once: in every phase, by the model of a store
// clock that is the latest the store has read,
//   - no read (Latest, All) shows a click at or after its deadline;
//   - each visitor and link gets at most one first, and exactly one when
//     its click has expired (or it had none) and the store did not fill;
//   - a click is visible at the phase's end exactly while the model holds it;
//   - the store never holds more than its capacity, and a phase that saw
//     ErrFull (without erasures) ends with the store exactly full;
//   - a second after the phase, what expired is physically gone (Len).
func TestMemoryUnderSteppedClocks(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { steppedClocks(t, seed) })
		})
	}
}

func steppedClocks(t *testing.T, seed uint64) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 99))
	base := time.Now()
	var off atomic.Int64
	var strip atomic.Bool
	now := func() time.Time {
		v := base.Add(time.Duration(off.Load()))
		if strip.Load() {
			v = v.Round(0) // wall clock alone: a clock whose monotonic reading is lost
		}
		return v
	}
	m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: now, Capacity: capacity})
	require.NoError(t, err)
	defer m.Close()

	// The model: the store's clock per phase, and per checked key the
	// phase of its held click (-1 for none).
	var high []time.Duration
	var model [visitors][links]int
	for v := range model {
		for l := range model[v] {
			model[v][l] = -1
		}
	}
	deadlinePassed := func(q, p int) bool { return high[q]+window <= high[p] }

	for p := range 60 {
		o := time.Duration(off.Load()) + steps[rng.IntN(len(steps))]
		off.Store(int64(o))
		strip.Store(rng.IntN(2) == 0)
		h := o
		if p > 0 {
			h = max(h, high[p-1])
		}
		h = max(h, 0) // the store's clock starts at its creation
		high = append(high, h)
		erasing := p%2 == 1

		var firsts, attempts [visitors][links]atomic.Int32
		var full atomic.Int32
		var wg sync.WaitGroup
		seeRead := func(op string, c clickstore.Click) {
			q := int(c.Time.Unix()) - 1
			if q < 0 || q > p {
				t.Errorf("phase %d: %s read a click no phase recorded: %v", p, op, c.Time)
				return
			}
			if deadlinePassed(q, p) {
				t.Errorf("phase %d: %s read a click recorded in phase %d after its deadline (store clock %v, recorded at %v)", p, op, q, high[p], high[q])
			}
		}
		for g := range goroutines {
			grng := rand.New(rand.NewPCG(seed, uint64(p*goroutines+g)))
			wg.Go(func() {
				for range opsPerG {
					v, l := grng.IntN(visitors), grng.IntN(links)
					switch k := grng.IntN(20); {
					case k < 12:
						attempts[v][l].Add(1)
						first, err := m.Record(ctx, clickstoretest.Click(v, linkName(l), phaseTime(p)))
						switch {
						case errors.Is(err, clickstore.ErrFull):
							full.Add(1)
						case err != nil:
							t.Errorf("phase %d: Record: %v", p, err)
						case first:
							firsts[v][l].Add(1)
						}
					case k < 15:
						link := ""
						if grng.IntN(2) == 0 {
							link = linkName(l)
						}
						c, ok, err := m.Latest(ctx, clickstoretest.Visitor(v), clickstore.Pseudonym{}, link)
						if assert.NoError(t, err) && ok {
							seeRead("Latest", c)
						}
					case k < 17:
						for c, err := range m.All(ctx) {
							if assert.NoError(t, err) {
								seeRead("All", c)
							}
						}
					case k < 18:
						// A sweeper's clock at or behind the store's: it may
						// not destroy what the store still shows.
						_, err := m.Sweep(ctx, now().Add(-time.Duration(grng.Int64N(int64(2*window)))))
						assert.NoError(t, err)
					case erasing && k < 19 && v >= erasedFrom:
						_, err := m.EraseVisitor(ctx, clickstoretest.Visitor(v))
						assert.NoError(t, err)
					case erasing:
						_, err := m.EraseLink(ctx, linkName(erasedLink))
						assert.NoError(t, err)
					}
					if n := m.Len(); n > capacity {
						t.Errorf("phase %d: the store holds %d clicks, capacity %d", p, n, capacity)
					}
				}
			})
		}
		wg.Wait()

		for v := range erasedFrom {
			for l := range erasedLink {
				q := model[v][l]
				held := q >= 0 && !deadlinePassed(q, p)
				n, tried := firsts[v][l].Load(), attempts[v][l].Load()
				switch {
				case held && n != 0:
					t.Errorf("phase %d: visitor %d on link %d: %d firsts while its click of phase %d is held", p, v, l, n, q)
				case n > 1:
					t.Errorf("phase %d: visitor %d on link %d: %d firsts", p, v, l, n)
				case !held && tried > 0 && n == 0 && full.Load() == 0:
					t.Errorf("phase %d: visitor %d on link %d: no first, nothing held and the store not full", p, v, l)
				}
				if n == 1 {
					model[v][l] = p
				} else if !held {
					model[v][l] = -1
				}
				_, ok, err := m.Latest(ctx, clickstoretest.Visitor(v), clickstore.Pseudonym{}, linkName(l))
				require.NoError(t, err)
				if want := model[v][l] >= 0; ok != want {
					t.Errorf("phase %d: visitor %d on link %d visible = %v, want %v (held from phase %d, store clock %v)", p, v, l, ok, want, model[v][l], high[p])
				}
			}
		}
		live := 0
		for _, err := range m.All(ctx) {
			require.NoError(t, err)
			live++
		}
		if !erasing && full.Load() > 0 {
			assert.Equal(t, capacity, live, "phase %d: ErrFull was returned, but the store holds fewer live clicks than its capacity", p)
		}
		time.Sleep(time.Second + time.Duration(rng.Int64N(int64(time.Second))))
		synctest.Wait()
		assert.Equal(t, live, m.Len(), "phase %d: a second after, the store still holds expired clicks", p)
	}
}
