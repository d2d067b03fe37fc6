package clientip_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/reqctx"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// Canary client addresses: none may reach a handler behind the middleware.
const (
	canary4 = "198.51.100.77"
	canary6 = "2001:db8:1:2:3:4:5:6"
)

// spellings returns name as net/http would store it, in lower and upper
// case, and with underscores for hyphens.
func spellings(name string) []string {
	return []string{
		http.CanonicalHeaderKey(name),
		strings.ToLower(name),
		strings.ToUpper(name),
		strings.ReplaceAll(http.CanonicalHeaderKey(name), "-", "_"),
	}
}

// dump writes everything a handler could print or log about its request:
// the request with every fmt verb, its headers, RemoteAddr, URL and the
// context.
func dump(r *http.Request) []byte {
	var b bytes.Buffer
	_ = r.Header.Write(&b)
	fmt.Fprintf(&b, "%s %s %s %s\n", r.RemoteAddr, r.URL, r.Host, r.RequestURI)
	ctx := r.Context()
	fmt.Fprintf(&b, "%v %+v %#v %s %x\n", ctx, ctx, ctx, ctx, ctx)
	fmt.Fprintf(&b, "%v %+v\n", *r, r)
	return b.Bytes()
}

// TestMiddlewareHidesEveryClientAddrHeader sends every client-address
// header in every case spelling, and a header a SingleHeader strategy
// reads, through the middleware, with each way of answering (a header, the
// peer, a failure): nothing downstream holds a raw address.
func TestMiddlewareHidesEveryClientAddrHeader(t *testing.T) {
	tr, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	require.Len(t, clientip.ClientAddrHeaders(), 36, "README.md gives the count")
	build := func(custom bool) http.Header {
		names := append(clientip.ClientAddrHeaders(), "Forwarded-For", "CloudFront-Viewer-Address")
		if custom {
			names = append(names, "X-My-Client") // hidden because a strategy reads it
		}
		h := http.Header{"User-Agent": {"test"}, "Accept": {"*/*"}}
		for i, n := range names {
			for j, k := range spellings(n) {
				v := canary4
				if (i+j)%2 == 1 {
					v = "[" + canary6 + "]:443"
				}
				h[k] = append(h[k], v)
			}
		}
		h["X-Forwarded-For"] = []string{canary4}
		h["Forwarded"] = []string{"for=" + canary4}
		return h
	}
	tests := []struct {
		name     string
		strategy []clientip.Strategy
		remote   string
		opts     *clientip.MiddlewareOptions
		outcome  clientip.Outcome
		custom   bool
	}{
		{name: "X-Forwarded-For answers", strategy: []clientip.Strategy{clientip.RightmostUntrusted(tr)}, remote: "10.0.0.1:1", outcome: clientip.Resolved},
		{name: "a SingleHeader answers", strategy: []clientip.Strategy{clientip.SingleHeader(tr, "X-My-Client")}, remote: "10.0.0.1:1", outcome: clientip.Resolved, custom: true},
		{name: "Forwarded answers", strategy: []clientip.Strategy{clientip.Forwarded(tr)}, remote: "10.0.0.1:1", outcome: clientip.Resolved},
		{name: "the peer answers", remote: canary4 + ":1", outcome: clientip.Resolved},
		{name: "untrusted peer falls back to itself", strategy: []clientip.Strategy{clientip.SingleHeader(tr, "Cf-Connecting-Ip")}, remote: "[" + canary6 + "]:1", outcome: clientip.PeerUsed},
		{name: "failure, continue", strategy: []clientip.Strategy{clientip.SingleHeader(tr, "X-My-Client")}, remote: "10.0.0.1:1", opts: &clientip.MiddlewareOptions{OnFailure: clientip.Continue}, outcome: clientip.Unresolved, custom: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := clientip.New(tt.strategy...)
			require.NoError(t, err)
			mw, err := clientip.NewMiddleware(r, ipmask.Default, tt.opts)
			require.NoError(t, err)
			var got []byte
			var info clientip.Info
			var left http.Header
			h := mw(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
				got = dump(req)
				info, _ = clientip.FromContext(req.Context())
				left = req.Header.Clone()
			}))
			req := httptest.NewRequest(http.MethodGet, "http://example.com/l/abc?x=1", nil)
			req.Header = build(tt.custom)
			if tt.outcome == clientip.Unresolved {
				req.Header["X-My-Client"] = []string{canary4 + ", " + canary4} // a list: malformed
			}
			req.RemoteAddr = tt.remote
			h.ServeHTTP(httptest.NewRecorder(), req)
			require.NotNil(t, got, "the handler ran")
			assert.Equal(t, tt.outcome, info.Outcome)
			noLeak(t, string(got), canary4)
			noLeak(t, string(got), canary6)
			assert.Equal(t, http.Header{"User-Agent": {"test"}, "Accept": {"*/*"}}, left, "only the other headers are left")
		})
	}
}

