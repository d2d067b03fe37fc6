package aggregate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
)

func TestNewOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *Options
		want string // "" means valid
	}{
		{"nil", nil, ""},
		{"zero", &Options{}, ""},
		{"day only", &Options{NoMinute: true, NoHour: true}, ""},
		{"all granularities off", &Options{NoMinute: true, NoHour: true, NoDay: true}, `aggregate: options: NoMinute, NoHour and NoDay are all set`},
		{"negative minute retention", &Options{MinuteRetention: -time.Second}, `aggregate: options: MinuteRetention -1s is negative`},
		{"negative hour retention", &Options{HourRetention: -time.Hour}, `aggregate: options: HourRetention -1h0m0s is negative`},
		{"negative day retention", &Options{DayRetention: -1}, `aggregate: options: DayRetention -1ns is negative`},
		{"negative max values", &Options{MaxValues: -1}, `aggregate: options: MaxValues -1: want 0 to 65536`},
		{"max values too big", &Options{MaxValues: MaxMaxValues + 1}, `aggregate: options: MaxValues 65537: want 0 to 65536`},
		{"precision too small", &Options{Precision: 3}, `aggregate: options: Precision 3: want 8 to 18`},
		{"precision 7, too small for DefaultK", &Options{Precision: 7}, `aggregate: options: Precision 7: want 8 to 18`},
		{"precision too big", &Options{Precision: 19}, `aggregate: options: Precision 19: want 8 to 18`},
		{"precision 8", &Options{Precision: 8}, ""},
		{"precision 18", &Options{Precision: 18}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before Options
			if tc.opts != nil {
				before = *tc.opts
			}
			r, err := New(tc.opts)
			if tc.opts != nil {
				assert.Equal(t, before, *tc.opts, "caller's options modified")
			}
			if tc.want == "" {
				require.NoError(t, err)
				assert.NotNil(t, r)
				return
			}
			require.Error(t, err)
			assert.Nil(t, r)
			assert.True(t, strings.HasPrefix(err.Error(), tc.want), "error %q does not start with %q", err, tc.want)
		})
	}
}

func TestAddCounts(t *testing.T) {
	ctx := context.Background()
	r, err := New(nil)
	require.NoError(t, err)

	add := func(c clickstore.Click, u clickstore.Uniqueness) {
		t.Helper()
		require.NoError(t, r.Add(ctx, c, u))
	}
	c := click("a", t0.Add(5*time.Second), 1)
	add(c, clickstore.Unique)
	add(c, clickstore.Repeat)
	c2 := click("a", t0.Add(30*time.Second), 2)
	c2.Country = "FR"
	add(c2, clickstore.UniqueUnknown)
	bot := click("a", t0.Add(40*time.Second), 3)
	bot.Bot = "googlebot"
	add(bot, clickstore.Unique) // bots are never unique
	conv := click("a", t0.Add(50*time.Second), 1)
	conv.Kind = clickstore.KindConversion
	add(conv, clickstore.Unique)
	add(click("b", t0.Add(2*time.Minute), 9), clickstore.Unique) // another link, another minute

	want := Counts{Clicks: 4, Unique: 1, UnknownUniqueness: 1, Bots: 1, Conversions: 1}
	for _, g := range granularities {
		cells, err := r.Cells(ctx, Query{Link: "a", Granularity: g, From: t0.Add(-24 * time.Hour), To: t0.Add(24 * time.Hour)})
		require.NoError(t, err)
		start := g.Start(t0)
		tot, ok := find(cells, "a", start, Total, "")
		require.True(t, ok, "%s: no total", g)
		assert.Equal(t, want, tot.Counts, g.String())
		assert.Equal(t, uint64(2), tot.Visitors, "%s: two human visitors (the bot is not one)", g)
		assert.Equal(t, start.Add(g.Duration()), tot.End)

		de, ok := find(cells, "a", start, Country, "DE")
		require.True(t, ok)
		assert.Equal(t, Counts{Clicks: 3, Unique: 1, Bots: 1, Conversions: 1}, de.Counts)
		fr, ok := find(cells, "a", start, Country, "FR")
		require.True(t, ok)
		assert.Equal(t, Counts{Clicks: 1, UnknownUniqueness: 1}, fr.Counts)
		net, ok := find(cells, "a", start, Network, "192.0.2.0/24")
		require.True(t, ok)
		assert.Equal(t, want, net.Counts)
		for _, d := range []Dimension{Total, Country, Network, Referrer, Device} {
			assert.Equal(t, want, totals(cells, ScopeBucket, d), "%s %s", g, d)
		}
		for _, c := range cells {
			assert.Equal(t, "a", c.Link, "query for link a returned another link")
		}
	}
}

