package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go4.org/netipx"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/metrics"
	"github.com/clickanon/clickanon/retention"
)

var t0 = time.Date(2026, 3, 3, 10, 10, 0, 0, time.UTC)

const person = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"

// service is a tracker with every part real: a keyring, a Memory store of
// capacity 2, a SQLite sink, a resolver that trusts 10.0.0.0/8, all on one
// clock.
type service struct {
	clock    *clickstoretest.Clock // the store's and keyring's timers read it too
	keyring  *retention.Keyring
	store    *clickstore.Memory
	sink     *sqlsink.Sink
	resolver *clientip.Resolver
	tracker  *track.Tracker
}

func newService(t testing.TB) *service {
	t.Helper()
	s := &service{clock: clickstoretest.NewClock(t0)}
	now := s.clock.Now
	var err error
	s.keyring, err = retention.NewKeyring(&retention.KeyringOptions{Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.keyring.Close() })
	b, err := clickstore.NewBuilder(ipmask.Default, s.keyring, nil)
	require.NoError(t, err)
	s.store, err = clickstore.NewMemory(&clickstore.MemoryOptions{Capacity: 2, Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.store.Close() })
	s.sink, err = sqlsink.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "stats.db"),
		&sqlsink.Options{Now: now, FlushInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.sink.Close(context.Background()) })
	trusted, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	s.resolver, err = clientip.New(clientip.RightmostUntrusted(trusted), clientip.RemoteAddr())
	require.NoError(t, err)
	var exclude netipx.IPSetBuilder
	exclude.AddPrefix(netip.MustParsePrefix("192.0.2.0/24"))
	excluded, err := exclude.IPSet()
	require.NoError(t, err)
	s.tracker, err = track.New(b, s.store, s.sink, &track.Options{
		Resolver: s.resolver, Exclude: excluded, OptOutHeader: "Sec-GPC", Now: now,
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	return s
}

// newWired returns a service whose tracker, resolver, keyring and store
// are added to a Metrics on a fresh registry, and the store's sweep
// wrapper.
func newWired(tb testing.TB) (*service, *prometheus.Registry, retention.Sweepable) {
	tb.Helper()
	s := newService(tb)
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, nil)
	require.NoError(tb, err)
	require.NoError(tb, m.Tracker("web", s.tracker))
	require.NoError(tb, m.Resolver("web", s.resolver))
	require.NoError(tb, m.Keyring("local", s.keyring))
	swept, err := m.Sweep("memory", s.store)
	require.NoError(tb, err)
	return s, reg, swept
}

func (s *service) hit(t testing.TB, kind clickstore.Kind, peer, ua string, hdr ...string) track.Visit {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/go/spring-sale", nil)
	r.RemoteAddr = peer
	r.Header.Set("User-Agent", ua)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	link := "spring-sale"
	if kind == clickstore.KindConversion {
		link = ""
	}
	return s.tracker.Track(r, link, kind)
}

// drive sends one request of each kind the metrics tell apart.
func (s *service) drive(t *testing.T) {
	t.Helper()
	click, conv := clickstore.KindClick, clickstore.KindConversion
	visits := []struct {
		name string
		v    track.Visit
		want track.Outcome
		u    clickstore.Uniqueness
	}{
		{"first click", s.hit(t, click, "198.51.100.7:1234", person), track.Counted, clickstore.Unique},
		{"repeat", s.hit(t, click, "198.51.100.7:1234", person), track.Counted, clickstore.Repeat},
		{"bot", s.hit(t, click, "198.51.100.8:1234", "curl/8.5.0"), track.Counted, clickstore.Repeat},
		{"through the proxy", s.hit(t, click, "10.0.0.1:1234", person, "X-Forwarded-For", "203.0.113.9"), track.Counted, clickstore.Unique},
		{"store full", s.hit(t, click, "198.51.100.9:1234", person), track.Counted, clickstore.UniqueUnknown},
		{"malformed header", s.hit(t, click, "10.0.0.1:1234", person, "X-Forwarded-For", "not an address"), track.Unresolved, 0},
		{"excluded", s.hit(t, click, "192.0.2.5:1234", person), track.Excluded, 0},
		{"opted out", s.hit(t, click, "198.51.100.10:1234", person, "Sec-GPC", "1"), track.OptedOut, 0},
		{"bad kind", s.hit(t, clickstore.Kind(99), "198.51.100.7:1234", person), track.Failed, 0},
		{"conversion", s.hit(t, conv, "198.51.100.7:1234", person), track.Counted, clickstore.UniqueUnknown},
		{"conversion of nobody", s.hit(t, conv, "198.51.100.11:1234", person), track.Unattributed, 0},
	}
	for _, v := range visits {
		require.Equal(t, v.want, v.v.Outcome, v.name)
		if v.want == track.Counted {
			require.Equal(t, v.u, v.v.Uniqueness, v.name)
		}
	}
}