// behindProxy returns the default middleware behind proxies in
// 10.0.0.0/8 that append to X-Forwarded-For.
func behindProxy(t *testing.T) func(http.Handler) http.Handler {
	t.Helper()
	tr, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	r, err := clientip.New(clientip.RightmostUntrusted(tr), clientip.RemoteAddr())
	require.NoError(t, err)
	mw, err := clientip.NewMiddleware(r, ipmask.Default, nil)
	require.NoError(t, err)
	return mw
}

// TestMiddlewareHidesPlatformHeaders sends, spelled as each platform
// documents it, the header every hosting platform, CDN and proxy below
// sets to the client's address, beside an X-Forwarded-For that answers:
// none reaches the handler. The list is written out here, not taken from
// ClientAddrHeaders, so that a platform missing from it fails.
func TestMiddlewareHidesPlatformHeaders(t *testing.T) {
	mw := behindProxy(t)
	tests := []struct{ platform, header string }{
		{"nginx, Traefik, Kong", "X-Real-IP"},
		{"Cloudflare", "CF-Connecting-IP"},
		{"Cloudflare IPv6", "CF-Connecting-IPv6"},
		{"Cloudflare pseudo IPv4", "Cf-Pseudo-IPv4"},
		{"Akamai, Cloudflare Enterprise", "True-Client-IP"},
		{"Fastly", "Fastly-Client-IP"},
		{"Fly.io", "Fly-Client-IP"},
		{"Amazon CloudFront", "CloudFront-Viewer-Address"},
		{"Azure Front Door", "X-Azure-ClientIP"},
		{"Azure Front Door socket", "X-Azure-SocketIP"},
		{"Google App Engine", "X-AppEngine-User-IP"},
		{"Netlify", "x-nf-client-connection-ip"},
		{"Vercel", "x-vercel-forwarded-for"},
		{"Envoy, Istio", "x-envoy-external-address"},
		{"ingress-nginx", "X-Original-Forwarded-For"},
		{"Imperva", "Incap-Client-IP"},
		{"Sucuri", "X-Sucuri-ClientIP"},
		{"Alibaba Cloud CDN", "Ali-CDN-Real-IP"},
		{"Tencent EdgeOne", "EO-Connecting-IP"},
		{"Oracle WebLogic", "WL-Proxy-Client-IP"},
		{"DigitalOcean App Platform", "do-connecting-ip"},
		{"Shopify Oxygen", "oxygen-buyer-ip"},
		{"ArvanCloud", "ar-real-ip"},
		{"CDNetworks, Wangsu, ChinaCache", "Cdn-Src-Ip"},
	}
	for _, tt := range tests {
		t.Run(tt.platform, func(t *testing.T) {
			var got []byte
			h := mw(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) { got = dump(req) }))
			for _, v := range []string{canary4, "[" + canary6 + "]:443"} {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.RemoteAddr = "10.0.0.1:1"
				req.Header.Set("X-Forwarded-For", "192.0.2.1")
				req.Header.Set(tt.header, v)
				got = nil
				h.ServeHTTP(httptest.NewRecorder(), req)
				require.NotNil(t, got, "the handler ran")
				noLeak(t, string(got), v)
			}
		})
	}
}

