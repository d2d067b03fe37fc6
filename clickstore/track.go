package clickstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go4.org/netipx"

	"github.com/clickanon/clickanon/ipmask/clientip"
)

// LinkFunc says which link a request is a click on, or a conversion of. It
// returns ok = false for a request that is neither; the middleware then
// passes it on untouched. For a conversion, link may be "" to attribute it
// to the visitor's latest click on any link. It is called from many
// goroutines at once.
type LinkFunc func(r *http.Request) (link string, kind Kind, ok bool)

// Attributes are the coarse facts an enrichment hook may add to a click. The
// zero value adds nothing.
type Attributes struct {
	// Country is an ISO 3166-1 alpha-2 code ("DE"), or "".
	Country string
	// Device overrides the device class guessed from the user agent
	// ("mobile", "tablet", "desktop"), when not "".
	Device string
}

// TrackOptions configures [NewTracker]. The zero value, and a nil
// *TrackOptions, mean the defaults given field by field. NewTracker copies
// what it needs; changing the struct afterwards has no effect.
type TrackOptions struct {
	// Resolver finds the client's address. Nil means the connecting
	// peer's address alone (http.Request.RemoteAddr), the only choice
	// that no client can spoof; behind a proxy, configure one with
	// clientip.New and the proxy's addresses.
	Resolver *clientip.Resolver

	// Exclude lists addresses whose requests are never counted: the
	// service's own offices, uptime monitors. Nil excludes nothing. It is
	// checked against the full address, before masking.
	Exclude *netipx.IPSet

	// OptOutHeader names a request header that, when its value is "1",
	// keeps the request from being counted ("Sec-GPC" honours Global
	// Privacy Control). "" checks no header.
	OptOutHeader string

	// OptOutParam names a query parameter that, when present with a value
	// other than "" or "0", keeps the request from being counted. ""
	// checks no parameter.
	OptOutParam string

	// Bot labels requests a person did not make; "" means human. Nil
	// means [BotLabel]. A labelled click is counted as a bot click and
	// never as unique.
	Bot func(r *http.Request) string

	// Enrich sees the full client address, for the moment the request
	// lasts, and returns coarse attributes (a country from a geo lookup,
	// say). It must not keep the address. Nil adds nothing.
	Enrich func(r *http.Request, addr netip.Addr) Attributes

	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Visit is what the tracker did with one request, for the handler it wraps
// (read it with [VisitFromContext]). It holds no address and no pseudonym.
// It is a small comparable value; the zero Visit means the request was not
// tracked.
type Visit struct {
	// Link is the link the click was on, or the conversion attributed to
	// ("" when none was found).
	Link string
	// Kind is KindClick or KindConversion.
	Kind Kind
	// Outcome says what happened to the request.
	Outcome Outcome
	// Uniqueness is Unique for a visitor's first click on the link within
	// the window, Repeat for a later one or a bot, UniqueUnknown if the
	// store failed.
	Uniqueness Uniqueness
	// Bot is the bot label, or "".
	Bot string
}

// Outcome says what the tracker did with a request. The zero Outcome is
// NotTracked.
type Outcome uint8

const (
	// NotTracked: the link function did not name a link.
	NotTracked Outcome = iota
	// Counted: the click or conversion was counted.
	Counted
	// Excluded: the address is in TrackOptions.Exclude.
	Excluded
	// OptedOut: the request carried the opt-out header or parameter.
	OptedOut
	// Unresolved: the client address could not be found; nothing was
	// counted, since nothing could be pseudonymized.
	Unresolved
	// Unattributed: a conversion with no click of the visitor's within the
	// window.
	Unattributed
	// Failed: the click could not be built (the keyring failed) and was
	// not counted.
	Failed
)

var outcomeNames = [...]string{"not-tracked", "counted", "excluded", "opted-out", "unresolved", "unattributed", "failed"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// TrackStats counts what a Tracker did since it was made. It is a plain
// value, a snapshot; the zero TrackStats counts nothing.
type TrackStats struct {
	Clicks, Conversions, Excluded, OptedOut, Unresolved, Unattributed uint64
	// StoreFailures counts clicks counted with unknown uniqueness because
	// the Store failed, and conversions not attributed for that reason.
	StoreFailures uint64
	// SinkFailures counts clicks and conversions the Sink refused.
	SinkFailures uint64
	// BuildFailures counts requests not counted because the keyring failed.
	BuildFailures uint64
}

// Tracker records clicks and conversions: it finds the client's address,
// applies exclusions, opt-outs and bot labels, builds a [Click] with a
// [Builder], records it in a [Store] and adds it to a [Sink]. Only inside
// [Tracker.Track] is the full address used; what leaves it is masked.
//
// A Tracker is safe for concurrent use. The zero Tracker is not usable; make
// one with [NewTracker].
type Tracker struct {
	builder *Builder
	store   Store
	sink    Sink
	opts    TrackOptions

	clicks, conversions, excluded, optedOut, unresolved, unattributed atomic.Uint64
	storeFailures, sinkFailures, buildFailures                        atomic.Uint64
}

// NewTracker returns a Tracker that builds clicks with b, records them in
// store and counts them in sink. All three are required.
func NewTracker(b *Builder, store Store, sink Sink, opts *TrackOptions) (*Tracker, error) {
	switch {
	case b == nil:
		return nil, errors.New("clickstore: NewTracker: nil *Builder")
	case store == nil:
		return nil, errors.New("clickstore: NewTracker: nil Store")
	case sink == nil:
		return nil, errors.New("clickstore: NewTracker: nil Sink")
	}
	t := &Tracker{builder: b, store: store, sink: sink}
	if opts != nil {
		t.opts = *opts
	}
	if t.opts.OptOutHeader != "" {
		if !validHeaderName(t.opts.OptOutHeader) {
			return nil, fmt.Errorf("clickstore: NewTracker: OptOutHeader %q is not a header name", t.opts.OptOutHeader)
		}
		t.opts.OptOutHeader = http.CanonicalHeaderKey(t.opts.OptOutHeader)
	}
	if t.opts.Bot == nil {
		t.opts.Bot = BotLabel
	}
	if t.opts.Now == nil {
		t.opts.Now = time.Now
	}
	return t, nil
}

// Track counts r as a click on link (kind KindClick) or a conversion (kind
// KindConversion; link "" attributes it to the visitor's latest click on any
// link) and reports what it did. A Store or Sink failure is counted in
// [Tracker.Stats] and reflected in the Visit, never returned: the visitor's
// request must be served anyway.
func (t *Tracker) Track(r *http.Request, link string, kind Kind) Visit {
	v := Visit{Link: link, Kind: kind}
	if kind != KindClick && kind != KindConversion {
		v.Outcome = Failed
		t.buildFailures.Add(1)
		return v
	}
	// 1. The client's address: the peer's unless a resolver trusts a proxy.
	addr, err := t.opts.Resolver.ResolveRequest(r)
	if err != nil {
		v.Outcome = Unresolved
		t.unresolved.Add(1)
		return v
	}
	// 2. Exclusions and opt-outs.
	if t.opts.Exclude != nil && t.opts.Exclude.Contains(addr) {
		v.Outcome = Excluded
		t.excluded.Add(1)
		return v
	}
	if t.isOptedOut(r) {
		v.Outcome = OptedOut
		t.optedOut.Add(1)
		return v
	}
	// 3. Bot label.
	v.Bot = t.opts.Bot(r)
	// 4. Enrichment sees the full address, and only here.
	var attrs Attributes
	if t.opts.Enrich != nil {
		attrs = t.opts.Enrich(r, addr)
	}
	// 5. Pseudonym and masked network.
	ctx := r.Context()
	ua := r.Header.Get("User-Agent")
	now := t.opts.Now()
	buildLink := link
	if buildLink == "" {
		buildLink = "-" // Build wants a link; a conversion's comes from the store
	}
	c, err := t.builder.Build(ctx, addr, ua, buildLink, now)
	// 6. The raw address is not used past this point.
	addr = netip.Addr{}
	if err != nil {
		v.Outcome = Failed
		t.buildFailures.Add(1)
		return v
	}
	c.Kind = kind
	c.Bot = v.Bot
	c.Country = countryCode(attrs.Country) // a hook's mistake must not make the store refuse the click
	c.Device = attrs.Device
	if c.Device == "" {
		c.Device = DeviceClass(ua)
	}
	c.Referrer = referrerHost(r.Header.Get("Referer"))
	if len(c.Bot) > MaxLabelLen {
		c.Bot = c.Bot[:MaxLabelLen]
	}
	if len(c.Device) > MaxLabelLen {
		c.Device = ""
	}

	if kind == KindConversion {
		return t.convert(ctx, c, link, v)
	}
	first, err := t.store.Record(ctx, c)
	v.Uniqueness = UniquenessOf(first, err)
	if err != nil {
		t.storeFailures.Add(1)
	}
	if v.Bot != "" {
		v.Uniqueness = Repeat // a bot is never unique
	}
	t.clicks.Add(1)
	v.Outcome = Counted
	if err := t.sink.Add(ctx, c, v.Uniqueness); err != nil {
		t.sinkFailures.Add(1)
	}
	return v
}

// convert attributes a conversion to the visitor's latest click.
func (t *Tracker) convert(ctx context.Context, c Click, link string, v Visit) Visit {
	held, ok, err := t.store.Latest(ctx, c.Visitor, c.PrevVisitor, link)
	switch {
	case err != nil:
		t.storeFailures.Add(1)
		fallthrough
	case !ok:
		v.Outcome = Unattributed
		v.Link = ""
		t.unattributed.Add(1)
		return v
	}
	c.Link = held.Link
	v.Link = held.Link
	v.Outcome = Counted
	v.Uniqueness = UniqueUnknown
	t.conversions.Add(1)
	if err := t.sink.Add(ctx, c, v.Uniqueness); err != nil {
		t.sinkFailures.Add(1)
	}
	return v
}

func (t *Tracker) isOptedOut(r *http.Request) bool {
	if t.opts.OptOutHeader != "" {
		if vs := r.Header[t.opts.OptOutHeader]; len(vs) > 0 && strings.TrimSpace(vs[0]) == "1" {
			return true
		}
	}
	if t.opts.OptOutParam != "" && r.URL != nil && r.URL.RawQuery != "" {
		if v := queryParam(r.URL.RawQuery, t.opts.OptOutParam); v != "" && v != "0" {
			return true
		}
	}
	return false
}

// queryParam returns the first value of key in the raw query, as
// url.Values.Get would, without building the map: it allocates only to
// unescape a key or value that needs it.
func queryParam(raw, key string) string {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				continue
			}
		}
		if k != key {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				continue
			}
		}
		return v
	}
	return ""
}

