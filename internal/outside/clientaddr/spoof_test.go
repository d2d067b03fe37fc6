package clientaddr_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// chain is one generated request: a client, what it forged, and the
// proxies it went through, each of which wrote what it saw.
type chain struct {
	client netip.Addr  // the real client
	hops   int         // trusted proxies between it and the service
	peer   string      // RemoteAddr: the last proxy, or the client itself
	h      http.Header // what the service receives
	xff    []string    // the X-Forwarded-For entries the proxies wrote
}

func (c chain) String() string {
	return fmt.Sprintf("client=%s hops=%d peer=%s header=%q", c.client, c.hops, c.peer, map[string][]string(c.h))
}

// remoteAddr writes a as net/http's server writes RemoteAddr, an IPv4
// address also as an IPv4-mapped one (a dual-stack listener's), an IPv6
// one also with a zone.
func remoteAddr(r *rand.Rand, a netip.Addr) string {
	if a.Is4() && r.IntN(3) == 0 {
		a = netip.AddrFrom16(a.As16())
	}
	if a.Is6() && r.IntN(4) == 0 {
		a = a.WithZone("eth0") // a link's zone, which the peer check drops
	}
	return netip.AddrPortFrom(a, uint16(1+r.IntN(65535))).String()
}

// singleValue writes a as the edge that owns header name writes it.
func singleValue(r *rand.Rand, name string, a netip.Addr) string {
	if canonical(name) == "Cloudfront-Viewer-Address" {
		if !a.Is4() && r.IntN(3) == 0 {
			return "[" + a.String() + "]:" + port(r)
		}
		return a.String() + ":" + port(r) // IPv6 unbracketed, as CloudFront writes it
	}
	s := xffEntry(r, a)
	if r.IntN(4) == 0 {
		s = " " + s + "\t"
	}
	return s
}

// proxied generates a client behind 1 to 4 trusted proxies. The client
// forges every forwarding header; the edge (the first proxy) replaces the
// single-address header single with what it saw; every proxy appends what
// it saw to X-Forwarded-For and Forwarded, as proxies in the wild do.
func proxied(r *rand.Rand, c trustConfig, tr *clientip.Trusted, single string) chain {
	ch := chain{client: randClient(r, tr), hops: 1 + r.IntN(4), h: http.Header{}}
	for k, vv := range forgedHeaders(r, c) {
		ch.h[k] = vv
	}
	saw := ch.client
	for i := 1; i <= ch.hops; i++ {
		self := randProxy(r, c)
		e := xffEntry(r, saw)
		ch.xff = append(ch.xff, e)
		ch.h["X-Forwarded-For"] = appendList(r, ch.h["X-Forwarded-For"], e)
		ch.h["Forwarded"] = appendList(r, ch.h["Forwarded"], forwardedElement(r, saw, self))
		if i == 1 {
			ch.h[canonical(single)] = []string{singleValue(r, single, saw)}
		}
		saw = self
	}
	ch.peer = remoteAddr(r, saw)
	return ch
}

// direct generates a client that connects itself and forges every
// forwarding header.
func direct(r *rand.Rand, c trustConfig, tr *clientip.Trusted) chain {
	ch := chain{client: randClient(r, tr), h: http.Header{}}
	for k, vv := range forgedHeaders(r, c) {
		ch.h[k] = vv
	}
	ch.peer = remoteAddr(r, ch.client)
	return ch
}

// strategiesFor are the strategies that, for ch behind its proxies, must
// answer its client: each header strategy alone, and chains of them.
func strategiesFor(tr *clientip.Trusted, ch chain, single string) map[string][]clientip.Strategy {
	return map[string][]clientip.Strategy{
		"rightmost-untrusted": {clientip.RightmostUntrusted(tr)},
		"trusted-hops":        {clientip.TrustedHops(tr, ch.hops)},
		"forwarded":           {clientip.Forwarded(tr)},
		"single":              {clientip.SingleHeader(tr, single)},
		"chain single first":  {clientip.SingleHeader(tr, single), clientip.RightmostUntrusted(tr), clientip.Forwarded(tr)},
		"chain forwarded":     {clientip.Forwarded(tr), clientip.SingleHeader(tr, single), clientip.TrustedHops(tr, ch.hops)},
	}
}

const chainsPerConfig = 300