func TestEveryMetric(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.New(reg, &metrics.Options{Now: s.clock.Now})
	require.NoError(t, err)
	require.NoError(t, m.Tracker("web", s.tracker))
	require.NoError(t, m.Resolver("web", s.resolver))
	require.NoError(t, m.Keyring("local", s.keyring))
	require.NoError(t, m.Sink("sql", func() metrics.SinkStats {
		st := s.sink.Stats()
		return metrics.SinkStats{Flushes: st.Flushes, FlushErrors: st.FlushErrors, Written: st.Written, Buffered: st.Buffered, Dropped: st.Dropped}
	}))
	swept, err := m.Sweep("memory", s.store)
	require.NoError(t, err)
	failing, err := m.Sweep("broken", failSweeper{})
	require.NoError(t, err)
	sweeper, err := retention.NewSweeper(retention.Group{swept, failing}, &retention.SweeperOptions{
		Now: s.clock.Now, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)

	s.drive(t)
	buffered := s.sink.Stats().Buffered
	require.NotZero(t, buffered, "the sink holds the clicks until it flushes")
	assert.Equal(t, float64(buffered), get(t, reg, "clickanon_sink_buffered", "sink", "sql"))
	require.NoError(t, s.sink.Flush(ctx))

	s.clock.Set(t0.Add(10 * time.Minute))
	_, err = sweeper.SweepNow(ctx)
	require.Error(t, err, "the broken member fails")

	want := map[string]float64{
		`clickanon_tracker_requests_total{outcome="counted",tracker="web"}`:      6, // five clicks, one conversion
		`clickanon_tracker_requests_total{outcome="excluded",tracker="web"}`:     1,
		`clickanon_tracker_requests_total{outcome="opted-out",tracker="web"}`:    1,
		`clickanon_tracker_requests_total{outcome="unresolved",tracker="web"}`:   1,
		`clickanon_tracker_requests_total{outcome="unattributed",tracker="web"}`: 1,
		`clickanon_tracker_requests_total{outcome="failed",tracker="web"}`:       1,
		`clickanon_tracker_requests_total{outcome="unserved",tracker="web"}`:     0,
		`clickanon_tracker_requests_total{outcome="no-link",tracker="web"}`:      0,
		`clickanon_tracker_clicks_total{tracker="web",uniqueness="unique"}`:      2,
		`clickanon_tracker_clicks_total{tracker="web",uniqueness="repeat"}`:      2,
		`clickanon_tracker_clicks_total{tracker="web",uniqueness="unknown"}`:     1,
		`clickanon_tracker_bot_clicks_total{tracker="web"}`:                      1,
		`clickanon_tracker_conversions_total{tracker="web"}`:                     1,
		`clickanon_tracker_masked_addresses_total{tracker="web"}`:                0,
		`clickanon_tracker_over_quota_clicks_total{tracker="web"}`:               0,
		`clickanon_tracker_store_failures_total{tracker="web"}`:                  1,
		`clickanon_tracker_store_full_total{tracker="web"}`:                      1,
		`clickanon_tracker_sink_failures_total{tracker="web"}`:                   0,
		`clickanon_tracker_key_fallbacks_total{tracker="web"}`:                   0,

		`clickanon_clientip_resolutions_total{outcome="resolved",resolver="web"}`:  9, // all but the malformed one and the bad kind, refused before
		`clickanon_clientip_resolutions_total{outcome="malformed",resolver="web"}`: 1,
		`clickanon_clientip_resolutions_total{outcome="untrusted",resolver="web"}`: 0,
		`clickanon_clientip_resolutions_total{outcome="no-addr",resolver="web"}`:   0,
		`clickanon_clientip_header_resolutions_total{resolver="web"}`:              1,

		`clickanon_keyring_keys_held{keyring="local"}`:              1,
		`clickanon_keyring_oldest_key_age_seconds{keyring="local"}`: (20 * time.Minute).Seconds(), // the epoch began at 10:00
		`clickanon_keyring_keys_destroyed_total{keyring="local"}`:   0,
		`clickanon_keyring_failures_total{keyring="local"}`:         0,
		`clickanon_keyring_local_keys_total{keyring="local"}`:       0,
		`clickanon_keyring_local{keyring="local"}`:                  0,

		`clickanon_sink_flushes_total{sink="sql"}`:      1,
		`clickanon_sink_flush_errors_total{sink="sql"}`: 0,
		`clickanon_sink_buffered{sink="sql"}`:           0,
		`clickanon_sink_dropped_total{sink="sql"}`:      0,

		`clickanon_store_sweeps_total{store="memory"}`:                 1,
		`clickanon_store_sweep_errors_total{store="memory"}`:           0,
		`clickanon_store_swept_total{store="memory"}`:                  0,
		`clickanon_store_held{store="memory"}`:                         2,
		`clickanon_store_oldest_age_seconds{store="memory"}`:           (10 * time.Minute).Seconds(),
		`clickanon_store_last_sweep_timestamp_seconds{store="memory"}`: float64(s.clock.Now().Unix()),
		`clickanon_store_sweeps_total{store="broken"}`:                 1,
		`clickanon_store_sweep_errors_total{store="broken"}`:           1,
		`clickanon_store_swept_total{store="broken"}`:                  3, // what it destroyed before failing
		`clickanon_store_held{store="broken"}`:                         0,
		`clickanon_store_last_sweep_timestamp_seconds{store="broken"}`: 0, // never succeeded
	}
	got := scrape(t, reg)
	for series, v := range want {
		g, ok := got[series]
		if assert.True(t, ok, "missing %s", series) {
			assert.Equal(t, v, g, series)
		}
	}
	assert.Equal(t, float64(s.sink.Stats().Written), got[`clickanon_sink_written_total{sink="sql"}`])
	assert.NotZero(t, got[`clickanon_sink_written_total{sink="sql"}`])
	assert.Equal(t, float64(1), got[`clickanon_store_sweep_duration_seconds_count{store="memory"}`])

	// Past the window the store is empty, and the key of 10:00 is past
	// its grace an hour later.
	s.clock.Set(t0.Add(time.Hour))
	_, _ = sweeper.SweepNow(ctx)
	_, _ = s.keyring.Sweep(ctx, s.clock.Now())
	got = scrape(t, reg)
	assert.Equal(t, float64(2), got[`clickanon_store_swept_total{store="memory"}`])
	assert.Equal(t, float64(0), got[`clickanon_store_held{store="memory"}`])
	assert.Equal(t, float64(0), got[`clickanon_store_oldest_age_seconds{store="memory"}`])
	assert.Equal(t, float64(2), got[`clickanon_store_sweeps_total{store="memory"}`])
	assert.Equal(t, float64(1), got[`clickanon_keyring_keys_destroyed_total{keyring="local"}`])
	assert.Equal(t, float64(0), got[`clickanon_keyring_keys_held{keyring="local"}`])

	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems, "promlint")
}