// Stats returns what the tracker has counted so far.
func (t *Tracker) Stats() TrackStats {
	return TrackStats{
		Clicks:        t.clicks.Load(),
		Conversions:   t.conversions.Load(),
		Excluded:      t.excluded.Load(),
		OptedOut:      t.optedOut.Load(),
		Unresolved:    t.unresolved.Load(),
		Unattributed:  t.unattributed.Load(),
		StoreFailures: t.storeFailures.Load(),
		SinkFailures:  t.sinkFailures.Load(),
		BuildFailures: t.buildFailures.Load(),
	}
}

type visitKey struct{}

// visitContext carries a Visit. It is context.WithValue in one allocation
// instead of two (the node and the boxed Visit).
type visitContext struct {
	context.Context
	visit Visit
}

func (c *visitContext) Value(key any) any {
	if key == (visitKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// VisitFromContext returns the Visit the [Tracker.Middleware] stored in ctx.
func VisitFromContext(ctx context.Context) (Visit, bool) {
	if c, ok := ctx.Value(visitKey{}).(*visitContext); ok {
		return c.visit, true
	}
	return Visit{}, false
}

// Middleware returns net/http middleware that tracks every request link
// names, then serves it with the wrapped handler, which can read the outcome
// with [VisitFromContext]. Requests link does not name pass through
// untouched. A nil link is an error.
func (t *Tracker) Middleware(link LinkFunc) (func(http.Handler) http.Handler, error) {
	if link == nil {
		return nil, errors.New("clickstore: Tracker.Middleware: nil LinkFunc")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l, kind, ok := link(r)
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			v := t.Track(r, l, kind)
			next.ServeHTTP(w, r.WithContext(&visitContext{r.Context(), v}))
		})
	}, nil
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}