func TestAddRejects(t *testing.T) {
	ctx := context.Background()
	r, err := New(nil)
	require.NoError(t, err)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	noLink := click("", t0, 1)
	badNet := click("x", t0, 1)
	badNet.Network = netip.MustParsePrefix("192.0.2.7/24")
	for _, tc := range []struct {
		name string
		ctx  context.Context
		c    clickstore.Click
		u    clickstore.Uniqueness
		is   error
		want string
	}{
		{"no link", ctx, noLink, clickstore.Unique, clickstore.ErrInvalidClick, `aggregate: add click: clickstore: link: invalid click: empty`},
		{"unmasked network", ctx, badNet, clickstore.Unique, clickstore.ErrInvalidClick, `aggregate: add click: clickstore: network: invalid click: has bits set after its length (24)`},
		{"zero click", ctx, clickstore.Click{}, clickstore.Unique, clickstore.ErrInvalidClick, `aggregate: add click: clickstore: link: invalid click: empty`},
		{"bad uniqueness", ctx, click("x", t0, 1), clickstore.Uniqueness(7), nil, `aggregate: add click: uniqueness 7 unknown`},
		{"canceled", canceled, click("x", t0, 1), clickstore.Unique, context.Canceled, `aggregate: add click: context canceled`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Add(tc.ctx, tc.c, tc.u)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tc.want), "error %q", err)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
	cells, err := r.Cells(ctx, Query{From: t0.Add(-48 * time.Hour), To: t0.Add(48 * time.Hour)})
	require.NoError(t, err)
	assert.Empty(t, cells, "a rejected click was counted")
}

// Many goroutines add at once; every click is counted exactly once, in
// every granularity and every dimension.
func TestConcurrentExactlyOnce(t *testing.T) {
	ctx := context.Background()
	r, err := New(&Options{MaxValues: 3})
	require.NoError(t, err)
	const workers, per = 8, 1500
	countries := []string{"DE", "FR", "US", "GB", "NL", ""}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range per {
				c := click([]string{"a", "b", "c"}[rng.IntN(3)], t0.Add(time.Duration(rng.IntN(3*3600))*time.Second), uint64(rng.IntN(500)))
				c.Country = countries[rng.IntN(len(countries))]
				c.Network = netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, byte(rng.IntN(8)), 0}), 24)
				if i%7 == 0 {
					c.Bot = "bot"
				}
				if err := r.Add(ctx, c, clickstore.Uniqueness(rng.IntN(3))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, g := range granularities {
		cells, err := r.Cells(ctx, Query{Granularity: g, From: t0.Add(-48 * time.Hour), To: t0.Add(48 * time.Hour)})
		require.NoError(t, err)
		for _, d := range []Dimension{Total, Country, Network, Referrer, Device} {
			assert.Equal(t, uint64(workers*per), totals(cells, ScopeBucket, d).Clicks, "%s %s", g, d)
		}
		assert.Equal(t, uint64(workers*per), totals(cells, ScopeRange, Total).Clicks, g.String())
	}
}

