package clientip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"unsafe"

	"github.com/clickanon/clickanon/internal/reqctx"
	"github.com/clickanon/clickanon/ipmask"
)

// Failure says what the middleware does with a request whose client
// address it cannot resolve. The zero Failure is [UsePeer].
type Failure uint8

const (
	// UsePeer masks and uses the connecting peer's address instead (the
	// default). The peer cannot be spoofed, but behind a proxy it is the
	// proxy. The Info's Outcome is [PeerUsed].
	UsePeer Failure = iota
	// Reject answers 400 Bad Request and does not call the next handler.
	// The request is rewritten all the same (unless NoRewrite is set), as
	// for Continue: a handler wrapping the middleware, such as an access
	// logger, finds in it the masked peer, an Info whose Outcome is
	// Unresolved and none of the client-address headers.
	Reject
	// Continue calls the next handler with no client address: the Info's
	// Outcome is [Unresolved] and its Addr the zero Addr.
	Continue
)

// String returns "use-peer", "reject" or "continue".
func (f Failure) String() string {
	switch f {
	case UsePeer:
		return "use-peer"
	case Reject:
		return "reject"
	case Continue:
		return "continue"
	}
	return fmt.Sprintf("Failure(%d)", uint8(f))
}

// Outcome says how the middleware arrived at an [Info]. The zero Outcome
// is none: an Info the middleware did not make.
type Outcome uint8

const (
	_ Outcome = iota
	// Resolved: a strategy found the client's address.
	Resolved
	// PeerUsed: resolution failed and the peer's address was used.
	PeerUsed
	// Unresolved: there is no client address.
	Unresolved
)

// String returns "resolved", "peer-used", "unresolved" or, for the zero
// Outcome, "none".
func (o Outcome) String() string {
	switch o {
	case Resolved:
		return "resolved"
	case PeerUsed:
		return "peer-used"
	case Unresolved:
		return "unresolved"
	case 0:
		return "none"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Info is what the middleware learnt about a request's client, stored in
// the request context and read back with [FromContext]. Only masked data
// is in it unless [MiddlewareOptions].KeepRaw asks for the raw address.
//
// Info is a comparable value, safe to copy and share. The zero Info has no
// address and Outcome 0 ("none").
type Info struct {
	// Addr is the masked client address, e.g. 192.0.2.0; the zero Addr
	// when Outcome is Unresolved.
	Addr netip.Addr
	// Prefix is the masked network, e.g. 192.0.2.0/24: the key to count
	// or rate-limit by.
	Prefix netip.Prefix
	// Strategy is the strategy that answered, or that failed last.
	Strategy Strategy
	// Outcome says whether a strategy answered, the peer was used, or
	// neither.
	Outcome Outcome
	// Err is nil when Outcome is Resolved; otherwise the sentinel
	// ([ErrNoAddr], [ErrUntrusted] or [ErrMalformed]) naming the failure,
	// or, when KeepRaw is set, the full error, which also says which
	// header and entry failed and how (never the entry's text).
	Err error
	// Raw is the unmasked client address, set only when
	// [MiddlewareOptions].KeepRaw is. LogValue never prints it.
	Raw netip.Addr
}

// LogValue implements [slog.LogValuer]: a group with addr, prefix,
// strategy, outcome and, on failure, error (the sentinel's text). It never
// holds Raw or the full error.
func (i Info) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 5)
	if i.Addr.IsValid() {
		attrs = append(attrs, slog.String("addr", i.Addr.String()), slog.String("prefix", i.Prefix.String()))
	}
	attrs = append(attrs, slog.String("strategy", i.Strategy.String()), slog.String("outcome", i.Outcome.String()))
	if i.Err != nil {
		attrs = append(attrs, slog.String("error", sentinel(i.Err).Error()))
	}
	return slog.GroupValue(attrs...)
}

// sentinel returns the sentinel err wraps, or a generic error.
func sentinel(err error) error {
	for _, s := range []error{ErrMalformed, ErrUntrusted, ErrNoAddr} {
		if errors.Is(err, s) {
			return s
		}
	}
	return ErrMalformed
}

type ctxKey struct{}

// payload is what the middleware's context node carries, kept small since
// it is most of the one allocation per request (with RemoteAddr's text,
// 80 bytes; with the request copy under NoRewrite, 384): the full client
// address (which only code inside this module can read back, through
// internal/reqctx.ClientAddr) and what the rest of the Info is rebuilt from
// on demand: the middleware (its policy masks full again, its resolver
// names the strategy by index), the outcome and the failure's sentinel.
type payload struct {
	full     netip.Addr   // the address the Info is made from
	meta     *meta        // the middleware, and the full error if kept
	strategy int32        // index into the resolver's strategies
	outcome  Outcome      // Info.Outcome
	sentinel sentinelCode // Info.Err's sentinel
}

