package track

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"net/http"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go4.org/netipx"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/burstlog"
	"github.com/clickanon/clickanon/internal/hostaddr"
	"github.com/clickanon/clickanon/internal/reqctx"
	"github.com/clickanon/clickanon/internal/wallclock"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/logmask"
	"github.com/clickanon/clickanon/retention"
)

// ErrMaskedAddr is what the tracker logs when the client address it finds
// is already masked: a middleware in front of it replaced RemoteAddr with a
// masked network without handing the tracker the full address. Counting
// such requests would make every visitor of a network one visitor, so they
// are not counted (Outcome [Unresolved], [Stats].MaskedAddrs; an IPv4
// address ending in .0 once four come in a row, see the package
// documentation). Put the
// tracker in front of the masking middleware, or use the one of package
// ipmask/clientip, which hands the full address on to the tracker.
var ErrMaskedAddr = errors.New("track: the client address is already masked: a middleware in front of the tracker masked RemoteAddr and did not hand on the full address")

// DefaultNetworkQuota is how many clicks one masked network may have held
// in the store at once unless [Options].NetworkQuota says otherwise.
const DefaultNetworkQuota = 4096

// DefaultAgentCache is how many distinct user agents the tracker keeps the
// classification of unless [Options].AgentCache says otherwise.
const DefaultAgentCache = 4096

// MaxAgentCache is the largest [Options].AgentCache: a table of 16 Mi
// entries, 128 MiB of pointers before any entry.
const MaxAgentCache = 1 << 24

// Attributes are the coarse facts an enrichment hook may add to a click. It
// is a plain value, safe to copy and share; the zero value adds nothing.
type Attributes struct {
	// Country is a country code of two ASCII letters ("DE"), or "". It
	// is kept in upper case ("de" as "DE") whichever two letters they
	// are, as geo databases give them: besides ISO 3166-1 alpha-2 codes,
	// MaxMind's EU and AP (a network known only to be in Europe, or in
	// Asia and the Pacific), XK (Kosovo) and ZZ (unknown) are kept.
	// Anything else ("DEU", "A1", "Germany") is dropped.
	Country string
	// Device overrides the device class the classifier gave ("mobile",
	// "tablet", "desktop"), when not "". One longer than
	// clickstore.MaxLabelLen, not valid UTF-8, or holding an address (as
	// the Builder's policy would mask it, percent-encoded, or with dashes
	// for its dots or colons) is dropped: it would persist in the device
	// breakdown.
	Device string
}

