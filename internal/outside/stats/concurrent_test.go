package stats_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// Every Add is counted exactly once while everything else a service does
// with rollups runs at the same time: reports of every link, merges of
// the rollup into others and of others into it (while it merges one in),
// sweeps and erasures of a link it does not hold, with values past the MaxValues
// cap and sketches turning dense. At the end the rollup holds exactly
// the clicks added to it and the ones merged into it, in every
// granularity and dimension, and the cap holds. Checked to fail: with
// one goroutine adding its last click twice (the exact totals differ).
func TestCountsExactWhileEverythingRuns(t *testing.T) {
	ctx := context.Background()
	const workers = 6
	set := randomClicks(21, 1500, 400, []string{"a", "b", "c"}, 6*time.Hour)
	extra := randomClicks(22, 200, 400, []string{"a", "b"}, 6*time.Hour)
	opts := &aggregate.Options{MaxValues: 4, Precision: 8} // dense after 4 visitors
	r, other, peer, empty := newRollup(t, opts), newRollup(t, opts), newRollup(t, opts), newRollup(t, opts)
	addAll(t, other, extra)

	stop := make(chan struct{})
	var bg sync.WaitGroup
	q := aggregate.Query{Granularity: aggregate.Hour, From: t0.Add(-time.Hour), To: t0.Add(7 * time.Hour)}
	for _, f := range []func() error{
		func() error { _, err := r.Report(ctx, q); return err },
		func() error {
			_, err := r.Cells(ctx, aggregate.Query{Link: "a", Granularity: aggregate.Minute, From: q.From, To: q.To})
			return err
		},
		func() error { _, err := r.Sweep(ctx, t0); return err },
		func() error { s := newRollup(t, opts); return s.Merge(r) },
		func() error { return peer.Merge(r) },
		func() error { return other.Merge(empty) }, // writes to other while r merges it
		func() error { _, err := r.EraseLink(ctx, "never"); return err },
	} {
		bg.Go(func() {
			for range 40 { // enough to overlap the Adds, bounded to stay fast
				select {
				case <-stop:
					return
				default:
				}
				assert.NoError(t, f())
			}
		})
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(set.clicks); i += workers {
				assert.NoError(t, r.Add(ctx, set.clicks[i], set.us[i]))
				if i == w+workers*100 && w == 0 {
					assert.NoError(t, r.Merge(other)) // once, while the others add
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	bg.Wait()

	want := newRollup(t, opts)
	addAll(t, want, set)
	addAll(t, want, extra)
	for _, g := range granularities {
		q := aggregate.Query{Granularity: g, From: t0.Add(-time.Hour), To: t0.Add(7 * time.Hour)}
		got, err := r.Cells(ctx, q)
		require.NoError(t, err)
		exp, err := want.Cells(ctx, q)
		require.NoError(t, err)
		gs, es := sums(got), sums(exp)
		for k, n := range es {
			if k.dim == aggregate.Total {
				assert.Equal(t, n, gs[k], "%s %s %v: totals", g, k.link, k.start)
			}
		}
		named := map[sumKey]int{}
		for k, n := range gs {
			if k.dim != aggregate.Total && k.scope == aggregate.ScopeBucket {
				assert.Equal(t, gs[sumKey{k.scope, k.link, k.start, aggregate.Total}], n, "%s %v: %s adds up", g, k.start, k.dim)
			}
		}
		for _, c := range got {
			if c.Scope == aggregate.ScopeBucket && c.Dimension != aggregate.Total && !c.Other {
				named[sumKey{c.Scope, c.Link, c.Start, c.Dimension}]++
			}
		}
		for k, n := range named {
			assert.LessOrEqual(t, n, 4, "%s %v %s: more values than MaxValues", g, k.start, k.dim)
		}
	}
}