// meta is what a payload points to: the middleware's own meta on most
// requests, or, when KeepRaw keeps a failure's full error, a copy made with
// the error (one allocation, in a keptError).
type meta struct {
	m   *middleware
	err error // the full error; nil unless KeepRaw is set and resolution failed
}

type keptError struct {
	meta meta
	err  resolveError
}

// FullClientAddr implements reqctx.ClientHolder: the address a strategy
// resolved, or the zero Addr. When resolution failed and the peer stands
// in (PeerUsed), the peer is not the client: behind a proxy it is the
// proxy, and a tracker that counted it would make every such visitor one.
func (p *payload) FullClientAddr() *netip.Addr {
	if p.outcome != Resolved {
		return &noClient
	}
	return &p.full
}

// noClient is the zero Addr FullClientAddr points to when no client was
// resolved. Nothing writes it.
var noClient netip.Addr

// Info returns the Info p holds.
func (p *payload) Info() Info {
	m := p.meta.m
	i := Info{Strategy: m.r.strategy(int(p.strategy)), Outcome: p.outcome, Err: p.sentinel.err()}
	if p.full.IsValid() {
		i.Prefix = m.p.Prefix(p.full)
		i.Addr = i.Prefix.Addr()
	}
	if m.opts.KeepRaw {
		i.Raw = p.full
		if p.meta.err != nil {
			i.Err = p.meta.err
		}
	}
	return i
}

// NewContext returns a copy of ctx carrying info, as the middleware stores
// it; tests of handlers that sit behind the middleware use it. A nil ctx
// is read as context.Background(). Printing the context prints no address.
func NewContext(ctx context.Context, info Info) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	return reqctx.With[ctxKey](ctx, info)
}

// FromContext returns the Info the middleware stored in ctx, and whether
// there was one.
func FromContext(ctx context.Context) (Info, bool) {
	if ctx == nil {
		return Info{}, false
	}
	switch n := ctx.Value(ctxKey{}).(type) {
	case *reqctx.Node[ctxKey, payload]:
		return n.V.Info(), true
	case *reqctx.Node[ctxKey, Info]: // from NewContext
		return n.V, true
	}
	return Info{}, false
}

// KeyFunc returns the masked network of the request's client, e.g.
// "192.0.2.0/24", for rate limiters that key on a
// func(*http.Request) (string, error) (httprate, tollbooth). It reads the
// [Info] the middleware stored, so the middleware must run first; without
// one, or with no address, it returns an error.
func KeyFunc(r *http.Request) (string, error) {
	if r == nil {
		return "", fmt.Errorf("clientip: KeyFunc(nil): %w", ErrNoAddr)
	}
	info, ok := FromContext(r.Context())
	if !ok {
		return "", fmt.Errorf("clientip: KeyFunc: no Info in the request context (is the middleware installed?): %w", ErrNoAddr)
	}
	if !info.Prefix.IsValid() {
		return "", fmt.Errorf("clientip: KeyFunc: the request has no client address: %w", ErrNoAddr)
	}
	return info.Prefix.String(), nil
}

// MiddlewareOptions configures [NewMiddleware]. The zero value, and a nil
// *MiddlewareOptions, mean the defaults: use the peer on failure, keep no
// raw address, rewrite the request and hide the client-address headers.
type MiddlewareOptions struct {
	// OnFailure says what to do when the client address cannot be
	// resolved. The default is UsePeer.
	OnFailure Failure

	// KeepRaw stores the unmasked client address in Info.Raw and the full
	// error in Info.Err. Anything downstream can then read and log the
	// address.
	KeepRaw bool

	// NoRewrite leaves the request as it arrived: the middleware does not
	// touch it, and the next handler gets a shallow copy that differs only
	// in its context (which costs a larger allocation, 384 bytes). Its
	// RemoteAddr holds the peer's raw address and the client-address
	// headers stay. Set it only for services that need the raw address
	// downstream; every handler, logger and error report after the
	// middleware then sees it, and the promise that nothing keeps a full
	// address rests on all of them.
	NoRewrite bool
}