// Options configures [New]. The zero value, and a nil *Options, mean the
// defaults given field by field. New copies what it needs; changing the
// struct afterwards has no effect.
type Options struct {
	// Resolver finds the client's address when no clientip middleware in
	// front of the tracker already did (behind a proxy, give it the one
	// the middleware has). Nil means the connecting peer's
	// address alone (http.Request.RemoteAddr), the only choice that no
	// client can spoof; behind a proxy, configure one with clientip.New
	// and the proxy's addresses.
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

	// Classify tells from a user agent whether a person made the request
	// and on what class of device. Nil means [Classify]. Its answers are
	// cached per user agent (see AgentCache), so it must depend on the
	// user agent alone; HEAD and OPTIONS requests and prefetches are
	// labelled bots whatever it says (see [BotLabel]). Its labels persist in the
	// Sink's breakdowns, so a label that is not valid UTF-8 or holds an
	// address (a parser can take a device model from the agent's text,
	// where a client may write one; also percent-encoded) is not kept:
	// such a bot label becomes [LabelBot], such a device class "". A bot
	// label is cut to clickstore.MaxLabelLen bytes.
	Classify func(userAgent string) Agent

	// AgentCache is how many distinct user agents keep their
	// classification in the tracker's cache; 0 means DefaultAgentCache.
	// Negative, or more than MaxAgentCache, is an error. The cache holds no agent's text (a user agent
	// can carry its sender's address), only a keyed hash of it, its
	// digest for the pseudonym and its classification, each for at most
	// one Window from the request that classified it; a timer clears
	// expired entries whether or not requests come (with those due within
	// a 64th of the Window, so that it scans the cache at most 64 times a
	// Window). An agent longer than 1 KiB
	// is not cached: it is classified by its first KiB on every request.
	AgentCache int

	// Enrich sees the full client address, for the moment the request
	// lasts, and returns coarse attributes (a country from a geo lookup,
	// say). It must not keep the address. Nil adds nothing.
	Enrich func(r *http.Request, addr netip.Addr) Attributes

	// PathValue names the path wildcard [Tracker.Handler] and
	// [Tracker.ConversionHandler] read the link from ("/go/{link}"). ""
	// means "link". Anything but a wildcard name (a Go identifier, as
	// ServeMux wants: "link", not "{link}" nor "link...") is an error.
	PathValue string

	// NetworkQuota is how many clicks of one masked network (as the
	// Builder's policy masks: a /24, a /48; for an IPv6 address that
	// carries the visitor's IPv4 address, such as a NAT64 one, the
	// network of that IPv4 address) the tracker lets the store hold at
	// once; past it the network's clicks are still counted but
	// not recorded, with unknown uniqueness and [Visit].OverQuota set,
	// so that a flood from one network cannot fill the store (a visitor
	// whose click the store already holds is still told Repeat). Clicks
	// racing past the check at once may overshoot it by as many. 0 means
	// DefaultNetworkQuota; a negative quota turns the check off. It is
	// per Tracker: several instances sharing a Redis store each allow
	// their quota, and a Tracker made anew (a restart) counts from none,
	// however many clicks of the network a shared store still holds
	// from before. It is the tracker's own count of the first clicks it
	// had the store take, kept in eighths of the Window and erring towards
	// the store's room: a click taken at t counts against its network
	// until up to t+Window+Window/8, an eighth of a window after the store
	// forgot it, and clicks erased from the store (EraseVisitor,
	// EraseLink) count until then too. It is a quota per network, not a
	// cap on a flood: a flood spread over many networks (the /24s of an
	// IPv4 /16, the /48s of an IPv6 /32, which one holder may have) takes
	// the quota of each and can fill the store; the store then refuses new
	// clicks, which are counted with unknown uniqueness ([Stats].StoreFull),
	// while the visitors it holds keep exact answers. The quota keeps an
	// entry (about 120 bytes) per network with a click the store took
	// within the window, so a flood from many networks grows it no further
	// than the store's capacity.
	NetworkQuota int

	// Window is how long the store holds a click, for the quota's
	// bookkeeping, and how long the agent cache keeps an entry. 0 means retention.DefaultWindow, the default of every
	// store in this module. Negative is an error.
	Window time.Duration

	// Logger receives ErrMaskedAddr when the tracker finds a masked
	// client address, and a warning when Handler serves a route without
	// the PathValue wildcard (each at the first, second, fourth,
	// eighth... such request). It also receives the failures of the Store,
	// of the Sink and of the Builder (a keyring that fails with no local
	// key to stand in, or is closed: the click is lost, Outcome Failed),
	// once per burst each: a warning at a burst's first
	// failure, then at most one a minute with the count of those not
	// logged, and one line when the Store or Sink works again; error text
	// is logged with every address masked by the Builder's policy. It
	// never receives an address. Nil means slog.Default().
	Logger *slog.Logger

	// Now is the clock. Nil means the wall clock, read as time.Now reads
	// it but for the price of the monotonic clock alone (a step of the
	// wall clock is seen within 10 ms of monotonic time).
	Now func() time.Time
}

// Visit is what the tracker did with one request. It holds no address and
// no pseudonym. It is a small comparable value, safe to copy and share; the
// zero Visit means the request was not tracked.
type Visit struct {
	// Link is the link the click was on, or the conversion attributed to
	// ("" when none was found).
	Link string
	// Kind is KindClick or KindConversion.
	Kind clickstore.Kind
	// Outcome says what happened to the request.
	Outcome Outcome
	// Uniqueness is Unique for a visitor's first click on the link within
	// the window, Repeat for a later one or a bot, UniqueUnknown if the
	// store failed, the keyring's store failed (a local key stood in), or
	// the visitor's network is over its quota.
	Uniqueness clickstore.Uniqueness
	// Bot is the bot label, or "".
	Bot string
	// OverQuota is set when the click was counted but not recorded in the
	// store because its network holds as many clicks as the quota allows
	// (a visitor whose click the store holds is still told Repeat).
	OverQuota bool
}

