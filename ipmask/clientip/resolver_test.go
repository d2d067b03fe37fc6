package clientip_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask/clientip"
)

// Proxies live in 10.0.0.0/8 and fd00::/8; clients in the documentation
// ranges 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32.
func proxies(t testing.TB) *clientip.Trusted {
	t.Helper()
	tr, err := clientip.NewTrusted("10.0.0.0/8", "fd00::/8")
	require.NoError(t, err)
	return tr
}

// hdr builds a header as net/http's server would: canonical keys, one
// value per line received.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h[http.CanonicalHeaderKey(kv[i])] = append(h[http.CanonicalHeaderKey(kv[i])], kv[i+1])
	}
	return h
}

func TestResolveAdversarial(t *testing.T) {
	tr := proxies(t)
	xff := clientip.RightmostUntrusted(tr)
	hops2 := clientip.TrustedHops(tr, 2)
	realIP := clientip.SingleHeader(tr, "X-Real-IP")
	cf := clientip.SingleHeader(tr, "CF-Connecting-IP")
	viewer := clientip.SingleHeader(tr, "CloudFront-Viewer-Address")
	fwd := clientip.Forwarded(tr)
	const proxy = "10.0.0.1:4711"
	mb := strings.Repeat("203.0.113.99, ", 1<<20/14) // about 1 MB of forged entries

	tests := []struct {
		name     string
		strategy []clientip.Strategy
		h        http.Header
		remote   string
		want     string // the address, or "" for an error
		err      error  // the sentinel the error wraps
	}{
		// The default (chi, gin and echo all read headers by default).
		{name: "zero config ignores headers", h: hdr("X-Forwarded-For", "203.0.113.9"), remote: "198.51.100.1:1234", want: "198.51.100.1"},
		// gorilla/handlers ProxyHeaders and gin's ClientIP took the leftmost entry, which the client writes.
		{name: "spoofed leftmost entry", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "203.0.113.9, 198.51.100.7"), remote: proxy, want: "198.51.100.7"},
		// realclientip-go's trusted-range bypass: the header was read whatever the peer.
		{name: "untrusted peer sends X-Forwarded-For", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "203.0.113.9"), remote: "198.51.100.1:1234", err: clientip.ErrUntrusted},
		// chi's RealIP advisories: X-Real-IP from anyone.
		{name: "untrusted peer sends X-Real-IP 127.0.0.1", strategy: []clientip.Strategy{realIP}, h: hdr("X-Real-IP", "127.0.0.1"), remote: "198.51.100.1:1234", err: clientip.ErrUntrusted},
		// Platform headers (CF-Connecting-IP) sent straight to the origin, bypassing the CDN.
		{name: "untrusted peer sends a platform header", strategy: []clientip.Strategy{cf, clientip.RemoteAddr()}, h: hdr("CF-Connecting-IP", "203.0.113.9"), remote: "198.51.100.1:1234", want: "198.51.100.1"},
		// Untrusted peer: the chain moves on to the peer itself.
		{name: "untrusted peer falls through the chain", strategy: []clientip.Strategy{xff, clientip.RemoteAddr()}, h: hdr("X-Forwarded-For", "203.0.113.9"), remote: "198.51.100.1:1234", want: "198.51.100.1"},
		// Trusted peer, single header.
		{name: "trusted peer X-Real-IP", strategy: []clientip.Strategy{realIP}, h: hdr("X-Real-IP", "198.51.100.7"), remote: proxy, want: "198.51.100.7"},
		// A proxy that adds rather than replaces X-Real-IP leaves two copies: which is real is unknowable.
		{name: "two copies of a single header", strategy: []clientip.Strategy{realIP}, h: hdr("X-Real-IP", "203.0.113.9", "X-Real-IP", "198.51.100.7"), remote: proxy, err: clientip.ErrMalformed},
		{name: "single header holding a list", strategy: []clientip.Strategy{realIP}, h: hdr("X-Real-IP", "203.0.113.9, 198.51.100.7"), remote: proxy, err: clientip.ErrMalformed},
		// RFC 9110: a list may arrive as several header lines; Go's Header.Get reads only the first.
		{name: "several copies, last copy wins", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "203.0.113.9", "X-Forwarded-For", "198.51.100.7, 10.0.0.2"), remote: proxy, want: "198.51.100.7"},
		{name: "several copies, walk crosses into earlier copy", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "198.51.100.7", "X-Forwarded-For", "10.0.0.3, 10.0.0.2"), remote: proxy, want: "198.51.100.7"},
		// Garbage left of the answer is never reached (realclientip-go tests "garbage before").
		{name: "garbage before the answer", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "<script>, nonsense, 198.51.100.7"), remote: proxy, want: "198.51.100.7"},
		// Garbage at the point the walk reaches fails closed, never skipped.
		{name: "garbage at the answer", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "198.51.100.7, garbage"), remote: proxy, err: clientip.ErrMalformed},
		{name: "garbage beyond a trusted hop", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "198.51.100.7, garbage, 10.0.0.2"), remote: proxy, err: clientip.ErrMalformed},
		// Empty elements: RFC 9110 section 5.6.1 says to ignore them.
		{name: "empty entries skipped", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "203.0.113.9,, 198.51.100.7 , ,10.0.0.2"), remote: proxy, want: "198.51.100.7"},
		{name: "only empty entries", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", " , ,"), remote: proxy, err: clientip.ErrNoAddr},
		{name: "header absent", strategy: []clientip.Strategy{xff}, h: hdr(), remote: proxy, err: clientip.ErrNoAddr},
		{name: "every entry trusted", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "10.0.0.3, 10.0.0.2"), remote: proxy, err: clientip.ErrNoAddr},
		// Squid writes "unknown" when it does not know the client.
		{name: "unknown in X-Forwarded-For", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "unknown"), remote: proxy, err: clientip.ErrMalformed},
		// Ports: IIS/Azure Application Gateway append ip:port.
		{name: "IPv4 with port", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "198.51.100.7:5555"), remote: proxy, want: "198.51.100.7"},
		{name: "IPv4 with a bad port", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "198.51.100.7:99999"), remote: proxy, err: clientip.ErrMalformed},
		{name: "IPv4 with an empty port", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "198.51.100.7:"), remote: proxy, err: clientip.ErrMalformed},
		{name: "bracketed IPv6", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "[2001:db8::7]"), remote: proxy, want: "2001:db8::7"},
		{name: "bracketed IPv6 with port", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "[2001:db8::7]:443"), remote: proxy, want: "2001:db8::7"},
		{name: "bracketed IPv4 refused", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "[198.51.100.7]"), remote: proxy, err: clientip.ErrMalformed},
		{name: "unterminated bracket", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "[2001:db8::7"), remote: proxy, err: clientip.ErrMalformed},
		// net.SplitHostPort-style code strips ":80" from an unbracketed IPv6 and gets a different address.
		{name: "IPv6 that looks like it has a port", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "2001:db8::7:80"), remote: proxy, want: "2001:db8::7:80"},
		// CloudFront-Viewer-Address always ends in the viewer's port, also after an unbracketed IPv6 address.
		{name: "CloudFront viewer IPv4 and port", strategy: []clientip.Strategy{viewer}, h: hdr("CloudFront-Viewer-Address", "198.51.100.10:46532"), remote: proxy, want: "198.51.100.10"},
		{name: "CloudFront viewer IPv6, eight groups and port", strategy: []clientip.Strategy{viewer}, h: hdr("CloudFront-Viewer-Address", "2001:0db8:85a3:0000:0000:8a2e:0370:7334:46532"), remote: proxy, want: "2001:db8:85a3::8a2e:370:7334"},
		{name: "CloudFront viewer IPv6, compressed, four-digit port", strategy: []clientip.Strategy{viewer}, h: hdr("CloudFront-Viewer-Address", "2001:db8::7:8080"), remote: proxy, want: "2001:db8::7"},
		{name: "CloudFront viewer IPv6 bracketed", strategy: []clientip.Strategy{viewer}, h: hdr("CloudFront-Viewer-Address", "[2001:db8::7]:8080"), remote: proxy, want: "2001:db8::7"},
		{name: "CloudFront viewer mapped", strategy: []clientip.Strategy{viewer}, h: hdr("CloudFront-Viewer-Address", "::ffff:198.51.100.10:443"), remote: proxy, want: "198.51.100.10"},
		{name: "CloudFront viewer without a port", strategy: []clientip.Strategy{viewer}, h: hdr("CloudFront-Viewer-Address", "198.51.100.10"), remote: proxy, err: clientip.ErrMalformed},
		{name: "CloudFront viewer with a bad port", strategy: []clientip.Strategy{viewer}, h: hdr("CloudFront-Viewer-Address", "2001:db8::7:99999"), remote: proxy, err: clientip.ErrMalformed},
		{name: "CloudFront viewer bracket then text", strategy: []clientip.Strategy{viewer}, h: hdr("CloudFront-Viewer-Address", "[2001:db8::7]x:80"), remote: proxy, err: clientip.ErrMalformed},
		{name: "CloudFront viewer zone", strategy: []clientip.Strategy{viewer}, h: hdr("CloudFront-Viewer-Address", "fe80::1%eth0:80"), remote: proxy, err: clientip.ErrMalformed},
		{name: "CloudFront viewer IPv4 in brackets", strategy: []clientip.Strategy{viewer}, h: hdr("CloudFront-Viewer-Address", "[198.51.100.10]:80"), remote: proxy, err: clientip.ErrMalformed},
		{name: "CloudFront viewer IPv4 and two ports", strategy: []clientip.Strategy{viewer}, h: hdr("CloudFront-Viewer-Address", "198.51.100.10:80:80"), remote: proxy, err: clientip.ErrMalformed},
		// Zones identify a local interface; from a remote header they are forgery.
		{name: "zone rejected", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "fe80::1%eth0"), remote: proxy, err: clientip.ErrMalformed},
		{name: "bracketed zone rejected", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "[fe80::1%25eth0]:80"), remote: proxy, err: clientip.ErrMalformed},
		// A mapped trusted address must be recognised, or the walk stops at the proxy.
		{name: "mapped entry in the trusted set", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "198.51.100.7, ::ffff:10.0.0.2"), remote: proxy, want: "198.51.100.7"},
		{name: "mapped peer in the trusted set", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "198.51.100.7"), remote: "[::ffff:10.0.0.1]:4711", want: "198.51.100.7"},
		{name: "mapped answer unmapped", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "::ffff:198.51.100.7"), remote: proxy, want: "198.51.100.7"},
		// Leading zeros read as octal by inet_aton: 010.0.0.1 is 8.0.0.1 there.
		{name: "leading zeros", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "198.051.100.007"), remote: proxy, err: clientip.ErrMalformed},
		{name: "unspecified IPv4", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "0.0.0.0"), remote: proxy, err: clientip.ErrMalformed},
		{name: "unspecified IPv6", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "::"), remote: proxy, err: clientip.ErrMalformed},
		// Some proxies pass underscore headers through; nginx drops them. Never an alias.
		{name: "underscore header is not X-Forwarded-For", strategy: []clientip.Strategy{xff}, h: hdr("X_Forwarded_For", "203.0.113.9"), remote: proxy, err: clientip.ErrNoAddr},
		{name: "underscore header beside the real one", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", "198.51.100.7", "X_Forwarded_For", "203.0.113.9"), remote: proxy, want: "198.51.100.7"},
		// Hop counting (realclientip-go RightmostTrustedCount).
		{name: "hops: second from the right", strategy: []clientip.Strategy{hops2}, h: hdr("X-Forwarded-For", "203.0.113.9, 198.51.100.7, 10.9.9.9"), remote: proxy, want: "198.51.100.7"},
		{name: "hops: header shorter than the count", strategy: []clientip.Strategy{hops2}, h: hdr("X-Forwarded-For", "198.51.100.7"), remote: proxy, err: clientip.ErrMalformed},
		{name: "hops: garbage right of the answer", strategy: []clientip.Strategy{hops2}, h: hdr("X-Forwarded-For", "198.51.100.7, junk"), remote: proxy, err: clientip.ErrMalformed},
		{name: "hops: untrusted peer", strategy: []clientip.Strategy{hops2}, h: hdr("X-Forwarded-For", "198.51.100.7, 10.9.9.9"), remote: "203.0.113.1:1", err: clientip.ErrUntrusted},
		// The 1 MB header of the realclientip-go measurement: answered at the right end.
		{name: "1 MB header", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", mb+"198.51.100.7"), remote: proxy, want: "198.51.100.7"},
		{name: "1 MB header of trusted hops hits the cap", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", strings.Repeat("10.1.1.1,", 1<<20/9)), remote: proxy, err: clientip.ErrMalformed},
		{name: "1 MB of commas hits the cap", strategy: []clientip.Strategy{xff}, h: hdr("X-Forwarded-For", strings.Repeat(",", 1<<20)), remote: proxy, err: clientip.ErrMalformed},
		// RFC 7239 section 4 examples, quoting, case and multiple elements.
		{name: "forwarded: quoted IPv6 with port", strategy: []clientip.Strategy{fwd}, h: hdr("Forwarded", `For="[2001:db8:cafe::17]:4711"`), remote: proxy, want: "2001:db8:cafe::17"},
		{name: "forwarded: params and elements", strategy: []clientip.Strategy{fwd}, h: hdr("Forwarded", `for=192.0.2.60;proto=http;by=203.0.113.43, for=198.51.100.17;by=10.0.0.1`), remote: proxy, want: "198.51.100.17"},
		{name: "forwarded: trusted element skipped", strategy: []clientip.Strategy{fwd}, h: hdr("Forwarded", `for=192.0.2.43, FOR=10.0.0.9`), remote: proxy, want: "192.0.2.43"},
		{name: "forwarded: empty parameters (RFC 7239 section 4)", strategy: []clientip.Strategy{fwd}, h: hdr("Forwarded", `;for=192.0.2.43;;proto=http;`), remote: proxy, want: "192.0.2.43"},
		{name: "forwarded: comma inside quotes", strategy: []clientip.Strategy{fwd}, h: hdr("Forwarded", `for=192.0.2.43;host="a,b", for="10.0.0.9"`), remote: proxy, want: "192.0.2.43"},
		{name: "forwarded: several copies", strategy: []clientip.Strategy{fwd}, h: hdr("Forwarded", `for=192.0.2.43`, "Forwarded", `for=10.0.0.9`), remote: proxy, want: "192.0.2.43"},
		{name: "forwarded: unknown stops the walk", strategy: []clientip.Strategy{fwd}, h: hdr("Forwarded", `for=192.0.2.43, for=unknown`), remote: proxy, err: clientip.ErrMalformed},
		{name: "forwarded: obfuscated stops the walk", strategy: []clientip.Strategy{fwd}, h: hdr("Forwarded", `for=192.0.2.43, for="_hidden"`), remote: proxy, err: clientip.ErrMalformed},
		{name: "forwarded: obfuscated port is fine", strategy: []clientip.Strategy{fwd}, h: hdr("Forwarded", `for="192.0.2.43:_p1"`), remote: proxy, want: "192.0.2.43"},
		{name: "forwarded: unbracketed IPv6 refused", strategy: []clientip.Strategy{fwd}, h: hdr("Forwarded", `for="2001:db8::1"`), remote: proxy, err: clientip.ErrMalformed},
		{name: "forwarded: no for=", strategy: []clientip.Strategy{fwd}, h: hdr("Forwarded", `proto=https`), remote: proxy, err: clientip.ErrMalformed},
		{name: "forwarded: client's unterminated quote left of the answer", strategy: []clientip.Strategy{fwd}, h: hdr("Forwarded", `for="203.0.113.9, for=198.51.100.7`), remote: proxy, want: "198.51.100.7"},
		{name: "forwarded: untrusted peer", strategy: []clientip.Strategy{fwd}, h: hdr("Forwarded", `for=192.0.2.43`), remote: "203.0.113.1:1", err: clientip.ErrUntrusted},
		// RemoteAddr forms.
		{name: "peer with zone", h: hdr(), remote: "[fe80::1%eth0]:80", want: "fe80::1"},
		{name: "peer without port", h: hdr(), remote: "198.51.100.1", want: "198.51.100.1"},
		{name: "peer empty", h: hdr(), remote: "", err: clientip.ErrNoAddr},
		{name: "peer garbage", h: hdr(), remote: "@", err: clientip.ErrMalformed},
		// Malformed stops a chain: the next strategy is not a way around a failure.
		{name: "malformed stops the chain", strategy: []clientip.Strategy{xff, clientip.RemoteAddr()}, h: hdr("X-Forwarded-For", "garbage"), remote: proxy, err: clientip.ErrMalformed},
		{name: "absent header moves the chain on", strategy: []clientip.Strategy{cf, xff}, h: hdr("X-Forwarded-For", "198.51.100.7"), remote: proxy, want: "198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := clientip.New(tt.strategy...)
			require.NoError(t, err)
			got, err := r.Resolve(tt.h, tt.remote)
			if tt.err != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.err)
				assert.False(t, got.IsValid())
				assert.True(t, strings.HasPrefix(err.Error(), "clientip: "), err.Error())
				for _, s := range []error{clientip.ErrNoAddr, clientip.ErrUntrusted, clientip.ErrMalformed} {
					if s != tt.err {
						assert.NotErrorIs(t, err, s)
					}
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, netip.MustParseAddr(tt.want), got)
		})
	}
}

