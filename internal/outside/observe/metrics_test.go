package observe_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"

// svc is a service assembled as the README shows, on a fake clock.
type svc struct {
	clock    atomic.Int64 // the fake clock, in Unix nanoseconds: the store's timer reads it too
	keyring  *retention.Keyring
	builder  *clickstore.Builder
	store    *clickstore.Memory
	resolver *clientip.Resolver
	tracker  *track.Tracker
	reg      *prometheus.Registry
	m        *metrics.Metrics
	swept    retention.Sweepable
}

// now reads the fake clock; setClock moves it. The clickstore.Memory's
// timer reads it from its own goroutine, once a second while it holds
// clicks, so it is read and written atomically.
func (s *svc) now() time.Time { return time.Unix(0, s.clock.Load()).UTC() }

func (s *svc) setClock(t time.Time) { s.clock.Store(t.UnixNano()) }

func newSvc(t *testing.T, capacity int) *svc {
	t.Helper()
	s := &svc{}
	s.setClock(t0)
	now := s.now
	discard := slog.New(slog.DiscardHandler)
	var err error
	s.keyring, err = retention.NewKeyring(&retention.KeyringOptions{Now: now, Logger: discard})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.keyring.Close() })
	s.builder, err = clickstore.NewBuilder(ipmask.Default, s.keyring, nil)
	require.NoError(t, err)
	s.store, err = clickstore.NewMemory(&clickstore.MemoryOptions{Capacity: capacity, Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.store.Close() })
	rollup, err := aggregate.New(nil)
	require.NoError(t, err)
	trusted, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	s.resolver, err = clientip.New(clientip.RightmostUntrusted(trusted), clientip.RemoteAddr())
	require.NoError(t, err)
	s.tracker, err = track.New(s.builder, s.store, rollup, &track.Options{Resolver: s.resolver, Now: now, Logger: discard})
	require.NoError(t, err)
	s.reg = prometheus.NewRegistry()
	s.m, err = metrics.New(s.reg, &metrics.Options{Now: now})
	require.NoError(t, err)
	require.NoError(t, s.m.Tracker("web", s.tracker))
	require.NoError(t, s.m.Resolver("web", s.resolver))
	require.NoError(t, s.m.Keyring("local", s.keyring))
	s.swept, err = s.m.Sweep("memory", s.store)
	require.NoError(t, err)
	return s
}

func (s *svc) click(link, remote string, hdr ...string) track.Visit {
	r := httptest.NewRequest(http.MethodGet, "/c/"+link, nil)
	r.RemoteAddr = remote
	r.Header.Set("User-Agent", browserUA)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return s.tracker.Track(r, link, clickstore.KindClick)
}

// exposition returns the registry as promhttp serves it, in the format
// the Accept header asks for.
func exposition(t *testing.T, reg prometheus.Gatherer, accept string) string {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return string(body)
}

// allowedLabels are the label values the metrics documentation lists,
// plus the part names given here.
var allowedLabels = map[string]bool{
	"counted": true, "excluded": true, "opted-out": true, "unresolved": true, "unattributed": true,
	"failed": true, "unserved": true, "no-link": true, "unique": true, "repeat": true, "unknown": true,
	"resolved": true, "no-addr": true, "untrusted": true, "malformed": true,
	"record": true, "latest": true, "sweep": true, "index": true,
	"web": true, "local": true, "memory": true,
}