// Outcome says what the tracker did with a request. It is a small
// comparable value, safe to copy and share; the zero Outcome is
// NotTracked.
type Outcome uint8

const (
	// NotTracked: there was no link to count the request on.
	NotTracked Outcome = iota
	// Counted: the click or conversion was counted.
	Counted
	// Excluded: the address is in Options.Exclude.
	Excluded
	// OptedOut: the request carried the opt-out header or parameter.
	OptedOut
	// Unresolved: the client address could not be found (also by the
	// clientip middleware, which then serves the request with the peer's
	// address), or was already masked ([ErrMaskedAddr]); nothing was
	// counted, since nothing could be pseudonymized.
	Unresolved
	// Unattributed: a conversion with no click of the visitor's within the
	// window.
	Unattributed
	// Failed: the click could not be built (a nil request, an invalid
	// link or kind, the keyring failed with no local key to stand in)
	// and was not counted. A link is invalid when it is empty, longer
	// than clickstore.MaxLinkLen or not text a store takes
	// (clickstore.IsText). One longer than 128 KiB, 512 times what a
	// store takes, is not read at all, and the Visit does not hand it
	// back.
	Failed
)

var outcomeNames = [...]string{"not-tracked", "counted", "excluded", "opted-out", "unresolved", "unattributed", "failed"}

// String returns the outcome's name ("counted"), or "Outcome(N)".
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Stats counts what a Tracker did since it was made. It is a plain value, a
// snapshot, safe to copy and share; the zero Stats counts nothing. It holds counts only: no address,
// network, pseudonym, link or user agent.
type Stats struct {
	// Clicks and Conversions count what was counted (Outcome Counted).
	Clicks, Conversions uint64
	// Unique, Repeat and UniqueUnknown split Clicks by uniqueness.
	Unique, Repeat, UniqueUnknown uint64
	// Bots counts the clicks that carried a bot label (all are Repeat).
	Bots uint64
	// Excluded, OptedOut, Unresolved and Unattributed count requests by
	// those outcomes.
	Excluded, OptedOut, Unresolved, Unattributed uint64
	// MaskedAddrs counts the Unresolved requests whose address was
	// already masked (see ErrMaskedAddr).
	MaskedAddrs uint64
	// OverQuota counts clicks counted but not recorded because their
	// network was at its quota (they are UniqueUnknown).
	OverQuota uint64
	// StoreFailures counts clicks counted with unknown uniqueness because
	// the Store failed, and conversions not attributed for that reason.
	StoreFailures uint64
	// StoreFull counts the StoreFailures that were the store being full
	// (clickstore.ErrFull): stores refuse new clicks rather than evict.
	StoreFull uint64
	// SinkFailures counts clicks and conversions the Sink refused.
	SinkFailures uint64
	// KeyFallbacks counts requests whose pseudonym was computed under a
	// local key because the keyring's key store failed (see
	// retention.ErrLocalKey): their clicks are counted with unknown
	// uniqueness and not recorded in the Store, and their conversions are
	// not attributed.
	KeyFallbacks uint64
	// BuildFailures counts requests not counted because the click could
	// not be built (Outcome Failed), and those the handlers of Handler,
	// ConversionHandler or Middleware got with a nil ResponseWriter or
	// Request (answered 500 when there is a writer, and logged).
	BuildFailures uint64
	// Unserved counts requests that Handler, ConversionHandler or
	// Middleware did not count because the wrapped handler answered with
	// a status of 400 or more (an unknown link, say), answered after an
	// http.TimeoutHandler's deadline, or hijacked the connection.
	Unserved uint64
	// NoLink counts requests Handler did not count because their route
	// has no path wildcard of the name Options.PathValue gives.
	NoLink uint64
}

