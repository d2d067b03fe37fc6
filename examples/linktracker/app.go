package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/logmask"
	"github.com/clickanon/clickanon/retention"
)

type config struct {
	addr             string
	redis            string
	trustedProxies   string
	demo             bool
	allowPersistence bool
	now              func() time.Time // nil means time.Now; tests set it
}

// app is the link tracker: links, the click tracker and the statistics.
type app struct {
	base      string // the URL the server is reached at, for tracking URLs
	storeName string
	now       func() time.Time
	log       *slog.Logger
	policy    ipmask.Policy
	paths     *logmask.Masker // masks addresses that a visitor writes into a path
	resolver  *clientip.Resolver

	links   linkStore
	store   clickstore.Store
	keyring *retention.Keyring
	tracker *track.Tracker
	stats   *statsBook
	orphans atomic.Uint64

	closers []func() error
}

func newApp(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	a := &app{now: cfg.now, log: log, policy: ipmask.Default, base: "http://" + cfg.addr}
	if a.now == nil {
		a.now = time.Now
	}
	if err := a.init(ctx, cfg); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// init wires the parts: in memory, or on one Redis client shared by the
// click store, the epoch keys, the links and the statistics.
func (a *app) init(ctx context.Context, cfg config) error {
	var err error
	if a.resolver, err = newResolver(cfg.trustedProxies); err != nil {
		return err
	}
	if a.paths, err = logmask.NewMasker(a.policy, nil); err != nil {
		return err
	}
	var (
		keys    retention.KeyStore // nil: the keyring's in-memory default
		backend aggregate.Backend
		client  redis.UniversalClient
	)
	if cfg.redis != "" {
		client = redis.NewClient(&redis.Options{Addr: cfg.redis})
		a.closers = append(a.closers, client.Close)
		if keys, err = redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: "linktracker"}); err != nil {
			return err
		}
		if backend, err = redisstore.NewSink(client, &redisstore.SinkOptions{Prefix: "linktracker", Now: a.now}); err != nil {
			return err
		}
		a.links = &redisLinks{client: client, key: "linktracker:links", now: a.now}
		a.storeName = "redis " + cfg.redis
	} else {
		if backend, err = aggregate.New(nil); err != nil {
			return err
		}
		a.links = newMemLinks(a.now)
		a.storeName = "memory"
	}
	if a.keyring, err = retention.NewKeyring(&retention.KeyringOptions{Store: keys}); err != nil {
		return err
	}
	if client != nil {
		a.store, err = redisstore.New(ctx, client, &redisstore.Options{
			Prefix:           "linktracker",
			Now:              a.now,
			Keyring:          a.keyring,
			AllowPersistence: cfg.allowPersistence,
		})
		if errors.Is(err, redisstore.ErrPersistence) {
			err = fmt.Errorf("%w\n(-redis-allow-persistence accepts a server that writes to disk)", err)
		}
	} else {
		a.store, err = clickstore.NewMemory(&clickstore.MemoryOptions{Now: a.now})
	}
	if err != nil {
		return err
	}
	a.closers = append(a.closers, a.store.Close)
	a.stats = newStatsBook(backend, a.now)

	builder, err := clickstore.NewBuilder(a.policy, a.keyring, nil)
	if err != nil {
		return err
	}
	a.tracker, err = track.New(builder, a.store, a.stats, &track.Options{
		Resolver:     a.resolver,
		OptOutHeader: "Sec-GPC",
		OptOutParam:  "optout",
		Now:          a.now,
	})
	return err
}

// newResolver believes X-Forwarded-For only from the listed proxies.
func newResolver(cidrs string) (*clientip.Resolver, error) {
	if strings.TrimSpace(cidrs) == "" {
		return clientip.New() // the peer address alone
	}
	var list []string
	for _, c := range strings.Split(cidrs, ",") {
		if c = strings.TrimSpace(c); c != "" {
			list = append(list, c)
		}
	}
	trusted, err := clientip.NewTrusted(list...)
	if err != nil {
		return nil, fmt.Errorf("-trusted-proxies: %w", err)
	}
	return clientip.New(clientip.RightmostUntrusted(trusted), clientip.RemoteAddr())
}

// Close releases the store and the Redis clients.
func (a *app) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// sweep destroys expired clicks, keys and statistics buckets every second
// until ctx ends, and logs once a minute what the store still holds, so
// retention can be shown, not just claimed. It returns when every sweeper
// has stopped.
func (a *app) sweep(ctx context.Context) {
	var lastLog time.Time
	logHeld := func(st retention.SweepStats, err error) {
		if err != nil {
			a.log.Warn("sweep failed", "err", err)
			return
		}
		if now := a.now(); now.Sub(lastLog) >= time.Minute {
			lastLog = now
			a.log.Info("retention", "held_clicks", st.Held, "oldest_held", st.Oldest.Round(time.Second).String(), "window", retention.DefaultWindow.String())
		}
	}
	logErr := func(_ retention.SweepStats, err error) {
		if err != nil {
			a.log.Warn("sweep failed", "err", err)
		}
	}
	var wg sync.WaitGroup
	for _, s := range []struct {
		target retention.Sweepable
		report func(retention.SweepStats, error)
	}{{a.store, logHeld}, {a.keyring, logErr}, {a.stats, logErr}} {
		sw, err := retention.NewSweeper(s.target, &retention.SweeperOptions{Now: a.now, OnSweep: s.report})
		if err != nil {
			a.log.Error("sweeper", "err", err)
			continue
		}
		wg.Go(func() { _ = sw.Run(ctx) })
	}
	wg.Wait()
}