func TestResolveRequest(t *testing.T) {
	r, err := clientip.New(clientip.RightmostUntrusted(proxies(t)))
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, "http://example.com/", nil)
	require.NoError(t, err)
	req.RemoteAddr = "10.0.0.1:1"
	req.Header.Set("X-Forwarded-For", "198.51.100.7")
	got, err := r.ResolveRequest(req)
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddr("198.51.100.7"), got)

	_, err = r.ResolveRequest(nil)
	assert.ErrorIs(t, err, clientip.ErrNoAddr)

	var zero *clientip.Resolver
	got, err = zero.Resolve(req.Header, req.RemoteAddr)
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddr("10.0.0.1"), got, "a nil Resolver reads RemoteAddr alone")
}

func TestNewValidates(t *testing.T) {
	tr := proxies(t)
	tests := []struct {
		name       string
		strategies []clientip.Strategy
		quote      string
	}{
		{name: "nil trusted", strategies: []clientip.Strategy{clientip.RightmostUntrusted(nil)}, quote: "nil *Trusted"},
		{name: "zero hops", strategies: []clientip.Strategy{clientip.TrustedHops(tr, 0)}, quote: "strategy 1: the TrustedHops count must be from 1 to 32"},
		{name: "too many hops", strategies: []clientip.Strategy{clientip.TrustedHops(tr, clientip.MaxHops+1)}, quote: "TrustedHops count must be"},
		{name: "hops that wrap in 32 bits", strategies: []clientip.Strategy{clientip.TrustedHops(tr, 1<<32+1)}, quote: "TrustedHops count must be"},
		{name: "empty header name", strategies: []clientip.Strategy{clientip.SingleHeader(tr, "")}, quote: "strategy 1: SingleHeader name of 0 bytes is not a header name"},
		{name: "header name with a space", strategies: []clientip.Strategy{clientip.SingleHeader(tr, "X Real IP")}, quote: "SingleHeader name of 9 bytes"},
		{name: "header name that is an address", strategies: []clientip.Strategy{clientip.RemoteAddr(), clientip.SingleHeader(tr, "198.51.100.77")}, quote: "strategy 2: SingleHeader name of 13 bytes"},
		{name: "header name with an underscore", strategies: []clientip.Strategy{clientip.SingleHeader(tr, "X_Real_IP")}, quote: "SingleHeader name of 9 bytes"},
		{name: "list header as single", strategies: []clientip.Strategy{clientip.SingleHeader(tr, "x-forwarded-for")}, quote: `SingleHeader("X-Forwarded-For") is a list header`},
		{name: "strategy after remote-addr", strategies: []clientip.Strategy{clientip.RemoteAddr(), clientip.RightmostUntrusted(tr)}, quote: "strategy 2 (x-forwarded-for/rightmost-untrusted) follows remote-addr"},
		{name: "invalid strategy", strategies: []clientip.Strategy{clientip.RemoteAddr(), {}}, quote: "follows remote-addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := clientip.New(tt.strategies...)
			require.Error(t, err)
			assert.Nil(t, r)
			assert.Contains(t, err.Error(), "clientip: New: ")
			assert.Contains(t, err.Error(), tt.quote)
			noLeak(t, err.Error(), "198.51.100.77")
		})
	}
}