// TestGeneratedChainsAnswerTheClient checks the first claim
// ("unspoofable") over generated requests: for every trust configuration
// (CIDR strings, single addresses, IPv4-mapped prefixes, a set filled at
// run time) and every strategy (X-Forwarded-For rightmost untrusted and by
// hop count, RFC 7239 Forwarded, each single-address header of the README,
// chains of them), a client behind 1 to 4 trusted proxies that forges
// every forwarding header in every syntax (quoted, unterminated,
// obfuscated, "unknown", ports, brackets, mapped, zones, leading zeros,
// empty elements, several lines, other spellings of the names, runs of
// entries kilobytes long) is answered its own address, exactly; and the
// middleware in front of a handler says so in the Info and shows the
// handler none of the client's address. A hop count larger than the
// header (the client sent none of its own) fails with ErrMalformed, never
// answering the leftmost entry. Checked to fail: with the
// proxies appending one entry fewer (the edge forgetting the client),
// every strategy answers a proxy or fails; with TrustedHops given one hop
// more, a forged entry is answered.
func TestGeneratedChainsAnswerTheClient(t *testing.T) {
	for ci, c := range trustConfigs() {
		t.Run(c.name, func(t *testing.T) {
			tr := c.build(t)
			r := rand.New(rand.NewPCG(4, uint64(ci)))
			for i := range chainsPerConfig {
				single := singleHeaders[r.IntN(len(singleHeaders))]
				ch := proxied(r, c, tr, single)
				want := ch.client.Unmap()
				for name, ss := range strategiesFor(tr, ch, single) {
					res, err := clientip.New(ss...)
					require.NoError(t, err)
					got, err := res.Resolve(ch.h, ch.peer)
					if !assert.NoError(t, err, "%d %s: %s", i, name, ch) || !assert.Equal(t, want, got, "%d %s: %s", i, name, ch) {
						return
					}
				}
				// A header shorter than the hop count (the client sent no
				// X-Forwarded-For of its own) is an error, never the
				// leftmost entry.
				short := http.Header{"X-Forwarded-For": {strings.Join(ch.xff, ", ")}}
				for extra := 1; extra <= 3; extra++ {
					res, err := clientip.New(clientip.TrustedHops(tr, ch.hops+extra))
					require.NoError(t, err)
					got, err := res.Resolve(short, ch.peer)
					assert.ErrorIs(t, err, clientip.ErrMalformed, "%d: hops=%d of %d entries", i, ch.hops+extra, ch.hops)
					assert.False(t, got.IsValid(), "%d: hops=%d of %d entries", i, ch.hops+extra, ch.hops)
				}
				// Through the middleware, with the peer as the last resort.
				ss := strategiesFor(tr, ch, single)["chain single first"]
				info, seen := serve(t, append(ss, clientip.RemoteAddr()), ipmask.Default, nil, ch)
				assert.Equal(t, clientip.Resolved, info.Outcome, "%d: %s", i, ch)
				assert.Equal(t, ipmask.Default.Prefix(want), info.Prefix, "%d: %s", i, ch)
				assert.Equal(t, ipmask.Default.Mask(want), info.Addr, "%d: %s", i, ch)
				if ipmask.Default.IsMasked(want) {
					continue // a network's first address is its own mask
				}
				if !assertNoAddr(t, seen, want, fmt.Sprintf("%d: what the handler saw of %s", i, ch)) {
					return
				}
			}
		})
	}
}

// TestGeneratedDirectClientsAreThePeer checks the other side of the claim:
// a client that connects directly (not a trusted proxy) and forges every
// forwarding header is never answered from a header: each header strategy
// alone says ErrUntrusted, and with RemoteAddr after it the answer is the
// client's own address. Checked to fail: with the client's address added
// to the trusted set (tr.Update), the forged headers are read.
func TestGeneratedDirectClientsAreThePeer(t *testing.T) {
	for ci, c := range trustConfigs() {
		t.Run(c.name, func(t *testing.T) {
			tr := c.build(t)
			r := rand.New(rand.NewPCG(5, uint64(ci)))
			for i := range chainsPerConfig {
				single := singleHeaders[r.IntN(len(singleHeaders))]
				ch := direct(r, c, tr)
				want := ch.client.Unmap()
				for name, ss := range strategiesFor(tr, chain{hops: 1 + r.IntN(4)}, single) {
					res, err := clientip.New(ss...)
					require.NoError(t, err)
					got, err := res.Resolve(ch.h, ch.peer)
					if !assert.ErrorIs(t, err, clientip.ErrUntrusted, "%d %s: %s", i, name, ch) {
						return
					}
					assert.False(t, got.IsValid())
					res, err = clientip.New(append(ss, clientip.RemoteAddr())...)
					require.NoError(t, err)
					got, err = res.Resolve(ch.h, ch.peer)
					if !assert.NoError(t, err, "%d %s: %s", i, name, ch) || !assert.Equal(t, want, got, "%d %s: %s", i, name, ch) {
						return
					}
				}
			}
		})
	}
}

