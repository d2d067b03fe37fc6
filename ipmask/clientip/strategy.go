package clientip

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
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
	hops    int32 // 0 when the count given was out of range
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
// (1 is the rightmost; empty entries, which no proxy appends, are not
// counted), for a service behind exactly hops proxies each of
// which appends the address it saw. The peer must be in trusted; the
// entries are not checked against it, so if a client can reach any proxy
// but the outermost directly it can choose its address. Prefer
// [RightmostUntrusted] when the proxies' addresses are known.
//
// A header with fewer than hops entries is an [ErrMalformed] error, never
// an answer from the leftmost entry. hops must be from 1 to [MaxHops].
func TrustedHops(trusted *Trusted, hops int) Strategy {
	if hops < 1 || hops > MaxHops {
		hops = 0 // New refuses it
	}
	return Strategy{kind: kindTrustedHops, trusted: trusted, hops: int32(hops)}
}

// SingleHeader answers the address in the header name, which a trusted
// proxy sets to the client's address, replacing whatever the client sent:
// X-Real-IP (nginx), CF-Connecting-IP (Cloudflare), True-Client-IP
// (Akamai, Cloudflare), Fly-Client-IP (Fly.io) and the like. The header
// must occur once and hold one address (a port and brackets are
// allowed); two copies, a list or anything else is [ErrMalformed].
// An unbracketed IPv6 address has no port ("2001:db8::7:80" is that
// address), except in CloudFront-Viewer-Address (Amazon CloudFront),
// which always ends in the viewer's port and writes IPv6 without
// brackets: there the text after the last colon is the port, and a value
// without one is [ErrMalformed].
//
// name is matched as net/http canonicalizes it. It must be letters,
// digits and hyphens, starting with a letter (every proxy's header is),
// and not X-Forwarded-For or Forwarded, which are lists with their own
// strategies.
func SingleHeader(trusted *Trusted, name string) Strategy {
	return Strategy{kind: kindSingleHeader, trusted: trusted, header: name}
}

// Forwarded walks the RFC 7239 Forwarded header as [RightmostUntrusted]
// walks X-Forwarded-For: element by element from the right, over every
// copy, answering the first for= node that is not in trusted.
//
// Parameter names are case-insensitive, parameters may come in any
// order, and values may be quoted (a comma or semicolon inside quotes is
// text); an IPv6 node must be bracketed and quoted
// (for="[2001:db8::1]:443"). Empty elements (",,") and empty parameters
// (";;", a leading or trailing ";"), which RFC 7239 allows, are skipped.
// A quoted value holding a backslash escape is refused with
// [ErrMalformed] (no node needs one), as is whitespace around "=". A node
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
		return "x-forwarded-for/hops=" + strconv.Itoa(int(s.hops))
	case kindSingleHeader:
		if !validHeaderName(s.header) {
			return "header/(invalid name)"
		}
		return "header/" + s.header
	case kindForwarded:
		return "forwarded/rightmost-untrusted"
	}
	return "invalid"
}

// Resolver finds a request's client address by trying its strategies in
// order. A strategy answering [ErrUntrusted] or [ErrNoAddr] passes the
// request to the next one; an address or any other error is the answer.
// Each [Trusted] set is read once per resolution, so a set replaced
// while a request is resolved gives the answer of the old set or of the
// new one, never of a mix.
//
// A Resolver counts its resolutions by how they ended ([Resolver.Stats]);
// apart from those counters it is immutable. It is safe for concurrent
// use and must not be copied after first use. The zero Resolver, and a
// nil *Resolver, use [RemoteAddr] alone; a nil *Resolver counts nothing.
type Resolver struct {
	strategies []Strategy
	_          [64]byte // keeps the counters off the strategies' cache line
	stats      counters
}

// Stats counts a [Resolver]'s resolutions by how they ended: every call
// of Resolve or ResolveRequest, and every request its middleware resolved
// (once: not again when served through it, or through a middleware of
// another Resolver behind it, again), adds one to exactly one field. No address or network is ever in it.
//
// Stats is a comparable value, safe to copy; the zero Stats counts
// nothing.
type Stats struct {
	// Header: a header strategy answered, from a trusted proxy's header.
	Header uint64
	// Peer: the RemoteAddr strategy answered (a direct client, or a
	// chain whose header strategies passed the request on).
	Peer uint64
	// NoAddr, Untrusted and Malformed: the resolution failed with
	// [ErrNoAddr], [ErrUntrusted] or [ErrMalformed].
	NoAddr, Untrusted, Malformed uint64
}