func TestMaxValuesOther(t *testing.T) {
	ctx := context.Background()
	r, err := New(&Options{MaxValues: 2})
	require.NoError(t, err)
	for i, cc := range []string{"DE", "FR", "US", "GB", "DE", "NL"} {
		c := click("a", t0, uint64(i))
		c.Country = cc
		require.NoError(t, r.Add(ctx, c, clickstore.Unique))
	}
	cells, err := r.Cells(ctx, Query{Granularity: Minute, From: t0, To: t0.Add(time.Minute)})
	require.NoError(t, err)
	var values []string
	var other Counts
	for _, c := range cells {
		if c.Dimension != Country {
			continue
		}
		if c.Other {
			other = other.Add(c.Counts)
			assert.Empty(t, c.Value)
			continue
		}
		values = append(values, c.Value)
	}
	assert.Equal(t, []string{"DE", "FR"}, values, "the first two values are kept")
	assert.Equal(t, uint64(3), other.Clicks, "US, GB and NL overflow into other")
	assert.Equal(t, uint64(6), totals(cells, ScopeBucket, Country).Clicks)
}

func TestDimensionsAndGranularitiesOff(t *testing.T) {
	ctx := context.Background()
	r, err := New(&Options{NoCountry: true, NoNetwork: true, NoReferrer: true, NoMinute: true})
	require.NoError(t, err)
	require.NoError(t, r.Add(ctx, click("a", t0, 1), clickstore.Unique))
	cells, err := r.Cells(ctx, Query{Granularity: Hour, From: t0, To: t0.Add(time.Hour)})
	require.NoError(t, err)
	var dims []Dimension
	for _, c := range cells {
		if c.Scope == ScopeBucket {
			dims = append(dims, c.Dimension)
		}
	}
	assert.Equal(t, []Dimension{Total, Device}, dims)
	_, err = r.Cells(ctx, Query{Granularity: Minute, From: t0, To: t0.Add(time.Hour)})
	assert.ErrorContains(t, err, `aggregate: query granularity minute is not kept`)
}

// relErr is the HyperLogLog standard error at precision p.
func relErr(p uint8) float64 { return 1.04 / math.Sqrt(float64(uint64(1)<<p)) }

func TestVisitorEstimateWithinBound(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{100_000, 1_000_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r, err := New(&Options{NoMinute: true, NoHour: true, NoCountry: true, NoNetwork: true, NoReferrer: true, NoDevice: true})
			require.NoError(t, err)
			// Visitors arrive over three days; half of each day's come
			// back the next day, so a sum of daily uniques overcounts.
			for i := range n {
				day := i % 3
				c := click("a", t0.Add(time.Duration(day)*24*time.Hour), uint64(i))
				require.NoError(t, r.Add(ctx, c, clickstore.Unique))
				if i%2 == 0 && day < 2 {
					c.Time = c.Time.Add(24 * time.Hour)
					require.NoError(t, r.Add(ctx, c, clickstore.Unique))
				}
			}
			cells, err := r.Cells(ctx, Query{Link: "a", From: Day.Start(t0), To: Day.Start(t0).Add(72 * time.Hour)})
			require.NoError(t, err)
			var rng Cell
			var sum uint64
			for _, c := range cells {
				if c.Scope == ScopeRange {
					rng = c
				} else {
					sum += c.Visitors
				}
			}
			bound := 3 * relErr(DefaultPrecision) * float64(n)
			assert.InDelta(t, float64(n), float64(rng.Visitors), bound, "union estimate %d of %d", rng.Visitors, n)
			assert.Greater(t, float64(sum), float64(n)+bound, "the sum of daily visitors should overcount; the test data is wrong")
		})
	}
}

