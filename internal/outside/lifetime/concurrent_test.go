package lifetime_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// TestOneKeyringManyGoroutinesWhileEpochsTurn shares one Keyring, one
// Builder and one Memory (all on one clock, as README wires them) between
// eight goroutines that build and record clicks of the same visitors on
// the same links in rounds, while the clock (and real time, which the
// timers count) moves between rounds by steps that do not divide the
// window (and 20 s, which lands a round exactly a window after another),
// so that epochs turn at every phase of the window. It checks,
// against a model of the Store contract: within an epoch a visitor has one
// pseudonym, and a new one in the next; every click's PrevVisitor is the
// visitor's pseudonym of the epoch before (its key lives through the
// grace epoch); and Record reports first exactly at the rounds where the
// visitor's last first click on the link is a window old or more, across
// epoch boundaries too (a visitor is one visitor across the boundary), and
// exactly once among the goroutines. Run with -race. Checked to fail: with
// the Builder's PrevVisitor zeroed before Record (a store that cannot see
// the visitor across the boundary), the first check of the epoch after
// reports a second first click; and with the model expecting the next
// first a nanosecond after the window (not at it), the 20 s run fails.
func TestOneKeyringManyGoroutinesWhileEpochsTurn(t *testing.T) {
	for _, step := range []time.Duration{7 * time.Second, 13 * time.Second, 20 * time.Second, 29 * time.Second} {
		t.Run(step.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				runConcurrent(t, step)
			})
		})
	}
}

type result struct {
	round   int
	visitor int
	link    string
	click   clickstore.Click
	first   bool
}

func runConcurrent(t *testing.T, step time.Duration) {
	ctx := context.Background()
	policy, err := retention.NewPolicy(time.Minute, nil)
	require.NoError(t, err)
	w := policy.Window()
	clk := clickstoretest.NewClock(time.Now().Add(17 * time.Second)) // not on an epoch boundary
	keyring, err := retention.NewKeyring(&retention.KeyringOptions{Policy: policy, Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer keyring.Close()
	b, err := clickstore.NewBuilder(ipmask.Default, keyring, nil)
	require.NoError(t, err)
	store, err := clickstore.NewMemory(&clickstore.MemoryOptions{Policy: policy, Now: clk.Now})
	require.NoError(t, err)
	defer store.Close()

	const goroutines, visitors, rounds = 8, 6, 40
	links := []string{"a", "b"}
	addr := func(v int) netip.Addr { return netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + v)}) } // one /24: told apart by pseudonym only
	var mu sync.Mutex
	var results []result
	for round := range rounds {
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for v := range visitors {
					link := links[(v+g)%len(links)]
					now := clk.Now()
					c, err := b.Build(ctx, addr(v), agent, link, now)
					if !assert.NoError(t, err) {
						return
					}
					first, err := store.Record(ctx, c)
					if !assert.NoError(t, err) {
						return
					}
					mu.Lock()
					results = append(results, result{round, v, link, c, first})
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		time.Sleep(step)
		clk.Advance(step)
		synctest.Wait()
	}

	pseud := map[[2]int64]clickstore.Pseudonym{} // (visitor, epoch) -> pseudonym
	for _, r := range results {
		e := policy.Epoch(r.click.Time)
		k := [2]int64{int64(r.visitor), e}
		if p, ok := pseud[k]; ok {
			assert.Equal(t, p, r.click.Visitor, "visitor %d has two pseudonyms in epoch %d", r.visitor, e)
		} else {
			pseud[k] = r.click.Visitor
		}
	}
	for _, r := range results {
		e := policy.Epoch(r.click.Time)
		before, ok := pseud[[2]int64{int64(r.visitor), e - 1}]
		if ok {
			assert.Equal(t, before, r.click.PrevVisitor, "visitor %d in epoch %d: PrevVisitor is not the pseudonym of the epoch before", r.visitor, e)
			assert.NotEqual(t, before, r.click.Visitor, "visitor %d keeps its pseudonym across epochs %d and %d", r.visitor, e-1, e)
		}
	}
	// The model: a round's clicks are recorded at one time; the first
	// click of a visitor on a link is first, and the next first comes at
	// the first round a window or more after it.
	type vl struct {
		v    int
		link string
	}
	firsts := map[vl]map[int]int{} // round -> firsts reported
	seen := map[vl]map[int]bool{}
	for _, r := range results {
		k := vl{r.visitor, r.link}
		if firsts[k] == nil {
			firsts[k], seen[k] = map[int]int{}, map[int]bool{}
		}
		seen[k][r.round] = true
		if r.first {
			firsts[k][r.round]++
		}
	}
	start := clk.Now().Add(-time.Duration(rounds) * step)
	for k, rs := range seen {
		last := time.Time{}
		for round := range rounds {
			if !rs[round] {
				continue
			}
			at := start.Add(time.Duration(round) * step)
			want := 0
			if last.IsZero() || !at.Before(last.Add(w)) {
				want, last = 1, at
			}
			assert.Equal(t, want, firsts[k][round], fmt.Sprintf("visitor %d link %s round %d (%v after the start)", k.v, k.link, round, at.Sub(start)))
		}
	}
}
