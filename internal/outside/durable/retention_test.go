package durable_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/internal/pgtest"
)

// everything is one query per granularity over all the clicks' span, at
// the lowest threshold, so that every bucket that is held shows.
func everything() []aggregate.Query {
	var qs []aggregate.Query
	for _, g := range []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day} {
		qs = append(qs, aggregate.Query{Granularity: g, From: now.Add(-30 * 24 * time.Hour), To: now.Add(30 * 24 * time.Hour), K: 1})
	}
	return qs
}

// TestSweepAsRollup sweeps a sink and a Rollup holding the same clicks, with
// the same retentions (short ones, the defaults, for ever), at moments on
// each side of buckets' ends, and wants the same buckets held after each
// sweep: a bucket of granularity g starting at s goes once now >= s + g +
// retention(g), not a second before, and the coarser buckets keep the
// totals.
func TestSweepAsRollup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	all := clicks(5, 400)
	type ret struct{ min, hour, day time.Duration }
	for _, rt := range []ret{
		{time.Minute, 2 * time.Hour, 24 * time.Hour},
		{0, 0, 0},
		{aggregate.KeepForever, 90 * time.Minute, aggregate.KeepForever},
	} {
		t.Run(fmt.Sprintf("%v/%v/%v", rt.min, rt.hour, rt.day), func(t *testing.T) {
			var clock atomic.Int64
			clock.Store(now.UnixNano())
			nowf := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
			r, err := aggregate.New(&aggregate.Options{Now: nowf, MinuteRetention: rt.min, HourRetention: rt.hour, DayRetention: rt.day})
			require.NoError(t, err)
			defer r.Close()
			s, _ := newSQLite(t, &sqlsink.Options{Now: nowf, FlushInterval: time.Hour, MinuteRetention: rt.min, HourRetention: rt.hour, DayRetention: rt.day})
			for _, a := range all {
				require.NoError(t, r.Add(ctx, a.c, a.u))
				require.NoError(t, s.Add(ctx, a.c, a.u))
			}
			require.NoError(t, s.Flush(ctx))
			// Sweep now, then on each side of the moments where buckets
			// run out, a few per granularity, spread over what is held.
			moments := []time.Time{now}
			for _, g := range []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day} {
				d := map[aggregate.Granularity]time.Duration{aggregate.Minute: rt.min, aggregate.Hour: rt.hour, aggregate.Day: rt.day}[g]
				if d == 0 {
					d = map[aggregate.Granularity]time.Duration{aggregate.Minute: aggregate.DefaultMinuteRetention, aggregate.Hour: aggregate.DefaultHourRetention, aggregate.Day: aggregate.DefaultDayRetention}[g]
				}
				if d == aggregate.KeepForever {
					continue
				}
				var ends []time.Time
				for _, a := range all {
					if end := g.Start(a.c.Time).Add(g.Duration() + d); !end.Before(now) {
						ends = append(ends, end)
					}
				}
				ends = sortedAfter(ends, now)
				for i := 0; i < len(ends); i += max(1, len(ends)/2) {
					moments = append(moments, ends[i].Add(-time.Second), ends[i], ends[i].Add(time.Nanosecond))
				}
			}
			for _, m := range sortedAfter(moments, now) {
				clock.Store(m.UnixNano())
				_, err := r.Sweep(ctx, m)
				require.NoError(t, err)
				_, err = s.Sweep(ctx, m)
				require.NoError(t, err)
				for _, q := range everything() {
					rw, err := aggregate.Publish(ctx, r, q)
					require.NoError(t, err)
					rg, err := aggregate.Publish(ctx, s, q)
					require.NoError(t, err)
					if d := diffReports(rw, rg); d != "" {
						t.Errorf("after a sweep at %v, %s buckets differ:\n%s", m, q.Granularity, d)
					}
				}
			}
		})
	}
}

// sortedAfter returns the moments not before t, in order.
func sortedAfter(ms []time.Time, t time.Time) []time.Time {
	var out []time.Time
	for _, m := range ms {
		if !m.Before(t) {
			out = append(out, m)
		}
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Before(out[i]) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestEraseLinkEverywhere erases links (one whose name is a prefix of
// another's, one holding SQL's LIKE wildcards) from two instances sharing
// PostgreSQL, while part of their clicks is written, part buffered in one
// instance and part in the other, and wants what is left to be exactly a
// Rollup of the other links' clicks: nothing of the erased links, nothing
// lost of the rest, and nothing of the erased links coming back on later
// flushes.
func TestEraseLinkEverywhere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DB(t)
	a, b := openSink(t, dsn, nil), openSink(t, dsn, nil)
	erased := map[string]bool{"a": true, "50%_off": true}
	want := newRollup(t)
	all := clicks(6, 800)
	for i, c := range all {
		s := a
		if i%2 == 1 {
			s = b
		}
		require.NoError(t, s.Add(ctx, c.c, c.u))
		if !erased[c.c.Link] {
			require.NoError(t, want.Add(ctx, c.c, c.u))
		}
		if i == 400 {
			require.NoError(t, a.Flush(ctx))
			require.NoError(t, b.Flush(ctx))
		}
	}
	require.NoError(t, b.Flush(ctx)) // b's are written; a's last half is buffered
	for link := range erased {
		_, err := b.EraseLink(ctx, link) // the database's rows
		require.NoError(t, err)
		_, err = a.EraseLink(ctx, link) // and a's buffer
		require.NoError(t, err)
	}
	require.NoError(t, a.Flush(ctx))
	require.NoError(t, b.Flush(ctx))
	assertSameReports(t, want, a, everything())
	for link := range erased {
		cells, err := b.Cells(ctx, aggregate.Query{Link: link, From: now.Add(-30 * 24 * time.Hour), To: now.Add(time.Hour)})
		require.NoError(t, err)
		assert.Empty(t, cells, "link %q", link)
	}
}