// Tracker counts clicks and conversions: it finds the client's address,
// applies exclusions, opt-outs and bot labels, builds a [clickstore.Click]
// with a [clickstore.Builder], records it in a [clickstore.Store] and adds
// it to a [clickstore.Sink]. Only inside [Tracker.Track] is the full
// address used; what leaves it is masked.
//
// A Tracker is safe for concurrent use. The zero Tracker is not usable; make
// one with [New]. A nil or zero Tracker does not panic: its Track reports
// Outcome [Failed], its Stats are zero, its Middleware is an error, and
// the handlers of its Handler and ConversionHandler serve every request
// with the wrapped handler, count nothing and say so in slog.Default's
// log.
type Tracker struct {
	builder  *clickstore.Builder
	policy   ipmask.Policy
	store    clickstore.Store
	sink     clickstore.Sink
	opts     Options
	agents   *agentCache
	addrs    addrText // finds addresses in labels and links
	quota    *quota
	logger   *slog.Logger
	wall     *wallclock.Clock // opts.Now's, read without an indirect call, when Now is nil
	storeLog failLog          // the Store's failures, once per burst
	sinkLog  failLog          // the Sink's
	buildLog failLog          // the Builder's (its keyring's)
	maskRun  atomic.Int64     // consecutive IPv4 addresses that looked masked
	counters [nCounters]atomic.Uint64
}

// The counters behind Stats, indexed. Clicks is their sum of Unique,
// Repeat and UniqueUnknown, each click being counted in one: an atomic
// add fewer per click.
const (
	cConversions = iota
	cUnique
	cRepeat
	cUnknown
	cBots
	cExcluded
	cOptedOut
	cUnresolved
	cUnattributed
	cMasked
	cOverQuota
	cStoreFailures
	cStoreFull
	cSinkFailures
	cKeyFallbacks
	cBuildFailures
	cUnserved
	cNoLink
	nCounters
)

func (t *Tracker) count(i int) uint64 { return t.counters[i].Add(1) }

// now reads the tracker's clock.
func (t *Tracker) now() time.Time {
	if t.wall != nil {
		return t.wall.Now()
	}
	return t.opts.Now()
}

// New returns a Tracker that builds clicks with b, records them in store
// and counts them in sink. All three are required (a nil pointer in the
// store or sink interface, such as a nil *clickstore.Memory, is an
// error too); a nil opts means the defaults.
func New(b *clickstore.Builder, store clickstore.Store, sink clickstore.Sink, opts *Options) (*Tracker, error) {
	switch {
	case b == nil:
		return nil, errors.New("track: New: nil *clickstore.Builder")
	case store == nil:
		return nil, errors.New("track: New: nil clickstore.Store")
	case sink == nil:
		return nil, errors.New("track: New: nil clickstore.Sink")
	case isNilPointer(store):
		return nil, fmt.Errorf("track: New: nil clickstore.Store (a nil %T)", store)
	case isNilPointer(sink):
		return nil, fmt.Errorf("track: New: nil clickstore.Sink (a nil %T)", sink)
	}
	t := &Tracker{builder: b, policy: b.Policy(), store: store, sink: sink}
	if opts != nil {
		t.opts = *opts
	}
	o := &t.opts
	if o.OptOutHeader != "" {
		if !validHeaderName(o.OptOutHeader) {
			return nil, fmt.Errorf("track: New: OptOutHeader (%d bytes) is not a header name", len(o.OptOutHeader))
		}
		o.OptOutHeader = http.CanonicalHeaderKey(o.OptOutHeader)
	}
	if o.PathValue == "" {
		o.PathValue = "link"
	}
	if !wildcardName(o.PathValue) {
		return nil, fmt.Errorf("track: New: PathValue (%d bytes) is not a wildcard name (a Go identifier)", len(o.PathValue))
	}
	if o.AgentCache < 0 {
		return nil, fmt.Errorf("track: New: AgentCache %d is negative", o.AgentCache)
	}
	if o.AgentCache > MaxAgentCache {
		return nil, fmt.Errorf("track: New: AgentCache %d is more than %d", o.AgentCache, MaxAgentCache)
	}
	if o.Window < 0 {
		return nil, fmt.Errorf("track: New: Window %v is negative", o.Window)
	}
	if o.Classify == nil {
		o.Classify = Classify
	}
	if o.AgentCache == 0 {
		o.AgentCache = DefaultAgentCache
	}
	if o.Window == 0 {
		o.Window = retention.DefaultWindow
	}
	if o.NetworkQuota == 0 {
		o.NetworkQuota = DefaultNetworkQuota
	}
	if o.Now == nil {
		t.wall = wallclock.New()
		o.Now = t.wall.Now
	}
	t.logger = o.Logger
	if t.logger == nil {
		t.logger = slog.Default()
	}
	masker, err := logmask.NewMasker(t.policy, nil)
	if err != nil {
		return nil, fmt.Errorf("track: New: log masker: %w", err)
	}
	for _, l := range [...]*failLog{&t.storeLog, &t.sinkLog, &t.buildLog} {
		l.log.Logger, l.log.Mask = t.logger, masker.MaskString
	}
	t.addrs.mask = masker.MaskString
	if tp := textPolicy(t.policy); tp != t.policy {
		tm, err := logmask.NewMasker(tp, nil)
		if err != nil {
			return nil, fmt.Errorf("track: New: link masker: %w", err)
		}
		t.addrs.mask = tm.MaskString
	}
	t.agents = newAgentCache(o.AgentCache, o.Window, o.Now, t.classify)
	if o.NetworkQuota > 0 {
		t.quota = newQuota(o.NetworkQuota, o.Window)
	}
	return t, nil
}