func TestSingleHeaderCanonical(t *testing.T) {
	r, err := clientip.New(clientip.SingleHeader(proxies(t), "cf-connecting-ip"))
	require.NoError(t, err)
	got, err := r.Resolve(hdr("CF-Connecting-IP", "198.51.100.7"), "10.0.0.1:1")
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddr("198.51.100.7"), got)
	assert.Equal(t, "header/Cf-Connecting-Ip", r.Strategies()[0].String())
}

func TestStrategyString(t *testing.T) {
	tr := proxies(t)
	tests := []struct {
		name string
		s    clientip.Strategy
		want string
	}{
		{name: "zero", s: clientip.Strategy{}, want: "remote-addr"},
		{name: "xff", s: clientip.RightmostUntrusted(tr), want: "x-forwarded-for/rightmost-untrusted"},
		{name: "hops", s: clientip.TrustedHops(tr, 2), want: "x-forwarded-for/hops=2"},
		{name: "header", s: clientip.SingleHeader(tr, "X-Real-Ip"), want: "header/X-Real-Ip"},
		{name: "forwarded", s: clientip.Forwarded(tr), want: "forwarded/rightmost-untrusted"},
		{name: "header named like an address, before New refuses it", s: clientip.SingleHeader(tr, "198.51.100.77"), want: "header/(invalid name)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.s.String())
		})
	}
	assert.Equal(t, clientip.RemoteAddr(), clientip.Strategy{}, "the zero Strategy is RemoteAddr")
}

