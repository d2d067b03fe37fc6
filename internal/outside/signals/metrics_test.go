package signals_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/metrics"
	"github.com/clickanon/clickanon/retention"
)

// linkID is a link whose ID must never reach a metric.
func linkID(i int) string { return fmt.Sprintf("secret-link-%d", i%7) }

// documentedLabels are the label values package metrics documents, and
// the part names this test gives.
var documentedLabels = map[string]bool{
	"counted": true, "excluded": true, "opted-out": true, "unresolved": true, "unattributed": true,
	"failed": true, "unserved": true, "no-link": true, "unique": true, "repeat": true, "unknown": true,
	"resolved": true, "no-addr": true, "untrusted": true, "malformed": true,
	"record": true, "latest": true, "sweep": true, "index": true,
	"web": true, "keys": true, "mem": true,
}

// series is one gathered series: its family's name (without the
// namespace) and help, its labels as name=value pairs, and its value (a
// histogram's sample count).
type series struct {
	family, help string
	histogram    bool
	labels       []string
	value        float64
}

// gather returns a registry's series whose names start with the
// namespace ns, reading the client_model values through their methods.
func gather(t *testing.T, g prometheus.Gatherer, ns string) []series {
	t.Helper()
	fams, err := g.Gather()
	require.NoError(t, err)
	var out []series
	for _, f := range fams {
		name, ok := strings.CutPrefix(f.GetName(), ns+"_")
		if !ok {
			continue
		}
		for _, m := range f.GetMetric() {
			s := series{family: name, help: f.GetHelp(), histogram: m.Histogram != nil}
			for _, lp := range m.GetLabel() {
				s.labels = append(s.labels, lp.GetName(), lp.GetValue())
			}
			switch {
			case m.Counter != nil:
				s.value = m.GetCounter().GetValue()
			case m.Gauge != nil:
				s.value = m.GetGauge().GetValue()
			case m.Histogram != nil:
				s.value = float64(m.GetHistogram().GetSampleCount())
			}
			out = append(out, s)
		}
	}
	return out
}

// value returns the sum of the series of family name whose labels
// include the given name=value pairs.
func value(all []series, name string, labels ...string) float64 {
	var sum float64
next:
	for _, s := range all {
		if s.family != name {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if !slices.Contains(pairs(s.labels), labels[i]+"="+labels[i+1]) {
				continue next
			}
		}
		sum += s.value
	}
	return sum
}

func pairs(labels []string) []string {
	var out []string
	for i := 0; i+1 < len(labels); i += 2 {
		out = append(out, labels[i]+"="+labels[i+1])
	}
	return out
}

var pseudonymLike = regexp.MustCompile(`[0-9a-fA-F]{16,}`)

