package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go4.org/netipx"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/clickstore/geo"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/logmask"
	"github.com/clickanon/clickanon/retention"
)

type config struct {
	addr             string
	db               string // sqlite:PATH or postgres://...
	redis            string
	trustedProxies   string
	exclude          string // comma-separated CIDRs whose clicks are never counted
	clientIPHeader   string // the header the trusted proxies name the client in; "": X-Forwarded-For
	geoIP            string // a MaxMind-format database file, or ""
	demo             bool
	allowPersistence bool
	allowEviction    bool             // accept a Redis server whose maxmemory-policy may evict
	apiToken         string           // if set, link creation needs "Authorization: Bearer <token>"
	createPerMinute  int              // links a network may create a minute; 0: no limit
	storeTimeout     time.Duration    // bound on each call to a store on the request path
	flushInterval    time.Duration    // how often the statistics are written; 0: defaultFlushInterval
	refreshEvery     time.Duration    // how often links created elsewhere are loaded
	closeTimeout     time.Duration    // longest Close waits to write the buffered statistics
	now              func() time.Time // nil means time.Now; tests set it
}

// Defaults of the flags that tests do not set.
const (
	defaultStoreTimeout = 500 * time.Millisecond
	defaultRefreshEvery = 5 * time.Second
	defaultCloseTimeout = 10 * time.Second
)

// app is the link tracker: links, the click tracker and the statistics.
type app struct {
	base      string // the URL the server is reached at, for tracking URLs
	storeName string
	now       func() time.Time
	log       *slog.Logger
	policy    ipmask.Policy
	paths     *logmask.Masker // masks addresses that a visitor writes into a path
	resolver  *clientip.Resolver
	cfg       config

	db      *database
	links   *links
	store   clickstore.Store
	keyring *retention.Keyring
	tracker *track.Tracker
	stats   *statsBook
	sink    *sqlsink.Sink // the statistics, in the database
	limiter *netLimiter
	geo     *geo.DB // nil without -geoip: no countries, no geo redirects
	// registry holds the metrics of /metrics; sweepers are read by /healthz.
	registry *prometheus.Registry
	sweepers []sweeper
	orphans  atomic.Uint64

	closers []func() error
}

func newApp(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.storeTimeout <= 0 {
		cfg.storeTimeout = defaultStoreTimeout
	}
	if cfg.refreshEvery <= 0 {
		cfg.refreshEvery = defaultRefreshEvery
	}
	if cfg.flushInterval == 0 {
		cfg.flushInterval = defaultFlushInterval
	}
	if cfg.closeTimeout <= 0 {
		cfg.closeTimeout = defaultCloseTimeout
	}
	if cfg.db == "" {
		cfg.db = "sqlite:linktracker.db"
	}
	a := &app{now: cfg.now, log: log, policy: ipmask.Default, base: "http://" + cfg.addr, cfg: cfg}
	if err := a.init(ctx, cfg); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// init wires the parts: the links and the statistics in the database,
// the clicks and keys in memory or Redis, the optional geo database, and
// the metrics and sweepers that watch them.
func (a *app) init(ctx context.Context, cfg config) error {
	var err error
	if a.resolver, err = newResolver(cfg.trustedProxies, cfg.clientIPHeader); err != nil {
		return err
	}
	if a.paths, err = logmask.NewMasker(a.policy, nil); err != nil {
		return err
	}
	exclude, err := parseExclude(cfg.exclude)
	if err != nil {
		return err
	}
	if cfg.createPerMinute < 0 {
		return errors.New("-create-per-minute: must be 0 (no limit) or more")
	}
	a.limiter = newNetLimiter(cfg.createPerMinute)
	if cfg.flushInterval < 0 {
		return errors.New("-flush-interval: must be more than 0")
	}

	if a.db, err = openDB(ctx, cfg.db); err != nil {
		return err
	}
	a.closers = append(a.closers, a.db.Close)
	a.links = newLinks(a.db, a.now)
	if err := a.links.Refresh(ctx); err != nil {
		return err
	}

	if a.geo, err = openGeo(cfg.geoIP, &geo.Options{Fields: geo.FieldCountry | geo.FieldContinent, Logger: a.log}); err != nil {
		return err
	}
	if a.geo != nil {
		a.closers = append(a.closers, a.geo.Close)
	}

	var client redis.UniversalClient
	a.storeName = a.db.name + ", clicks in memory"
	if cfg.redis != "" {
		var name string
		if client, name, err = newRedisClient(cfg.redis); err != nil {
			return err
		}
		a.closers = append(a.closers, client.Close)
		a.storeName = a.db.name + ", clicks in " + name
	}
	store, keyring, err := newClickStore(ctx, client, cfg, a.log)
	if err != nil {
		return err
	}
	a.store, a.keyring = store, keyring
	a.closers = append(a.closers, a.store.Close)
	if a.sink, err = newStatsBackend(ctx, a.db, a.now, cfg.flushInterval, a.log); err != nil {
		return err
	}
	// Closed before the database (closers run last first): what the sink
	// buffers is written on shutdown.
	a.closers = append(a.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.closeTimeout)
		defer cancel()
		return a.sink.Close(ctx)
	})
	a.stats = newStatsBook(a.sink, a.now, cfg.storeTimeout)
	a.tracker, err = newClickTracker(a.policy, a.keyring, timeoutStore{a.store, cfg.storeTimeout}, a.stats, a.resolver, exclude, a.now, a.log, enrichCountry(a.geo))
	if err != nil {
		return err
	}
	storeKind := "memory"
	if client != nil {
		storeKind = "redis"
	}
	return a.observe(storeKind)
}