func TestSweepRetention(t *testing.T) {
	ctx := context.Background()
	r, err := New(&Options{MinuteRetention: time.Hour, HourRetention: 48 * time.Hour})
	require.NoError(t, err)
	require.NoError(t, r.Add(ctx, click("a", t0.Add(30*time.Second), 1), clickstore.Unique))
	count := func(g Granularity) uint64 {
		cells, err := r.Cells(ctx, Query{Granularity: g, From: t0.Add(-48 * time.Hour), To: t0.Add(72 * time.Hour)})
		require.NoError(t, err)
		return totals(cells, ScopeBucket, Total).Clicks
	}
	for _, tc := range []struct {
		name              string
		now               time.Time
		minute, hour, day uint64
		deleted, held     int
	}{
		{"minute bucket kept until its end plus an hour", t0.Add(time.Minute + time.Hour - time.Second), 1, 1, 1, 0, 3},
		{"minute bucket dropped at its end plus an hour", t0.Add(time.Minute + time.Hour), 0, 1, 1, 1, 2},
		{"hour bucket dropped at its end plus 48h", t0.Add(time.Hour + 48*time.Hour), 0, 0, 1, 1, 1},
		{"day bucket kept for ever", t0.Add(100 * 365 * 24 * time.Hour), 0, 0, 1, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := r.Sweep(ctx, tc.now)
			require.NoError(t, err)
			assert.Equal(t, tc.deleted, st.Deleted)
			assert.Equal(t, tc.held, st.Held)
			assert.Equal(t, tc.now.Sub(Day.Start(t0)), st.Oldest)
			assert.Equal(t, tc.minute, count(Minute))
			assert.Equal(t, tc.hour, count(Hour))
			assert.Equal(t, tc.day, count(Day))
		})
	}
	_, err = r.Sweep(ctx, time.Time{})
	assert.EqualError(t, err, "aggregate: sweep: zero time")
}

// The hour and day buckets are the exact compaction of the finer ones.
func TestCoarseBucketsAreCompactions(t *testing.T) {
	ctx := context.Background()
	r, err := New(nil)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		c := click("a", t0.Add(time.Duration(rng.IntN(2*86400))*time.Second-12*time.Hour), uint64(rng.IntN(400)))
		c.Device = []string{"mobile", "desktop", "tv"}[i%3]
		require.NoError(t, r.Add(ctx, c, clickstore.Uniqueness(rng.IntN(3))))
	}
	q := Query{Link: "a", From: t0.Add(-10 * 24 * time.Hour), To: t0.Add(10 * 24 * time.Hour)}
	byGran := map[Granularity][]Cell{}
	for _, g := range granularities {
		q.Granularity = g
		cells, err := r.Cells(ctx, q)
		require.NoError(t, err)
		byGran[g] = cells
	}
	for _, pair := range [][2]Granularity{{Minute, Hour}, {Hour, Day}} {
		fine, coarse := byGran[pair[0]], byGran[pair[1]]
		for _, c := range coarse {
			if c.Scope != ScopeBucket {
				continue
			}
			var sum Counts
			for _, f := range fine {
				if f.Scope == ScopeBucket && f.Dimension == c.Dimension && f.Value == c.Value && f.Other == c.Other && !f.Start.Before(c.Start) && f.Start.Before(c.End) {
					sum = sum.Add(f.Counts)
				}
			}
			assert.Equal(t, c.Counts, sum, "%s %s %s=%q", pair[1], c.Start, c.Dimension, c.Value)
		}
		assert.Equal(t, totals(fine, ScopeRange, Total), totals(coarse, ScopeRange, Total))
	}
}

func TestMergeErrors(t *testing.T) {
	a, err := New(nil)
	require.NoError(t, err)
	b, err := New(&Options{Precision: 12})
	require.NoError(t, err)
	assert.ErrorContains(t, a.Merge(nil), "aggregate: merge: other rollup is nil")
	assert.ErrorContains(t, a.Merge(a), "aggregate: merge: cannot merge a rollup into itself")
	assert.ErrorContains(t, a.Merge(b), `aggregate: merge: precision 12 differs from 14`)
	noHour, err := New(&Options{NoHour: true})
	require.NoError(t, err)
	noDevice, err := New(&Options{NoDevice: true})
	require.NoError(t, err)
	assert.ErrorContains(t, a.Merge(noHour), "aggregate: merge: other rollup does not keep hour buckets")
	assert.ErrorContains(t, a.Merge(noDevice), "aggregate: merge: other rollup does not keep the device breakdown")
	assert.NoError(t, noHour.Merge(a), "a rollup that keeps more merges into one that keeps less")
}

