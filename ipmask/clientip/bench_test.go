package clientip_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
			b.ReportAllocs()
			for b.Loop() {
				_, _ = r.Resolve(c.h, "10.0.0.1:4711")
			}
		})
	}
}

// BenchmarkMiddleware measures the middleware against the bare handler in
// the same run.
func BenchmarkMiddleware(b *testing.B) {
	tr, err := clientip.NewTrusted("10.0.0.0/8")
	if err != nil {
		b.Fatal(err)
	}
	r, err := clientip.New(clientip.RightmostUntrusted(tr), clientip.RemoteAddr())
	if err != nil {
		b.Fatal(err)
	}
	bare := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	mk := func(opts *clientip.MiddlewareOptions) http.Handler {
		mw, err := clientip.NewMiddleware(r, ipmask.Default, opts)
		if err != nil {
			b.Fatal(err)
		}
		return mw(bare)
	}
	direct := httptest.NewRequest(http.MethodGet, "/", nil)
	direct.RemoteAddr = "198.51.100.77:5555"
	direct.Header.Set("User-Agent", "bench")
	proxied := httptest.NewRequest(http.MethodGet, "/", nil)
	proxied.RemoteAddr = "10.0.0.1:5555"
	proxied.Header.Set("X-Forwarded-For", "203.0.113.9, 198.51.100.77")
	proxied.Header.Set("User-Agent", "bench")
	proxied.Header.Set("Accept", "*/*")
	w := httptest.NewRecorder()
	cases := []struct {
		name string
		h    http.Handler
		req  *http.Request
	}{
		{name: "baseline-bare-handler", h: bare, req: proxied},
		{name: "direct", h: mk(nil), req: direct},
		{name: "proxied", h: mk(nil), req: proxied},
		{name: "proxied-NoRewrite", h: mk(&clientip.MiddlewareOptions{NoRewrite: true}), req: proxied},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, c.req)
			}
		})
	}
}