type counters struct {
	header, peer, noAddr, untrusted, malformed atomic.Uint64
}

// Stats returns the counts so far. Each field is read atomically; the
// fields are not read together, so under load their sum may be a few
// resolutions ahead of an earlier read's. A nil *Resolver returns the
// zero Stats.
func (r *Resolver) Stats() Stats {
	if r == nil {
		return Stats{}
	}
	c := &r.stats
	return Stats{
		Header:    c.header.Load(),
		Peer:      c.peer.Load(),
		NoAddr:    c.noAddr.Load(),
		Untrusted: c.untrusted.Load(),
		Malformed: c.malformed.Load(),
	}
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
		n := i + 1
		switch s.kind {
		case kindRemoteAddr, kindRightmostUntrusted, kindTrustedHops, kindSingleHeader, kindForwarded:
		default:
			return nil, fmt.Errorf("clientip: New: strategy %d is not a valid Strategy", n)
		}
		if s.kind == kindSingleHeader {
			if !validHeaderName(s.header) {
				return nil, fmt.Errorf("clientip: New: strategy %d: SingleHeader name of %d bytes is not a header name (letters, digits and hyphens, starting with a letter)", n, len(s.header))
			}
			s.header = http.CanonicalHeaderKey(s.header)
			if s.header == HeaderXForwardedFor || s.header == HeaderForwarded {
				return nil, fmt.Errorf("clientip: New: strategy %d: SingleHeader(%q) is a list header; use RightmostUntrusted, TrustedHops or Forwarded", n, s.header)
			}
		}
		if i > 0 && strategies[i-1].kind == kindRemoteAddr {
			return nil, fmt.Errorf("clientip: New: strategy %d (%s) follows remote-addr, which always answers", n, s)
		}
		if s.kind != kindRemoteAddr && s.trusted == nil {
			return nil, fmt.Errorf("clientip: New: strategy %d (%s) has a nil *Trusted and would never read its header", n, s)
		}
		if s.kind == kindTrustedHops && (s.hops < 1 || s.hops > MaxHops) {
			return nil, fmt.Errorf("clientip: New: strategy %d: the TrustedHops count must be from 1 to %d", n, MaxHops)
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
// [ErrMalformed] and says which header, which entry (by position from the
// right, empty entries included), its length and what kind of fault,
// never the text itself, which may be an address.
//
// Resolve does not allocate when it finds an address, and allocates once
// for an error (when its strategies use more than four distinct Trusted
// sets, it also allocates to keep each set as it loaded it: once for up
// to eight, once more for each doubling past that). Its work is bounded whatever the headers' size: an entry
// longer than any address is refused unparsed, a walk examines at most
// [MaxHops] entries and 4 KiB of a header (512 bytes of a Forwarded
// element).
func (r *Resolver) Resolve(h http.Header, remoteAddr string) (netip.Addr, error) {
	var res result
	r.resolve(h, remoteAddr, &res)
	if r != nil {
		r.count(&res)
	}
	return res.addr, res.fail.error()
}

// ResolveRequest is Resolve(req.Header, req.RemoteAddr).
func (r *Resolver) ResolveRequest(req *http.Request) (netip.Addr, error) {
	if req == nil {
		return netip.Addr{}, failure{sentinel: ErrNoAddr, where: "ResolveRequest", why: "nil request"}.error()
	}
	return r.Resolve(req.Header, req.RemoteAddr)
}

// result is what a resolution found, for the middleware.
type result struct {
	addr     netip.Addr
	peer     netip.Addr // the parsed RemoteAddr, if it parsed
	port     uint16     // its port, if it had one
	hasPort  bool
	strategy int // the index of the strategy that answered (or failed last)
	fail     failure
}

// strategy returns the strategy at index i of a resolution's chain.
func (r *Resolver) strategy(i int) Strategy {
	if r == nil || i < 0 || i >= len(r.strategies) {
		return Strategy{} // RemoteAddr alone
	}
	return r.strategies[i]
}

var remoteAddrOnly = []Strategy{{}}

// resolve resolves into *res, which must be the zero result, without
// counting: the caller counts the result (the middleware, only once it
// knows the request is not one it resolved already).
func (r *Resolver) resolve(h http.Header, remoteAddr string, res *result) {
	strategies := remoteAddrOnly
	if r != nil && len(r.strategies) > 0 {
		strategies = r.strategies
	}
	res.peer, res.port, res.hasPort = parsePeer(remoteAddr, &res.fail)
	if res.fail.sentinel != nil {
		// Every strategy needs the peer. A malformed one fails the
		// first; a missing one passes the request on to the last.
		if res.fail.sentinel == ErrNoAddr {
			res.strategy = len(strategies) - 1
		}
		return
	}
	// Each Trusted is loaded once: a chain whose strategies share one
	// (the usual case) reads it once, and a walk never sees two sets. A
	// chain with more distinct sets than the array holds keeps the rest
	// on the heap rather than load one twice, which could resolve with
	// the old set for one strategy and the new one for the next.
	var buf [4]loadedSet
	sets := buf[:0]
	for i, s := range strategies {
		res.strategy = i
		var set *trustedSet
		if s.trusted != nil {
			found := false
			for _, c := range sets {
				if c.t == s.trusted {
					set, found = c.set, true
					break
				}
			}
			if !found {
				set = s.trusted.set.Load()
				sets = append(sets, loadedSet{s.trusted, set})
			}
		}
		if res.fail.sentinel != nil {
			res.fail = failure{} // the previous strategy's
		}
		res.addr = s.resolve(h, res.peer, set, &res.fail)
		if f := res.fail.sentinel; f != ErrNoAddr && f != ErrUntrusted {
			break
		}
	}
}

// loadedSet is a Trusted and the set it held when a resolution loaded it.
type loadedSet struct {
	t   *Trusted
	set *trustedSet
}

func (r *Resolver) count(res *result) {
	c := &r.stats
	switch res.fail.sentinel {
	case nil:
		if r.strategy(res.strategy).kind == kindRemoteAddr {
			c.peer.Add(1)
		} else {
			c.header.Add(1)
		}
	case ErrNoAddr:
		c.noAddr.Add(1)
	case ErrUntrusted:
		c.untrusted.Add(1)
	default:
		c.malformed.Add(1)
	}
}

// resolve runs one strategy for the already parsed peer, with set the
// strategy's trusted set as loaded for this resolution. On failure it
// returns the zero Addr and writes *f, which it leaves alone otherwise.
func (s Strategy) resolve(h http.Header, peer netip.Addr, set *trustedSet, f *failure) netip.Addr {
	if s.kind == kindRemoteAddr {
		return peer
	}
	if !set.contains(peer) {
		where := s.header
		switch s.kind {
		case kindRightmostUntrusted, kindTrustedHops:
			where = HeaderXForwardedFor
		case kindForwarded:
			where = HeaderForwarded
		}
		*f = failure{sentinel: ErrUntrusted, where: where, why: "header not read"}
		return netip.Addr{}
	}
	switch s.kind {
	case kindRightmostUntrusted:
		return rightmostUntrusted(h[HeaderXForwardedFor], set, f)
	case kindTrustedHops:
		return trustedHops(h[HeaderXForwardedFor], int(s.hops), f)
	case kindSingleHeader:
		return singleHeader(h[s.header], s.header, f)
	case kindForwarded:
		return forwarded(h[HeaderForwarded], set, f)
	}
	*f = failure{sentinel: ErrNoAddr, where: "Strategy", why: "invalid strategy"}
	return netip.Addr{}
}

// validHeaderName reports whether s is a name a proxy's client-address
// header has: letters, digits and hyphens, starting with a letter. That
// is stricter than an RFC 9110 token, and on purpose: such a name cannot
// spell an address (no dots or colons), so printing it never prints one,
// and an underscore name (which some stacks conflate with its hyphenated
// twin) is refused.
func validHeaderName(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !('0' <= c && c <= '9') && c != '-' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

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