// classify is Options.Classify with its labels as a click keeps them:
// the bot label cut to what a store takes, or LabelBot if it is not text
// or spells an address, and a device class dropped if it is too long, not
// text or spells an address. The checks depend on the label alone, so
// the agent cache keeps their outcome, and a request pays for none of
// them.
func (t *Tracker) classify(userAgent string) Agent {
	a := t.opts.Classify(userAgent)
	return Agent{Bot: t.addrs.bot(a.Bot), Device: t.addrs.device(a.Device)}
}

// Track counts r as a click on link (kind KindClick) or a conversion (kind
// KindConversion; link "" attributes it to the latest click the Store holds
// of the visitor on any link, their first on each) and reports what it did. An address in link (a visitor may name the
// link, as an outbound URL say) is masked by the Builder's policy, or by
// ipmask.Default where that keeps more bits, in every form the
// ipmask/logmask masker finds, also percent-encoded (once or more: a
// part of the link that holds an address once decoded is replaced by
// its decoded text masked and escaped again), before the link is used
// or kept. Call it from a handler once the link is
// known to exist; [Tracker.Handler] does that for a ServeMux route. A Store
// or Sink failure is counted in [Tracker.Stats] and reflected in the Visit,
// never returned: the visitor's request must be served anyway.
//
// Track does not allocate once the visitor's user agent is in the cache
// and the keyring's keys are, with the Memory store.
func (t *Tracker) Track(r *http.Request, link string, kind clickstore.Kind) Visit {
	if t.unusable() != "" {
		// No masker to make the link safe to hand back: it is left out.
		return Visit{Kind: kind, Outcome: Failed}
	}
	if r == nil {
		return t.track(nil, nil, link, kind)
	}
	return t.track(r.Context(), r, link, kind)
}

// maxReadLink is the longest link the tracker masks: 512 times
// clickstore.MaxLinkLen, more than masking and decoding can shrink any
// link a person writes by, while masking a path of a megabyte costs
// milliseconds. A longer link is Failed unread.
const maxReadLink = 128 << 10

