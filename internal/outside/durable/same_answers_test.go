package durable_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/internal/pgtest"
)

// now is the fake present of these tests: the clicks fall in the 40 hours
// before it, inside every default retention, so that neither the Rollup's
// own expiry nor the sink's drops anything.
var now = time.Date(2026, 3, 1, 12, 34, 56, 789_000_000, time.UTC)

func fixedNow() time.Time { return now }

// discard is a logger for the failures a test provokes on purpose.
func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

type added struct {
	c clickstore.Click
	u clickstore.Uniqueness
}

// clicks returns n clicks drawn from seed: on a few links (one name with
// a space, one with non-ASCII letters, one with SQL's LIKE wildcards),
// over 40 hours at any nanosecond, from a pool of visitors large enough
// that busy cells turn dense, with every kind of uniqueness, bots,
// conversions, networks given at /24, /48 and finer (which both backends
// coarsen), and dimension values well under a Rollup's MaxValues.
func clicks(seed uint64, n int) []added {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	links := []string{"alpha", "with space", "ünï-cödé", "50%_off", "a"}
	visitors := make([]clickstore.Pseudonym, 700)
	for i := range visitors {
		for j := range visitors[i] {
			visitors[i][j] = byte(r.UintN(256))
		}
	}
	countries := []string{"", "DE", "FR", "US", "BR", "JP"}
	referrers := []string{"", "news.example.com", "example.org", "t.co"}
	devices := []string{"", "mobile", "desktop", "tablet"}
	out := make([]added, n)
	for i := range out {
		var netw netip.Prefix
		switch r.UintN(4) {
		case 0:
			netw = netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, 0}), 24)
		case 1:
			netw = netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, byte(r.UintN(8)), 0}), 24)
		case 2:
			netw = netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", r.UintN(6)))
		default: // finer than the default policy keeps
			netw = netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(r.UintN(256))}), 32)
		}
		v := visitors[r.IntN(len(visitors))]
		if r.UintN(3) == 0 { // a few links get the crowd, others the few
			v = visitors[r.UintN(12)]
		}
		c := clickstore.Click{
			Link:     links[r.IntN(len(links))],
			Time:     now.Add(-time.Duration(r.Int64N(int64(40 * time.Hour)))),
			Visitor:  v,
			Network:  netw,
			Country:  countries[r.IntN(len(countries))],
			Referrer: referrers[r.IntN(len(referrers))],
			Device:   devices[r.IntN(len(devices))],
		}
		if r.UintN(10) == 0 {
			c.Bot = "googlebot"
		}
		if r.UintN(12) == 0 {
			c.Kind = clickstore.KindConversion
		}
		out[i] = added{c, clickstore.Uniqueness(r.UintN(3))}
	}
	return out
}

// queries returns queries of every granularity and threshold over ranges
// aligned and not, in and out of the clicks' span, in UTC and not, for
// every link and for all links at once.
func queries(seed uint64) []aggregate.Query {
	r := rand.New(rand.NewPCG(seed, 7))
	links := []string{"", "alpha", "with space", "ünï-cödé", "50%_off", "a", "never clicked"}
	tokyo := time.FixedZone("UTC+9", 9*3600)
	var qs []aggregate.Query
	for _, g := range []aggregate.Granularity{0, aggregate.Minute, aggregate.Hour, aggregate.Day} {
		for _, k := range []int{0, 1, 5, 40} {
			for i := 0; i < 3; i++ {
				from := now.Add(-time.Duration(r.Int64N(int64(60 * time.Hour))))
				to := from.Add(time.Duration(1 + r.Int64N(int64(30*time.Hour))))
				if g == aggregate.Minute { // keep the reports small
					to = from.Add(time.Duration(1 + r.Int64N(int64(3*time.Hour))))
				}
				switch i {
				case 0: // aligned on the granularity's buckets
					gg := g
					if gg == 0 {
						gg = aggregate.Day
					}
					from, to = gg.Start(from), gg.Start(to).Add(gg.Duration())
				case 1: // elsewhere than UTC
					from, to = from.In(tokyo), to.In(tokyo)
				case 2: // a range no longer than a nanosecond or so
					to = from.Add(time.Duration(1 + r.Int64N(3)))
				}
				qs = append(qs, aggregate.Query{
					Link: links[r.IntN(len(links))], Granularity: g, From: from, To: to, K: k,
				})
			}
		}
	}
	// The whole span at once, on bucket boundaries and one second off.
	for _, g := range []aggregate.Granularity{aggregate.Hour, aggregate.Day} {
		for _, off := range []time.Duration{0, time.Second, -time.Second, time.Nanosecond} {
			qs = append(qs, aggregate.Query{Granularity: g, From: g.Start(now.Add(-50 * time.Hour)).Add(off), To: g.Start(now).Add(g.Duration() + off), K: 3})
		}
	}
	return qs
}

