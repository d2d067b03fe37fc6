package clientip_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/cputime"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// BenchmarkResolve measures the header walks. Baseline is RemoteAddr alone
// (parsing RemoteAddr), which every strategy also does.
func BenchmarkResolve(b *testing.B) {
	tr, err := clientip.NewTrusted("10.0.0.0/8", "fd00::/8")
	if err != nil {
		b.Fatal(err)
	}
	huge := strings.Repeat("203.0.113.99, ", 1<<20/14) + "198.51.100.7, 10.0.0.3"
	cases := []struct {
		name string
		s    clientip.Strategy
		h    http.Header
	}{
		{name: "baseline-remote-addr", s: clientip.RemoteAddr(), h: http.Header{}},
		{name: "xff-rightmost-3-hops", s: clientip.RightmostUntrusted(tr), h: http.Header{"X-Forwarded-For": {"203.0.113.9, 198.51.100.7, 10.0.0.3, 10.0.0.2"}}},
		{name: "xff-rightmost-1MB", s: clientip.RightmostUntrusted(tr), h: http.Header{"X-Forwarded-For": {huge}}},
		{name: "xff-1MB-trusted-garbage", s: clientip.RightmostUntrusted(tr), h: http.Header{"X-Forwarded-For": {strings.Repeat("10.1.1.1,", 1<<20/9)}}},
		{name: "xff-hops-2", s: clientip.TrustedHops(tr, 2), h: http.Header{"X-Forwarded-For": {"203.0.113.9, 198.51.100.7, 10.0.0.3"}}},
		{name: "single-header", s: clientip.SingleHeader(tr, "CF-Connecting-IP"), h: http.Header{"Cf-Connecting-Ip": {"2001:db8::7"}}},
		{name: "forwarded-2-elements", s: clientip.Forwarded(tr), h: http.Header{"Forwarded": {`for=192.0.2.43;proto=https, for="[fd00::9]:1"`}}},
	}
	for _, c := range cases {
		r, err := clientip.New(c.s)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			loop(b, func() { _, _ = r.Resolve(c.h, "10.0.0.1:4711") })
		})
	}
}

