package clientip

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// Sentinel errors. Every error a [Resolver] returns wraps exactly one of
// them; test with errors.Is.
var (
	// ErrNoAddr: there was nothing to read. RemoteAddr is empty, the header
	// is absent or has no entries, or every entry is a trusted proxy. A
	// [Resolver] moves on to its next strategy.
	ErrNoAddr = errors.New("no client address")

	// ErrUntrusted: the connecting peer is not a trusted proxy, so its
	// forwarding headers were not read. A [Resolver] moves on to its next
	// strategy.
	ErrUntrusted = errors.New("peer is not a trusted proxy")

	// ErrMalformed: the walk reached something that is not a usable client
	// address (see the package documentation for the rules). A [Resolver]
	// stops there and returns the error: it fails closed.
	ErrMalformed = errors.New("malformed client address")
)

// MaxHops caps the number of list entries (empty ones included) a header
// walk examines, and so the work an attacker can cause with a long header.
// A walk that would go past it fails with [ErrMalformed].
const MaxHops = 32

// Header names the strategies read. They are canonical, as net/http
// stores them; a header sent as "X_Forwarded_For" is a different header
// and is never read in their place.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
	HeaderXRealIP       = "X-Real-Ip"
)

type kind uint8

const (
	kindRemoteAddr kind = iota
	kindRightmostUntrusted
	kindTrustedHops
	kindSingleHeader
	kindForwarded
)

// Strategy is one way of finding the client's address. Build one with
// [RemoteAddr], [RightmostUntrusted], [TrustedHops], [SingleHeader] or
// [Forwarded] and give one or more to [New]; New validates them.
//
// Every strategy except RemoteAddr reads a header, and does so only when
// the connecting peer (the request's RemoteAddr) is in its [Trusted] set;
// otherwise it answers [ErrUntrusted].
//
// A Strategy is a small comparable value, safe to copy and to share
// between goroutines. The zero Strategy is [RemoteAddr].
type Strategy struct {
	kind    kind
	hops    int
	header  string
	trusted *Trusted
}

// RemoteAddr answers the connecting peer's address, from the request's
// RemoteAddr ("ip:port", "[ipv6]:port" or a bare address; a zone is
// dropped). It cannot be spoofed, and it is the right answer for a
// service that is not behind a proxy. It is the zero Strategy.
func RemoteAddr() Strategy { return Strategy{} }

// RightmostUntrusted walks X-Forwarded-For from the right, over every copy
// of the header (the last copy first), skipping entries that are in
// trusted, and answers the first entry that is not. Entries to its left,
// which the client can forge, are never read.
//
// This is the strategy to use behind proxies whose addresses are known,
// one layer or several (a CDN, then a load balancer), as long as every one
// of them is in trusted. The answer is never in trusted.
func RightmostUntrusted(trusted *Trusted) Strategy {
	return Strategy{kind: kindRightmostUntrusted, trusted: trusted}
}

// TrustedHops answers the hops-th X-Forwarded-For entry from the right
// (1 is the rightmost), for a service behind exactly hops proxies each of
// which appends the address it saw. The peer must be in trusted; the
// entries are not checked against it, so if a client can reach any proxy
// but the outermost directly it can choose its address. Prefer
// [RightmostUntrusted] when the proxies' addresses are known.
//
// A header with fewer than hops entries is an [ErrMalformed] error, never
// an answer from the leftmost entry. hops must be from 1 to [MaxHops].
func TrustedHops(trusted *Trusted, hops int) Strategy {
	return Strategy{kind: kindTrustedHops, trusted: trusted, hops: hops}
}

// SingleHeader answers the address in the header name, which a trusted
// proxy sets to the client's address, replacing whatever the client sent:
// X-Real-IP (nginx), CF-Connecting-IP (Cloudflare), True-Client-IP
// (Akamai, Cloudflare), Fly-Client-IP (Fly.io) and the like. The header
// must occur once and hold one address (a port and brackets are
// allowed); two copies, a list or anything else is [ErrMalformed].
//
// name is matched as net/http canonicalizes it. It must be a valid header
// name and not X-Forwarded-For or Forwarded, which are lists with their
// own strategies.
func SingleHeader(trusted *Trusted, name string) Strategy {
	return Strategy{kind: kindSingleHeader, trusted: trusted, header: name}
}

// Forwarded walks the RFC 7239 Forwarded header as [RightmostUntrusted]
// walks X-Forwarded-For: element by element from the right, over every
// copy, answering the first for= node that is not in trusted.
//
// Parameter names are case-insensitive and values may be quoted; an IPv6
// node must be bracketed and quoted (for="[2001:db8::1]:443"). A node
// that is "unknown" or an obfuscated identifier ("_hidden") hides the hop
// the walk has reached: the walk cannot see past it, so it stops there
// with [ErrMalformed], as it does for an element without for=.
func Forwarded(trusted *Trusted) Strategy {
	return Strategy{kind: kindForwarded, trusted: trusted}
}

// String names the strategy, e.g. "remote-addr",
// "x-forwarded-for/rightmost-untrusted", "x-forwarded-for/hops=2",
// "header/Cf-Connecting-Ip" or "forwarded/rightmost-untrusted".
func (s Strategy) String() string {
	switch s.kind {
	case kindRemoteAddr:
		return "remote-addr"
	case kindRightmostUntrusted:
		return "x-forwarded-for/rightmost-untrusted"
	case kindTrustedHops:
		return "x-forwarded-for/hops=" + strconv.Itoa(s.hops)
	case kindSingleHeader:
		return "header/" + s.header
	case kindForwarded:
		return "forwarded/rightmost-untrusted"
	}
	return "invalid"
}

