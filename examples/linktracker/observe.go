package main

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/clickanon/clickanon/metrics"
	"github.com/clickanon/clickanon/retention"
)

// The part names of the metrics (label values) and of /healthz.
const (
	partTracker = "linktracker"
	partStats   = "stats"
	partKeys    = "keys"
)

// staleSweeps is how many sweep intervals may pass without a sweep before
// /healthz calls a store unreachable: a sweep that hangs on a lost server
// never reports a failure.
const staleSweeps = 10

// sweeper is one of the app's sweepers, under the name /healthz and the
// metrics give it.
type sweeper struct {
	name string
	*retention.Sweeper
	// since is when the app built it: a first sweep that hangs leaves no
	// Last to go stale, so staleness counts from here until then.
	since time.Time
}

// observe registers the app's parts on a fresh Prometheus registry (and
// the count of orphan clicks, clickanon_linktracker_orphan_clicks_total) and
// builds the sweepers: the click store ("memory" or "redis"), the epoch
// keys and the statistics, each wrapped by metrics.Sweep so that every
// sweep is counted. A failed sweep is logged by its Sweeper; the store's
// sweeper also logs, once a minute, what the store still holds, so that
// retention can be shown, not just claimed. Only the click store's
// clickanon_store_oldest_age_seconds proves the 30-minute promise: the
// keys live a window and a grace window, the statistics buckets days, so
// an alert on it selects store="memory" or store="redis".
func (a *app) observe(storeKind string) error {
	a.registry = prometheus.NewRegistry()
	m, err := metrics.New(a.registry, nil)
	if err != nil {
		return err
	}
	keyringKind := "local"
	if storeKind == "redis" {
		keyringKind = "redis"
	}
	err = errors.Join(
		m.Tracker(partTracker, a.tracker),
		m.Resolver(partTracker, a.resolver),
		m.Keyring(keyringKind, a.keyring),
		m.Sink("sql", func() metrics.SinkStats {
			s := a.sink.Stats()
			return metrics.SinkStats{Flushes: s.Flushes, FlushErrors: s.FlushErrors, Written: s.Written, Buffered: s.Buffered, Dropped: s.Dropped}
		}),
		// The clicks and conversion pixels on links that do not exist
		// (404): a link mistyped, deleted or made up.
		a.registry.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "clickanon_linktracker_orphan_clicks_total",
			Help: "Clicks (/l/ID) and conversion pixels (/c/ID.gif) on links that do not exist, answered 404.",
		}, func() float64 { return float64(a.orphans.Load()) })),
	)
	if err != nil {
		return err
	}
	if stats := redisStoreStats(a.store); stats != nil {
		if err := m.Store(storeKind, stats); err != nil {
			return err
		}
	}
	var lastLog time.Time
	logHeld := func(st retention.SweepStats, err error) {
		if now := a.now(); err == nil && now.Sub(lastLog) >= time.Minute {
			lastLog = now
			a.log.Info("retention", "held_clicks", st.Held, "oldest_held", st.Oldest.Round(time.Second).String(), "window", retention.DefaultWindow.String())
		}
	}
	for _, p := range []struct {
		name    string
		target  retention.Sweepable
		onSweep func(retention.SweepStats, error)
	}{{storeKind, a.store, logHeld}, {partKeys, a.keyring, nil}, {partStats, a.stats, nil}} {
		swept, err := m.Sweep(p.name, p.target)
		if err != nil {
			return err
		}
		sw, err := retention.NewSweeper(swept, &retention.SweeperOptions{Now: a.now, OnSweep: p.onSweep, Logger: a.log})
		if err != nil {
			return err
		}
		a.sweepers = append(a.sweepers, sweeper{p.name, sw, a.now()})
	}
	return nil
}

// sweep runs the sweepers (clicks and keys destroyed, statistics buckets
// past their retention deleted, once a second) and refreshes the links
// until ctx ends. It returns when all have stopped.
func (a *app) sweep(ctx context.Context) {
	var wg sync.WaitGroup
	for _, sw := range a.sweepers {
		wg.Go(func() { _ = sw.Run(ctx) })
	}
	wg.Go(func() { a.refreshLinks(ctx) })
	wg.Wait()
}

// metricsHandler serves the registry in Prometheus's text format.
func (a *app) metricsHandler() http.Handler {
	return promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{})
}

// partHealth is one store in /healthz. Errors are not shown (they are
// logged): a health endpoint is often public, and an error can name a
// server.
type partHealth struct {
	Name      string     `json:"name"`
	Reachable bool       `json:"reachable"`
	LastSweep *time.Time `json:"last_sweep"`           // null before the first sweep
	Failures  uint64     `json:"sweep_failures"`       // failed sweeps since start
	Held      *int       `json:"held,omitempty"`       // entries held after the last successful sweep
	Failing   bool       `json:"last_sweep_failed"`    // the last sweep returned an error
	Stale     bool       `json:"sweep_stale,omitzero"` // no sweep for staleSweeps intervals (since the start, before the first)
}

// health is the body of /healthz.
type health struct {
	Status   string       `json:"status"` // "ok" or "unavailable"
	Database bool         `json:"database_reachable"`
	Stores   []partHealth `json:"stores"`
}

// healthz answers whether each store is reachable, as its sweeper last
// found it, and whether the database answers a ping now: 200 when all
// are, else 503.
func (a *app) healthz(w http.ResponseWriter, r *http.Request) {
	now := a.now()
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.storeTimeout)
	defer cancel()
	h := health{Status: "ok", Database: a.db.PingContext(ctx) == nil}
	ok := h.Database
	for _, sw := range a.sweepers {
		at, st, err := sw.Last()
		p := partHealth{Name: sw.name, Failures: sw.Failures(), Failing: err != nil}
		last := sw.since
		if !at.IsZero() {
			p.LastSweep = &at
			last = at
		}
		p.Stale = now.Sub(last) > staleSweeps*retention.DefaultSweepInterval
		if !at.IsZero() && err == nil {
			held := st.Held
			p.Held = &held
		}
		// Before its first sweep a store counts as reachable (it was
		// reached when the app started) for staleSweeps intervals: a
		// first sweep that hangs on a server lost meanwhile is stale too.
		p.Reachable = !p.Failing && !p.Stale
		ok = ok && p.Reachable
		h.Stores = append(h.Stores, p)
	}
	status := http.StatusOK
	if !ok {
		h.Status, status = "unavailable", http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, h)
}
