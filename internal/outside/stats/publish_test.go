package stats_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// For any threshold k, granularity, range (aligned or not) and link
// selection, over clicks of every kind (bots, conversions, every
// uniqueness, networks finer than the policy, caps reached), a report:
//   - adds up: per scope, the cells of each dimension, suppressed ones
//     included, sum to the cells of Total, suppressed ones included, and
//     those to the raw totals the backend holds;
//   - publishes no cell, of any dimension or scope, that stands for fewer
//     than k visitors;
//   - shows no value, visitors or counts for a suppressed Total in place,
//     and no value for a suppressed summary;
//   - marks k as asked (DefaultK for 0) and keeps networks no finer than
//     ipmask.Default;
//   - exports to JSON and CSV without any visitor's address or pseudonym.
//
// Checked to fail: with K raised by one after the report (published cells
// below k), and with one raw cell left out of the sums.
func TestReportsAddUpAndHideSmallCells(t *testing.T) {
	ctx := context.Background()
	links := []string{"spring", "autumn", "=sale"}
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 3))
		set := randomClicks(seed, 200+rng.IntN(1500), 20+rng.IntN(300), links, time.Duration(1+rng.IntN(72))*time.Hour)
		r := newRollup(t, &aggregate.Options{MaxValues: 1 + rng.IntN(6)})
		addAll(t, r, set)
		for range 6 {
			g := granularities[rng.IntN(3)]
			q := aggregate.Query{
				Granularity: g,
				From:        t0.Add(-time.Duration(rng.IntN(3*3600)) * time.Second),
				To:          t0.Add(time.Duration(1+rng.IntN(80*3600))*time.Second + time.Duration(rng.IntN(1000))*time.Millisecond),
				K:           []int{0, 1, 2, 3, 5, 8, 20, 200}[rng.IntN(8)],
			}
			if rng.IntN(3) != 0 {
				q.Link = links[rng.IntN(len(links))]
			}
			name := fmt.Sprintf("seed %d %s k %d link %q", seed, g, q.K, q.Link)
			raw, err := r.Cells(ctx, q)
			require.NoError(t, err, name)
			rep, err := r.Report(ctx, q)
			require.NoError(t, err, name)
			k := q.K
			if k == 0 {
				k = aggregate.DefaultK
			}
			assert.Equal(t, k, rep.Query.K, name)

			var rawTotal [2]aggregate.Counts
			for _, c := range raw {
				if c.Dimension == aggregate.Total {
					rawTotal[c.Scope] = rawTotal[c.Scope].Add(c.Counts)
				}
			}
			var byDim [2][aggregate.Device + 1]aggregate.Counts
			var seen [2][aggregate.Device + 1]bool
			for _, c := range rep.Cells {
				byDim[c.Scope][c.Dimension] = byDim[c.Scope][c.Dimension].Add(c.Counts)
				seen[c.Scope][c.Dimension] = true
				if !c.Suppressed {
					assert.GreaterOrEqual(t, c.Visitors, uint64(k), "%s: published %s %s %q of %d visitors", name, c.Scope, c.Dimension, c.Value, c.Visitors)
					assert.Zero(t, c.SuppressedCells, name)
				} else {
					assert.Empty(t, c.Value, "%s: a suppressed cell shows its value", name)
					assert.Zero(t, c.Visitors, name)
					assert.False(t, c.Other, name)
					assert.Positive(t, c.SuppressedCells, name)
					if c.Dimension == aggregate.Total && c.Link != "" {
						assert.True(t, c.IsZero(), "%s: a suppressed Total in place shows counts %+v", name, c.Counts)
					}
				}
				if c.Dimension == aggregate.Network && c.Value != "" {
					p, err := netip.ParsePrefix(c.Value)
					if assert.NoError(t, err, name) {
						assert.Equal(t, p, aggregate.NetworkOf(p, ipmask.Default), "%s: network finer than ipmask.Default", name)
					}
				}
			}
			for s := range 2 {
				assert.Equal(t, rawTotal[s], byDim[s][aggregate.Total], "%s: scope %d: the report's totals are the backend's", name, s)
				for _, d := range dimensions {
					if seen[s][d] {
						assert.Equal(t, byDim[s][aggregate.Total], byDim[s][d], "%s: scope %d: %s cells add up to the total", name, s, d)
					}
				}
			}
			if s := aggregate.ScopeBucket; !rawTotal[s].IsZero() {
				for _, d := range dimensions {
					assert.True(t, seen[s][d], "%s: no %s cells", name, d)
				}
			}

			var js, cs bytes.Buffer
			require.NoError(t, aggregate.WriteJSON(&js, rep))
			require.NoError(t, aggregate.WriteCSV(&cs, rep))
			for _, out := range []*bytes.Buffer{&js, &cs} {
				ipmasktest.AssertNoRawIPOf(t, ipmask.Default, out.String(), set.addrs, name)
				ipmasktest.AssertNoRawIP(t, ipmask.Default, out.String(), name)
				// Every pseudonym starts with the bytes "v00": neither
				// they nor their hex form "763030" may appear.
				assert.NotContains(t, out.String(), "v00", name)
				assert.NotContains(t, out.String(), visitor(0).String()[:6], name)
			}
			rows, err := csv.NewReader(&cs).ReadAll()
			require.NoError(t, err, name)
			assert.Len(t, rows, 1+len(rep.Cells), name)
		}
	}
}