// failSweeper destroys three entries and then fails.
type failSweeper struct{}

func (failSweeper) Sweep(context.Context, time.Time) (retention.SweepStats, error) {
	return retention.SweepStats{Deleted: 3}, errors.New("connection to 203.0.113.50:6379 refused")
}

// TestNoAddressInExposition drives every part with addresses, then checks
// that no label value parses as an address or a network and that the
// whole exposition, as served, holds no raw address.
func TestNoAddressInExposition(t *testing.T) {
	s, reg, swept := newWired(t)
	s.drive(t)
	_, err := swept.Sweep(context.Background(), s.clock.Now())
	require.NoError(t, err)

	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.NotEmpty(t, mfs)
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				v := lp.GetValue()
				_, errAddr := netip.ParseAddr(v)
				_, errPrefix := netip.ParsePrefix(v)
				assert.Error(t, errAddr, "%s label %s=%q is an address", mf.GetName(), lp.GetName(), v)
				assert.Error(t, errPrefix, "%s label %s=%q is a network", mf.GetName(), lp.GetName(), v)
				assert.NotContains(t, v, "spring-sale", "no link in a label")
			}
		}
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), "clickanon_tracker_clicks_total")
	ipmasktest.AssertNoRawIP(t, ipmask.Default, string(body))
	ipmasktest.AssertNoRawIP(t, ipmask.Strict, string(body))
	for _, raw := range []string{"198.51.100", "203.0.113", "192.0.2", "spring-sale"} {
		assert.NotContains(t, string(body), raw)
	}
}