// assertSameReports publishes every query from the Rollup and from the
// sink and wants identical reports.
func assertSameReports(t *testing.T, want aggregate.Backend, got aggregate.Backend, qs []aggregate.Query) {
	t.Helper()
	ctx := context.Background()
	differ := 0
	for _, q := range qs {
		rw, errw := aggregate.Publish(ctx, want, q)
		rg, errg := aggregate.Publish(ctx, got, q)
		if !assert.Equal(t, errw == nil, errg == nil, "query %+v: Rollup error %v, sink error %v", q, errw, errg) {
			differ++
			continue
		}
		if d := diffReports(rw, rg); d != "" {
			t.Errorf("query %+v: Rollup and sink differ:\n%s", q, d)
			differ++
		}
		if differ > 3 {
			t.Fatalf("more reports differ")
		}
	}
}

// newSQLite opens a sink on a fresh SQLite file that flushes only when
// told (FlushInterval of an hour).
func newSQLite(t *testing.T, opts *sqlsink.Options) (*sqlsink.Sink, string) {
	t.Helper()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "stats.db")
	return openSink(t, dsn, opts), dsn
}

func openSink(t *testing.T, dsn string, opts *sqlsink.Options) *sqlsink.Sink {
	t.Helper()
	o := sqlsink.Options{Now: fixedNow, FlushInterval: time.Hour}
	if opts != nil {
		o = *opts
	}
	s, err := sqlsink.Open(context.Background(), dsn, &o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func newRollup(t *testing.T) *aggregate.Rollup {
	t.Helper()
	r, err := aggregate.New(&aggregate.Options{Now: fixedNow})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// TestSameAnswersAsRollup feeds the same clicks to an in-memory Rollup and
// to SQL sinks (one on SQLite; three instances on one PostgreSQL, each
// given a share of the clicks and flushing at its own moments, so that
// every cell is merged on write many times over), and wants the same
// report, cell for cell, for every query.
func TestSameAnswersAsRollup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, seed := range []uint64{2} {
		all := clicks(seed, 4000)
		r := newRollup(t)
		for _, a := range all {
			require.NoError(t, r.Add(ctx, a.c, a.u))
		}
		qs := queries(seed)

		t.Run(fmt.Sprintf("sqlite/seed%d", seed), func(t *testing.T) {
			s, _ := newSQLite(t, nil)
			for i, a := range all {
				require.NoError(t, s.Add(ctx, a.c, a.u))
				if i%397 == 0 {
					require.NoError(t, s.Flush(ctx))
				}
			}
			require.NoError(t, s.Flush(ctx))
			assertSameReports(t, r, s, qs)
		})

		t.Run(fmt.Sprintf("postgresql/seed%d", seed), func(t *testing.T) {
			dsn := pgtest.DB(t)
			sinks := make([]*sqlsink.Sink, 3)
			for i := range sinks {
				sinks[i] = openSink(t, dsn, nil)
			}
			rnd := rand.New(rand.NewPCG(seed, 3))
			for _, a := range all {
				s := sinks[rnd.UintN(3)]
				require.NoError(t, s.Add(ctx, a.c, a.u))
				if rnd.UintN(300) == 0 {
					require.NoError(t, s.Flush(ctx))
				}
			}
			for _, s := range sinks {
				require.NoError(t, s.Flush(ctx))
			}
			assertSameReports(t, r, sinks[1], qs)
		})
	}
}

// diffReports describes how two reports differ, cell by cell, or returns
// "" if they are equal.
func diffReports(want, got aggregate.Report) string {
	var b strings.Builder
	if want.Query != got.Query {
		fmt.Fprintf(&b, "query: %+v != %+v\n", want.Query, got.Query)
	}
	if len(want.Cells) != len(got.Cells) {
		fmt.Fprintf(&b, "%d cells != %d cells\n", len(want.Cells), len(got.Cells))
	}
	for i := range max(len(want.Cells), len(got.Cells)) {
		var w, g aggregate.Cell
		if i < len(want.Cells) {
			w = want.Cells[i]
		}
		if i < len(got.Cells) {
			g = got.Cells[i]
		}
		if w != g {
			fmt.Fprintf(&b, "cell %d:\n  rollup %+v\n  sink   %+v\n", i, w, g)
			if b.Len() > 4000 {
				break
			}
		}
	}
	return b.String()
}
