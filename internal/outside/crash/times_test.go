package crash_test

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/internal/pgtest"
	"github.com/clickanon/clickanon/retention"
)

// zones have daylight saving time, half- and quarter-hour offsets, a
// half-hour change (Lord Howe) and offsets past 12 hours (Chatham).
var zones = []string{"America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "America/St_Johns", "America/Santiago"}

func loadZones(t *testing.T) []*time.Location {
	t.Helper()
	var locs []*time.Location
	for _, z := range zones {
		loc, err := time.LoadLocation(z)
		require.NoError(t, err, "the time zone database")
		locs = append(locs, loc)
	}
	return locs
}

// transitions returns the instants in year at which loc's offset changes.
func transitions(loc *time.Location, year int) []time.Time {
	var out []time.Time
	offset := func(t time.Time) int { _, o := t.In(loc).Zone(); return o }
	from := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	for h := from; h.Year() == year; h = h.Add(time.Hour) {
		next := h.Add(time.Hour)
		if offset(h) == offset(next) {
			continue
		}
		lo, hi := h.Unix(), next.Unix() // offset(lo) differs from offset(hi)
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if offset(time.Unix(mid, 0)) == offset(h) {
				lo = mid
			} else {
				hi = mid
			}
		}
		out = append(out, time.Unix(hi, 0))
	}
	return out
}

// edgeTimes returns click times at the edges of the calendar: each zone's
// daylight-saving changes of 2026 (at the instant, a nanosecond either
// side, half an hour after) and its local midnights around them, leap
// days (2024, 2000) and a century year that is not one (2100), the first
// and last instants a Click takes, and a second either side of 1970, each
// in a zone of its own.
func edgeTimes(t *testing.T) []time.Time {
	locs := loadZones(t)
	var ts []time.Time
	changes := 0
	for i, loc := range locs {
		trs := transitions(loc, 2026)
		changes += len(trs)
		if len(trs) == 0 { // Kathmandu: a quarter-hour offset all year
			trs = []time.Time{time.Date(2026, 6, 15, 0, 0, 0, 0, loc)}
		}
		for _, tr := range trs {
			for _, d := range []time.Duration{-time.Nanosecond, 0, time.Nanosecond, 30*time.Minute - time.Nanosecond} {
				ts = append(ts, tr.Add(d).In(loc))
			}
			l := tr.In(loc)
			mid := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
			ts = append(ts, mid, mid.Add(-time.Nanosecond), mid.AddDate(0, 0, 1).Add(-time.Nanosecond))
		}
		for _, y := range []int{2024, 2000, 2100} {
			ts = append(ts,
				time.Date(y, 2, 28, 23, 59, 59, 999_999_999, loc),
				time.Date(y, 2, 29, 0, 0, 0, 0, loc), // 2100: March 1st
				time.Date(y, 2, 29, 23, 59, 59, 999_999_999, loc),
				time.Date(y, 3, 1, 0, 0, 0, 0, locs[(i+1)%len(locs)]))
		}
	}
	require.GreaterOrEqual(t, changes, 10, "daylight-saving changes in 2026")
	ts = append(ts,
		time.Unix(0, math.MinInt64).In(locs[0]), time.Unix(0, math.MaxInt64).In(locs[2]),
		time.Unix(0, math.MinInt64+int64(time.Hour)), time.Unix(0, math.MaxInt64-int64(24*time.Hour)).In(locs[4]),
		time.Unix(-1, 0).In(locs[3]), time.Unix(0, -1), time.Unix(0, 0).In(locs[5]), time.Unix(1, 0))
	for _, tt := range ts {
		require.NoError(t, clickstore.Click{Link: "x", Time: tt, Visitor: visitor(0), Network: click("x", 1, tt).Network}.Validate(), "%v", tt)
	}
	return ts
}

// backends are a Rollup, a SQLite sink and a PostgreSQL sink, with the
// same options, on one clock.
type backends struct {
	names []string
	all   []aggregate.Backend
	sinks []*sqlsink.Sink
	r     *aggregate.Rollup
}

