package tally_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// zones are fixed zones of every kind of offset: whole hours either side,
// half and three-quarter hours, and one beyond twelve hours.
var zones = []*time.Location{
	time.UTC,
	time.FixedZone("plus0545", 5*3600+45*60),
	time.FixedZone("minus0930", -(9*3600 + 30*60)),
	time.FixedZone("plus14", 14*3600),
	time.FixedZone("minus11", -11*3600),
}

// modelStart is the documented bucket of t: the UTC bucket of width d
// holding the instant, by floor division of Unix nanoseconds.
func modelStart(t time.Time, d time.Duration) int64 {
	n := t.UnixNano()
	q := n / int64(d)
	if n%int64(d) < 0 {
		q--
	}
	return q * int64(d)
}

// edgeTimes returns, around every bucket edge near base, the instants a
// click can take: the edge itself, the last nanosecond before it, a
// nanosecond and a half-second after, each in a random zone.
func edgeTimes(rng *rand.Rand, base time.Time) []time.Time {
	var out []time.Time
	for _, g := range granularities {
		edge := base.Truncate(g.Duration()).Add(g.Duration())
		for _, off := range []time.Duration{0, -1, 1, -time.Second / 2, time.Second / 2, -time.Minute + 1} {
			out = append(out, edge.Add(off).In(zones[rng.IntN(len(zones))]))
		}
	}
	return out
}

// TestBucketEdgesFollowTheModel adds clicks at every bucket edge, in any
// zone, before and after 1970, in any order (late ones included), and
// checks each granularity's buckets hold exactly what the documented model
// (UTC buckets, by instant) says, with starts and ends in UTC.
func TestBucketEdgesFollowTheModel(t *testing.T) {
	bases := []time.Time{
		time.Date(2026, 12, 31, 23, 10, 0, 0, time.UTC), // year end
		time.Date(1969, 12, 31, 23, 10, 0, 0, time.UTC), // before the Unix epoch
		time.Date(2024, 2, 29, 23, 59, 0, 0, time.UTC),  // leap day
		time.Date(1700, 1, 1, 0, 30, 0, 0, time.UTC),    // far before 1970
	}
	for seed := uint64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		r, err := aggregate.New(&aggregate.Options{MinuteRetention: aggregate.KeepForever, HourRetention: aggregate.KeepForever})
		require.NoError(t, err)
		var times []time.Time
		for _, b := range bases {
			times = append(times, edgeTimes(rng, b)...)
		}
		// Repeat some, shuffle all: late and out-of-order clicks.
		for i := 0; i < 20; i++ {
			times = append(times, times[rng.IntN(len(times))])
		}
		rng.Shuffle(len(times), func(i, j int) { times[i], times[j] = times[j], times[i] })
		model := map[aggregate.Granularity]map[int64]uint64{}
		for _, g := range granularities {
			model[g] = map[int64]uint64{}
		}
		for i, tm := range times {
			require.NoError(t, r.Add(context.Background(), click("edge", tm, i), clickstore.Unique))
			for _, g := range granularities {
				model[g][modelStart(tm, g.Duration())]++
				// Granularity.Start tells the same bucket, in UTC.
				s := g.Start(tm)
				assert.Equal(t, time.UTC, s.Location(), "%s start of %v", g, tm)
				assert.Equal(t, modelStart(tm, g.Duration()), s.UnixNano(), "%s start of %v", g, tm)
			}
		}
		for _, g := range granularities {
			q := aggregate.Query{Link: "edge", Granularity: g,
				From: time.Date(1690, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
			got, rng := totals(t, r, q)
			gotN := map[int64]uint64{}
			for s, c := range got {
				gotN[s] = c.Clicks
				assert.Equal(t, time.UTC, c.Start.Location())
				assert.Equal(t, time.UTC, c.End.Location())
				assert.Equal(t, g.Duration(), c.End.Sub(c.Start))
			}
			assert.Equal(t, model[g], gotN, "seed %d, %s buckets", seed, g)
			assert.Equal(t, uint64(len(times)), rng.Clicks, "seed %d, %s range", seed, g)
		}
		r.Close()
	}
}

// TestQueryRangesInsideBuckets queries ranges whose ends fall anywhere in
// a bucket (on its start, one nanosecond after, its last nanosecond, in
// any zone) and checks the buckets reported are exactly those whose start
// is at or after From and before To, and the range cell sums them.
func TestQueryRangesInsideBuckets(t *testing.T) {
	base := time.Date(1969, 12, 31, 22, 0, 0, 0, time.UTC) // spans the epoch
	r, err := aggregate.New(&aggregate.Options{MinuteRetention: aggregate.KeepForever, HourRetention: aggregate.KeepForever})
	require.NoError(t, err)
	defer r.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	var times []time.Time
	for i := 0; i < 400; i++ {
		tm := base.Add(time.Duration(rng.Int64N(int64(52 * time.Hour))))
		times = append(times, tm)
		require.NoError(t, r.Add(context.Background(), click("range", tm, i), clickstore.Repeat))
	}
	offsets := []time.Duration{0, 1, -1, time.Second / 2, time.Second, -time.Second}
	for _, g := range granularities {
		for trial := 0; trial < 40; trial++ {
			a := base.Add(time.Duration(rng.Int64N(int64(50 * time.Hour)))).Truncate(g.Duration())
			b := a.Add(time.Duration(1+rng.IntN(3)) * g.Duration())
			from := a.Add(offsets[rng.IntN(len(offsets))])
			to := b.Add(offsets[rng.IntN(len(offsets))])
			if !from.Before(to) {
				continue
			}
			q := aggregate.Query{Link: "range", Granularity: g,
				From: from.In(zones[rng.IntN(len(zones))]), To: to.In(zones[rng.IntN(len(zones))])}
			want := map[int64]uint64{}
			var sum uint64
			for _, tm := range times {
				s := modelStart(tm, g.Duration())
				if s >= from.UnixNano() && s < to.UnixNano() {
					want[s]++
					sum++
				}
			}
			got, rc := totals(t, r, q)
			gotN := map[int64]uint64{}
			for s, c := range got {
				gotN[s] = c.Clicks
			}
			assert.Equal(t, want, gotN, "%s [%v, %v)", g, from, to)
			assert.Equal(t, sum, rc.Clicks, "%s [%v, %v) range", g, from, to)
			if sum > 0 {
				assert.True(t, rc.Start.Equal(from) && rc.End.Equal(to), "range cell spans the query")
				assert.Equal(t, time.UTC, rc.Start.Location())
			}
		}
	}
}