// ClientAddrHeaders returns, in canonical form, the headers that carry a
// client address and that the middleware removes by default, whichever
// strategy answered: the de facto and standard ones (X-Forwarded-For,
// Forwarded of RFC 7239, X-Real-Ip of nginx, the older X-Forwarded and
// Forwarded-For, X-Client-Ip, Client-Ip, X-Cluster-Client-Ip, X-Remote-Ip,
// X-Remote-Addr, X-Originating-Ip), those of CDNs and platforms
// (Cloudflare: Cf-Connecting-Ip, Cf-Connecting-Ipv6, Cf-Pseudo-Ipv4,
// True-Client-Ip; Akamai: True-Client-Ip; Fastly: Fastly-Client-Ip;
// Fly.io: Fly-Client-Ip; Amazon CloudFront: Cloudfront-Viewer-Address;
// Azure Front Door: X-Azure-Clientip, X-Azure-Socketip; Google App Engine
// and Cloud: X-Appengine-User-Ip, X-Proxyuser-Ip; Netlify:
// X-Nf-Client-Connection-Ip; Vercel: X-Vercel-Forwarded-For; Imperva:
// Incap-Client-Ip; Sucuri: X-Sucuri-Clientip; Alibaba Cloud:
// Ali-Cdn-Real-Ip; Tencent EdgeOne: Eo-Connecting-Ip; DigitalOcean App
// Platform: Do-Connecting-Ip; Shopify Oxygen: Oxygen-Buyer-Ip;
// ArvanCloud: Ar-Real-Ip; CDNetworks, Wangsu and ChinaCache:
// Cdn-Src-Ip), and those of
// proxies (Envoy: X-Envoy-External-Address; ingress-nginx:
// X-Original-Forwarded-For; Oracle WebLogic and Apache plugins:
// Wl-Proxy-Client-Ip, Proxy-Client-Ip).
//
// A header is removed whatever its case and with underscores for hyphens
// (X_Forwarded_For), since some stacks conflate the two; so is every
// header a [SingleHeader] strategy of the middleware's Resolver reads.
//
// No list of names is complete (a platform or a proxy rule can name its
// own header), so the middleware also removes any other header whose
// value is an IP address or a comma-separated list that begins or ends
// with one, in the forms proxies write them: with a port
// ("192.0.2.1:80"), in brackets ("[2001:db8::1]:443"), quoted, with
// leading zeros or a zone, beside other entries ("unknown, 192.0.2.1").
// A proxy writes a client address alone, or appends it to a list.
// Host, X-Forwarded-Host and X-Original-Host are kept: they name the
// server, and an address in them is the server's. A header whose value
// merely looks like an address (a version "1.2.3.4") is removed too.
// Inside other text (Via: "1.1 192.0.2.1:3128 (squid)", "ip=192.0.2.1;
// country=DE", the middle of a list), the middleware looks for the
// client's own address alone, and masks it there: see [NewMiddleware].
func ClientAddrHeaders() []string { return slices.Clone(clientAddrHeaders) }

var clientAddrHeaders = []string{
	"X-Forwarded-For", "Forwarded", "X-Real-Ip", "X-Forwarded", "Forwarded-For",
	"X-Client-Ip", "Client-Ip", "X-Cluster-Client-Ip", "X-Remote-Ip",
	"X-Remote-Addr", "X-Originating-Ip",
	"Cf-Connecting-Ip", "Cf-Connecting-Ipv6", "Cf-Pseudo-Ipv4", "True-Client-Ip",
	"Fastly-Client-Ip", "Fly-Client-Ip", "Cloudfront-Viewer-Address",
	"X-Azure-Clientip", "X-Azure-Socketip", "X-Appengine-User-Ip",
	"X-Proxyuser-Ip", "X-Nf-Client-Connection-Ip", "X-Vercel-Forwarded-For",
	"Incap-Client-Ip", "X-Sucuri-Clientip", "Ali-Cdn-Real-Ip", "Eo-Connecting-Ip",
	"Do-Connecting-Ip", "Oxygen-Buyer-Ip", "Ar-Real-Ip", "Cdn-Src-Ip",
	"X-Envoy-External-Address", "X-Original-Forwarded-For",
	"Wl-Proxy-Client-Ip", "Proxy-Client-Ip",
}