// serve runs one request of ch through the middleware built from
// strategies, p and opts, and returns the Info the handler found and
// everything it could see of the request: RemoteAddr, the dump of the
// request line and headers, the URL, the trailers.
func serve(t *testing.T, strategies []clientip.Strategy, p ipmask.Policy, opts *clientip.MiddlewareOptions, ch chain) (clientip.Info, string) {
	t.Helper()
	res, err := clientip.New(strategies...)
	require.NoError(t, err)
	mw, err := clientip.NewMiddleware(res, p, opts)
	require.NoError(t, err)
	var info clientip.Info
	var seen string
	h := mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		info, _ = clientip.FromContext(r.Context())
		b, _ := httputil.DumpRequest(r, false)
		seen = r.RemoteAddr + "\n" + string(b) + "\n" + r.URL.String() + fmt.Sprint(r.Trailer)
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = ch.peer
	req.Header = ch.h.Clone()
	h.ServeHTTP(httptest.NewRecorder(), req)
	return info, seen
}

// addrForms are the spellings of a that text may carry: IPv4 as a dotted
// quad, also with percent-encoded dots; IPv6 compressed and expanded, in
// either case, also with percent-encoded colons.
func addrForms(a netip.Addr) []string {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		s := a.String()
		return []string{s, strings.ReplaceAll(s, ".", "%2E"), strings.ReplaceAll(s, ".", "%2e")}
	}
	var out []string
	for _, s := range []string{a.String(), a.StringExpanded()} {
		for _, f := range []string{s, strings.ToUpper(s)} {
			out = append(out, f, strings.ReplaceAll(f, ":", "%3A"), strings.ReplaceAll(f, ":", "%3a"))
		}
	}
	return out
}

// hasAddr reports whether text holds a spelling of a that is not part of
// a longer number or address.
func hasAddr(text string, a netip.Addr) bool {
	v4 := a.Unmap().Is4()
	inside := func(c byte) bool {
		if '0' <= c && c <= '9' {
			return true
		}
		if v4 {
			return c == '.'
		}
		return 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == ':'
	}
	for _, f := range addrForms(a) {
		for off := 0; ; {
			i := strings.Index(text[off:], f)
			if i < 0 {
				break
			}
			i += off
			end := i + len(f)
			before := i == 0 || !inside(text[i-1])
			after := end == len(text) || !inside(text[end]) || v4 && text[end] == '.' && (end+1 == len(text) || text[end+1] < '0' || text[end+1] > '9')
			if before && after {
				return true
			}
			off = i + 1
		}
	}
	return false
}

// assertNoAddr checks text holds no spelling of a.
func assertNoAddr(t *testing.T, text string, a netip.Addr, what string) bool {
	t.Helper()
	return assert.False(t, hasAddr(text, a), "%s: holds the raw address %s:\n%.3000s", what, a, text)
}

// TestHasAddr shows the leak check finds what it must and only that.
func TestHasAddr(t *testing.T) {
	v4 := netip.MustParseAddr("198.51.100.7")
	v6 := netip.MustParseAddr("2001:db8:1:2::7")
	for text, want := range map[string]bool{
		"x 198.51.100.7 y": true, "198.51.100.7": true, "a=198.51.100.7:80": true, "198%2E51%2E100%2E7": true,
		"198.51.100.70": false, "198.51.100.0": false, "1198.51.100.7": false, "198.51.100.7.5": false,
	} {
		assert.Equal(t, want, hasAddr(text, v4), text)
	}
	for text, want := range map[string]bool{
		"[2001:db8:1:2::7]:80": true, "2001:DB8:1:2::7": true, "2001:0db8:0001:0002:0000:0000:0000:0007": true, "2001%3Adb8%3A1%3A2%3A%3A7": true,
		"2001:db8:1::": false, "2001:db8:1:2::7:1": false, "2001:db8:1:2::71": false,
	} {
		assert.Equal(t, want, hasAddr(text, v6), text)
	}
}