// TestMiddlewareBehindCloudflare is the usual CDN setup through a real
// server: the trusted proxy sends X-Forwarded-For, Forwarded, X-Real-IP,
// CF-Connecting-IP and True-Client-IP, and the handler sees none of them.
func TestMiddlewareBehindCloudflare(t *testing.T) {
	tr, err := clientip.NewTrusted("127.0.0.0/8", "::1")
	require.NoError(t, err)
	r, err := clientip.New(clientip.SingleHeader(tr, "CF-Connecting-IP"), clientip.RemoteAddr())
	require.NoError(t, err)
	mw, err := clientip.NewMiddleware(r, ipmask.Default, nil)
	require.NoError(t, err)
	var headers bytes.Buffer
	var remote string
	var full netip.Addr
	var info clientip.Info
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_ = req.Header.Write(&headers)
		remote = req.RemoteAddr
		full, _ = reqctx.ClientAddr(req.Context())
		info, _ = clientip.FromContext(req.Context())
		_, _ = io.WriteString(w, "ok")
	})))
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	for _, k := range []string{"x-forwarded-for", "FORWARDED", "X-Real-IP", "cf-connecting-ip", "True-Client-IP", "x_real_ip"} {
		v := canary4
		if k == "FORWARDED" {
			v = "for=" + canary4
		}
		req.Header[k] = []string{v}
	}
	req.Header.Set("User-Agent", "test")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, clientip.Resolved, info.Outcome)
	assert.Equal(t, netip.MustParseAddr("198.51.100.0"), info.Addr)
	assert.Equal(t, netip.MustParseAddr(canary4), full, "the tracker still gets the full address")
	assert.True(t, strings.HasPrefix(remote, "198.51.100.0:"), remote)
	noLeak(t, headers.String()+remote, canary4)
	assert.Contains(t, headers.String(), "User-Agent: test")
}

// TestMiddlewareFullAddrForTracker checks that behind the middleware
// reqctx.ClientAddr returns the full address Info was made from, while
// FromContext, RemoteAddr and the printed context show only the masked one.
func TestMiddlewareFullAddrForTracker(t *testing.T) {
	tr, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	r, err := clientip.New(clientip.RightmostUntrusted(tr))
	require.NoError(t, err)
	tests := []struct {
		name    string
		opts    *clientip.MiddlewareOptions
		xff     string
		remote  string
		full    string // "" for none
		outcome clientip.Outcome
	}{
		{name: "resolved IPv4", xff: canary4, remote: "10.0.0.1:1", full: canary4, outcome: clientip.Resolved},
		{name: "resolved IPv6", xff: "[" + canary6 + "]:80", remote: "10.0.0.1:1", full: canary6, outcome: clientip.Resolved},
		// The peer stands in for the handler, but it is not the client (behind
		// a proxy it is the proxy): the tracker is told none was resolved.
		{name: "peer used", xff: "", remote: canary4 + ":1", outcome: clientip.PeerUsed},
		{name: "unresolved", xff: "garbage", remote: "10.0.0.1:1", opts: &clientip.MiddlewareOptions{OnFailure: clientip.Continue}, outcome: clientip.Unresolved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := clientip.NewMiddleware(r, ipmask.Default, tt.opts)
			require.NoError(t, err)
			var ctx context.Context
			var remote string
			h := mw(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
				ctx, remote = req.Context(), req.RemoteAddr
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = tt.remote
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			require.NotNil(t, ctx)
			info, ok := clientip.FromContext(ctx)
			require.True(t, ok)
			assert.Equal(t, tt.outcome, info.Outcome)
			full, ran := reqctx.ClientAddr(ctx)
			require.True(t, ran, "the tracker sees that the middleware ran")
			if tt.full == "" {
				assert.False(t, full.IsValid(), "and that it resolved no client")
				return
			}
			assert.Equal(t, netip.MustParseAddr(tt.full), full)
			assert.Equal(t, ipmask.Default.Mask(full), info.Addr, "FromContext holds the masked address")
			assert.False(t, info.Raw.IsValid())
			noLeak(t, fmt.Sprintf("%v %+v %#v %s %v", ctx, ctx, ctx, remote, info), tt.full)
		})
	}
	_, ok := reqctx.ClientAddr(clientip.NewContext(context.Background(), clientip.Info{Addr: netip.MustParseAddr("198.51.100.0")}))
	assert.False(t, ok, "NewContext carries no full address")
}

