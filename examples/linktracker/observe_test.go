package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// canary is the visitor's address: it must appear nowhere, only its /24.
const canary = "203.0.113.9"

// observed is the app as main runs it (the masked logger), on Redis, with
// every body it answered kept for the leak check.
type observed struct {
	t      *testing.T
	clock  *clickstoretest.Clock
	app    *app
	h      http.Handler
	logs   *syncBuffer
	bodies []string
}

func newObserved(t *testing.T, redisAddr string) *observed {
	t.Helper()
	o := &observed{t: t, logs: &syncBuffer{}}
	logger, err := newLogger(o.logs)
	require.NoError(t, err)
	routeRedisLogs(logger) // as run does: go-redis's lines are checked too
	clock := clickstoretest.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	cfg := config{
		addr: "127.0.0.1:8080", db: "sqlite:" + filepath.Join(t.TempDir(), "links.db"), redis: redisAddr,
		trustedProxies: "10.0.0.0/8", now: clock.Now, storeTimeout: 200 * time.Millisecond, closeTimeout: time.Second,
	}
	o.clock = clock
	o.app, err = newApp(context.Background(), cfg, logger)
	require.NoError(t, err)
	t.Cleanup(func() { _ = o.app.Close() })
	o.h = o.app.Handler()
	return o
}

// serve sends r, from remoteAddr, and keeps the answer.
func (o *observed) serve(r *http.Request, remoteAddr string) *httptest.ResponseRecorder {
	r.RemoteAddr = remoteAddr
	r.Header.Set("User-Agent", browser)
	w := httptest.NewRecorder()
	o.h.ServeHTTP(w, r)
	o.bodies = append(o.bodies, w.Body.String())
	return w
}

func (o *observed) get(path string) *httptest.ResponseRecorder {
	return o.serve(httptest.NewRequest("GET", path, nil), "10.0.0.2:50000")
}

// sweepAll runs one sweep of every sweeper, as their loops would.
func (o *observed) sweepAll() {
	for _, sw := range o.app.sweepers {
		_, _ = sw.SweepNow(o.t.Context())
	}
}

func (o *observed) health() (int, health) {
	o.t.Helper()
	w := o.get("/healthz")
	var h health
	require.NoError(o.t, json.Unmarshal(w.Body.Bytes(), &h), w.Body.String())
	return w.Code, h
}

func storeHealth(t *testing.T, h health, name string) partHealth {
	t.Helper()
	for _, p := range h.Stores {
		if p.Name == name {
			return p
		}
	}
	require.Failf(t, "no such store in /healthz", "%s", name)
	return partHealth{}
}