func TestResolveAllocs(t *testing.T) {
	tr := proxies(t)
	r, err := clientip.New(clientip.SingleHeader(tr, "CF-Connecting-IP"), clientip.RightmostUntrusted(tr), clientip.RemoteAddr())
	require.NoError(t, err)
	f, err := clientip.New(clientip.Forwarded(tr))
	require.NoError(t, err)
	h := hdr("X-Forwarded-For", "203.0.113.9, [2001:db8::7]:443, 10.0.0.3", "X-Forwarded-For", "10.0.0.2")
	fh := hdr("Forwarded", `for=192.0.2.43;proto=https, for="[2001:db8::7]:1";by=x, for=10.0.0.9`)
	var got netip.Addr
	allocs := testing.AllocsPerRun(100, func() {
		got, err = r.Resolve(h, "10.0.0.1:4711")
	})
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddr("2001:db8::7"), got)
	assert.Zero(t, allocs, "X-Forwarded-For walk")
	allocs = testing.AllocsPerRun(100, func() {
		got, err = f.Resolve(fh, "10.0.0.1:4711")
	})
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddr("2001:db8::7"), got)
	assert.Zero(t, allocs, "Forwarded walk")
}

// TestErrorsNeverQuoteInput drives every error path of a resolution with
// inputs holding canary addresses: each error says which header, which
// entry, how long and what fault, and holds no address and no input text.
func TestErrorsNeverQuoteInput(t *testing.T) {
	tr := proxies(t)
	xff := clientip.RightmostUntrusted(tr)
	hops2 := clientip.TrustedHops(tr, 2)
	realIP := clientip.SingleHeader(tr, "X-Real-IP")
	fwd := clientip.Forwarded(tr)
	const (
		proxy = "10.0.0.1:4711"
		v4    = "198.51.100.77"
		v6    = "2001:db8:1:2:3:4:5:6"
	)
	tests := []struct {
		name     string
		strategy clientip.Strategy
		h        http.Header
		remote   string
		err      error
		want     string // a part of the message
	}{
		{name: "bad port", strategy: xff, h: hdr("X-Forwarded-For", v4+":99999"), remote: proxy, err: clientip.ErrMalformed, want: "X-Forwarded-For entry 1 from the right (19 bytes): malformed client address: bad port"},
		{name: "text after an address", strategy: xff, h: hdr("X-Forwarded-For", v4+"x"), remote: proxy, err: clientip.ErrMalformed, want: "(14 bytes): malformed client address: not an IP address"},
		{name: "position from the right", strategy: xff, h: hdr("X-Forwarded-For", v4+", x"+v4+", 10.0.0.2"), remote: proxy, err: clientip.ErrMalformed, want: "X-Forwarded-For entry 2 from the right (14 bytes)"},
		{name: "position across copies, empty entries counted", strategy: xff, h: hdr("X-Forwarded-For", v4+"x", "X-Forwarded-For", ",10.0.0.2"), remote: proxy, err: clientip.ErrMalformed, want: "entry 3 from the right"},
		{name: "zone", strategy: xff, h: hdr("X-Forwarded-For", v6+"%eth0"), remote: proxy, err: clientip.ErrMalformed, want: "a zone is not allowed"},
		{name: "bracketed IPv4", strategy: xff, h: hdr("X-Forwarded-For", "["+v4+"]"), remote: proxy, err: clientip.ErrMalformed, want: "IPv4 in brackets"},
		{name: "unterminated bracket", strategy: xff, h: hdr("X-Forwarded-For", "["+v6), remote: proxy, err: clientip.ErrMalformed, want: "unterminated bracket"},
		{name: "text after the bracket", strategy: xff, h: hdr("X-Forwarded-For", "["+v6+"]x"), remote: proxy, err: clientip.ErrMalformed, want: "text after the bracket"},
		{name: "leading zeros", strategy: xff, h: hdr("X-Forwarded-For", "198.051.100.077"), remote: proxy, err: clientip.ErrMalformed, want: "not an IP address"},
		{name: "entry longer than any address", strategy: xff, h: hdr("X-Forwarded-For", v4+strings.Repeat("7", 50)), remote: proxy, err: clientip.ErrMalformed, want: "(63 bytes): malformed client address: longer than any address"},
		{name: "entry longer than the walk looks", strategy: xff, h: hdr("X-Forwarded-For", strings.Repeat(v4, 20)), remote: proxy, err: clientip.ErrMalformed, want: "entry 1 from the right (over 128 bytes)"},
		{name: "too many entries", strategy: xff, h: hdr("X-Forwarded-For", strings.Repeat(v4+", ", 5)+strings.Repeat("10.0.0.2, ", 40)), remote: proxy, err: clientip.ErrMalformed, want: "more entries than MaxHops (33, want 32)"},
		{name: "every entry trusted", strategy: xff, h: hdr("X-Forwarded-For", "10.0.0.2"), remote: proxy, err: clientip.ErrNoAddr, want: "every entry is a trusted proxy"},
		{name: "untrusted peer", strategy: xff, h: hdr("X-Forwarded-For", v6), remote: v4 + ":1234", err: clientip.ErrUntrusted, want: "X-Forwarded-For: peer is not a trusted proxy: header not read"},
		{name: "hops: too few", strategy: hops2, h: hdr("X-Forwarded-For", v4), remote: proxy, err: clientip.ErrMalformed, want: "fewer entries than trusted hops (1, want 2)"},
		{name: "hops: garbage", strategy: hops2, h: hdr("X-Forwarded-For", v4+", "+v4+"x"), remote: proxy, err: clientip.ErrMalformed, want: "entry 1 from the right"},
		{name: "single: two copies", strategy: realIP, h: hdr("X-Real-IP", v4, "X-Real-IP", v6), remote: proxy, err: clientip.ErrMalformed, want: "X-Real-Ip: malformed client address: several copies of a single-address header (2)"},
		{name: "single: a list", strategy: realIP, h: hdr("X-Real-IP", v4+", "+v6), remote: proxy, err: clientip.ErrMalformed, want: "X-Real-Ip (35 bytes)"},
		{name: "single: too long", strategy: realIP, h: hdr("X-Real-IP", strings.Repeat(v4, 10)), remote: proxy, err: clientip.ErrMalformed, want: "X-Real-Ip (130 bytes): malformed client address: longer than any address"},
		{name: "single: untrusted", strategy: realIP, h: hdr("X-Real-IP", v4), remote: "[" + v6 + "]:1", err: clientip.ErrUntrusted, want: "X-Real-Ip: peer is not a trusted proxy"},
		{name: "remote: bad port", h: hdr(), remote: v4 + ":99999", err: clientip.ErrMalformed, want: "RemoteAddr (19 bytes): malformed client address: bad port"},
		{name: "remote: empty port", h: hdr(), remote: v4 + ":", err: clientip.ErrMalformed, want: "RemoteAddr (14 bytes)"},
		{name: "remote: text", h: hdr(), remote: v4 + "x:80", err: clientip.ErrMalformed, want: "not an IP address"},
		{name: "remote: bracketed IPv4", h: hdr(), remote: "[" + v4 + "]:80", err: clientip.ErrMalformed, want: "IPv4 in brackets"},
		{name: "remote: unterminated bracket", h: hdr(), remote: "[" + v6, err: clientip.ErrMalformed, want: "unterminated bracket"},
		{name: "remote: unspecified", h: hdr(), remote: "0.0.0.0:80", err: clientip.ErrMalformed, want: "unspecified address"},
		{name: "remote: too long", h: hdr(), remote: strings.Repeat(v4, 100), err: clientip.ErrMalformed, want: "RemoteAddr (1300 bytes): malformed client address: longer than any address"},
		{name: "remote: empty", h: hdr(), remote: "", err: clientip.ErrNoAddr, want: "RemoteAddr: no client address: empty"},
		{name: "forwarded: text", strategy: fwd, h: hdr("Forwarded", "for="+v4+"x"), remote: proxy, err: clientip.ErrMalformed, want: "Forwarded entry 1 from the right (18 bytes): malformed client address: not an IP address"},
		{name: "forwarded: unterminated quote", strategy: fwd, h: hdr("Forwarded", `for="`+v4), remote: proxy, err: clientip.ErrMalformed, want: "unterminated quoted string"},
		{name: "forwarded: two for=", strategy: fwd, h: hdr("Forwarded", "for="+v4+";for="+v4), remote: proxy, err: clientip.ErrMalformed, want: "two for= parameters"},
		{name: "forwarded: no for=", strategy: fwd, h: hdr("Forwarded", "by="+v4), remote: proxy, err: clientip.ErrMalformed, want: "no for= parameter"},
		{name: "forwarded: not pairs", strategy: fwd, h: hdr("Forwarded", v4), remote: proxy, err: clientip.ErrMalformed, want: "not a list of name=value pairs"},
		{name: "forwarded: empty parameters alone", strategy: fwd, h: hdr("Forwarded", " ;; "), remote: proxy, err: clientip.ErrMalformed, want: "no for= parameter"},
		{name: "forwarded: escape", strategy: fwd, h: hdr("Forwarded", `for=`+v4+`;host="a\"`+v4+`"`), remote: proxy, err: clientip.ErrMalformed, want: "escape in a quoted value"},
		{name: "forwarded: bad token", strategy: fwd, h: hdr("Forwarded", "for=["+v6+"]"), remote: proxy, err: clientip.ErrMalformed, want: "neither a token nor a quoted string"},
		{name: "forwarded: unbracketed IPv6", strategy: fwd, h: hdr("Forwarded", `for="`+v6+`"`), remote: proxy, err: clientip.ErrMalformed, want: "IPv6 node without brackets"},
		{name: "forwarded: text after bracket", strategy: fwd, h: hdr("Forwarded", `for="[`+v6+`]x"`), remote: proxy, err: clientip.ErrMalformed, want: "text after the bracket"},
		{name: "forwarded: unterminated bracket", strategy: fwd, h: hdr("Forwarded", `for="[`+v6+`"`), remote: proxy, err: clientip.ErrMalformed, want: "unterminated bracket"},
		{name: "forwarded: bad port", strategy: fwd, h: hdr("Forwarded", `for="`+v4+`:99999"`), remote: proxy, err: clientip.ErrMalformed, want: "bad port"},
		{name: "forwarded: zone", strategy: fwd, h: hdr("Forwarded", `for="[`+v6+`%25eth0]"`), remote: proxy, err: clientip.ErrMalformed, want: "a zone is not allowed"},
		{name: "forwarded: unknown", strategy: fwd, h: hdr("Forwarded", "for="+v4+", for=unknown"), remote: proxy, err: clientip.ErrMalformed, want: "entry 1 from the right (11 bytes): malformed client address: unknown or obfuscated node"},
		{name: "forwarded: node too long", strategy: fwd, h: hdr("Forwarded", `for="`+strings.Repeat(v4, 5)+`"`), remote: proxy, err: clientip.ErrMalformed, want: "node longer than any address"},
		{name: "forwarded: element too long", strategy: fwd, h: hdr("Forwarded", "for="+v4+";host="+strings.Repeat("a", 600)), remote: proxy, err: clientip.ErrMalformed, want: "Forwarded entry 1 from the right: malformed client address: element longer than 512 bytes"},
		{name: "forwarded: walk too long", strategy: fwd, h: hdr("Forwarded", strings.Repeat(`for=10.0.0.2;host="`+strings.Repeat("a", 400)+`", `, 20)), remote: proxy, err: clientip.ErrMalformed, want: "walk past 4096 bytes"},
		{name: "forwarded: too many elements", strategy: fwd, h: hdr("Forwarded", "for="+v4+strings.Repeat(", for=10.0.0.2", 40)), remote: proxy, err: clientip.ErrMalformed, want: "more entries than MaxHops"},
		{name: "forwarded: every node trusted", strategy: fwd, h: hdr("Forwarded", "for=10.0.0.2"), remote: proxy, err: clientip.ErrNoAddr, want: "every node is a trusted proxy"},
		{name: "forwarded: untrusted", strategy: fwd, h: hdr("Forwarded", "for="+v4), remote: v4 + ":1", err: clientip.ErrUntrusted, want: "Forwarded: peer is not a trusted proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := clientip.New(tt.strategy)
			require.NoError(t, err)
			got, err := r.Resolve(tt.h, tt.remote)
			require.Error(t, err)
			assert.False(t, got.IsValid())
			assert.ErrorIs(t, err, tt.err)
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, "clientip: "), msg)
			assert.Contains(t, msg, tt.want)
			noLeak(t, msg, v4)
			noLeak(t, msg, v6)
			noLeak(t, msg, tt.remote)
			for _, vv := range tt.h {
				for _, v := range vv {
					noLeak(t, msg, v)
				}
			}
		})
	}
	r, err := clientip.New(xff)
	require.NoError(t, err)
	_, err = r.ResolveRequest(nil)
	require.ErrorIs(t, err, clientip.ErrNoAddr)
	assert.Equal(t, "clientip: ResolveRequest: no client address: nil request", err.Error())
}