// BenchmarkMiddleware measures the middleware against the bare handler
// and chi's middleware.RealIP in the same run. The request comes from a
// trusted proxy with a typical set of headers. A server hands each
// request to its handler fresh, and the middleware (like chi's) rewrites
// the request in place and deletes headers from its map, so every
// iteration of every row starts from a copy of its case's request with
// the deleted headers put back: work the baselines pay too.
func BenchmarkMiddleware(b *testing.B) {
	tr, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(b, err)
	r, err := clientip.New(clientip.RightmostUntrusted(tr), clientip.RemoteAddr())
	require.NoError(b, err)
	cf, err := clientip.New(clientip.SingleHeader(tr, "CF-Connecting-IP"), clientip.RemoteAddr())
	require.NoError(b, err)
	bare := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	type mware = func(http.Handler) http.Handler
	mk := func(r *clientip.Resolver, opts *clientip.MiddlewareOptions) mware {
		mw, err := clientip.NewMiddleware(r, ipmask.Default, opts)
		require.NoError(b, err)
		return mw
	}
	newReq := func(remote string, kv ...string) *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/l/abc", nil)
		req.RemoteAddr = remote
		req.Header.Set("User-Agent", "Mozilla/5.0 (bench)")
		req.Header.Set("Accept", "*/*")
		req.Header.Set("Accept-Language", "en")
		req.Header.Set("Accept-Encoding", "gzip")
		for i := 0; i < len(kv); i += 2 {
			req.Header.Set(kv[i], kv[i+1])
		}
		return req
	}
	direct := newReq("198.51.100.77:5555")
	proxied := newReq("10.0.0.1:5555", "X-Forwarded-For", "203.0.113.9, 198.51.100.77")
	cloudflare := newReq("10.0.0.1:5555", "X-Forwarded-For", "198.51.100.77", "Cf-Connecting-Ip", "198.51.100.77", "True-Client-Ip", "198.51.100.77", "X-Real-Ip", "198.51.100.77")
	// A browser's navigation through a proxy: 15 headers, so the map is
	// past the 8 entries of a single group and the scan walks a table.
	browser := newReq("10.0.0.1:5555", "X-Forwarded-For", "203.0.113.9, 198.51.100.77",
		"Cookie", "sid=0123456789abcdef", "Referer", "https://example.com/",
		"Sec-Fetch-Dest", "document", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "cross-site",
		"Sec-Ch-Ua", `"Chromium";v="142"`, "Sec-Ch-Ua-Mobile", "?0", "Sec-Ch-Ua-Platform", `"Linux"`,
		"Upgrade-Insecure-Requests", "1", "Priority", "u=0, i")
	w := httptest.NewRecorder()
	var hijackable http.ResponseWriter = hijackRecorder{w, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 5555}}
	const xff, remote = "x-forwarded-for/rightmost-untrusted", "remote-addr"
	cases := []struct {
		name     string
		mw       mware
		tmpl     *http.Request
		strategy string              // for the middleware's rows, the strategy that must answer
		w        http.ResponseWriter // nil: the recorder; one that hijacks, as net/http's HTTP/1 writer does
	}{
		{name: "baseline-bare-handler", mw: func(h http.Handler) http.Handler { return h }, tmpl: proxied},
		{name: "baseline-chi-RealIP", mw: middleware.RealIP, tmpl: proxied},
		{name: "baseline-WithContext", mw: withContext, tmpl: proxied},
		{name: "baseline-WithContext-in-place", mw: withContextInPlace, tmpl: proxied},
		{name: "direct", mw: mk(r, nil), tmpl: direct, strategy: remote},
		{name: "proxied", mw: mk(r, nil), tmpl: proxied, strategy: xff},
		{name: "cloudflare-4-headers", mw: mk(cf, nil), tmpl: cloudflare, strategy: "header/Cf-Connecting-Ip"},
		{name: "proxied-hijackable-writer", mw: mk(r, nil), tmpl: proxied, strategy: xff, w: hijackable},
		{name: "proxied-NoRewrite", mw: mk(r, &clientip.MiddlewareOptions{NoRewrite: true}), tmpl: proxied, strategy: xff},
		{name: "baseline-bare-handler-browser", mw: func(h http.Handler) http.Handler { return h }, tmpl: browser},
		{name: "proxied-browser-15-headers", mw: mk(r, nil), tmpl: browser, strategy: xff},
	}
	saved := map[*http.Request]http.Header{} // each template's headers, before any row deletes some
	for _, c := range cases {
		if saved[c.tmpl] == nil {
			saved[c.tmpl] = c.tmpl.Header.Clone()
		}
	}
	for _, c := range cases {
		var w http.ResponseWriter = w
		if c.w != nil {
			w = c.w
		}
		saved := saved[c.tmpl]
		req := new(http.Request)
		fresh := func() {
			for k, v := range saved {
				c.tmpl.Header[k] = v
			}
			*req = *c.tmpl
		}
		if c.strategy != "" {
			var info clientip.Info
			fresh()
			c.mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				info, _ = clientip.FromContext(r.Context())
			})).ServeHTTP(w, req)
			require.Equal(b, clientip.Resolved, info.Outcome, c.name)
			require.Equal(b, c.strategy, info.Strategy.String(), c.name)
			require.Equal(b, "198.51.100.0", info.Addr.String(), c.name)
		}
		h := c.mw(bare)
		b.Run(c.name, func(b *testing.B) {
			loop(b, func() {
				fresh()
				h.ServeHTTP(w, req)
			})
		})
	}
}

// withContext is the least any middleware that hands a value to the next
// handler through the request context can do: one request copy (one
// allocation) with a context made in advance.
func withContext(next http.Handler) http.Handler {
	ctx := context.WithValue(context.Background(), benchKey{}, 1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// withContextInPlace is the same with the request rewritten in place, as
// the middleware does: no allocation, WithContext's copy stays on the
// stack.
func withContextInPlace(next http.Handler) http.Handler {
	ctx := context.WithValue(context.Background(), benchKey{}, 1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*r = *r.WithContext(ctx)
		next.ServeHTTP(w, r)
	})
}

type benchKey struct{}

// loop runs f in a b.Loop, reporting allocations and, where the platform
// can measure it, the CPU time the benchmark's thread spent per operation
// ("cpu-ns/op"): on a shared, loaded machine the wall-clock ns/op counts
// the time spent waiting for a core, and cpu-ns/op does not (the GC's
// background workers run on other threads and are left out of it too).
func loop(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	start, ok := cputime.Thread()
	for b.Loop() {
		f()
	}
	if end, ok2 := cputime.Thread(); ok && ok2 && b.N > 0 {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}