// The visitor 203.0.113.9 clicks directly and through the trusted proxy,
// the sweeps run, then Redis dies: /metrics and /healthz say what
// happened in figures, the log says it in words, and none of them holds
// the address.
func TestMetricsHealthAndLogsUnderFailure(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Local: true})
	o := newObserved(t, srv.Addr())

	w := o.serve(httptest.NewRequest("POST", "/api/links", strings.NewReader(`{"url":"https://example.com/"}`)), canary+":41000")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var link struct{ ID string }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &link))

	direct := httptest.NewRequest("GET", "/l/"+link.ID, nil)
	require.Equal(t, http.StatusFound, o.serve(direct, canary+":41001").Code, "from the visitor itself")
	proxied := httptest.NewRequest("GET", "/l/"+link.ID, nil)
	proxied.Header.Set("X-Forwarded-For", canary)
	require.Equal(t, http.StatusFound, o.serve(proxied, "10.0.0.1:40000").Code, "through the trusted proxy")
	o.sweepAll()

	code, h := o.health()
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok", h.Status)
	assert.True(t, h.Database)
	require.Len(t, h.Stores, 3, "redis, keys, stats")
	for _, p := range h.Stores {
		assert.True(t, p.Reachable, p.Name)
		assert.NotNil(t, p.LastSweep, "%s: swept", p.Name)
	}
	redisHealth := storeHealth(t, h, "redis")
	require.NotNil(t, redisHealth.Held)
	assert.Equal(t, 1, *redisHealth.Held, "one visitor's click is held")

	body := o.get("/metrics").Body.String()
	for _, line := range []string{
		`clickanon_tracker_clicks_total{tracker="linktracker",uniqueness="unique"} 1`,
		`clickanon_tracker_clicks_total{tracker="linktracker",uniqueness="repeat"} 1`, // one visitor, either way
		`clickanon_store_sweeps_total{store="redis"} 1`,
		`clickanon_store_held{store="redis"} 1`,
		`clickanon_sink_flushes_total{sink="sql"}`,
	} {
		assert.Contains(t, body, line)
	}

	srv.Kill()
	require.Equal(t, http.StatusFound, o.get("/l/"+link.ID).Code, "a redirect survives the store's death")
	o.sweepAll()

	code, h = o.health()
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "unavailable", h.Status)
	assert.True(t, h.Database, "the database still answers")
	redisHealth = storeHealth(t, h, "redis")
	assert.False(t, redisHealth.Reachable)
	assert.True(t, redisHealth.Failing)
	assert.Equal(t, uint64(1), redisHealth.Failures)
	assert.True(t, storeHealth(t, h, partStats).Reachable, "the statistics are in the database")

	body = o.get("/metrics").Body.String()
	assert.Equal(t, 1.0, metricValue(t, body, `clickanon_store_sweep_errors_total{store="redis"}`))
	assert.Equal(t, 1.0, metricValue(t, body, `clickanon_store_errors_total{op="sweep",store="redis"}`), "the Redis store counts its own failures too")
	// The click during the outage is counted, its uniqueness unknown:
	// either the store failed, or the keyring could not reach its key in
	// Redis and a local key stood in. Either way it is accounted for, once,
	// and no click is lost.
	assert.Equal(t, 1.0, metricValue(t, body, `clickanon_tracker_store_failures_total{tracker="linktracker"}`)+
		metricValue(t, body, `clickanon_tracker_key_fallbacks_total{tracker="linktracker"}`))
	assert.Equal(t, 1.0, metricValue(t, body, `clickanon_tracker_clicks_total{tracker="linktracker",uniqueness="unknown"}`))
	assert.Zero(t, metricValue(t, body, `clickanon_tracker_requests_total{outcome="failed",tracker="linktracker"}`))

	logs := o.logs.String()
	assert.Contains(t, logs, "client_network=203.0.113.0/24", "the access log keeps the network")
	assert.Contains(t, logs, "sweep", "the failed sweep is logged")
	// Once per burst by each part that knows a cost: the sweeper (retention
	// may lag) and the Redis store (expired clicks wait for their TTL); the
	// app adds no line of its own.
	assert.Equal(t, 1, strings.Count(logs, "retention: sweep failed"), "once by the sweeper:\n%s", logs)
	assert.Equal(t, 1, strings.Count(logs, "redisstore: sweep failed"), "once by the store:\n%s", logs)
	assert.Equal(t, 2, strings.Count(logs, "sweep failed"), "and by no one else:\n%s", logs)
	ipmasktest.AssertNoRawIP(t, ipmask.Default, logs, "log output")
	for i, b := range o.bodies {
		ipmasktest.AssertNoRawIP(t, ipmask.Default, b, "response body %d", i)
	}
}

// metricValue is the value of one series in a Prometheus text body.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			require.NoError(t, err, series)
			return f
		}
	}
	require.Failf(t, "no such series in /metrics", "%s", series)
	return 0
}

// A store whose first sweep never ends (a server lost between the start
// and that sweep, on which the sweep hangs) is not called reachable for
// ever: after staleSweeps intervals with no sweep since the app started,
// /healthz calls it stale and answers 503; a sweep makes it reachable
// again.
func TestHealthzFirstSweepNeverEnds(t *testing.T) {
	o := newObserved(t, "")
	code, h := o.health()
	assert.Equal(t, http.StatusOK, code, "just started, not swept yet")
	for _, p := range h.Stores {
		assert.True(t, p.Reachable, p.Name)
		assert.Nil(t, p.LastSweep, p.Name)
	}

	o.clock.Advance(staleSweeps*time.Second + time.Millisecond)
	code, h = o.health()
	assert.Equal(t, http.StatusServiceUnavailable, code)
	for _, p := range h.Stores {
		assert.False(t, p.Reachable, p.Name)
		assert.True(t, p.Stale, p.Name)
		assert.Nil(t, p.LastSweep, p.Name)
	}

	o.sweepAll()
	code, h = o.health()
	assert.Equal(t, http.StatusOK, code, "swept")
	for _, p := range h.Stores {
		assert.True(t, p.Reachable, p.Name)
		assert.False(t, p.Stale, p.Name)
	}
}
