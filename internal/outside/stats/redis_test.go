package stats_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
)

// Links whose names are Redis glob patterns, hash tags, key separators,
// prefixes or suffixes of each other, or repeat the sink's key layout.
var oddLinks = []string{
	"a", "a*", "*", "a?", "[a]", "{a}", "a}", "}x", `a\`, "a:1:{a}", "1:{a}", "ab", "é",
}

const dayRetention = 30 * 24 * time.Hour

func newSinkOn(t *testing.T, addr string, now time.Time) *redisstore.Sink {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	s, err := redisstore.NewSink(c, &redisstore.SinkOptions{Prefix: "stats", Now: func() time.Time { return now }, DayRetention: dayRetention})
	require.NoError(t, err)
	return s
}

// assertSameCells checks that got holds the cells of want: the same
// cells, with the same exact counts, and visitor estimates within the
// documented bound (three standard errors of 0.81%, plus one).
func assertSameCells(t *testing.T, want, got []aggregate.Cell, msg string) {
	t.Helper()
	type key struct {
		scope aggregate.Scope
		start time.Time
		dim   aggregate.Dimension
		value string
	}
	index := func(cs []aggregate.Cell) map[key]aggregate.Cell {
		m := make(map[key]aggregate.Cell, len(cs))
		for _, c := range cs {
			m[key{c.Scope, c.Start, c.Dimension, c.Value}] = c
		}
		return m
	}
	w, g := index(want), index(got)
	assert.Len(t, got, len(want), msg)
	for k, wc := range w {
		gc, ok := g[k]
		if !assert.True(t, ok, "%s: cell %+v missing", msg, k) {
			continue
		}
		assert.Equal(t, wc.Counts, gc.Counts, "%s: cell %+v", msg, k)
		assert.Equal(t, wc.End, gc.End, msg)
		assert.InDelta(t, float64(wc.Visitors), float64(gc.Visitors), 1+0.0243*float64(wc.Visitors), "%s: visitors of %+v", msg, k)
	}
}

// Two Redis sinks sharing one server, adding concurrently from eight
// goroutines, answer every query as one Rollup that saw the same clicks
// and swept at the same clock, for links of any name, late clicks
// included (a click whose minute bucket is past its retention is counted
// in its hour and day only, by both); every key they write expires when
// every retention is finite; and EraseLink of one link leaves the others'
// answers as they were and, once every link is erased, nothing at all in
// Redis. Checked to fail: with a few of one goroutine's clicks added twice,
// and with EraseLink's pattern not escaping glob characters (erasing "*"
// first then erases link "a" too: see the erase order below).
func TestRedisSinkAnswersAsARollup(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, &redistest.Options{Local: true})
	now := t0.Add(60 * time.Hour)
	a, b := newSinkOn(t, srv.Addr(), now), newSinkOn(t, srv.Addr(), now)
	oracle := newRollup(t, &aggregate.Options{MaxValues: aggregate.MaxMaxValues, DayRetention: dayRetention, Now: func() time.Time { return now }})

	set := randomClicks(11, 2400, 250, oddLinks, 61*time.Hour)
	for _, c := range set.clicks {
		require.NoError(t, c.Validate())
	}
	var wg sync.WaitGroup
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			s := a
			if w%2 == 1 {
				s = b
			}
			for i := w; i < len(set.clicks); i += workers {
				assert.NoError(t, s.Add(ctx, set.clicks[i], set.us[i]))
			}
		})
	}
	addAll(t, oracle, set)
	wg.Wait()
	_, err := oracle.Sweep(ctx, now)
	require.NoError(t, err)

	queries := func(link string, gs ...aggregate.Granularity) []aggregate.Query {
		var qs []aggregate.Query
		for _, g := range gs {
			qs = append(qs, aggregate.Query{Link: link, Granularity: g, From: t0.Add(-time.Hour), To: t0.Add(62 * time.Hour)})
		}
		// A range that starts and ends inside buckets.
		qs = append(qs, aggregate.Query{Link: link, Granularity: aggregate.Hour, From: t0.Add(90 * time.Minute), To: t0.Add(20*time.Hour + 30*time.Second)})
		return qs
	}
	check := func(link string, gone bool, gs ...aggregate.Granularity) {
		t.Helper()
		for _, q := range queries(link, gs...) {
			got, err := b.Cells(ctx, q)
			require.NoError(t, err)
			if gone {
				assert.Empty(t, got, "%q erased", link)
				continue
			}
			want, err := oracle.Cells(ctx, q)
			require.NoError(t, err)
			assertSameCells(t, want, got, link+" "+q.Granularity.String())
		}
	}
	for _, l := range oddLinks {
		check(l, false, granularities...)
	}

	// Every key expires: no retention is KeepForever.
	keys, err := redis.NewClient(&redis.Options{Addr: srv.Addr()}).Keys(ctx, "*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	longest := time.Duration(0)
	for _, k := range keys {
		ttl, err := rc.PTTL(ctx, k).Result()
		require.NoError(t, err)
		assert.Positive(t, ttl, "a key of %d bytes never expires", len(k))
		longest = max(longest, ttl)
	}
	// The last bucket ends at most 2 days after now; hours are kept the
	// longest here (the default 90 days against 30 for days).
	assert.LessOrEqual(t, longest, 2*24*time.Hour+aggregate.DefaultHourRetention)

	// Erase in an order where a glob-like link comes before the links it
	// would match.
	order := []string{"*", "a*", "a?", "[a]", "a", "{a}", "}x", "a}", `a\`, "1:{a}", "a:1:{a}", "ab", "é"}
	require.ElementsMatch(t, oddLinks, order)
	erased := map[string]bool{}
	for _, l := range order {
		n, err := a.EraseLink(ctx, l)
		require.NoError(t, err)
		assert.Positive(t, n, "%q had keys", l)
		_, err = oracle.EraseLink(ctx, l)
		require.NoError(t, err)
		erased[l] = true
		for _, o := range oddLinks {
			check(o, erased[o], aggregate.Day)
		}
	}
	size, err := rc.DBSize(ctx).Result()
	require.NoError(t, err)
	assert.Zero(t, size, "keys left after every link was erased")
}

// The sink's answers for a range are the union's estimate, not the sum of
// its buckets', for any number of distinct visitors, however they spread
// over the buckets: within three standard errors of the true count, as
// the Rollup's. Checked to fail: against the sum of the bucket estimates.
func TestRedisSinkRangeVisitorsAreAUnion(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, nil)
	s := newSinkOn(t, srv.Addr(), t0)
	for _, n := range []int{1, 8, 90, 1200} {
		link := "u" + string(rune('a'+n%26))
		// Day d sees visitors d*n/2 to d*n/2+n-1: half of each day's
		// visitors come back the next day, the union is n + 2*(n/2).
		for day := range 3 {
			for j := range n {
				i := day*(n/2) + j
				c := clickstore.Click{Link: link, Time: t0.Add(time.Duration(day)*24*time.Hour + time.Duration(j)*time.Second), Visitor: visitor(i)}
				_, c.Network = addrOf(nil2(), i)
				require.NoError(t, s.Add(ctx, c, clickstore.Unique))
			}
		}
		cells, err := s.Cells(ctx, aggregate.Query{Link: link, From: t0.Add(-24 * time.Hour), To: t0.Add(4 * 24 * time.Hour)})
		require.NoError(t, err)
		var rng aggregate.Cell
		var sum uint64
		for _, c := range cells {
			switch {
			case c.Scope == aggregate.ScopeRange:
				rng = c
			case c.Dimension == aggregate.Total:
				sum += c.Visitors
			}
		}
		assert.EqualValues(t, 3*n, rng.Clicks)
		union := float64(n + 2*(n/2))
		assert.InDelta(t, union, float64(rng.Visitors), 3*1.04/math.Sqrt(1<<14)*union+0.5, "%d visitors over 3 days (bucket sum %d)", n, sum)
	}
}