// NewMiddleware returns net/http middleware that resolves each request's
// client address with r (nil means [RemoteAddr] alone), masks it with p,
// and calls the next handler with an [Info] in the request context. The
// context also carries the full address for this module's tracker, which
// no code outside the module can read and which printing the context
// never shows.
//
// Unless opts.NoRewrite is set, the middleware rewrites the request it is
// given, in place, and hands the same *http.Request to the next handler:
// its context becomes a child carrying the Info, its RemoteAddr the
// masked client address with the peer's port ("192.0.2.0:51234"; "" when
// Unresolved and the peer has no address), and the headers that carry a
// client address (those of [ClientAddrHeaders], those r's [SingleHeader]
// strategies read, and any other whose value is an IP address or a list
// that begins or ends with one, as ClientAddrHeaders says) are deleted
// from its Header map. The request's trailers (r.Trailer) get the same
// treatment as its header, and the treatment below, without the
// exceptions for the fields that name the server (no trailer does), when
// the middleware runs and again when they arrive, at the end of the body
// (a client may send "Trailer: X-Forwarded-For", or, over HTTP/1,
// trailers it did not declare): a request that declares trailers or has a
// chunked body gets a body that does it once read to its end or closed.
//
// Wherever else the request carries the client's own address (the one
// whose mask RemoteAddr shows: the resolved client, or the peer used in
// its place), the middleware replaces that text by the masked address, and
// leaves the text around it as it was: in every other header value
// ("Via: 1.1 192.0.2.1:3128 (squid/5.7)" becomes "Via: 1.1
// 192.0.2.0:3128 (squid/5.7)"; "ip=192.0.2.1; country=DE", JSON, a
// Cookie, a Referer or an Origin), in the URL's path, raw path, query,
// fragment and userinfo (which only an absolute-form target,
// "GET http://user@host/ HTTP/1.1", has), in RequestURI, in the method
// (a token, which a client may spell as its address), in the path values of a ServeMux pattern
// matched before it ran, and in the names and values of Form, PostForm
// and MultipartForm (and its files' names and part headers) when they were
// parsed before it ran (a value under a name that held the address is
// then found under the masked name). It finds
// an IPv4 address written as a dotted quad not next to another digit
// (alone, with a port, in brackets, in "::ffff:192.0.2.1", after a
// percent-escape such as "%20"), and an IPv6 address in any spelling
// net/netip parses (compressed any way or expanded, in either case, with
// a zone, in brackets, with or without a port, its colons percent-encoded
// as "%3A", after a word and a colon as in "src:"; not run into other hex
// digits), and replaces it with the masked text in the same encoding.
// In the URL's escaped forms and RequestURI, an IPv4 address is found
// with its dots percent-encoded too ("198%2E51%2E100%2E7"). Where the
// URL's decoded path holds the address and its raw form does not
// ("/ip/%31%39%38.51.100.7"), the raw path is dropped and RequestURI
// written again from the masked URL.
// It does not look for other addresses inside text (a proxy's in Via, a
// site's in a Referer), nor for the client's address in other notations
// (leading zeros, hyphens as in a reverse DNS name, an integer, hex,
// percent-encoded dots outside the URL, an IPv4 client written in hex
// inside IPv6), in header names, in the request body (nor in the forms
// parsed from it after the middleware ran), or in r.TLS (a client
// certificate's addresses). It keeps it
// in Host (r.Host and r.URL.Host), X-Forwarded-Host and
// X-Original-Host, which name the server, and in Origin and Referer when
// the request's Host is the client's own address (a browser on the
// server's own machine, in development), so that same-origin checks still
// pass. The search costs one strings.Index
// per value for an IPv4 client, two IndexByte for an IPv6 one and a parse
// of the text around each ':' long enough to hold the address; its work
// is linear in the values' length, and it allocates only where it masks.
// A value signed over the address (a token bound to the client's IP) no
// longer verifies behind the middleware: such a service needs NoRewrite.
//
// A handler that takes the connection over (Hijack, directly or through
// http.ResponseController, as every websocket library does) gets a
// net.Conn whose RemoteAddr is the peer's address masked by p, with its
// port (for a client that connects directly, RemoteAddr's text). For that,
// when the ResponseWriter the middleware gets can hijack (net/http's
// HTTP/1 writer can, its HTTP/2 one cannot), the next handler gets a
// writer of the middleware's own, which is an http.Flusher and an
// http.Pusher when the writer it got is, always an io.ReaderFrom (the
// wrapped writer's, which uses sendfile), io.StringWriter and
// http.Hijacker, and has the methods http.ResponseController uses (it
// flushes, sets deadlines and enables full duplex through the wrapped
// writer) but no Unwrap, which would hand out the writer that reports the
// raw address; once the next handler returns, it lets go of the writer it
// wraps (the request's context, which a goroutine may keep, holds it), so
// that a use after that, which net/http forbids, gets an error. The conn
// it hands out has the net.Conn methods and
// CloseWrite, and nothing that reaches the wrapped conn (not a *tls.Conn's
// NetConn). As through any writer but net/http's own, http.MaxBytesReader
// cannot ask the server to close the connection once its limit is hit (it
// does so "if possible", through a method only net/http's writer has; the
// server still closes it when much of the body is left unread): install
// http.MaxBytesHandler in front of the middleware to keep that, and an
// access log inside it, between it and the middleware: MaxBytesHandler
// copies the request, as http.StripPrefix does, so a log wrapping it
// would see the raw address (see the package documentation).
//
// A handler wrapping this middleware (an access logger, a tracer) therefore
// sees, once it returns, the masked address, the Info and none of those
// headers: nothing outside the middleware holds the raw address unless it
// read it before. That is what chi's RealIP and gorilla's ProxyHeaders do
// to RemoteAddr, and what net/http's own ServeMux does to the request's
// pattern and path values, although net/http asks handlers not to modify
// the request: a copy would make the allocation 384 bytes instead of 80,
// and leave the raw address in the caller's request. net/http's servers
// (HTTP/1 and HTTP/2) read nothing of the request from another goroutine
// while the handler runs; a handler wrapping this one must not either
// (copy what a goroutine needs first). A request served through the
// middleware again (a retry, or the middleware installed twice, with a
// router between, also as two middlewares built by NewMiddleware) keeps
// its first resolution (its Info, and the full address the tracker
// reads), as long as its RemoteAddr is still the one the first set and
// that address is masked under the second's policy too: a second
// middleware whose policy keeps fewer bits than the first's resolves
// again, from the masked address the first left, which a tracker behind
// it would then count as the client's; give both the same policy.
//
// Per request it costs one allocation (the context node and the rewritten
// RemoteAddr together: 80 bytes, or 112 when the masked RemoteAddr is
// longer than 24 bytes, which needs an IPv6 policy keeping more than 48
// bits; 112 and 128 bytes with the writer that masks a hijacked
// connection; 384 bytes with NoRewrite, which copies the request and
// hands on the writer it got; with KeepRaw, a failed resolution adds one
// for its error; a request that declares trailers or has a chunked body
// adds one, 64 bytes, for the body that hides them; a request served
// through the middleware again with a writer that can hijack, which is not
// the middleware's own, one for its writer), and a walk over the header
// map's keys that rejects most of them on their length and their first
// and last letters, and looks for the client's address in each value.
// An invalid opts.OnFailure is an error.
func NewMiddleware(r *Resolver, p ipmask.Policy, opts *MiddlewareOptions) (func(http.Handler) http.Handler, error) {
	var o MiddlewareOptions
	if opts != nil {
		o = *opts
	}
	if o.OnFailure > Continue {
		return nil, fmt.Errorf("clientip: NewMiddleware: OnFailure %d is not UsePeer, Reject or Continue", uint8(o.OnFailure))
	}
	if r == nil {
		r = &Resolver{}
	}
	hide := slices.Clone(clientAddrHeaders)
	for _, s := range r.strategies {
		if s.kind == kindSingleHeader {
			hide = append(hide, s.header)
		}
	}
	m := &middleware{r: r, p: p, opts: o, hide: newHeaderSet(hide)}
	m.meta.m = m
	return func(next http.Handler) http.Handler {
		if next == nil {
			next = http.NotFoundHandler()
		}
		return &handler{m: m, next: next}
	}, nil
}

