package clientip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"unsafe"

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
	// without the offending text (it may hold a raw address) unless
	// KeepRaw is set, in which case it is the full error.
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

// infoCtx is the context the middleware hands downstream: the parent and
// the Info, in the one allocation that also holds the request copy.
type infoCtx struct {
	context.Context
	info Info
}

func (c *infoCtx) Value(key any) any {
	if key == (ctxKey{}) {
		return &c.info
	}
	return c.Context.Value(key)
}

// NewContext returns a copy of ctx carrying info, as the middleware stores
// it; tests of handlers that sit behind the middleware use it.
func NewContext(ctx context.Context, info Info) context.Context {
	return &infoCtx{Context: ctx, info: info}
}

// FromContext returns the Info the middleware stored in ctx, and whether
// there was one.
func FromContext(ctx context.Context) (Info, bool) {
	if ctx == nil {
		return Info{}, false
	}
	p, ok := ctx.Value(ctxKey{}).(*Info)
	if !ok || p == nil {
		return Info{}, false
	}
	return *p, true
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
// raw address, rewrite the request.
type MiddlewareOptions struct {
	// OnFailure says what to do when the client address cannot be
	// resolved. The default is UsePeer.
	OnFailure Failure

	// KeepRaw stores the unmasked client address in Info.Raw and the full
	// error in Info.Err. Anything downstream can then read and log it.
	KeepRaw bool

	// NoRewrite leaves the request as it arrived: RemoteAddr holds the
	// peer's raw address and the forwarding headers stay. Set it only for
	// services that need the raw address downstream; every handler, logger
	// and error report after the middleware then sees it, and the promise
	// that nothing keeps a full address rests on all of them. It also
	// saves the header copy (see NewMiddleware).
	NoRewrite bool
}

// NewMiddleware returns net/http middleware that resolves each request's
// client address with r (nil means [RemoteAddr] alone), masks it with p,
// and calls the next handler with an [Info] in the request context.
//
// Unless opts.NoRewrite is set, the next handler gets a shallow copy of
// the request whose RemoteAddr is the masked client address with the
// peer's port ("192.0.2.0:51234"; "" when Unresolved and the peer has no
// address) and whose headers lack X-Forwarded-For, Forwarded, X-Real-Ip
// and every header a [SingleHeader] strategy of r reads. The caller's
// request is never modified.
//
// Per request it costs one allocation (the request copy, context and
// Info together) and, when a forwarding header has to be removed, the new
// header map (two more in Go's map implementation; the values are shared,
// not copied). An invalid opts.OnFailure is an error.
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
	strip := []string{HeaderXForwardedFor, HeaderForwarded, HeaderXRealIP}
	for _, s := range r.strategies {
		if s.kind == kindSingleHeader && s.header != HeaderXRealIP {
			strip = append(strip, s.header)
		}
	}
	m := &middleware{r: r, p: p, opts: o, strip: strip}
	return func(next http.Handler) http.Handler {
		if next == nil {
			next = http.NotFoundHandler()
		}
		return &handler{m: m, next: next}
	}, nil
}

type middleware struct {
	r     *Resolver
	p     ipmask.Policy
	opts  MiddlewareOptions
	strip []string
}

type handler struct {
	m    *middleware
	next http.Handler
}

// state is the one allocation per request: the context node with the
// Info, the request copy, and the bytes of the rewritten RemoteAddr.
type state struct {
	ctx  infoCtx
	req  http.Request
	addr [len("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")]byte
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.m
	res := m.r.resolve(r.Header, r.RemoteAddr)
	info := Info{Strategy: res.strategy}
	addr := res.addr
	switch {
	case res.fail.sentinel == nil:
		info.Outcome = Resolved
	case m.opts.OnFailure == Reject:
		http.Error(w, "Bad Request: client address", http.StatusBadRequest)
		return
	case m.opts.OnFailure == UsePeer && res.peer.IsValid():
		addr = res.peer
		info.Outcome = PeerUsed
	default:
		addr = netip.Addr{}
		info.Outcome = Unresolved
	}
	if res.fail.sentinel != nil {
		info.Err = res.fail.sentinel
		if m.opts.KeepRaw {
			info.Err = res.fail.error()
		}
	}
	if addr.IsValid() {
		info.Addr = m.p.Mask(addr)
		info.Prefix = m.p.Prefix(addr)
		if m.opts.KeepRaw {
			info.Raw = addr
		}
	}

	st := new(state)
	st.ctx = infoCtx{Context: r.Context(), info: info}
	st.req = *r.WithContext(&st.ctx)
	if !m.opts.NoRewrite {
		shown := info.Addr
		if !shown.IsValid() && res.peer.IsValid() {
			shown = m.p.Mask(res.peer)
		}
		switch {
		case !shown.IsValid():
			st.req.RemoteAddr = ""
		case res.hasPort:
			b := netip.AddrPortFrom(shown, res.port).AppendTo(st.addr[:0])
			st.req.RemoteAddr = unsafe.String(unsafe.SliceData(b), len(b))
		default:
			b := shown.AppendTo(st.addr[:0])
			st.req.RemoteAddr = unsafe.String(unsafe.SliceData(b), len(b))
		}
		st.req.Header = m.stripHeaders(r.Header)
	}
	h.next.ServeHTTP(w, &st.req)
}

// stripHeaders returns h without the forwarding headers: h itself when it
// has none, else a new map sharing the other values (their slices capped,
// so an append downstream cannot write into the caller's).
func (m *middleware) stripHeaders(h http.Header) http.Header {
	found := false
	for _, k := range m.strip {
		if _, ok := h[k]; ok {
			found = true
			break
		}
	}
	if !found {
		return h
	}
	out := make(http.Header, len(h))
outer:
	for k, v := range h {
		for _, s := range m.strip {
			if k == s {
				continue outer
			}
		}
		out[k] = v[:len(v):len(v)]
	}
	return out
}
