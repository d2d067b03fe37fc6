package stats_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/redistest"
)

// clickTimes returns click times of every class: on a bucket boundary,
// a nanosecond either side of one, before 1970 and near the ends of
// the years Click accepts, in zones east and west of UTC and with
// fractional offsets.
func clickTimes(rng *rand.Rand) []time.Time {
	zones := []*time.Location{time.UTC, time.FixedZone("east", 5*3600+45*60), time.FixedZone("west", -9*3600-30*60), time.FixedZone("odd", 7)}
	bases := []time.Time{
		t0,
		time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC),
		time.Date(1960, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(1680, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(2261, 12, 31, 23, 0, 0, 0, time.UTC),
	}
	var out []time.Time
	for _, b := range bases {
		for _, d := range []time.Duration{0, -1, 1, time.Minute - 1, time.Hour, 24*time.Hour - 1, time.Duration(rng.Int64N(int64(48 * time.Hour)))} {
			out = append(out, b.Add(d).In(zones[rng.IntN(len(zones))]))
		}
	}
	return out
}

// Every click lands, in every backend, in the one minute, hour and day
// bucket that holds its instant: Start <= t < End, Start aligned in UTC
// (second 0, minute 0, 00:00), End = Start + the width, whatever the
// click's zone and however close to a boundary or to 1970. Checked to
// fail: with buckets computed in the click's own zone (a day is then
// off by the zone's offset) and with the test's own bucket off by a
// nanosecond (asking Start <= t-1ns).
func TestEveryClickLandsInItsUTCBucket(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(4, 4))
	times := clickTimes(rng)
	srv := redistest.Start(t, nil)
	backends := map[string]aggregate.Backend{
		"rollup": newRollup(t, &aggregate.Options{MinuteRetention: aggregate.KeepForever, HourRetention: aggregate.KeepForever, Now: func() time.Time { return t0 }}),
		// Retentions long enough for 1680 from 2262: every bucket kept.
		"redis": newSinkOn(t, srv.Addr(), time.Date(1670, 1, 1, 0, 0, 0, 0, time.UTC)),
	}
	for name, b := range backends {
		for i, at := range times {
			link := fmt.Sprintf("t%d", i)
			c := clickstore.Click{Link: link, Time: at, Visitor: visitor(i)}
			_, c.Network = addrOf(rng, i)
			require.NoError(t, b.Add(ctx, c, clickstore.Unique), "%s %v", name, at)
			for _, g := range granularities {
				q := aggregate.Query{Link: link, Granularity: g, From: at.Add(-g.Duration()), To: at.Add(g.Duration())}
				cells, err := b.Cells(ctx, q)
				require.NoError(t, err)
				var buckets []aggregate.Cell
				for _, c := range cells {
					if c.Scope == aggregate.ScopeBucket && c.Dimension == aggregate.Total {
						buckets = append(buckets, c)
					}
				}
				msg := fmt.Sprintf("%s: click at %s (%s UTC), %s", name, at.Format(time.RFC3339Nano), at.UTC().Format(time.RFC3339Nano), g)
				if !assert.Len(t, buckets, 1, msg) {
					continue
				}
				bk := buckets[0]
				assert.Equal(t, time.UTC, bk.Start.Location(), msg)
				assert.False(t, bk.Start.After(at), "%s: bucket starts at %s", msg, bk.Start)
				assert.True(t, at.Before(bk.End), "%s: bucket ends at %s", msg, bk.End)
				assert.Equal(t, bk.Start.Add(g.Duration()), bk.End, msg)
				assert.Equal(t, bk.Start.Truncate(g.Duration()), bk.Start, "%s: bucket start %s not aligned", msg, bk.Start)
				assert.Zero(t, bk.Start.Nanosecond(), msg)
				assert.EqualValues(t, 1, bk.Clicks, msg)
			}
		}
	}
}