// Resolver finds a request's client address by trying its strategies in
// order. A strategy answering [ErrUntrusted] or [ErrNoAddr] passes the
// request to the next one; an address or any other error is the answer.
//
// A Resolver is immutable and safe for concurrent use. The zero Resolver,
// and a nil *Resolver, use [RemoteAddr] alone.
type Resolver struct {
	strategies []Strategy
}

// New returns a Resolver that tries strategies in order; with none it uses
// [RemoteAddr] alone. A typical chain for a service behind a CDN:
//
//	New(SingleHeader(cdn, "CF-Connecting-IP"), RemoteAddr())
//
// New checks each strategy: a header strategy needs a non-nil [Trusted],
// [TrustedHops] a count from 1 to [MaxHops], [SingleHeader] a valid header
// name, and no strategy may follow RemoteAddr, which always answers.
func New(strategies ...Strategy) (*Resolver, error) {
	out := make([]Strategy, 0, len(strategies))
	for i, s := range strategies {
		if i > 0 && strategies[i-1].kind == kindRemoteAddr {
			return nil, fmt.Errorf("clientip: New: strategy %d (%s) follows remote-addr, which always answers", i, s)
		}
		switch s.kind {
		case kindRemoteAddr:
		case kindRightmostUntrusted, kindTrustedHops, kindSingleHeader, kindForwarded:
			if s.trusted == nil {
				return nil, fmt.Errorf("clientip: New: strategy %d (%s) has a nil *Trusted and would never read its header", i, s)
			}
		default:
			return nil, fmt.Errorf("clientip: New: strategy %d is not a valid Strategy", i)
		}
		switch s.kind {
		case kindTrustedHops:
			if s.hops < 1 || s.hops > MaxHops {
				return nil, fmt.Errorf("clientip: New: TrustedHops(%d): the count must be from 1 to %d", s.hops, MaxHops)
			}
		case kindSingleHeader:
			if !validToken(s.header) {
				return nil, fmt.Errorf("clientip: New: SingleHeader(%q): not a valid header name", s.header)
			}
			s.header = http.CanonicalHeaderKey(s.header)
			if s.header == HeaderXForwardedFor || s.header == HeaderForwarded {
				return nil, fmt.Errorf("clientip: New: SingleHeader(%q): a list header; use RightmostUntrusted, TrustedHops or Forwarded", s.header)
			}
		}
		out = append(out, s)
	}
	return &Resolver{strategies: out}, nil
}

// Strategies returns a copy of the strategies r tries, in order.
func (r *Resolver) Strategies() []Strategy {
	if r == nil || len(r.strategies) == 0 {
		return []Strategy{{}}
	}
	return append([]Strategy(nil), r.strategies...)
}

// Resolve returns the client's address given the request headers h and
// the connection's remote address (http.Request.RemoteAddr), without
// needing a request. The address is valid, unmapped, has no zone and is
// not unspecified. An error wraps [ErrNoAddr], [ErrUntrusted] or
// [ErrMalformed] and quotes the offending text.
//
// Resolve does not allocate when it finds an address.
func (r *Resolver) Resolve(h http.Header, remoteAddr string) (netip.Addr, error) {
	res := r.resolve(h, remoteAddr)
	return res.addr, res.fail.error()
}

// ResolveRequest is Resolve(req.Header, req.RemoteAddr).
func (r *Resolver) ResolveRequest(req *http.Request) (netip.Addr, error) {
	if req == nil {
		return netip.Addr{}, fmt.Errorf("clientip: ResolveRequest(nil): %w", ErrNoAddr)
	}
	return r.Resolve(req.Header, req.RemoteAddr)
}

// result is what a resolution found, for the middleware.
type result struct {
	addr     netip.Addr
	peer     netip.Addr // the parsed RemoteAddr, if it parsed
	port     uint16     // its port, if it had one
	hasPort  bool
	strategy Strategy // the strategy that answered
	fail     failure
}

var remoteAddrOnly = []Strategy{{}}

func (r *Resolver) resolve(h http.Header, remoteAddr string) result {
	var res result
	var perr failure
	res.peer, res.port, res.hasPort, perr = parsePeer(remoteAddr)
	strategies := remoteAddrOnly
	if r != nil && len(r.strategies) > 0 {
		strategies = r.strategies
	}
	for _, s := range strategies {
		res.strategy = s
		if perr.sentinel != nil {
			res.fail = perr
		} else {
			res.addr, res.fail = s.resolve(h, res.peer)
		}
		if f := res.fail.sentinel; f != ErrNoAddr && f != ErrUntrusted {
			return res
		}
	}
	return res
}

// resolve runs one strategy for the already parsed peer.
func (s Strategy) resolve(h http.Header, peer netip.Addr) (netip.Addr, failure) {
	if s.kind == kindRemoteAddr {
		return peer, failure{}
	}
	if !s.trusted.Contains(peer) {
		return netip.Addr{}, failure{sentinel: ErrUntrusted, where: "peer", peer: peer, why: "headers not read"}
	}
	switch s.kind {
	case kindRightmostUntrusted:
		return rightmostUntrusted(h[HeaderXForwardedFor], s.trusted)
	case kindTrustedHops:
		return trustedHops(h[HeaderXForwardedFor], s.hops)
	case kindSingleHeader:
		return singleHeader(h[s.header], s.header)
	case kindForwarded:
		return forwarded(h[HeaderForwarded], s.trusted)
	}
	return netip.Addr{}, failure{sentinel: ErrNoAddr, where: s.String(), why: "invalid strategy"}
}

// validToken reports whether s is a non-empty RFC 9110 token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