// TestTwoRegistriesUnderGeneratedLoad adds one service (tracker, resolver,
// keyring, a small memory store) to two Metrics on two registries of the
// user's, one with its own namespace, the second sweep wrapper around the
// first, and drives it from several goroutines with a generated workload
// (visitors who come back, bots, malformed peer addresses, spoofed headers,
// conversions, a store that fails and one that is full, a sink that
// fails, sweeps, a clock that passes two windows so keys are destroyed)
// while both registries are gathered concurrently (under -race). Then
// both registries hold the same figures; the request outcomes add up to
// the requests made and match what each Visit said; clicks by uniqueness
// and bots match the Visits; store and sink failures, store-full refusals,
// sweeps, keys destroyed and resolutions moved as documented; and no
// metric name, help text or label holds an address, a link ID or a
// pseudonym-like hex run, every label value being a documented one or a
// part name. Checked to fail: the gatherers' comparison fails when the
// second Metrics misses a part (tried by leaving its Resolver out), and
// the label check fails on a part name outside the list (tried with
// "web2").
func TestTwoRegistriesUnderGeneratedLoad(t *testing.T) {
	var clock atomic.Int64
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	discard := slog.New(slog.DiscardHandler)

	kr, err := retention.NewKeyring(&retention.KeyringOptions{Now: now, Logger: discard})
	require.NoError(t, err)
	t.Cleanup(func() { _ = kr.Close() })
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	mem, err := clickstore.NewMemory(&clickstore.MemoryOptions{Capacity: 64, Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mem.Close() })
	rollup, err := aggregate.New(nil)
	require.NoError(t, err)
	storeFails, sinkFails := &toggle{}, &toggle{}
	trusted, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	res, err := clientip.New(clientip.RightmostUntrusted(trusted), clientip.RemoteAddr())
	require.NoError(t, err)
	tr, err := track.New(b, flakyStore{mem, storeFails}, flakySink{rollup, sinkFails},
		&track.Options{Resolver: res, Now: now, Logger: discard})
	require.NoError(t, err)

	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	mA, err := metrics.New(regA, &metrics.Options{Now: now})
	require.NoError(t, err)
	mB, err := metrics.New(regB, &metrics.Options{Namespace: "other", Now: now})
	require.NoError(t, err)
	var sweep retention.Sweepable = mem
	for _, m := range []*metrics.Metrics{mA, mB} {
		require.NoError(t, m.Tracker("web", tr))
		require.NoError(t, m.Resolver("web", res))
		require.NoError(t, m.Keyring("keys", kr))
		sweep, err = m.Sweep("mem", sweep)
		require.NoError(t, err)
	}

	const workers, perWorker = 4, 300
	var (
		mu       sync.Mutex
		outcomes = map[string]int{}
		unique   = map[clickstore.Uniqueness]int{}
		bots     int
		requests int
		sweeps   atomic.Int64
	)
	done := make(chan struct{})
	var gathering sync.WaitGroup
	for _, g := range []prometheus.Gatherer{regA, regB} {
		gathering.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				_, err := g.Gather()
				assert.NoError(t, err)
			}
		})
	}
	var work sync.WaitGroup
	for w := range workers {
		work.Go(func() {
			for i := range perWorker {
				n := w*perWorker + i
				r := httptest.NewRequest("GET", "/c/x", nil)
				r.RemoteAddr = fmt.Sprintf("203.0.113.%d:4000", n%40+1)
				r.Header.Set("User-Agent", browserUA)
				kind := clickstore.KindClick
				switch n % 17 {
				case 3:
					r.Header.Set("User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
				case 5:
					r.RemoteAddr = "not an address"
				case 7:
					r.RemoteAddr = "10.1.2.3:80"
					r.Header.Set("X-Forwarded-For", fmt.Sprintf("2001:db8:%x::9", n))
				case 9:
					r.Header.Set("X-Forwarded-For", "198.51.100.7") // from an untrusted peer
				case 11:
					kind = clickstore.KindConversion
				}
				switch w {
				case 1:
					storeFails.on.Store(i%50 < 10)
				case 2:
					sinkFails.on.Store(i%60 < 5)
				case 3:
					if i%30 == 0 {
						clock.Add(int64(2 * time.Minute))
						_, err := sweep.Sweep(context.Background(), now())
						assert.NoError(t, err)
						sweeps.Add(1)
					}
				}
				v := tr.Track(r, linkID(n), kind)
				mu.Lock()
				requests++
				outcomes[v.Outcome.String()]++
				if v.Outcome == track.Counted && v.Kind == clickstore.KindClick {
					unique[v.Uniqueness]++
					if v.Bot != "" {
						bots++
					}
				}
				mu.Unlock()
			}
		})
	}
	work.Wait()
	close(done)
	gathering.Wait()
	// Two windows on, the first epochs' keys are destroyed.
	clock.Add(int64(2 * retention.DefaultWindow))
	_, _, err = kr.Keys(context.Background(), now())
	require.NoError(t, err)
	_, err = sweep.Sweep(context.Background(), now())
	require.NoError(t, err)
	sweeps.Add(1)

	a, bb := gather(t, regA, "clickanon"), gather(t, regB, "other")
	require.NotEmpty(t, a)
	require.Len(t, bb, len(a), "both registries hold the same series")
	for i := range a {
		assert.Equal(t, a[i], bb[i], "series %d", i)
	}

	s := tr.Stats()
	var total float64
	for _, o := range []string{"counted", "excluded", "opted-out", "unresolved", "unattributed", "failed", "unserved", "no-link"} {
		got := value(a, "tracker_requests_total", "outcome", o)
		assert.EqualValues(t, outcomes[o], got, "requests %s", o)
		total += got
	}
	assert.EqualValues(t, requests, total, "every request has one outcome")
	assert.EqualValues(t, unique[clickstore.Unique], value(a, "tracker_clicks_total", "uniqueness", "unique"))
	assert.EqualValues(t, unique[clickstore.Repeat], value(a, "tracker_clicks_total", "uniqueness", "repeat"))
	assert.EqualValues(t, unique[clickstore.UniqueUnknown], value(a, "tracker_clicks_total", "uniqueness", "unknown"))
	assert.EqualValues(t, bots, value(a, "tracker_bot_clicks_total"))
	assert.Positive(t, bots)
	assert.Positive(t, value(a, "tracker_store_failures_total"))
	assert.Positive(t, value(a, "tracker_store_full_total"), "a store of 64 fills")
	assert.Positive(t, value(a, "tracker_sink_failures_total"))
	assert.EqualValues(t, s.StoreFailures, value(a, "tracker_store_failures_total"))
	assert.EqualValues(t, s.SinkFailures, value(a, "tracker_sink_failures_total"))
	assert.EqualValues(t, sweeps.Load(), value(a, "store_sweeps_total"))
	assert.EqualValues(t, sweeps.Load(), value(a, "store_sweep_duration_seconds"), "one observation a sweep")
	assert.Positive(t, value(a, "store_swept_total"))
	assert.Positive(t, value(a, "keyring_keys_destroyed_total"))
	assert.Positive(t, value(a, "clientip_resolutions_total", "outcome", "resolved"))
	assert.Positive(t, value(a, "clientip_resolutions_total", "outcome", "malformed"))
	assert.EqualValues(t, outcomes["unresolved"], value(a, "clientip_resolutions_total", "outcome", "malformed")+
		value(a, "clientip_resolutions_total", "outcome", "no-addr"), "each unresolved request is a failed resolution")
	assert.Positive(t, value(a, "clientip_header_resolutions_total"))

	for _, se := range append(a, bb...) {
		text := se.family + " " + se.help + " " + strings.Join(pairs(se.labels), " ")
		for i := 1; i < len(se.labels); i += 2 {
			assert.True(t, documentedLabels[se.labels[i]], "label %s=%q of %s is documented", se.labels[i-1], se.labels[i], se.family)
		}
		ipmasktest.AssertNoRawIP(t, ipmask.Default, text)
		assert.NotContains(t, text, "secret-link")
		assert.False(t, pseudonymLike.MatchString(text), "no pseudonym-like hex in %q", text)
	}
}