// TestExpositionHoldsNoCanary drives the service with a canary visitor of
// every address class (directly, through the trusted proxy, with a
// spoofed header, with a malformed one that quotes the address) on links
// whose IDs are canaries too, sweeps, and scrapes the registry in every
// format promhttp serves (text, OpenMetrics, protobuf): no raw address, no
// link ID and no visitor pseudonym (hex) appears, and every label value is
// one the documentation lists or a part name. Checked to fail: the same
// scan of the requests' own text finds the canaries (teeth), and a label
// value outside the list fails the label check (tried by removing "web"
// from allowedLabels).
func TestExpositionHoldsNoCanary(t *testing.T) {
	s := newSvc(t, 1000)
	var teeth strings.Builder
	var links, pseudonyms []string
	for i, c := range ipmasktest.Cases() {
		link := fmt.Sprintf("canary-link-%03d", i)
		links = append(links, link)
		ap := netip.AddrPortFrom(c.Addr, 40000).String()
		s.click(link, ap)
		s.click(link, ap)
		s.click(link, "10.0.0.1:1234", "X-Forwarded-For", c.Addr.String())
		s.click(link, ap, "X-Forwarded-For", "10.9.9.9, "+c.Text)
		s.click(link, "10.0.0.1:1234", "X-Forwarded-For", c.Text+"x")
		fmt.Fprintln(&teeth, ap, c.Text, link)
		cur, prev, err := s.builder.Pseudonyms(context.Background(), c.Addr, browserUA, s.now())
		require.NoError(t, err)
		pseudonyms = append(pseudonyms, cur.String(), prev.String())
	}
	s.setClock(s.now().Add(5 * time.Minute))
	_, err := s.swept.Sweep(context.Background(), s.now())
	require.NoError(t, err)

	require.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, teeth.String()), "teeth")
	for _, accept := range []string{"", "application/openmetrics-text; version=1.0.0", "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"} {
		body := exposition(t, s.reg, accept)
		require.Contains(t, body, "clickanon_tracker_clicks_total", accept)
		ipmasktest.AssertNoRawIP(t, ipmask.Default, body, accept)
		ipmasktest.AssertNoRawIP(t, ipmask.Strict, body, accept)
		for _, l := range links {
			assert.NotContains(t, body, l, accept)
		}
		for _, p := range pseudonyms {
			assert.NotContains(t, body, p, accept)
			assert.NotContains(t, body, p[:16], accept)
		}
	}
	mfs, err := s.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if lp.GetName() == "le" {
					continue
				}
				assert.True(t, allowedLabels[lp.GetValue()], "%s{%s=%q} is not a documented label value", mf.GetName(), lp.GetName(), lp.GetValue())
			}
		}
	}
	got := gather(t, s.reg)
	n := float64(len(ipmasktest.Cases()))
	assert.Equal(t, 4*n, got[`clickanon_tracker_requests_total{outcome="counted",tracker="web"}`])
	assert.Equal(t, n, got[`clickanon_tracker_requests_total{outcome="unresolved",tracker="web"}`])
	assert.Equal(t, n, got[`clickanon_clientip_resolutions_total{outcome="malformed",resolver="web"}`])
	// One visitor per link: the first click unique, the three others
	// (again, through the proxy, with a header from an untrusted peer)
	// repeats.
	assert.Equal(t, n, got[`clickanon_tracker_clicks_total{tracker="web",uniqueness="unique"}`])
	assert.Equal(t, 3*n, got[`clickanon_tracker_clicks_total{tracker="web",uniqueness="repeat"}`])
	assert.Equal(t, 4*n, got[`clickanon_clientip_resolutions_total{outcome="resolved",resolver="web"}`], "the four that resolve")
	assert.Equal(t, n, got[`clickanon_clientip_header_resolutions_total{resolver="web"}`], "one through the proxy")
}