// track is Track with the context the store and the sink are called with.
func (t *Tracker) track(ctx context.Context, r *http.Request, link string, kind clickstore.Kind) Visit {
	if len(link) > maxReadLink {
		t.count(cBuildFailures)
		return Visit{Kind: kind, Outcome: Failed}
	}
	if hostaddr.MayHold(link) {
		// The link persists as the aggregates' key, and a visitor may
		// have named it: an address in it is masked, as the clientip
		// middleware masks the client's own in the URL.
		link = t.addrs.mask(link)
		// MayHold reports true for every link with a '%', so a link it
		// turned down holds no escape an address could hide behind:
		// the search for one runs only here.
		if strings.IndexByte(link, '%') >= 0 {
			link = t.addrs.maskEncoded(link) // as encoded as a URL may leave it
		}
	}
	v := Visit{Link: link, Kind: kind}
	if r == nil || (kind != clickstore.KindClick && kind != clickstore.KindConversion) || !clickstore.IsText(link) {
		v.Outcome = Failed
		t.count(cBuildFailures)
		return v
	}
	// 1. The client's address: the one the clientip middleware resolved,
	// else the peer's unless a resolver trusts a proxy.
	addr, err := t.clientAddr(r)
	if err != nil {
		v.Outcome = Unresolved
		t.count(cUnresolved)
		return v
	}
	// 2. Exclusions and opt-outs.
	if t.opts.Exclude != nil && t.opts.Exclude.Contains(addr) {
		v.Outcome = Excluded
		t.count(cExcluded)
		return v
	}
	if t.isOptedOut(r) {
		v.Outcome = OptedOut
		t.count(cOptedOut)
		return v
	}
	// 3. What the user agent says, classified once per distinct agent
	// and window.
	now := t.now()
	ag := t.agents.get(header(r.Header, "User-Agent"), now)
	v.Bot = requestBot(r)
	if v.Bot == "" {
		// A classifier's label persists: it was cut to what a store
		// takes, and one that spells an address made LabelBot, when
		// the agent was classified (see classify).
		v.Bot = ag.agent.Bot
	}
	// 4. Enrichment sees the full address, and only here.
	var attrs Attributes
	if t.opts.Enrich != nil {
		attrs = t.opts.Enrich(r, addr)
	}
	// 5. Pseudonym and masked network.
	buildLink := link
	if buildLink == "" && kind == clickstore.KindConversion {
		buildLink = "-" // Build wants a link; a conversion's comes from the store
	}
	c, err := t.builder.BuildDigest(ctx, addr, ag.digest, buildLink, now)
	quotaNet := t.quotaNetwork(addr, c.Network)
	// 6. The raw address is not used past this point.
	addr = netip.Addr{}
	// A local key stands in for the shared one: the click is whole, but
	// its pseudonym matches no other instance's.
	local := err != nil && errors.Is(err, retention.ErrLocalKey)
	if err != nil && !local {
		v.Outcome = Failed
		t.count(cBuildFailures)
		if !errors.Is(err, clickstore.ErrInvalidClick) {
			// Not the request's fault (a link too long is): the keyring
			// failed with no local key to stand in, or was closed, and
			// every click is lost until it works again.
			t.buildLog.fail(ctx, now, "track: the click could not be built; it is not counted", err)
		}
		return v
	}
	t.buildLog.ok(ctx, now, "track: clicks are built again")
	if local {
		t.count(cKeyFallbacks)
	}
	c.Kind = kind
	// Text from a classifier, a hook or the request must not make the
	// store refuse the click, nor carry an address into it: it is cut or
	// dropped to what clickstore.Click.Validate takes, and dropped if it
	// spells an address.
	c.Bot = v.Bot
	c.Country = countryCode(attrs.Country)
	c.Device = ag.agent.Device // checked when the agent was classified
	if attrs.Device != "" {
		c.Device = t.addrs.device(attrs.Device)
	}
	c.Referrer = referrerHost(header(r.Header, "Referer")) // ASCII host names only

	if kind == clickstore.KindConversion {
		return t.convert(ctx, c, link, v, local, now)
	}
	v.Uniqueness, v.OverQuota = t.record(ctx, &c, quotaNet, v.Bot != "", local, now)
	switch v.Uniqueness {
	case clickstore.Unique:
		t.count(cUnique)
	case clickstore.Repeat:
		t.count(cRepeat)
	default:
		t.count(cUnknown)
	}
	v.Outcome = Counted
	t.add(ctx, &c, v.Uniqueness, now)
	return v
}

// add counts c in the sink, without the raw address a Builder with
// KeepRawAddr puts in it (it is cleared in c): that is for the store's
// window, and the sink is what persists.
func (t *Tracker) add(ctx context.Context, c *clickstore.Click, u clickstore.Uniqueness, now time.Time) {
	c.RawAddr = netip.Addr{}
	if err := t.sink.Add(ctx, *c, u); err != nil {
		t.count(cSinkFailures)
		t.sinkLog.fail(ctx, now, "track: the sink failed; the click or conversion is not counted", err)
		return
	}
	t.sinkLog.ok(ctx, now, "track: the sink works again")
}