// sweepable holds n entries, the oldest a minute old.
type sweepable struct{ n int }

func (s sweepable) Sweep(context.Context, time.Time) (retention.SweepStats, error) {
	return retention.SweepStats{Held: s.n, Oldest: time.Minute, Deleted: 1}, nil
}

// TestPartsAddedWhileGathered adds parts of every kind from several
// goroutines while others gather the registry and run the sweep wrappers
// already made, as a service that builds its parts lazily does ("a Metrics
// is safe for concurrent use"): under -race nothing races, every part
// added is in the last gathering with its own figures, and every sweep is
// counted. Checked to fail: the final count of series per family is exact
// (tried by adding one part fewer than counted).
func TestPartsAddedWhileGathered(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, nil)
	require.NoError(t, err)
	const parts = 24
	var sweeps atomic.Int64
	done := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			_, err := reg.Gather()
			assert.NoError(t, err)
		}
	})
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() {
			name := fmt.Sprintf("part%d", i)
			require.NoError(t, m.Sink(name, func() metrics.SinkStats { return metrics.SinkStats{Flushes: uint64(i)} }))
			require.NoError(t, m.Store(name, func() metrics.StoreStats { return metrics.StoreStats{Restarts: uint64(i)} }))
			sw, err := m.Sweep(name, sweepable{n: i})
			require.NoError(t, err)
			for range 20 {
				_, err := sw.Sweep(context.Background(), time.Now())
				assert.NoError(t, err)
				sweeps.Add(1)
			}
		})
	}
	wg.Wait()
	close(done)
	bg.Wait()
	g := gather(t, reg, "clickanon")
	for i := range parts {
		name := fmt.Sprintf("part%d", i)
		assert.EqualValues(t, i, value(g, "sink_flushes_total", "sink", name))
		assert.EqualValues(t, i, value(g, "store_restarts_total", "store", name))
		assert.EqualValues(t, i, value(g, "store_held", "store", name))
		assert.EqualValues(t, 20, value(g, "store_sweeps_total", "store", name))
		assert.EqualValues(t, 20, value(g, "store_swept_total", "store", name))
	}
	n := 0
	for _, s := range g {
		if s.family == "sink_flushes_total" {
			n++
		}
	}
	assert.Equal(t, parts, n, "one series per part")
	assert.EqualValues(t, parts*20, value(g, "store_sweeps_total"))
}
