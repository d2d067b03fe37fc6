package tally_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
)

// TestSQLSinkSweepsAtTheDeadline is TestSweepDropsEachGranularityAtItsDeadline
// on the SQL sink (an embedded SQLite file), whose retention options are
// documented "as in aggregate.Options": a bucket is held a nanosecond
// before s + g + retention(g) and deleted at it, fractional retentions
// included.
func TestSQLSinkSweepsAtTheDeadline(t *testing.T) {
	ctx := context.Background()
	// Clicks of now: the sink may hide buckets past retention by the
	// real clock.
	at := time.Now().UTC()
	for _, g := range granularities {
		for _, ret := range []time.Duration{time.Second, 1500 * time.Millisecond, time.Nanosecond, time.Hour + 1} {
			opts := &sqlsink.Options{MinuteRetention: aggregate.KeepForever, HourRetention: aggregate.KeepForever}
			switch g {
			case aggregate.Minute:
				opts.MinuteRetention = ret
			case aggregate.Hour:
				opts.HourRetention = ret
			case aggregate.Day:
				opts.DayRetention = ret
			}
			s, err := sqlsink.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "agg.db"), opts)
			require.NoError(t, err)
			require.NoError(t, s.Add(ctx, click("sw", at, 1), clickstore.Unique))
			require.NoError(t, s.Flush(ctx))
			q := aggregate.Query{Link: "sw", Granularity: g, From: g.Start(at), To: g.Start(at).Add(g.Duration())}
			deadline := g.Start(at).Add(g.Duration()).Add(ret)
			_, err = s.Sweep(ctx, deadline.Add(-1))
			require.NoError(t, err)
			got, _ := totals(t, s, q)
			assert.Len(t, got, 1, "%s retention %v: deleted before its deadline", g, ret)
			_, err = s.Sweep(ctx, deadline)
			require.NoError(t, err)
			got, _ = totals(t, s, q)
			assert.Empty(t, got, "%s retention %v: held at its deadline", g, ret)
			require.NoError(t, s.Close(ctx))
		}
	}
}
