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

// TestSweepDropsEachGranularityAtItsDeadline sets each granularity's
// retention to one of a class (whole seconds, sub-second parts, a
// nanosecond, the defaults) and sweeps at the last nanosecond before a
// bucket's documented deadline, s + g + retention(g), and at the deadline:
// the bucket is held before and gone at it, and the coarser buckets keep
// the totals.
func TestSweepDropsEachGranularityAtItsDeadline(t *testing.T) {
	rets := []time.Duration{
		time.Nanosecond, time.Second, 1500 * time.Millisecond, 90*time.Second + 1,
		time.Hour, 47*time.Hour + 999*time.Millisecond, 0, // 0: the default
	}
	defaults := map[aggregate.Granularity]time.Duration{
		aggregate.Minute: aggregate.DefaultMinuteRetention,
		aggregate.Hour:   aggregate.DefaultHourRetention,
	}
	rng := rand.New(rand.NewPCG(11, 5))
	at := time.Date(2026, 3, 4, 10, 17, 23, 400_000_000, time.UTC)
	for _, g := range []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day} {
		for _, ret := range rets {
			if g == aggregate.Day && ret == 0 {
				continue // days are kept for ever by default
			}
			opts := &aggregate.Options{MinuteRetention: aggregate.KeepForever, HourRetention: aggregate.KeepForever}
			switch g {
			case aggregate.Minute:
				opts.MinuteRetention = ret
			case aggregate.Hour:
				opts.HourRetention = ret
			case aggregate.Day:
				opts.DayRetention = ret
			}
			r, err := aggregate.New(opts)
			require.NoError(t, err)
			require.NoError(t, r.Close()) // only Sweep drops, at the times given
			n := 1 + rng.IntN(5)
			for i := 0; i < n; i++ {
				require.NoError(t, r.Add(context.Background(), click("sw", at.Add(time.Duration(i)*time.Millisecond), i), clickstore.Unique))
			}
			eff := ret
			if eff == 0 {
				eff = defaults[g]
			}
			deadline := g.Start(at).Add(g.Duration()).Add(eff)
			count := func() (held uint64) {
				q := aggregate.Query{Link: "sw", Granularity: g, From: g.Start(at), To: g.Start(at).Add(g.Duration())}
				got, _ := totals(t, r, q)
				return got[g.Start(at).UnixNano()].Clicks
			}
			st, err := r.Sweep(context.Background(), deadline.Add(-1))
			require.NoError(t, err)
			assert.Equal(t, 0, st.Deleted, "%s retention %v: swept a nanosecond before its deadline", g, ret)
			assert.Equal(t, uint64(n), count(), "%s retention %v: held before its deadline", g, ret)
			st, err = r.Sweep(context.Background(), deadline)
			require.NoError(t, err)
			assert.Equal(t, 1, st.Deleted, "%s retention %v: dropped at its deadline", g, ret)
			assert.Zero(t, count(), "%s retention %v: gone at its deadline", g, ret)
			if g != aggregate.Day {
				day := aggregate.Query{Link: "sw", From: at.Add(-48 * time.Hour), To: at.Add(48 * time.Hour)}
				_, rc := totals(t, r, day)
				assert.Equal(t, uint64(n), rc.Clicks, "%s retention %v: days keep the totals", g, ret)
			}
		}
	}
}