func newBackends(t *testing.T, clock func() time.Time, minute, hour, dayRet time.Duration) *backends {
	t.Helper()
	r, err := aggregate.New(&aggregate.Options{Now: clock, MinuteRetention: minute, HourRetention: hour, DayRetention: dayRet})
	require.NoError(t, err)
	b := &backends{names: []string{"rollup"}, all: []aggregate.Backend{r}, r: r}
	for name, dsn := range map[string]string{
		"sqlite":     "sqlite:" + filepath.Join(t.TempDir(), "times.db"),
		"postgresql": pgtest.DB(t),
	} {
		s, err := sqlsink.Open(context.Background(), dsn, &sqlsink.Options{
			Now: clock, FlushInterval: time.Hour, Logger: discard(),
			MinuteRetention: minute, HourRetention: hour, DayRetention: dayRet,
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		b.names, b.all, b.sinks = append(b.names, name), append(b.all, s), append(b.sinks, s)
	}
	return b
}

// add adds a click at each of ts, each a visitor of its own, on link
// "edge" and every other one on "edge-2" too, and flushes.
func (b *backends) add(t *testing.T, ts []time.Time) {
	t.Helper()
	ctx := context.Background()
	for i, tt := range ts {
		for _, be := range b.all {
			require.NoError(t, be.Add(ctx, click("edge", uint64(i), tt), clickstore.Unique))
			if i%2 == 0 {
				require.NoError(t, be.Add(ctx, click("edge-2", uint64(i), tt), clickstore.Repeat))
			}
		}
	}
	for _, s := range b.sinks {
		require.NoError(t, s.Flush(ctx))
	}
}

// assertSame asks every backend q, raw and published, and wants the
// Rollup's answers from the sinks.
func (b *backends) assertSame(t *testing.T, q aggregate.Query, what string) []aggregate.Cell {
	return b.assertSameAs(t, q, what, true)
}

// assertSameAs is assertSame, with the published reports compared only if
// publish.
func (b *backends) assertSameAs(t *testing.T, q aggregate.Query, what string, publish bool) []aggregate.Cell {
	t.Helper()
	ctx := context.Background()
	want, err := b.r.Cells(ctx, q)
	require.NoError(t, err)
	sortCells(want)
	wantRep, err := aggregate.Publish(ctx, b.r, q)
	require.NoError(t, err)
	for i, s := range b.sinks {
		got, err := s.Cells(ctx, q)
		require.NoError(t, err)
		sortCells(got)
		assert.Equal(t, want, got, "%s: %s cells", what, b.names[i+1])
		if !publish {
			continue
		}
		rep, err := aggregate.Publish(ctx, s, q)
		require.NoError(t, err)
		assert.Equal(t, wantRep, rep, "%s: %s report", what, b.names[i+1])
	}
	return want
}

var granularities = []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day}

// sweepPairs is how many buckets' ends TestSweepByAgeInEveryBackend
// sweeps at, and a nanosecond before.
var sweepPairs = scaled(8, 4)

// Clicks at the edges of the calendar (daylight-saving changes in zones
// of every kind of offset, leap days, the first and last instants a Click
// takes, 1970) land in the same UTC buckets in SQLite, PostgreSQL and a
// Rollup: every click in the bucket that holds its instant, Start <= t <
// End; and the three answer the same, raw and published, to queries whose
// ends are given in those zones: a bucket, a bucket less its first
// nanosecond, and the local day around the click, 23 or 25 hours long on
// a change. Checked to fail: with the Rollup given each click a minute
// later (but those of 2262, which would be invalid), and with the sinks'
// clicks a nanosecond before theirs (those on a boundary move).
func TestEdgeTimesInEveryBackend(t *testing.T) {
	t.Parallel()
	ts := edgeTimes(t)
	b := newBackends(t, fixedNow, aggregate.KeepForever, aggregate.KeepForever, aggregate.KeepForever)
	b.add(t, ts)
	for i, tt := range ts {
		if raceOn && i%2 == 1 {
			continue // every click is added, half of them asked about
		}
		loc := tt.Location()
		for _, g := range granularities {
			start := g.Start(tt)
			q := aggregate.Query{Link: "edge", Granularity: g, From: start.In(loc), To: start.Add(g.Duration()).In(loc), K: 1}
			cells := b.assertSameAs(t, q, "bucket of "+tt.String(), i%4 == 0)
			found := false
			for _, c := range cells {
				if c.Scope == aggregate.ScopeBucket && c.Dimension == aggregate.Total {
					found = true
					assert.True(t, !tt.Before(c.Start) && tt.Before(c.End), "%v in [%v, %v)", tt, c.Start, c.End)
					assert.Equal(t, time.UTC, c.Start.Location(), "buckets in UTC")
				}
			}
			assert.True(t, found, "%s bucket of click %d at %v", g, i, tt)
			if i%5 == 0 {
				q.From = q.From.Add(time.Nanosecond)
				q.To = q.To.Add(2 * g.Duration())
				b.assertSame(t, q, "bucket less a nanosecond, of "+tt.String())
			}
		}
		l := tt.In(loc)
		mid := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
		if i%3 == 0 && mid.AddDate(0, 0, 1).Before(time.Unix(0, math.MaxInt64)) && mid.After(time.Unix(0, math.MinInt64)) {
			for _, g := range []aggregate.Granularity{aggregate.Hour, aggregate.Minute} {
				b.assertSame(t, aggregate.Query{Granularity: g, From: mid, To: mid.AddDate(0, 0, 1), K: 2}, "local day of "+tt.String())
			}
		}
	}
}

// The statistics are swept by age the same in SQLite, PostgreSQL and a
// Rollup holding the clicks at the calendar's edges, with short
// retentions and the defaults: at the moment each bucket runs out (start
// + width + retention), given in the click's zone, and a nanosecond
// before, moving forward from 1678 to 2262 (a sample of 8 buckets' ends), the three hold the same
// buckets, and each held bucket is one not yet run out. Checked to fail:
// with the sinks swept a second later than the Rollup.
func TestSweepByAgeInEveryBackend(t *testing.T) {
	t.Parallel()
	ts := edgeTimes(t)
	for _, rt := range []struct {
		name              string
		minute, hour, day time.Duration
	}{
		{"short", time.Hour, 50 * time.Hour, 400 * 24 * time.Hour},
		{"defaults", 0, 0, 0},
	} {
		t.Run(rt.name, func(t *testing.T) {
			var clock atomic.Int64
			clock.Store(math.MinInt64)
			now := func() time.Time { return time.Unix(0, clock.Load()) }
			b := newBackends(t, now, rt.minute, rt.hour, rt.day)
			b.add(t, ts)
			ret := map[aggregate.Granularity]time.Duration{aggregate.Minute: rt.minute, aggregate.Hour: rt.hour, aggregate.Day: rt.day}
			def := map[aggregate.Granularity]time.Duration{aggregate.Minute: aggregate.DefaultMinuteRetention, aggregate.Hour: aggregate.DefaultHourRetention, aggregate.Day: aggregate.DefaultDayRetention}
			var moments []time.Time
			for i, tt := range ts {
				for _, g := range granularities {
					r := ret[g]
					if r == 0 {
						r = def[g]
					}
					if r == aggregate.KeepForever || i%2 == 1 {
						continue
					}
					end := g.Start(tt).Add(g.Duration() + r)
					if end.After(time.Unix(0, math.MaxInt64)) {
						continue
					}
					moments = append(moments, end.Add(-time.Nanosecond).In(tt.Location()), end.In(tt.Location()))
				}
			}
			// A sample of them, as pairs: every sweep is checked in three
			// backends.
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
			for len(moments) > 2*sweepPairs {
				i := 2 * rng.IntN(len(moments)/2)
				moments = slices.Delete(moments, i, i+2)
			}
			slices.SortFunc(moments, func(a, b time.Time) int { return a.Compare(b) })
			moments = slices.CompactFunc(moments, func(a, b time.Time) bool { return a.Equal(b) })
			ctx := context.Background()
			for _, m := range moments {
				clock.Store(m.UnixNano())
				for i, be := range b.all {
					_, err := be.(retention.Sweepable).Sweep(ctx, m)
					require.NoError(t, err, b.names[i])
				}
				for _, g := range granularities {
					cells := b.assertSameAs(t, aggregate.Query{Granularity: g, From: time.Unix(0, math.MinInt64).Add(-48 * time.Hour), To: time.Unix(0, math.MaxInt64).Add(48 * time.Hour), K: 1}, "held at "+m.String(), false)
					for _, c := range cells {
						if c.Scope == aggregate.ScopeBucket {
							r := ret[g]
							if r == 0 {
								r = def[g]
							}
							assert.True(t, r == aggregate.KeepForever || m.Before(c.Start.Add(g.Duration()+r)), "%s bucket %v held at %v", g, c.Start, m)
						}
					}
				}
			}
			t.Logf("%d moments", len(moments))
		})
	}
}