// Handler is the HTTP API, the redirects, the pixel and the dashboard.
func (a *app) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.index)
	mux.HandleFunc("POST /api/links", a.createLink)
	mux.HandleFunc("GET /api/links/{id}/stats", a.linkStats)
	mux.HandleFunc("GET /l/{id}", a.click)
	mux.HandleFunc("HEAD /l/{id}", a.click)
	mux.HandleFunc("GET /c/{pixel}", a.conversion)
	mux.HandleFunc("GET /links/{id}", a.dashboard)
	return a.accessLog(mux)
}

// accessLog logs each request with the client's masked network only; the
// query string is left out, since it is the visitor's to fill, and any
// address a visitor writes into the path (/l/203.0.113.9) is masked.
func (a *app) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := a.now()
		next.ServeHTTP(sw, r)
		client := "unknown"
		if addr, err := a.resolver.ResolveRequest(r); err == nil {
			client = a.policy.Prefix(addr).String()
		}
		a.log.Info("request", "method", r.Method, "path", a.paths.MaskString(r.URL.Path), "status", sw.status,
			"client_network", client, "duration", a.now().Sub(start).String())
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (a *app) createLink(w http.ResponseWriter, r *http.Request) {
	var req struct {
		URL string `json:"url"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, `body must be JSON like {"url": "https://example.com/"}`)
		return
	}
	l, err := a.links.Create(r.Context(), req.URL)
	if errors.Is(err, errBadURL) {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		a.log.Error("create link", "err", err)
		writeError(w, http.StatusInternalServerError, "could not store the link")
		return
	}
	base := a.baseURL(r)
	writeJSON(w, http.StatusCreated, map[string]any{
		"id":             l.ID,
		"url":            l.URL,
		"created":        l.Created,
		"tracking_url":   base + "/l/" + l.ID,
		"conversion_url": base + "/c/" + l.ID + ".gif",
		"stats_url":      base + "/api/links/" + l.ID + "/stats",
		"dashboard_url":  base + "/links/" + l.ID,
	})
}

// baseURL is the URL the client reached the service at (its Host header),
// or the listen address when the request has none.
func (a *app) baseURL(r *http.Request) string {
	if r.Host == "" || strings.ContainsAny(r.Host, "/\\ ") {
		return a.base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// click records a click and redirects to the link's target.
func (a *app) click(w http.ResponseWriter, r *http.Request) {
	l, ok := a.lookup(w, r, r.PathValue("id"), true)
	if !ok {
		return
	}
	a.tracker.Track(r, l.ID, clickstore.KindClick)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, l.URL, http.StatusFound)
}

// lookup finds a link, answering 404 when there is none; a click or pixel
// on an unknown link (orphan) is counted.
func (a *app) lookup(w http.ResponseWriter, r *http.Request, id string, orphan bool) (Link, bool) {
	if !validID(id) {
		if orphan {
			a.orphans.Add(1)
		}
		writeError(w, http.StatusNotFound, "no such link")
		return Link{}, false
	}
	l, ok, err := a.links.Get(r.Context(), id)
	if err != nil {
		a.log.Error("get link", "err", err)
		writeError(w, http.StatusServiceUnavailable, "link store unavailable")
		return Link{}, false
	}
	if !ok {
		if orphan {
			a.orphans.Add(1)
		}
		writeError(w, http.StatusNotFound, "no such link")
		return Link{}, false
	}
	return l, true
}

// pixelGIF is a transparent 1x1 GIF.
var pixelGIF = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

// conversion is the pixel /c/{id}.gif: it attributes a conversion to the
// visitor's click on that link within the window, or with /c/any.gif to
// their latest click on any link. It always answers the pixel, so a page
// never breaks because of tracking.
func (a *app) conversion(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("pixel"), ".gif")
	if !ok {
		writeError(w, http.StatusNotFound, "conversion pixels end in .gif")
		return
	}
	link := ""
	if id != "any" {
		if _, ok := a.lookup(w, r, id, true); !ok {
			return
		}
		link = id
	}
	a.tracker.Track(r, link, clickstore.KindConversion)
	w.Header().Set("Content-Type", "image/gif")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(pixelGIF)
}

func (a *app) linkStats(w http.ResponseWriter, r *http.Request) {
	if st, ok := a.statsFor(w, r); ok {
		writeJSON(w, http.StatusOK, st)
	}
}

// statsFor computes the statistics of the link the request names, or
// answers the error itself.
func (a *app) statsFor(w http.ResponseWriter, r *http.Request) (linkStats, bool) {
	l, ok := a.lookup(w, r, r.PathValue("id"), false)
	if !ok {
		return linkStats{}, false
	}
	st, err := a.stats.Link(r.Context(), l, a.now())
	if err != nil {
		a.log.Error("stats", "err", err)
		writeError(w, http.StatusInternalServerError, "could not compute statistics")
		return linkStats{}, false
	}
	return st, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