type middleware struct {
	r    *Resolver
	p    ipmask.Policy
	opts MiddlewareOptions
	hide headerSet
	meta meta // {m: itself}: what most payloads point to
}

type handler struct {
	m    *middleware
	next http.Handler
}

// state is the one allocation per request that the middleware rewrites:
// the context node with the payload and the bytes of the rewritten
// RemoteAddr, 80 bytes, a size class (TestMiddlewareAllocs checks). Its
// 24 bytes of text hold any IPv4 address with a port, and an IPv6 one
// masked to 48 bits or fewer (every address under the default policy); a
// longer RemoteAddr takes a stateLong instead, still one allocation.
type state struct {
	node reqctx.Node[ctxKey, payload]
	addr [len("[ffff:ffff:ffff::]:65535")]byte
}

// stateLong is state with room for the longest RemoteAddr.
type stateLong struct {
	node reqctx.Node[ctxKey, payload]
	addr [maxRemoteAddr]byte
}

// stateHijack and stateLongHijack are state and stateLong with the
// ResponseWriter the next handler gets when the one the middleware got can
// hijack the connection (net/http's HTTP/1 writer), still one allocation:
// 112 and 128 bytes.
type stateHijack struct {
	state
	w hijackWriter
}

type stateLongHijack struct {
	stateLong
	w hijackWriter
}