// newResolver believes the header that names the client (X-Forwarded-For
// when header is "", RFC 7239 Forwarded, or a header a proxy sets to one
// address, such as CF-Connecting-IP) only from the listed proxies; from
// anyone else the peer is the client.
func newResolver(cidrs, header string) (*clientip.Resolver, error) {
	if strings.TrimSpace(cidrs) == "" {
		if header != "" {
			return nil, errors.New("-client-ip-header: needs -trusted-proxies, the proxies it is believed from")
		}
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
	var s clientip.Strategy
	switch {
	case header == "", strings.EqualFold(header, clientip.HeaderXForwardedFor):
		s = clientip.RightmostUntrusted(trusted)
	case strings.EqualFold(header, "Forwarded"):
		s = clientip.Forwarded(trusted)
	default:
		s = clientip.SingleHeader(trusted, header)
	}
	r, err := clientip.New(s, clientip.RemoteAddr())
	if err != nil {
		return nil, fmt.Errorf("-client-ip-header: %w", err)
	}
	return r, nil
}

// parseExclude reads -exclude: comma-separated CIDRs or addresses. An
// error names the entry by position and length, never its text, which
// may be an address.
func parseExclude(list string) (*netipx.IPSet, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var b netipx.IPSetBuilder
	for i, c := range strings.Split(list, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if p, err := netip.ParsePrefix(c); err == nil {
			b.AddPrefix(p.Masked())
			continue
		}
		a, err := netip.ParseAddr(c)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("-exclude: entry %d (%d bytes): not a CIDR or an address", i+1, len(c))
		}
		b.Add(a)
	}
	return b.IPSet()
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

// refreshLinks loads the links other instances created, every
// refreshEvery, until ctx ends. A failure is logged and tried again: the
// links already loaded keep redirecting.
func (a *app) refreshLinks(ctx context.Context) {
	t := time.NewTicker(a.cfg.refreshEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, a.cfg.refreshEvery)
		if err := a.links.Refresh(rctx); err != nil {
			a.log.Warn("refresh links", "err", err, "links_held", a.links.Len())
		}
		cancel()
	}
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
	// A click or pixel whose ID is empty or runs over several segments
	// (/l/, /l/ID/, /l/a/b) names no link either: an orphan, answered as
	// the others, not with ServeMux's plain-text 404.
	mux.HandleFunc("GET /l/{rest...}", a.orphan)
	mux.HandleFunc("GET /c/{rest...}", a.orphan)
	mux.HandleFunc("GET /links/{id}", a.dashboard)
	mux.Handle("GET /metrics", a.metricsHandler())
	mux.HandleFunc("GET /healthz", a.healthz)
	return a.accessLog(a.canonical(mux))
}