func TestResolverStats(t *testing.T) {
	tr, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	r, err := clientip.New(clientip.RightmostUntrusted(tr), clientip.RemoteAddr())
	require.NoError(t, err)
	only, err := clientip.New(clientip.RightmostUntrusted(tr))
	require.NoError(t, err)
	assert.Equal(t, clientip.Stats{}, r.Stats())

	call := func(r *clientip.Resolver, xff, remote string) {
		h := http.Header{}
		if xff != "" {
			h.Set("X-Forwarded-For", xff)
		}
		_, _ = r.Resolve(h, remote)
	}
	call(r, canary4, "10.0.0.1:1")       // header
	call(r, canary4, "10.0.0.1:1")       // header
	call(r, canary4, canary4+":1")       // untrusted peer: RemoteAddr answers
	call(r, "garbage", "10.0.0.1:1")     // malformed
	call(r, "", "")                      // no RemoteAddr: malformed? no: empty is ErrNoAddr
	call(only, canary4, canary4+":1")    // untrusted
	call(only, "10.0.0.2", "10.0.0.1:1") // every entry trusted: no address
	assert.Equal(t, clientip.Stats{Header: 2, Peer: 1, Malformed: 1, NoAddr: 1}, r.Stats())
	assert.Equal(t, clientip.Stats{Untrusted: 1, NoAddr: 1}, only.Stats())

	mw, err := clientip.NewMiddleware(r, ipmask.Default, nil)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.0.0.1:1"
	req.Header.Set("X-Forwarded-For", canary4)
	mw(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), req)
	assert.Equal(t, uint64(3), r.Stats().Header, "the middleware counts its resolutions")

	var zero *clientip.Resolver
	assert.Equal(t, clientip.Stats{}, zero.Stats())
	noLeak(t, fmt.Sprintf("%+v", r.Stats()), canary4)
}