// allCells returns every raw cell of r at every granularity.
func allCells(t *testing.T, r *Rollup) []Cell {
	t.Helper()
	var out []Cell
	for _, g := range granularities {
		cells, err := r.Cells(context.Background(), Query{Granularity: g, From: t0.Add(-30 * 24 * time.Hour), To: t0.Add(30 * 24 * time.Hour)})
		require.NoError(t, err)
		out = append(out, cells...)
	}
	return out
}

// Merge gives what one rollup would hold had it seen every click, and is
// commutative and associative.
func TestMergeProperties(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 99))
		parts := make([][]clickstore.Click, 3)
		us := make([][]clickstore.Uniqueness, 3)
		n := 1 + rng.IntN(1000)
		for i := range n {
			c := click([]string{"a", "b"}[rng.IntN(2)], t0.Add(time.Duration(rng.IntN(3*86400))*time.Second), uint64(rng.IntN(n)))
			c.Country = []string{"DE", "FR", "", "US"}[rng.IntN(4)]
			c.Network = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), 0, 0}), 16)
			if rng.IntN(10) == 0 {
				c.Bot = "bot"
			}
			if rng.IntN(10) == 0 {
				c.Kind = clickstore.KindConversion
			}
			p := rng.IntN(3)
			parts[p] = append(parts[p], c)
			us[p] = append(us[p], clickstore.Uniqueness(rng.IntN(3)))
			_ = i
		}
		build := func(ps ...int) *Rollup {
			// Precision 8 turns sketches dense after a few hundred
			// visitors, so both representations are merged.
			r, err := New(&Options{Precision: 8})
			require.NoError(t, err)
			for _, p := range ps {
				for i, c := range parts[p] {
					require.NoError(t, r.Add(ctx, c, us[p][i]))
				}
			}
			return r
		}
		merged := func(order ...[]int) *Rollup {
			r := build(order[0]...)
			for _, o := range order[1:] {
				require.NoError(t, r.Merge(build(o...)))
			}
			return r
		}
		want := allCells(t, build(0, 1, 2))
		for name, r := range map[string]*Rollup{
			"(a+b)+c": merged([]int{0}, []int{1}, []int{2}),
			"a+(b+c)": merged([]int{0}, []int{1, 2}),
			"(c+a)+b": merged([]int{2}, []int{0}, []int{1}),
			"b+(a+c)": func() *Rollup {
				ac := merged([]int{0}, []int{2})
				r := build(1)
				require.NoError(t, r.Merge(ac))
				return r
			}(),
		} {
			assert.Equal(t, want, allCells(t, r), "seed %d: %s", seed, name)
		}
	}
}

func TestAddAllocs(t *testing.T) {
	ctx := context.Background()
	r, err := New(nil)
	require.NoError(t, err)
	cs := make([]clickstore.Click, 64)
	for i := range cs {
		cs[i] = click("link", t0.Add(time.Duration(i)*time.Second), uint64(i))
		cs[i].Country = []string{"DE", "FR"}[i%2]
		require.NoError(t, r.Add(ctx, cs[i], clickstore.Unique))
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		_ = r.Add(ctx, cs[i%len(cs)], clickstore.Repeat)
		i++
	})
	assert.Zero(t, allocs, "Add allocates once buckets, values and visitors are seen")

	// A dense sketch takes new visitors without allocating either.
	d, err := New(&Options{Precision: 10, NoMinute: true, NoHour: true, NoCountry: true, NoNetwork: true, NoReferrer: true, NoDevice: true})
	require.NoError(t, err)
	for i := range 5000 {
		require.NoError(t, d.Add(ctx, click("link", t0, uint64(i)), clickstore.Unique))
	}
	next := uint64(1 << 40)
	allocs = testing.AllocsPerRun(1000, func() {
		_ = d.Add(ctx, click("link", t0, next), clickstore.Unique)
		next++
	})
	assert.Zero(t, allocs, "Add of a new visitor to a dense sketch allocates")
}