// canonical redirects a path that is not in canonical form (a doubled
// slash, a dot segment) to its clean form, as ServeMux would, but with
// every address in the path and the query masked: ServeMux's own
// redirect writes both back as they came, in its Location and its body,
// and a visitor may have written their address there. No route of the
// app has an address in its path, so the masked target serves what the
// raw one would.
func (a *app) canonical(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			next.ServeHTTP(w, r) // ServeMux does not clean a CONNECT's path
			return
		}
		p := r.URL.EscapedPath()
		clean := cleanPath(p)
		if clean == p {
			next.ServeHTTP(w, r)
			return
		}
		target := a.maskParts(clean, "/", url.PathEscape)
		if r.URL.RawQuery != "" {
			target += "?" + a.maskParts(r.URL.RawQuery, "&=", url.QueryEscape)
		}
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	})
}

// maskParts masks every address in s, an escaped path or query, part by
// part (the parts are what seps separate): a part that holds one once
// percent-decoded (198%2E51%2E100%2E77, %31%39%38..., also encoded twice)
// is replaced by its decoded text masked and escaped again; any other
// part is kept as it is, with what logmask finds in it masked.
func (a *app) maskParts(s, seps string, escape func(string) string) string {
	if strings.IndexByte(s, '%') < 0 {
		return a.paths.MaskString(s) // nothing encoded: every request's path
	}
	var b strings.Builder
	for s != "" {
		i := strings.IndexAny(s, seps)
		if i < 0 {
			i = len(s)
		}
		part := s[:i]
		d := part
		for range maxDecodes {
			d = percentDecode(d)
		}
		if m := a.paths.MaskString(d); d != part && m != d {
			b.WriteString(escape(m))
		} else {
			b.WriteString(a.paths.MaskString(part))
		}
		if i < len(s) {
			b.WriteByte(s[i])
			i++
		}
		s = s[i:]
	}
	return b.String()
}

// cleanPath is ServeMux's canonical form of a path: rooted, without dot
// segments or doubled slashes, keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// accessLog logs each request with the client's masked network only; the
// query string is left out, since it is the visitor's to fill, and any
// address a visitor writes into the path (/l/203.0.113.9, also
// percent-encoded: see maskParts) or as the method (a token of the
// client's choice too) is masked.
func (a *app) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := a.now()
		next.ServeHTTP(sw, r)
		client := "unknown"
		if addr, err := a.resolver.ResolveRequest(r); err == nil {
			client = a.policy.Prefix(addr).String()
		}
		a.log.Info("request", "method", a.paths.MaskString(r.Method), "path", a.maskParts(r.URL.Path, "/", url.PathEscape), "status", sw.status,
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

// createLink makes a link. With -api-token it needs the token, as the
// credentials of the Authorization header's Bearer scheme, whose name is
// read in any case (HTTP's auth schemes are case-insensitive: "bearer"
// is "Bearer"); each network (the client's masked address, see
// limitNetwork) may create -create-per-minute links a minute.
func (a *app) createLink(w http.ResponseWriter, r *http.Request) {
	if a.cfg.apiToken != "" {
		scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.apiToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="linktracker"`)
			writeError(w, http.StatusUnauthorized, "creating links needs the header Authorization: Bearer <token>")
			return
		}
	}
	addr, err := a.resolver.ResolveRequest(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "the client address could not be determined")
		return
	}
	if !a.limiter.Allow(limitNetwork(a.policy, addr), a.now()) {
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusTooManyRequests, "too many links created from your network; try again in a minute")
		return
	}
	var req struct {
		URL string     `json:"url"`
		Geo geoTargets `json:"geo"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCreateBody))
	dec.DisallowUnknownFields()
	err = dec.Decode(&req)
	if err == nil {
		err = endOfBody(dec)
	}
	if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is longer than %d bytes", maxCreateBody))
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, `body must be JSON like {"url": "https://example.com/"}, optionally with "geo": {"countries": {"DE": "https://…"}, "continents": {"EU": "https://…"}}`)
		return
	}
	if (Link{URL: req.URL, Geo: req.Geo}).holdsAddr(addr) {
		// A link is stored and shown as given: the creator's own address
		// in it would be kept for as long as the link. It is refused, not
		// masked, since a masked URL would send visitors elsewhere.
		writeError(w, http.StatusBadRequest, "the URL holds your own IP address, which would be stored and shown with the link: leave it out")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.storeTimeout*4)
	defer cancel()
	l, err := a.links.Create(ctx, req.URL, req.Geo)
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
		"geo":            l.Geo,
		"created":        l.Created,
		"tracking_url":   base + "/l/" + l.ID,
		"conversion_url": base + "/c/" + l.ID + ".gif",
		"stats_url":      base + "/api/links/" + l.ID + "/stats",
		"dashboard_url":  base + "/links/" + l.ID,
	})
}