// gather returns every sample of reg by its series, as
// name{label="value",...} with labels in the order Gather gives them.
func gather(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			var labels []string
			for _, lp := range mt.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			name, ls := mf.GetName(), ""
			if len(labels) > 0 {
				ls = "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case mt.GetCounter() != nil:
				out[name+ls] = mt.GetCounter().GetValue()
			case mt.GetGauge() != nil:
				out[name+ls] = mt.GetGauge().GetValue()
			case mt.GetHistogram() != nil:
				out[name+"_count"+ls] = float64(mt.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// addressNames are part names made only of letters, digits, '_' and '-'
// that still spell an address the way host names and logs do.
var addressNames = []string{
	"ip-203-0-113-9", "ec2-203-0-113-9", "ip-198-51-100-7", "host-2001-db8-1-2--7",
	"ip-10-1-2-3", "web-203-0-113-9-a",
}

// TestPartNamesSpellNoAddress gives each kind of part a name that spells
// an address with hyphens, as EC2 and syslog host names do: the metrics
// documentation promises that no address can become a label, so each is
// either refused with an error that does not echo it, or its exposition
// holds no raw address. Checked to fail: before the fix of finding F3 each
// name was accepted and the exposition held ip-203-0-113-9.
func TestPartNamesSpellNoAddress(t *testing.T) {
	s := newSvc(t, 10)
	sinkStats := func() metrics.SinkStats { return metrics.SinkStats{Flushes: 1} }
	storeStats := func() metrics.StoreStats { return metrics.StoreStats{Restarts: 1} }
	for _, name := range addressNames {
		reg := prometheus.NewRegistry()
		m, err := metrics.New(reg, nil)
		require.NoError(t, err)
		_, sweepErr := m.Sweep(name, s.store)
		for kind, err := range map[string]error{
			"Tracker":  m.Tracker(name, s.tracker),
			"Resolver": m.Resolver(name, s.resolver),
			"Keyring":  m.Keyring(name, s.keyring),
			"Sink":     m.Sink(name, sinkStats),
			"Store":    m.Store(name, storeStats),
			"Sweep":    sweepErr,
		} {
			if err != nil {
				assert.True(t, strings.HasPrefix(err.Error(), "metrics: "), "%s: %v", kind, err)
				ipmasktest.AssertNoRawIPError(t, ipmask.Default, err, kind)
				assert.NotContains(t, err.Error(), name, kind)
			}
		}
		ipmasktest.AssertNoRawIP(t, ipmask.Default, exposition(t, reg, ""), "part name %q", name)
	}
}

// TestRegistration checks "registered on a registry the user passes":
// two Metrics on two registries each export their own parts; a second
// Metrics with the same namespace on one registry is refused with an
// error starting "metrics: " (the first keeps working); another
// namespace on the same registry is accepted; the same part added twice
// to one Metrics is refused, and the same tracker may be added to two.
// Checked to fail: the gathered series are compared by value, so a Metrics
// that wrote to the wrong registry would miss its series.
func TestRegistration(t *testing.T) {
	s := newSvc(t, 10)
	s.click("l", "203.0.113.9:1")
	regB := prometheus.NewRegistry()
	mB, err := metrics.New(regB, nil)
	require.NoError(t, err)
	require.NoError(t, mB.Tracker("other", s.tracker))
	a, b := gather(t, s.reg), gather(t, regB)
	assert.Equal(t, float64(1), a[`clickanon_tracker_requests_total{outcome="counted",tracker="web"}`])
	assert.Equal(t, float64(1), b[`clickanon_tracker_requests_total{outcome="counted",tracker="other"}`])
	_, inB := b[`clickanon_tracker_requests_total{outcome="counted",tracker="web"}`]
	assert.False(t, inB, "registry B holds only its own parts")

	_, err = metrics.New(s.reg, nil)
	if assert.Error(t, err, "the same namespace twice on one registry") {
		assert.True(t, strings.HasPrefix(err.Error(), "metrics: "), err.Error())
	}
	assert.Equal(t, a, gather(t, s.reg), "the first Metrics keeps working")
	mC, err := metrics.New(s.reg, &metrics.Options{Namespace: "second"})
	require.NoError(t, err)
	require.NoError(t, mC.Tracker("web", s.tracker))
	assert.Equal(t, float64(1), gather(t, s.reg)[`second_tracker_requests_total{outcome="counted",tracker="web"}`])
	assert.Error(t, s.m.Tracker("web", s.tracker), "a name added twice")
	assert.NoError(t, s.m.Tracker("web2", s.tracker))
}

// TestRetentionGaugesUnderFakeTime clicks at every second for two hours
// of fake time (testing the gauge, not the store) with the store swept
// every second through the metrics wrapper and the keyring swept too:
// clickanon_store_oldest_age_seconds never passes the window plus the
// sweep interval (the alert of the README), held clicks and swept totals
// add up to the clicks recorded, and the keyring's oldest key age stays
// below twice the window while keys are destroyed. Checked to fail: a
// store that keeps a click past the window, swept through the same
// wrapper, shows above the threshold (the teeth part).
func TestRetentionGaugesUnderFakeTime(t *testing.T) {
	s := newSvc(t, 100000)
	ctx := context.Background()
	window := retention.DefaultWindow
	alert := (window + retention.DefaultSweepInterval).Seconds()
	recorded := 0
	for sec := range 2 * 3600 {
		s.setClock(t0.Add(time.Duration(sec) * time.Second))
		if sec%7 == 0 {
			v := s.click("l", fmt.Sprintf("198.51.%d.%d:1", sec/250%250, sec%250))
			require.Equal(t, track.Counted, v.Outcome)
			if v.Uniqueness == clickstore.Unique {
				recorded++
			}
		}
		_, err := s.swept.Sweep(ctx, s.now())
		require.NoError(t, err)
		if sec%60 == 0 {
			_, err := s.keyring.Sweep(ctx, s.now())
			require.NoError(t, err)
			g := gather(t, s.reg)
			require.LessOrEqual(t, g[`clickanon_store_oldest_age_seconds{store="memory"}`], alert, "at %ds", sec)
			require.Less(t, g[`clickanon_keyring_oldest_key_age_seconds{keyring="local"}`], 2*window.Seconds(), "at %ds", sec)
		}
	}
	g := gather(t, s.reg)
	assert.Equal(t, float64(recorded), g[`clickanon_store_held{store="memory"}`]+g[`clickanon_store_swept_total{store="memory"}`])
	assert.Equal(t, float64(2*3600), g[`clickanon_store_sweeps_total{store="memory"}`])
	assert.Equal(t, float64(2*3600), g[`clickanon_store_sweep_duration_seconds_count{store="memory"}`])
	assert.Positive(t, g[`clickanon_keyring_keys_destroyed_total{keyring="local"}`])
	assert.Equal(t, float64(s.now().Unix()), g[`clickanon_store_last_sweep_timestamp_seconds{store="memory"}`])

	// Teeth: a store that keeps a click past the window shows in the
	// gauge above the alert threshold.
	keeper, err := s.m.Sweep("keeper", keepingStore{})
	require.NoError(t, err)
	_, err = keeper.Sweep(ctx, s.now())
	require.NoError(t, err)
	assert.Greater(t, gather(t, s.reg)[`clickanon_store_oldest_age_seconds{store="keeper"}`], alert, "teeth")
}

// keepingStore is a store that never forgets: it holds one click, older
// than the window.
type keepingStore struct{}

func (keepingStore) Sweep(context.Context, time.Time) (retention.SweepStats, error) {
	return retention.SweepStats{Held: 1, Oldest: retention.DefaultWindow + time.Minute}, nil
}
