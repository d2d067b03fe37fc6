package aggregate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
)

func TestQueryNormalize(t *testing.T) {
	for _, tc := range []struct {
		name string
		q    Query
		want string
	}{
		{"defaults", Query{From: t0, To: t0.Add(time.Hour)}, ""},
		{"unknown granularity", Query{Granularity: 9, From: t0, To: t0.Add(time.Hour)}, `aggregate: query granularity 9 unknown`},
		{"negative k", Query{K: -1, From: t0, To: t0.Add(time.Hour)}, `aggregate: query K -1 is negative`},
		{"long link", Query{Link: strings.Repeat("x", clickstore.MaxLinkLen+1), From: t0, To: t0.Add(time.Hour)}, `aggregate: query link of 257 bytes: longer than 256 bytes`},
		{"no from", Query{To: t0}, `aggregate: query range: both ends are required (From zero: true, To zero: false)`},
		{"empty range", Query{From: t0, To: t0}, `aggregate: query range: From is not before To`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := tc.q.Normalize()
			if tc.want == "" {
				require.NoError(t, err)
				assert.Equal(t, Day, q.Granularity)
				assert.Equal(t, DefaultK, q.K)
				return
			}
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tc.want), "error %q", err)
		})
	}
}

func TestPublishNilBackend(t *testing.T) {
	_, err := Publish(context.Background(), nil, Query{Link: "a", From: t0, To: t0.Add(time.Hour)})
	assert.ErrorContains(t, err, `aggregate: publish: nil backend`)
}