// TestMiddlewareHidesAddrValuedHeaders sends, under names no list holds,
// the forms in which a proxy writes a client address, alone or at either
// end of a list: each reaches the handler removed, and the headers that
// hold no address, or the server's, reach it untouched.
func TestMiddlewareHidesAddrValuedHeaders(t *testing.T) {
	mw := behindProxy(t)
	hidden := []struct{ name, header, value string }{
		{"Kong's own header", "X-Real-Client-Ip", canary4},
		{"a pentest list's header", "Source-Ip", canary4},
		{"lower case, HTTP/2", "x-true-client-ip", canary4},
		{"underscores", "X_CLIENT_ADDR", canary4},
		{"with a port", "X-Origin-Client", canary4 + ":51234"},
		{"IPv6", "X-Forwarded-Client-Ip", canary6},
		{"IPv6 in brackets with a port", "X-Client-Socket", "[" + canary6 + "]:443"},
		{"IPv6 in brackets", "X-Client-Socket", "[" + canary6 + "]"},
		{"IPv6 with a zone", "X-Link", "fe80::1:2:3%eth0"},
		{"IPv6 with a zone ending in a letter", "X-Link", "[" + canary6 + "%lo]:80"},
		{"IPv4-mapped", "X-Coming-From", "::ffff:" + canary4},
		{"6to4", "X-Coming-From", "2002:c633:644d::1"},
		{"quoted", "X-Ip", `"` + canary4 + `"`},
		{"leading zeros", "X-Ip", "198.051.100.077"},
		{"a list", "X-Forwarded-For-Original", canary4 + ", 10.0.0.2"},
		{"a list with junk on the left", "X-Originally-Forwarded-For", "unknown, nonsense, " + canary4},
		{"a list without spaces", "Z-Forwarded-For", "192.0.2.1," + canary4},
		{"a list with junk on the right", "X-Client-Chain", canary4 + ", unknown"},
		{"a second copy", "X-Client-Addr", canary4},
		{"upper-case hex", "X-Ip6", "2001:DB8:1:2:3:4:5:6"},
		{"IPv6 ending in ::", "X-Ip6", "2001:db8:1:2::"},
		{"full IPv6", "X-Ip6", "2001:0db8:0001:0002:0003:0004:0005:0006"},
		{"IPv4 at the end of IPv6", "X-Ip6", "64:ff9b::" + canary4},
	}
	kept := http.Header{
		"User-Agent":                 {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36"},
		"Accept":                     {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		"Accept-Language":            {"de-DE,de;q=0.9,en;q=0.8"},
		"Accept-Encoding":            {"gzip, deflate, br, zstd"},
		"Cookie":                     {"sid=deadbeef; cafe=1"},
		"X-Request-Id":               {"7f3c9a1e2b4d"},
		"X-App-Version":              {"1.2.3"},
		"X-Api-Version":              {"2.1"},
		"X-Build":                    {"10.0.19041.1"},
		"X-Time":                     {"12:30:00"},
		"X-Device-Mac":               {"00:1a:2b:3c:4d:5e"},
		"X-Cert-Fingerprint":         {"ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01"},
		"X-Ratio":                    {"16:9"},
		"X-Score":                    {"300.5.2.1"},
		"X-Hex":                      {"beef:cafe"},
		"Content-Length":             {"12"},
		"Sec-Ch-Ua-Platform-Version": {`"15.0.0"`},
		"X-Forwarded-Host":           {"203.0.113.0:8443"}, // the server the client asked for
		"X-Original-Host":            {"[2001:db8::]"},
		"X-Forwarded-Port":           {"443"},
		"Via":                        {"1.1 vegur"},
	}
	for _, tt := range hidden {
		t.Run(tt.name, func(t *testing.T) {
			var got []byte
			var left http.Header
			h := mw(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
				got, left = dump(req), req.Header.Clone()
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = "10.0.0.1:1"
			req.Header = kept.Clone()
			req.Header.Set("X-Forwarded-For", "192.0.2.1")
			req.Header[tt.header] = append(req.Header[tt.header], tt.value)
			if tt.name == "a second copy" {
				req.Header[tt.header] = append([]string{"not an address"}, req.Header[tt.header]...)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			require.NotNil(t, got, "the handler ran")
			assert.NotContains(t, left, tt.header)
			assert.Equal(t, kept, left, "the headers without a client address are untouched")
			noLeak(t, string(got), tt.value)
		})
	}
}

// TestMiddlewareRejectHidesFromOuterLogger: a request the middleware
// rejects (OnFailure: Reject) is rewritten as any other, so an access
// logger wrapping the middleware, which logs every request once it
// returns, logs neither the peer's raw address (a direct client's own) nor
// the headers that carry the client's.
func TestMiddlewareRejectHidesFromOuterLogger(t *testing.T) {
	tr, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	r, err := clientip.New(clientip.RightmostUntrusted(tr)) // no RemoteAddr fallback
	require.NoError(t, err)
	mw, err := clientip.NewMiddleware(r, ipmask.Default, &clientip.MiddlewareOptions{OnFailure: clientip.Reject})
	require.NoError(t, err)
	tests := []struct {
		name, remote, xff, outcome string
	}{
		{name: "a direct client, untrusted", remote: canary4 + ":51234", xff: canary4, outcome: "unresolved"},
		{name: "an IPv6 direct client, untrusted", remote: "[" + canary6 + "]:51234", outcome: "unresolved"},
		{name: "a malformed header from a proxy", remote: "10.0.0.1:443", xff: canary4 + ", not-an-address", outcome: "unresolved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			var logged []byte
			accessLog := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					next.ServeHTTP(w, req)
					logged = dump(req)
					info, _ := clientip.FromContext(req.Context())
					logged = fmt.Appendf(logged, "%s\n", info.Outcome)
				})
			}
			h := accessLog(mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = tt.remote
			req.Header.Set("X-Forwarded-For", tt.xff)
			req.Header.Set("X-Real-Ip", canary4)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, http.StatusBadRequest, rec.Code)
			assert.False(t, called, "the handler is not called")
			noLeak(t, string(logged), canary4)
			noLeak(t, string(logged), canary6)
			assert.Contains(t, string(logged), tt.outcome, "the logger sees the Info")
		})
	}
}
