package outside_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/clickstore/geo"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
	"github.com/clickanon/clickanon/metrics"
	"github.com/clickanon/clickanon/retention"
)

// clickFrom sends through h a click on link from client behind the
// trusted proxy, with the client's address also in its user agent, its
// Referer and a cookie.
func clickFrom(h http.Handler, client netip.Addr, link string) {
	r := httptest.NewRequest(http.MethodGet, "/go/"+link+"?ip="+url.QueryEscape(client.String()), nil)
	r.RemoteAddr = proxyAddr + ":4711"
	r.Header.Set("X-Forwarded-For", client.String())
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; "+client.String()+") Firefox/128.0")
	r.Header.Set("Referer", "https://news.example.com/?from="+url.QueryEscape(client.String()))
	r.Header.Set("Cookie", "ip="+client.String())
	h.ServeHTTP(httptest.NewRecorder(), r)
}

// TestPrintedValuesHoldNoAddress checks guarantee 7 ("not in ... a log
// line ... or a dump") for what a developer prints while debugging: every
// exported type of the module, zero and configured, and the configured
// ones after a run of clicks from visitors who also wrote their addresses
// into their user agent, Referer, URL and cookie, with every fmt verb,
// slog's JSON handler (no masking handler) and encoding/json. Checked to
// fail: a value holding a visitor's address (a clientip.Info made with
// KeepRaw) is reported by the same checks, in TestPrintCheckHasTeeth.
func TestPrintedValuesHoldNoAddress(t *testing.T) {
	ctx := context.Background()
	clients := []netip.Addr{visitor4, visitor6, netip.MustParseAddr("2002:c633:644d::1"), netip.MustParseAddr("64:ff9b::198.51.100.78")}
	sink, err := sqlsink.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "stats.db"), &sqlsink.Options{FlushInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer sink.Close(ctx)
	d := newDeployment(t, []string{proxyAddr + "/32"}, nil, sink)
	mux := http.NewServeMux()
	var infos []clientip.Info
	mux.Handle("GET /go/{link}", d.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := clientip.FromContext(r.Context())
		infos = append(infos, info)
		w.WriteHeader(http.StatusFound)
	})))
	h := d.mw(mux)
	for _, c := range clients {
		clickFrom(h, c, "spring")
		clickFrom(h, c, "spring")
	}
	// The same clicks into a Rollup, for its cells.
	for c, err := range d.store.All(ctx) {
		require.NoError(t, err)
		require.NoError(t, d.stats.Add(ctx, c, clickstore.Unique))
	}
	now := time.Now()
	rep, err := d.stats.Report(ctx, aggregate.Query{Link: "spring", Granularity: aggregate.Minute, From: now.Add(-time.Hour), To: now.Add(time.Hour), K: 1})
	require.NoError(t, err)
	sweeper, err := retention.NewSweeper(retention.Group{d.store, d.keyring, d.stats}, &retention.SweeperOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	_, err = sweeper.SweepNow(ctx)
	require.NoError(t, err)
	m, err := metrics.New(prometheus.NewRegistry(), nil)
	require.NoError(t, err)
	require.NoError(t, m.Tracker("web", d.tracker))
	masker, err := logmask.NewMasker(ipmask.Default, nil)
	require.NoError(t, err)
	mh, err := logmask.NewHandler(slog.NewJSONHandler(&bytes.Buffer{}, nil), ipmask.Default, nil)
	require.NoError(t, err)
	var lw bytes.Buffer
	w, err := logmask.NewWriter(&lw, ipmask.Default, nil)
	require.NoError(t, err)
	defer w.Close()
	// w holds the start of a line, not masked yet, when it is printed.
	_, err = w.Write([]byte("held line start " + visitor4.String()))
	require.NoError(t, err)
	held := d.held(t)
	require.NotEmpty(t, held)
	cur, _, err := d.keyring.Keys(ctx, now)
	require.NoError(t, err)
	trusted, err := clientip.NewTrusted(proxyAddr + "/32")
	require.NoError(t, err)
	geoDB := &geo.DB{}

	values := map[string]any{
		// zero values
		"ipmask.Policy{}": ipmask.Policy{}, "clientip.Resolver{}": &clientip.Resolver{}, "clientip.Trusted{}": &clientip.Trusted{},
		"clientip.Strategy{}": clientip.Strategy{}, "clientip.Info{}": clientip.Info{}, "clientip.MiddlewareOptions{}": clientip.MiddlewareOptions{},
		"logmask.Options{}": logmask.Options{}, "clickstore.Click{}": clickstore.Click{}, "clickstore.Memory{}": &clickstore.Memory{},
		"track.Options{}": track.Options{}, "track.Visit{}": track.Visit{}, "aggregate.Query{}": aggregate.Query{}, "aggregate.Report{}": aggregate.Report{},
		"sqlsink.Options{}": sqlsink.Options{}, "geo.DB{}": geoDB, "geo.Options{}": geo.Options{}, "geo.Facts{}": geo.Facts{},
		"retention.Keyring{}": &retention.Keyring{}, "retention.MemoryKeyStore{}": &retention.MemoryKeyStore{}, "retention.Key{}": retention.Key{},
		"retention.Sweeper{}": &retention.Sweeper{}, "metrics.Metrics{}": &metrics.Metrics{}, "metrics.Options{}": metrics.Options{},
		// configured, after the clicks
		"Default": ipmask.Default, "resolver": d.resolver, "resolver.Stats": d.resolver.Stats(), "trusted": trusted, "strategies": d.resolver.Strategies(),
		"infos": infos, "masker": masker, "handler": mh, "writer": w, "held clicks": held, "builder": d.builder, "store": d.store,
		"tracker": d.tracker, "tracker.Stats": d.tracker.Stats(), "rollup": d.stats, "report": rep, "sink": sink, "sink.Stats": sink.Stats(),
		"keyring": d.keyring, "key": cur, "keyring.Stats": d.keyring.Stats(), "sweeper": sweeper, "metrics": m,
		"track.Options": track.Options{Resolver: d.resolver, OptOutHeader: "Sec-GPC"},
	}
	for name, v := range values {
		var out bytes.Buffer
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		j, _ := json.Marshal(v)
		out.Write(j)
		slog.New(slog.NewJSONHandler(&out, nil)).Info("debug", "value", v)
		slog.New(slog.NewTextHandler(&out, nil)).Info("debug", "value", v)
		ipmasktest.AssertNoRawIP(t, ipmask.Default, out.Bytes(), name)
		assertNoForm(t, out.Bytes(), name, clients...)
	}
}

// TestPrintCheckHasTeeth runs the checks of TestPrintedValuesHoldNoAddress
// on an Info the middleware made with KeepRaw, which holds the raw
// address by the caller's choice: they report it.
func TestPrintCheckHasTeeth(t *testing.T) {
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, &clientip.MiddlewareOptions{KeepRaw: true})
	require.NoError(t, err)
	var info clientip.Info
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = netip.AddrPortFrom(visitor4, 1).String()
	mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { info, _ = clientip.FromContext(r.Context()) })).ServeHTTP(httptest.NewRecorder(), r)
	ft := &testing.T{}
	assertNoForm(ft, []byte(fmt.Sprintf("%+v", info)), "Info", visitor4)
	require.True(t, ft.Failed())
	require.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, fmt.Sprintf("%+v", info)))
}