// Four visitors from one network are suppressed, five from another are
// published; the suppressed counts stay visible and the sums add up.
func TestReportSuppressesSmallCells(t *testing.T) {
	ctx := context.Background()
	r, err := New(nil)
	require.NoError(t, err)
	small := netip.MustParsePrefix("203.0.113.0/24")
	big := netip.MustParsePrefix("198.51.100.0/24")
	for i := range 4 {
		c := click("a", t0, uint64(i))
		c.Network = small
		for range 3 { // one visitor clicking three times is one contributor
			require.NoError(t, r.Add(ctx, c, clickstore.Repeat))
		}
	}
	for i := range 5 {
		c := click("a", t0, uint64(100+i))
		c.Network = big
		require.NoError(t, r.Add(ctx, c, clickstore.Unique))
	}
	// A link with only four visitors: its bucket total is suppressed.
	for i := range 4 {
		require.NoError(t, r.Add(ctx, click("quiet", t0, uint64(200+i)), clickstore.Unique))
	}

	rep, err := r.Report(ctx, Query{Granularity: Hour, From: t0, To: t0.Add(time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, DefaultK, rep.Query.K)

	bigCell, ok := find(rep.Cells, "a", t0, Network, big.String())
	require.True(t, ok, "the network with five visitors is published")
	assert.Equal(t, uint64(5), bigCell.Clicks)
	assert.Equal(t, uint64(5), bigCell.Visitors)
	_, ok = find(rep.Cells, "a", t0, Network, small.String())
	assert.False(t, ok, "the network with four visitors is published")
	var sup []Cell
	for _, c := range rep.Cells {
		if c.Suppressed {
			sup = append(sup, c)
		}
		assert.NotContains(t, c.Value, small.Addr().String(), "a suppressed value leaked")
	}
	require.Len(t, sup, 9, "%+v", sup)
	assert.Equal(t, Cell{Scope: ScopeBucket, Link: "a", Granularity: Hour, Start: t0, End: t0.Add(time.Hour), Dimension: Network,
		Counts: Counts{Clicks: 12}, Suppressed: true, SuppressedCells: 1}, sup[0])
	assert.Equal(t, Cell{Scope: ScopeBucket, Link: "quiet", Granularity: Hour, Start: t0, End: t0.Add(time.Hour),
		Suppressed: true, SuppressedCells: 1}, sup[1], "the quiet link's total is marked, its counts withheld")
	// The quiet link's counts, in every dimension, go to summaries with no
	// link: none of its dimension cells is published.
	for i, d := range []Dimension{Total, Country, Network, Referrer, Device} {
		assert.Equal(t, Cell{Scope: ScopeBucket, Granularity: Hour, Start: t0, End: t0.Add(time.Hour), Dimension: d,
			Counts: Counts{Clicks: 4, Unique: 4}, Suppressed: true, SuppressedCells: 1}, sup[2+i], d.String())
	}
	assert.Equal(t, Cell{Scope: ScopeRange, Link: "quiet", Granularity: Hour, Start: t0, End: t0.Add(time.Hour),
		Suppressed: true, SuppressedCells: 1}, sup[7], "the quiet link's range total is marked")
	assert.Equal(t, Cell{Scope: ScopeRange, Granularity: Hour, Start: t0, End: t0.Add(time.Hour),
		Counts: Counts{Clicks: 4, Unique: 4}, Suppressed: true, SuppressedCells: 1}, sup[8])
	for _, c := range rep.Cells {
		if c.Link == "quiet" {
			assert.True(t, c.Suppressed, "a cell of the quiet link is published: %+v", c)
		}
	}

	// With k = 4 the small network is published.
	rep4, err := r.Report(ctx, Query{Granularity: Hour, From: t0, To: t0.Add(time.Hour), K: 4})
	require.NoError(t, err)
	smallCell, ok := find(rep4.Cells, "a", t0, Network, small.String())
	require.True(t, ok)
	assert.Equal(t, uint64(4), smallCell.Visitors)
	assert.Equal(t, uint64(12), smallCell.Clicks)
}

// Whatever k, for every scope and dimension the cells of a report add up
// to the raw totals, and no published cell has fewer than k visitors.
func TestReportSumsAddUp(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 7))
		r, err := New(&Options{MaxValues: 1 + rng.IntN(5)})
		require.NoError(t, err)
		var want Counts
		for range 1 + rng.IntN(600) {
			c := click(fmt.Sprint(rng.IntN(4)), t0.Add(time.Duration(rng.IntN(4*3600))*time.Second), uint64(rng.IntN(60)))
			c.Country = []string{"DE", "FR", "", "US", "NZ"}[rng.IntN(5)]
			c.Referrer = fmt.Sprintf("r%d.example", rng.IntN(8))
			c.Network = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(rng.IntN(12)), 0, 0}), 16)
			if rng.IntN(8) == 0 {
				c.Bot = "bot"
			}
			if rng.IntN(8) == 0 {
				c.Kind = clickstore.KindConversion
			}
			u := clickstore.Uniqueness(rng.IntN(3))
			require.NoError(t, r.Add(ctx, c, u))
			want = want.Add(CountsOf(&c, u))
		}
		k := rng.IntN(12)
		for _, g := range granularities {
			rep, err := r.Report(ctx, Query{Granularity: g, K: k, From: t0.Add(-24 * time.Hour), To: t0.Add(24 * time.Hour)})
			require.NoError(t, err)
			for _, s := range []Scope{ScopeBucket, ScopeRange} {
				dims := []Dimension{Total}
				if s == ScopeBucket {
					dims = append(dims, Country, Network, Referrer, Device)
				}
				for _, d := range dims {
					assert.Equal(t, want, totals(rep.Cells, s, d), "seed %d k %d %s %s %s", seed, k, g, s, d)
				}
			}
			for _, c := range rep.Cells {
				// The contract Publish states rests on this: a value is
				// broken down once per bucket, never over the range, so
				// no two cells of a report subtract to a suppressed one.
				if c.Scope == ScopeRange {
					assert.Equal(t, Total, c.Dimension, "a breakdown over the range: %+v", c)
				}
				if c.Suppressed {
					assert.Zero(t, c.Visitors)
					assert.Empty(t, c.Value)
					assert.Positive(t, c.SuppressedCells)
				} else {
					assert.GreaterOrEqual(t, c.Visitors, uint64(rep.Query.K), "published cell below k: %+v", c)
				}
			}
		}
	}
}