func TestErrors(t *testing.T) {
	_, err := metrics.New(nil, nil)
	assert.EqualError(t, err, "metrics: New: nil Registerer")
	_, err = metrics.New(prometheus.NewRegistry(), &metrics.Options{Namespace: "10.0.0.1"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "10.0.0.1")
	assert.True(t, strings.HasPrefix(err.Error(), "metrics: "))

	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, &metrics.Options{Namespace: "shop"})
	require.NoError(t, err)
	_, err = metrics.New(reg, &metrics.Options{Namespace: "shop"})
	assert.Error(t, err, "the same metrics twice on one registry")

	s := newService(t)
	tests := []struct {
		name string
		add  func(name string) error
	}{
		{"tracker", func(n string) error { return m.Tracker(n, s.tracker) }},
		{"resolver", func(n string) error { return m.Resolver(n, s.resolver) }},
		{"keyring", func(n string) error { return m.Keyring(n, s.keyring) }},
		{"sink", func(n string) error { return m.Sink(n, func() metrics.SinkStats { return metrics.SinkStats{} }) }},
		{"store", func(n string) error { _, err := m.Sweep(n, s.store); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, bad := range []string{"", "203.0.113.9", "2001:db8::1", "198.51.100.0/24", "a b", "é", strings.Repeat("a", 65), "ip-203-0-113-9", "ec2-198-51-100-7"} {
				err := tt.add(bad)
				if assert.Error(t, err, "name %q", bad) {
					assert.True(t, strings.HasPrefix(err.Error(), "metrics: "+tt.name+" name of "), err.Error())
					if bad != "" {
						assert.NotContains(t, err.Error(), bad)
					}
				}
			}
			require.NoError(t, tt.add("main-1"))
			err := tt.add("main-1")
			assert.ErrorContains(t, err, "already added")
		})
	}
	assert.Error(t, m.Tracker("x", nil))
	assert.Error(t, m.Resolver("x", nil))
	assert.Error(t, m.Keyring("x", nil))
	assert.Error(t, m.Sink("x", nil))
	_, err = m.Sweep("x", nil)
	assert.Error(t, err)
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems, "promlint")
	n, err := testutil.GatherAndCount(reg, "shop_store_sweeps_total")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the refused names added nothing")
}