// stateCopy is the one allocation per request under NoRewrite: the
// context node and the shallow copy of the request the next handler gets.
type stateCopy struct {
	node reqctx.Node[ctxKey, payload]
	req  http.Request
}

const maxRemoteAddr = len("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.m
	var res result
	m.r.resolve(r.Header, r.RemoteAddr, &res)
	// A peer that did not parse may be this middleware's own rewrite too:
	// a client whose network masks to the unspecified address (::1, or
	// ::a.b.c.d, under /48) gets RemoteAddr "[::]:port", which no peer
	// parse accepts. rewritten knows the text it wrote, and answers false
	// for anything else.
	if !res.peer.IsValid() || m.p.Mask(res.peer) == res.peer {
		if full, ok := rewritten(r); ok {
			// The peer is a masked address, and a middleware of this
			// package rewrote the request already: an outer handler serves
			// it again (a retry), or the middleware is installed twice (on
			// a router and on one of its routes, or two built alike).
			// Resolving it again found the masked address or nothing; the
			// context has the first resolution, which the tracker reads.
			// The headers are hidden again in case something put one back,
			// and the client's address masked again where it is found;
			// under NoRewrite the request is handed on as it is.
			if m.opts.NoRewrite {
				h.next.ServeHTTP(w, r)
				return
			}
			var o ownAddr
			m.own(full, &o)
			m.hide.deleteFrom(r, &o)
			m.watchTrailers(r, full)
			if canHijack(w) {
				// Not the writer this middleware handed on the first
				// time (a retry's own): a second allocation, here only.
				hw := new(hijackWriter)
				h.next.ServeHTTP(hw.wrap(w, m.p), r)
				hw.done()
				return
			}
			h.next.ServeHTTP(w, r)
			return
		}
	}
	m.r.count(&res)
	addr := res.addr
	var outcome Outcome
	reject := false
	switch {
	case res.fail.sentinel == nil:
		outcome = Resolved
	case m.opts.OnFailure == Reject && m.opts.NoRewrite:
		reject400(w) // the caller's request stays as it arrived
		return
	case m.opts.OnFailure == Reject:
		// Rewritten before the answer, as for Continue: a handler
		// wrapping this one logs the request once it returns.
		reject = true
		addr = netip.Addr{}
		outcome = Unresolved
	case m.opts.OnFailure == UsePeer && res.peer.IsValid():
		addr = res.peer
		outcome = PeerUsed
	default:
		addr = netip.Addr{}
		outcome = Unresolved
	}
	v := payload{full: addr, meta: &m.meta, strategy: int32(res.strategy), outcome: outcome, sentinel: codeOf(res.fail.sentinel)}
	if m.opts.KeepRaw && res.fail.sentinel != nil {
		k := &keptError{err: resolveError{res.fail}} // a second allocation, on failure only
		k.meta = meta{m: m, err: &k.err}
		v.meta = &k.meta
	}
	if m.opts.NoRewrite {
		st := new(stateCopy)
		st.node.Context = r.Context()
		st.node.V = v
		st.req = *r.WithContext(&st.node)
		h.next.ServeHTTP(w, &st.req)
		return
	}
	// The rewritten RemoteAddr: the masked address, or the masked peer
	// when there is none, with the peer's port.
	var buf [maxRemoteAddr]byte
	shown := addr
	if !shown.IsValid() {
		shown = res.peer
	}
	text := buf[:putAddrPort(&buf, m.p.Mask(shown), res.port, res.hasPort)]
	var node *reqctx.Node[ctxKey, payload]
	var dst []byte
	var hw *hijackWriter
	switch short, hijack := len(text) <= len(state{}.addr), canHijack(w); {
	case short && !hijack:
		st := new(state)
		node, dst = &st.node, st.addr[:]
	case short:
		st := new(stateHijack)
		node, dst, hw = &st.node, st.addr[:], &st.w
	case !hijack:
		st := new(stateLong)
		node, dst = &st.node, st.addr[:]
	default:
		st := new(stateLongHijack)
		node, dst, hw = &st.node, st.addr[:], &st.w
	}
	if hw != nil {
		w = hw.wrap(w, m.p)
	}
	node.Context = r.Context()
	node.V = v
	n := copy(dst, text)
	// In place: WithContext's copy stays on the stack (go build
	// -gcflags=-m says so), and the only allocation is the node.
	*r = *r.WithContext(node)
	r.RemoteAddr = unsafe.String(unsafe.SliceData(dst), n)
	var o ownAddr
	m.own(shown, &o)
	m.hide.deleteFrom(r, &o)
	if reject {
		reject400(w)
	} else {
		m.watchTrailers(r, shown)
		h.next.ServeHTTP(w, r)
	}
	if hw != nil {
		hw.done()
	}
}

