package publish_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/ipmask"
)

// everything returns every raw cell r holds, at every granularity it
// keeps, in one order whatever order r answers in.
func everything(t *testing.T, r *aggregate.Rollup, gs ...aggregate.Granularity) []aggregate.Cell {
	t.Helper()
	var out []aggregate.Cell
	for _, g := range gs {
		cs, err := r.Cells(context.Background(), aggregate.Query{Granularity: g, From: t0.Add(-30 * 24 * time.Hour), To: t0.Add(30 * 24 * time.Hour)})
		require.NoError(t, err)
		out = append(out, cs...)
	}
	slices.SortFunc(out, func(a, b aggregate.Cell) int {
		return cmp.Or(cmp.Compare(a.Granularity, b.Granularity), cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Link, b.Link),
			a.Start.Compare(b.Start), cmp.Compare(a.Dimension, b.Dimension), cmp.Compare(fmt.Sprint(a.Other), fmt.Sprint(b.Other)), cmp.Compare(a.Value, b.Value))
	})
	return out
}

// Merge's doc: merging other into r leaves r holding what one Rollup
// would hold had it seen both streams, "under r's MaxValues and r's
// NetworkPolicy", exact while no cap is reached. For rollups whose
// options differ in what a merge takes on (the other's network policy
// finer than r's: a coarser one has lost what r would keep; the cap, higher or lower, not reached; the
// retentions, longer or shorter, with both swept at the same moment
// after the merge), over click sets spread across days, r after the
// merge answers every query at every granularity exactly as a Rollup
// with r's options that was given every click. Checked to fail: with
// one click of the second stream left out of the oracle, and with the
// oracle built under the other's network policy instead of r's.
func TestMergeIsAsIfOneRollupSawEverything(t *testing.T) {
	ctx := context.Background()
	gs := []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day}
	type pair struct{ into, other aggregate.Options }
	for name, p := range map[string]pair{
		"default into strict":      {aggregate.Options{NetworkPolicy: ipmask.Strict}, aggregate.Options{}},
		"caps differ, not reached": {aggregate.Options{MaxValues: 600}, aggregate.Options{MaxValues: 500}},
		"retentions differ": {
			aggregate.Options{MinuteRetention: 24 * time.Hour, HourRetention: 3 * 24 * time.Hour},
			aggregate.Options{MinuteRetention: 7 * 24 * time.Hour, HourRetention: aggregate.KeepForever},
		},
		"fewer granularities and dimensions kept": {aggregate.Options{NoMinute: true, NoDevice: true}, aggregate.Options{}},
	} {
		t.Run(name, func(t *testing.T) {
			for seed := range 3 {
				rng := rand.New(rand.NewPCG(uint64(seed), 5))
				into, other, oracle := newRollup(t, p.into), newRollup(t, p.other), newRollup(t, p.into)
				links := []string{"x", "y"}
				span := time.Duration(1+rng.IntN(5*24)) * time.Hour
				// The same seeds feed the streams and the oracle.
				randomSet(t, rand.New(rand.NewPCG(uint64(seed), 1)), into, 2*seed, 300, links, span)
				randomSet(t, rand.New(rand.NewPCG(uint64(seed), 2)), other, 2*seed+1, 300, links, span)
				randomSet(t, rand.New(rand.NewPCG(uint64(seed), 1)), oracle, 2*seed, 300, links, span)
				randomSet(t, rand.New(rand.NewPCG(uint64(seed), 2)), oracle, 2*seed+1, 300, links, span)
				require.NoError(t, into.Merge(other))
				now := t0.Add(span + time.Duration(rng.IntN(4*24))*time.Hour)
				for _, r := range []*aggregate.Rollup{into, oracle} {
					_, err := r.Sweep(ctx, now)
					require.NoError(t, err)
				}
				var kept []aggregate.Granularity
				for _, g := range gs {
					if g != aggregate.Minute || !p.into.NoMinute {
						kept = append(kept, g)
					}
				}
				want, got := everything(t, oracle, kept...), everything(t, into, kept...)
				require.NotEmpty(t, want)
				assert.Equal(t, want, got, "seed %d: the merged rollup answers as one that saw every click", seed)
			}
		})
	}
}