// scrape gathers reg into a map from series ("name{label="value",...}",
// labels sorted) to value; histograms give their _count.
func scrape(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			var labels []string
			for _, lp := range mt.GetLabel() {
				labels = append(labels, lp.GetName()+`="`+lp.GetValue()+`"`)
			}
			key := "{" + strings.Join(labels, ",") + "}"
			switch {
			case mt.Counter != nil:
				out[mf.GetName()+key] = mt.GetCounter().GetValue()
			case mt.Gauge != nil:
				out[mf.GetName()+key] = mt.GetGauge().GetValue()
			case mt.Histogram != nil:
				out[mf.GetName()+"_count"+key] = float64(mt.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func get(t *testing.T, reg prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	v, ok := scrape(t, reg)[name+"{"+label+`="`+value+`"}`]
	require.True(t, ok, "missing %s", name)
	return v
}

// Scrapes race clicks and sweeps; run with -race.
func TestConcurrentScrapes(t *testing.T) {
	s, reg, swept := newWired(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 50 {
				r := httptest.NewRequest(http.MethodGet, "/go/spring-sale", nil)
				r.RemoteAddr = "198.51.100.7:1234"
				r.Header.Set("User-Agent", person)
				s.tracker.Track(r, "spring-sale", clickstore.KindClick)
				if i == 0 {
					_, _ = swept.Sweep(context.Background(), t0)
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			_, err := reg.Gather()
			assert.NoError(t, err)
		}
	})
	wg.Wait()
	got := scrape(t, reg)
	assert.Equal(t, float64(200), got[`clickanon_tracker_requests_total{outcome="counted",tracker="web"}`])
	assert.Equal(t, float64(50), got[`clickanon_store_sweeps_total{store="memory"}`])
}

// panicSweeper panics, as a store with a bug would.
type panicSweeper struct{}

func (panicSweeper) Sweep(context.Context, time.Time) (retention.SweepStats, error) {
	panic("bad entry for 203.0.113.50")
}

// A sweep that panics is a failed sweep in the metrics, as it is for the
// Sweeper that recovers it: an alert on sweep errors sees it.
func TestSweepPanicIsCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, nil)
	require.NoError(t, err)
	swept, err := m.Sweep("buggy", panicSweeper{})
	require.NoError(t, err)
	sw, err := retention.NewSweeper(swept, &retention.SweeperOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)

	_, err = sw.SweepNow(context.Background())
	require.Error(t, err)
	ipmasktest.AssertNoRawIPError(t, ipmask.Default, err)
	assert.Equal(t, 1.0, get(t, reg, "clickanon_store_sweeps_total", "store", "buggy"))
	assert.Equal(t, 1.0, get(t, reg, "clickanon_store_sweep_errors_total", "store", "buggy"))
	assert.Equal(t, 0.0, get(t, reg, "clickanon_store_last_sweep_timestamp_seconds", "store", "buggy"), "no sweep succeeded")
}

// The gauges of the last successful sweep follow the last sweep that ran,
// even when its time is before the one before it (a clock stepped back):
// held, oldest age and the last sweep's time must not freeze on the
// figures of a sweep "in the future", which would keep both retention
// alerts quiet until the clock caught up.
func TestSweepGaugesFollowAClockSteppedBack(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, nil)
	require.NoError(t, err)
	target := &stepSweeper{}
	swept, err := m.Sweep("stepped", target)
	require.NoError(t, err)
	ctx := context.Background()
	base := time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC)

	target.st = retention.SweepStats{Held: 1, Oldest: time.Second}
	_, err = swept.Sweep(ctx, base.Add(3*time.Hour))
	require.NoError(t, err)
	target.st = retention.SweepStats{Held: 7, Oldest: 31 * time.Minute}
	_, err = swept.Sweep(ctx, base)
	require.NoError(t, err)

	assert.Equal(t, 7.0, get(t, reg, "clickanon_store_held", "store", "stepped"))
	assert.Equal(t, (31 * time.Minute).Seconds(), get(t, reg, "clickanon_store_oldest_age_seconds", "store", "stepped"))
	assert.Equal(t, float64(base.Unix()), get(t, reg, "clickanon_store_last_sweep_timestamp_seconds", "store", "stepped"))
}

// stepSweeper reports st.
type stepSweeper struct{ st retention.SweepStats }

func (s *stepSweeper) Sweep(context.Context, time.Time) (retention.SweepStats, error) {
	return s.st, nil
}