// maxCreateBody is the most POST /api/links reads: a link with its geo
// targets fits in far less.
const maxCreateBody = 8 << 10

// errTrailing is a body with more than one JSON value.
var errTrailing = errors.New("data after the JSON object")

// endOfBody returns nil if dec has nothing left but white space: a body
// that holds a second value or anything else after the object is refused,
// not read up to its first value (which one a client meant is not ours to
// guess).
func endOfBody(dec *json.Decoder) error {
	_, err := dec.Token()
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return err
	}
	return errTrailing
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
	target := l.URL
	if !l.Geo.IsZero() {
		// The visitor's country and continent, from the full address, for
		// this moment only: neither the address nor the answer is kept.
		if addr, err := a.resolver.ResolveRequest(r); err == nil {
			target = l.target(a.geo.Lookup(addr))
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target, http.StatusFound)
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
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.storeTimeout)
	defer cancel()
	l, ok, err := a.links.Get(ctx, id)
	if err != nil { // not in memory, and the database cannot say
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

// orphan answers a click or pixel on a path that cannot name a link: 404,
// counted as an orphan click.
func (a *app) orphan(w http.ResponseWriter, r *http.Request) {
	a.orphans.Add(1)
	writeError(w, http.StatusNotFound, "no such link")
}

// pixelGIF is a transparent 1x1 GIF.
var pixelGIF = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

// conversion is the pixel /c/{id}.gif: it attributes a conversion to the
// visitor's click on that link within the window, or with /c/any.gif to
// the latest of their clicks the store holds, which are the first on each
// link (a repeat is counted, not held: A, B, A converts on B). It answers
// the pixel whether or not a
// click is found, so a page never breaks because of tracking; only a
// pixel on a link that does not exist is answered 404 (an orphan). A HEAD
// or a prefetch of the pixel (a browser prerendering a thank-you page the
// visitor may never open) is answered but not counted: nobody converted,
// and the tracker would otherwise attribute it to the visitor's click as
// if they had.
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
	if l := track.BotLabel(r); l != track.LabelHead && l != track.LabelPrefetch {
		a.tracker.Track(r, link, clickstore.KindConversion)
	}
	w.Header().Set("Content-Type", "image/gif")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(pixelGIF)
}

func (a *app) linkStats(w http.ResponseWriter, r *http.Request) {
	if st, ok := a.statsFor(w, r, false); ok {
		writeJSON(w, http.StatusOK, st)
	}
}

// statsFor computes the statistics of the link the request names, or
// answers the error itself: 503 with Retry-After when they take longer
// than their budget (4 -store-timeout), 500 when they cannot be read.
// With ?zeros=true, or dense, the series hold every bucket, not only
// those with clicks; a zeros that is neither true nor false (as
// strconv.ParseBool reads them) is answered 400, not read as false
// (the dashboard, dense, ignores it).
func (a *app) statsFor(w http.ResponseWriter, r *http.Request, dense bool) (linkStats, bool) {
	l, ok := a.lookup(w, r, r.PathValue("id"), false)
	if !ok {
		return linkStats{}, false
	}
	zeros := dense
	if v := r.URL.Query().Get("zeros"); v != "" && !dense {
		var err error
		if zeros, err = strconv.ParseBool(v); err != nil {
			writeError(w, http.StatusBadRequest, "zeros must be true or false")
			return linkStats{}, false
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 4*a.cfg.storeTimeout)
	defer cancel()
	st, err := a.stats.Link(ctx, l, a.now(), zeros)
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		// Its time budget ran out (a slow or locked database): the
		// client may ask again, and should be told so, not that the
		// server failed.
		a.log.Warn("stats: over their time budget", "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "statistics took longer than their time budget; try again")
		return linkStats{}, false
	case err != nil:
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