// storeFailed counts and logs a failure of the store.
func (t *Tracker) storeFailed(ctx context.Context, now time.Time, err error) {
	t.count(cStoreFailures)
	full := errors.Is(err, clickstore.ErrFull)
	if full {
		t.count(cStoreFull)
	}
	t.storeLog.fail(ctx, now, "track: the store failed; clicks are counted with uniqueness unknown and conversions are not attributed", err,
		slog.Bool("full", full))
}

// quotaNetwork returns the network whose clicks the quota counts addr's
// among: its masked network, or, for an IPv6 address that carries the
// visitor's IPv4 address (NAT64 and SIIT, IPv4-compatible, Teredo, 6to4),
// the network the policy masks that IPv4 address to. Every such visitor
// shares one masked IPv6 network (64:ff9b::/48), which one IPv4 network's
// flood would otherwise put over the quota. An ISATAP interface
// identifier's IPv4 address is the host's own, often private: its
// network is the IPv6 one.
func (t *Tracker) quotaNetwork(addr netip.Addr, masked netip.Prefix) netip.Prefix {
	if t.quota == nil || !addr.Is6() || addr.Is4In6() {
		return masked
	}
	if e, n := ipmask.EmbeddedIPv4(addr); n > 0 && e[0].Form != ipmask.ISATAP && e[0].IPv4.IsValid() {
		return t.policy.Prefix(e[0].IPv4)
	}
	return masked
}

// record asks the store whether c is its visitor's first click on the link,
// unless c is a bot's (never unique, and not worth the store's room), its
// pseudonym is under a local key (the store's answer would mean nothing),
// or its network is at its quota (then only whether the store holds the
// visitor's click already).
func (t *Tracker) record(ctx context.Context, c *clickstore.Click, quotaNet netip.Prefix, bot, local bool, now time.Time) (clickstore.Uniqueness, bool) {
	if bot {
		t.count(cBots)
		return clickstore.Repeat, false
	}
	if local {
		return clickstore.UniqueUnknown, false
	}
	if t.quota != nil && !t.quota.allow(quotaNet, now) {
		// A visitor the store holds is still told a repeat; a new one
		// is counted without being held.
		_, ok, err := t.store.Latest(ctx, c.Visitor, c.PrevVisitor, c.Link)
		if err != nil {
			t.storeFailed(ctx, now, err)
		} else {
			t.storeLog.ok(ctx, now, storeOK)
		}
		if err == nil && ok {
			return clickstore.Repeat, false
		}
		t.count(cOverQuota)
		return clickstore.UniqueUnknown, true
	}
	first, err := t.store.Record(ctx, *c)
	switch {
	case err != nil:
		t.storeFailed(ctx, now, err)
	case first && t.quota != nil:
		t.quota.add(quotaNet, now)
	}
	if err == nil {
		t.storeLog.ok(ctx, now, storeOK)
	}
	return clickstore.UniquenessOf(first, err), false
}

const storeOK = "track: the store works again"

// convert attributes a conversion to the visitor's latest click. A
// conversion whose pseudonym is under a local key cannot be.
func (t *Tracker) convert(ctx context.Context, c clickstore.Click, link string, v Visit, local bool, now time.Time) Visit {
	var (
		held clickstore.Click
		ok   bool
		err  error
	)
	if !local {
		if held, ok, err = t.store.Latest(ctx, c.Visitor, c.PrevVisitor, link); err == nil {
			t.storeLog.ok(ctx, now, storeOK)
		}
	}
	switch {
	case err != nil:
		t.storeFailed(ctx, now, err)
		fallthrough
	case !ok:
		v.Outcome = Unattributed
		v.Link = ""
		t.count(cUnattributed)
		return v
	}
	c.Link = held.Link
	v.Link = held.Link
	v.Outcome = Counted
	v.Uniqueness = clickstore.UniqueUnknown
	t.count(cConversions)
	t.add(ctx, &c, v.Uniqueness, now)
	return v
}

// failLog logs one operation's failures once per burst. It keeps no flag
// of its own: burstlog's OK reads one atomic while nothing fails, and a
// second flag beside it could end a burst between a racing failure's
// flag and its log line, leaving the next burst's failures unlogged.
type failLog struct {
	log burstlog.Logger
}