// putAddrPort writes the text of a, with ":port" if hasPort, at the start
// of buf, as netip.AddrPort.AppendTo and netip.Addr.AppendTo write it, and
// returns its length (0 for the zero Addr). An IPv4 address, nearly every
// RemoteAddr, is written from a table.
func putAddrPort(buf *[maxRemoteAddr]byte, a netip.Addr, port uint16, hasPort bool) int {
	switch {
	case !a.IsValid():
		return 0
	case !a.Is4() && hasPort:
		return len(netip.AddrPortFrom(a, port).AppendTo(buf[:0]))
	case !a.Is4():
		return len(a.AppendTo(buf[:0]))
	}
	n := putDotted(buf[:], a.As4())
	if !hasPort {
		return n
	}
	buf[n] = ':'
	digits := 1
	for p := port; p >= 10; p /= 10 {
		digits++
	}
	n += 1 + digits
	for i := n - 1; i >= n-digits; i-- {
		buf[i] = byte('0' + port%10)
		port /= 10
	}
	return n
}

// watchTrailers makes r's body hide the client's address (full's) from
// the trailers that arrive with its end, as deleteFrom hides it from the
// header, when r may have trailers: it declared some (HTTP/1 or HTTP/2),
// or its body is chunked (net/http's HTTP/1 server keeps undeclared
// trailers too). Such a request costs an allocation more, the body's
// wrapper; the others, one branch.
func (m *middleware) watchTrailers(r *http.Request, full netip.Addr) {
	if r.Trailer == nil && len(r.TransferEncoding) == 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	if _, ok := r.Body.(*trailerBody); !ok {
		r.Body = &trailerBody{body: r.Body, r: r, m: m, full: full}
	}
}

// trailerBody is a request body that, once read to its end or closed
// (net/http's body reads the rest, trailers too, on Close), hides the
// client's address from the request's trailers, which net/http fills then:
// while the body is read, net/http asks handlers not to look at them.
type trailerBody struct {
	body io.ReadCloser
	r    *http.Request
	m    *middleware
	full netip.Addr
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.hide()
	}
	return n, err
}

func (b *trailerBody) Close() error {
	err := b.body.Close()
	b.hide()
	return err
}

func (b *trailerBody) hide() {
	if b.r.Trailer != nil {
		var o ownAddr
		b.m.own(b.full, &o)
		b.m.hide.hideIn(b.r.Trailer, nil, &o)
	}
}

// reject400 answers a request whose client address cannot be resolved,
// under Reject.
func reject400(w http.ResponseWriter) {
	http.Error(w, "Bad Request: client address", http.StatusBadRequest)
}

// rewritten reports whether a middleware of this package (any one, not
// only the caller: a service may build two alike) rewrote r, or the
// request r was copied from, and nothing has changed its RemoteAddr
// since: RemoteAddr's bytes are those of the nearest node of this package
// in r's context (a RemoteAddr set since has other bytes, and a
// middleware under NoRewrite sets none). It walks the context, so the
// middleware asks only when the peer is a masked address.
func rewritten(r *http.Request) (full netip.Addr, ok bool) {
	n, ok := r.Context().Value(ctxKey{}).(*reqctx.Node[ctxKey, payload])
	if !ok {
		return netip.Addr{}, false
	}
	// state and stateLong both hold their text right after the node
	// (TestStateLayout checks); only addresses are compared.
	if unsafe.StringData(r.RemoteAddr) != (*byte)(unsafe.Add(unsafe.Pointer(n), unsafe.Offsetof(state{}.addr))) {
		return netip.Addr{}, false
	}
	return n.V.full, true
}

// own sets *o, the zero ownAddr, to the client's address a, to be looked
// for in the request's text, with the length of its shortest text (for an
// IPv4 a, its dotted text, written here). Nothing is looked for when a is
// the zero Addr. It fills o in place: an ownAddr is 72 bytes.
func (m *middleware) own(a netip.Addr, o *ownAddr) {
	if !a.IsValid() {
		return
	}
	o.p = m.p
	if a = a.Unmap(); a.Is4() {
		o.full = a
		o.min = putDotted(o.text[:], a.As4())
		return
	}
	o.full = a.WithZone("")
	var b [len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]byte
	o.min = len(o.full.AppendTo(b[:0]))
}

// sentinelCode names a sentinel error in a byte, for the payload.
type sentinelCode uint8

const (
	noSentinel sentinelCode = iota
	codeNoAddr
	codeUntrusted
	codeMalformed
)

