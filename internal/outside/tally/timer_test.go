package tally_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// TestOwnExpiryNeverEarlyNorLate leaves expiry to the Rollup's own timer
// (no Sweep) under a fake clock, for each granularity and retentions whole
// and fractional, and clicks at any point of their bucket: a bucket is
// held until its deadline (bucket end + retention) and gone within a
// second after it, as Options documents.
func TestOwnExpiryNeverEarlyNorLate(t *testing.T) {
	for _, g := range granularities {
		for _, ret := range []time.Duration{time.Second, 1500 * time.Millisecond, 2*time.Minute + 1, time.Hour} {
			for _, into := range []time.Duration{0, time.Second / 3, g.Duration() - 1} {
				synctest.Test(t, func(t *testing.T) {
					opts := &aggregate.Options{MinuteRetention: aggregate.KeepForever, HourRetention: aggregate.KeepForever, DayRetention: aggregate.KeepForever}
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
					defer r.Close()
					// Move to the chosen point of a bucket.
					start := g.Start(time.Now()).Add(g.Duration())
					time.Sleep(time.Until(start.Add(into)))
					at := time.Now()
					require.NoError(t, r.Add(context.Background(), click("own", at, 1), clickstore.Unique))
					q := aggregate.Query{Link: "own", Granularity: g, From: start, To: start.Add(g.Duration())}
					held := func() bool {
						got, _ := totals(t, r, q)
						return len(got) == 1
					}
					deadline := start.Add(g.Duration()).Add(ret)
					time.Sleep(time.Until(deadline.Add(-1)))
					synctest.Wait()
					assert.True(t, held(), "%s retention %v, click %v in: gone before its deadline", g, ret, into)
					time.Sleep(time.Until(deadline.Add(time.Second)))
					synctest.Wait()
					assert.False(t, held(), "%s retention %v, click %v in: held a second past its deadline", g, ret, into)
				})
			}
		}
	}
}