func (l *failLog) fail(ctx context.Context, now time.Time, msg string, err error, attrs ...slog.Attr) {
	l.log.Fail(ctx, now, msg, err, attrs...)
}

func (l *failLog) ok(ctx context.Context, now time.Time, msg string) {
	l.log.OK(ctx, now, msg)
}

// maskedRunLen is how many IPv4 addresses in a row must look masked before
// the tracker takes them for masked: one in 256 visitors genuinely has an
// address ending in .0, four in a row by chance is one in 2^24.
const maskedRunLen = 4

// errNoClient is clientAddr's error for a request whose client the clientip
// middleware could not resolve (Outcome Unresolved, or PeerUsed: it serves
// the request with the peer's address, behind a proxy the proxy's, which
// would make every such visitor one). It is never logged.
var errNoClient = errors.New("track: the clientip middleware could not resolve the client address")

// clientAddr returns the full address of r's client: the one the clientip
// middleware resolved (whichever side of the tracker it is installed on),
// else the one the Resolver finds, unless that is already masked.
func (t *Tracker) clientAddr(r *http.Request) (netip.Addr, error) {
	if a, ran := reqctx.ClientAddr(r.Context()); ran {
		if !a.IsValid() {
			return netip.Addr{}, errNoClient
		}
		return a, nil
	}
	a, err := t.opts.Resolver.ResolveRequest(r)
	if err != nil {
		return netip.Addr{}, err
	}
	if !t.policy.IsMasked(a) || t.policy.Bits(a) >= a.Unmap().BitLen() {
		if t.maskRun.Load() != 0 {
			t.maskRun.Store(0)
		}
		return a, nil
	}
	// The address has no bits past the policy's, and the policy drops
	// some: it may be a network a masking middleware put in RemoteAddr.
	_, clientipRan := clientip.FromContext(r.Context())
	u := a.Unmap()
	if !clientipRan && u.Is4() && t.maskRun.Add(1) < maskedRunLen {
		return a, nil // most likely a visitor at an address ending in .0
	}
	// A clientip Info without the full address, an IPv6 address with a
	// zero interface part (never a client), or a run of them.
	if n := t.count(cMasked); bits.OnesCount64(n) == 1 {
		t.logger.Warn(ErrMaskedAddr.Error(), "masked_requests", n)
	}
	return netip.Addr{}, ErrMaskedAddr
}

func (t *Tracker) isOptedOut(r *http.Request) bool {
	if t.opts.OptOutHeader != "" {
		if vs := r.Header[t.opts.OptOutHeader]; len(vs) > 0 && trimSpace(vs[0]) == "1" {
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

// isNilPointer reports whether v, an interface that is not nil, holds a
// nil pointer.
func isNilPointer(v any) bool {
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Pointer && r.IsNil()
}

// unusable says what is wrong with a nil Tracker or one not made by New,
// or is "" for one New made.
func (t *Tracker) unusable() string {
	switch {
	case t == nil:
		return "nil *Tracker"
	case t.builder == nil:
		return "Tracker not made by New"
	}
	return ""
}

// Stats returns what the tracker has counted so far; the zero Stats for a
// nil Tracker.
func (t *Tracker) Stats() Stats {
	if t == nil {
		return Stats{}
	}
	c := func(i int) uint64 { return t.counters[i].Load() }
	return Stats{
		Clicks:        c(cUnique) + c(cRepeat) + c(cUnknown),
		Conversions:   c(cConversions),
		Unique:        c(cUnique),
		Repeat:        c(cRepeat),
		UniqueUnknown: c(cUnknown),
		Bots:          c(cBots),
		Excluded:      c(cExcluded),
		OptedOut:      c(cOptedOut),
		Unresolved:    c(cUnresolved),
		Unattributed:  c(cUnattributed),
		MaskedAddrs:   c(cMasked),
		OverQuota:     c(cOverQuota),
		StoreFailures: c(cStoreFailures),
		StoreFull:     c(cStoreFull),
		SinkFailures:  c(cSinkFailures),
		KeyFallbacks:  c(cKeyFallbacks),
		BuildFailures: c(cBuildFailures),
		Unserved:      c(cUnserved),
		NoLink:        c(cNoLink),
	}
}