func codeOf(err error) sentinelCode {
	switch err {
	case nil:
		return noSentinel
	case ErrNoAddr:
		return codeNoAddr
	case ErrUntrusted:
		return codeUntrusted
	}
	return codeMalformed
}

func (c sentinelCode) err() error {
	switch c {
	case noSentinel:
		return nil
	case codeNoAddr:
		return ErrNoAddr
	case codeUntrusted:
		return ErrUntrusted
	}
	return ErrMalformed
}

// headerSet matches header names against a list, ignoring case and
// reading '_' as '-', without allocating. Most keys of a request's
// header map are not in the set, so deleteFrom rejects them first on their
// length and their first and last letters, one table lookup, and compares
// the few that pass with the names of their length.
type headerSet struct {
	// ends has, for each length, bit c&31 of first set for the first
	// letter c of each name of that length, and of last for its last
	// letter (letters fold to the same bit whatever their case; no name
	// starts or ends with '-').
	ends  []struct{ first, last uint32 }
	byLen [][]string // lower-case names with hyphens, by length
	canon [][]string // the same in canonical form, as net/http's servers store them
}

func newHeaderSet(names []string) headerSet {
	var s headerSet
	for _, n := range names {
		n = strings.ToLower(strings.ReplaceAll(n, "_", "-"))
		if n == "" {
			continue // matches no key: deleteFrom skips the empty key
		}
		for len(s.byLen) <= len(n) {
			s.byLen = append(s.byLen, nil)
			s.canon = append(s.canon, nil)
			s.ends = append(s.ends, struct{ first, last uint32 }{})
		}
		if !slices.Contains(s.byLen[len(n)], n) {
			s.byLen[len(n)] = append(s.byLen[len(n)], n)
			s.canon[len(n)] = append(s.canon[len(n)], http.CanonicalHeaderKey(n))
		}
		s.ends[len(n)].first |= 1 << (n[0] & 31)
		s.ends[len(n)].last |= 1 << (n[len(n)-1] & 31)
	}
	return s
}

// deleteFrom hides the client's address from r's header and trailers
// ([headerSet.hideIn]) and masks the client's own address o in its URL
// ([ownAddr.maskURL]).
func (s *headerSet) deleteFrom(r *http.Request, o *ownAddr) {
	s.hideIn(r.Header, r, o)
	if r.Trailer != nil {
		s.hideIn(r.Trailer, nil, o)
	}
	if o.full.IsValid() {
		o.maskURL(r)
	}
}

// hideIn deletes from h, r's header, every header of the set, whatever
// the spelling of its key, and every other header whose value begins or
// ends with an IP address ([listsAddr]), but those that name the server;
// and it masks the client's own address o where it finds it in the values
// left. With a nil r, h is a request's trailers, where no field names the
// server (RFC 9110 section 6.5.1 keeps routing fields out of trailers):
// those fields get no exception. A key is rejected on its length and its first and last
// letters in the loop itself; match compares the few that pass.
func (s *headerSet) hideIn(h http.Header, r *http.Request, o *ownAddr) {
	ends := s.ends
	own := o.full.IsValid()
keys:
	for k, vv := range h {
		if len(k) != 0 && len(k) < len(ends) {
			if e := ends[len(k)]; e.first&(1<<(k[0]&31)) != 0 && e.last&(1<<(k[len(k)-1]&31)) != 0 && s.match(k) {
				delete(h, k)
				continue
			}
		}
		for _, v := range vv {
			if mayHoldAddr(v) { // inlined: most values stop here
				if listsAddr(vv) && (r == nil || !isServerHeader(k)) {
					delete(h, k)
					continue keys
				}
				break
			}
		}
		if own {
			for _, v := range vv {
				if len(v) >= o.min && o.hasIn(v) { // most values are too short or stop at one Index
					if r == nil {
						o.maskKey(h, k, vv)
					} else {
						o.maskHeader(r, k, vv)
					}
					break
				}
			}
		}
	}
}

// match reports whether k equals a name of its length.
// A key a server stored is in canonical form, and equal to a canonical
// name; any other spelling is compared letter by letter.
func (s *headerSet) match(k string) bool {
	for _, n := range s.canon[len(k)] {
		if k == n {
			return true
		}
	}
	for _, n := range s.byLen[len(k)] {
		if foldEqual(k, n) {
			return true
		}
	}
	return false
}

// foldEqual reports whether k equals lower, a lower-case name of the same
// length, ignoring ASCII case and reading '_' as '-'.
func foldEqual(k, lower string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
