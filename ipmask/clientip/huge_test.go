package clientip_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// hugeCase is a request with about 1 MB of one hostile header.
type hugeCase struct {
	name   string
	r      *clientip.Resolver
	h      http.Header
	remote string
}

// hugeCases covers every header kind and strategy: one huge entry, many
// entries, many copies of the header, huge quoted strings, and a huge
// RemoteAddr.
func hugeCases(tb testing.TB) []hugeCase {
	tb.Helper()
	const mb = 1 << 20
	tr, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(tb, err)
	mk := func(s ...clientip.Strategy) *clientip.Resolver {
		r, err := clientip.New(s...)
		require.NoError(tb, err)
		return r
	}
	xff := mk(clientip.RightmostUntrusted(tr))
	hops := mk(clientip.TrustedHops(tr, 3))
	single := mk(clientip.SingleHeader(tr, "X-Real-IP"))
	fwd := mk(clientip.Forwarded(tr))
	chain := mk(clientip.SingleHeader(tr, "CF-Connecting-IP"), clientip.Forwarded(tr), clientip.RightmostUntrusted(tr), clientip.RemoteAddr())
	copies := func(v string) []string {
		out := make([]string, mb/(len(v)+20))
		for i := range out {
			out[i] = v
		}
		return out
	}
	oneEntry := strings.Repeat("9", mb)
	spaces := strings.Repeat(" ", mb)
	commas := strings.Repeat(",", mb)
	trustedList := strings.Repeat("10.1.1.1, ", mb/10)
	forgedList := strings.Repeat("203.0.113.99, ", mb/14) + "198.51.100.7, 10.0.0.3"
	quoted := `for=198.51.100.7;host="` + strings.Repeat("a", mb) + `"`
	unterminated := `for="` + strings.Repeat("a", mb)
	backslashes := `for=198.51.100.7;host="` + strings.Repeat(`\`, mb) + `"`
	longParams := strings.Repeat(`for=10.0.0.2;host="`+strings.Repeat("a", 480)+`", `, mb/500)
	const proxy = "10.0.0.1:4711"
	return []hugeCase{
		{name: "xff/one-entry", r: xff, h: http.Header{"X-Forwarded-For": {oneEntry}}, remote: proxy},
		{name: "xff/entry-left-of-trusted", r: xff, h: http.Header{"X-Forwarded-For": {oneEntry + ", 10.0.0.2"}}, remote: proxy},
		{name: "xff/spaces", r: xff, h: http.Header{"X-Forwarded-For": {spaces}}, remote: proxy},
		{name: "xff/commas", r: xff, h: http.Header{"X-Forwarded-For": {commas}}, remote: proxy},
		{name: "xff/trusted-entries", r: xff, h: http.Header{"X-Forwarded-For": {trustedList}}, remote: proxy},
		{name: "xff/forged-entries", r: xff, h: http.Header{"X-Forwarded-For": {forgedList}}, remote: proxy},
		{name: "xff/copies", r: xff, h: http.Header{"X-Forwarded-For": copies("10.1.1.1")}, remote: proxy},
		{name: "xff/empty-copies", r: xff, h: http.Header{"X-Forwarded-For": copies("")}, remote: proxy},
		{name: "hops/one-entry", r: hops, h: http.Header{"X-Forwarded-For": {oneEntry}}, remote: proxy},
		{name: "hops/copies", r: hops, h: http.Header{"X-Forwarded-For": copies("garbage")}, remote: proxy},
		{name: "single/one-value", r: single, h: http.Header{"X-Real-Ip": {oneEntry}}, remote: proxy},
		{name: "single/spaces", r: single, h: http.Header{"X-Real-Ip": {spaces}}, remote: proxy},
		{name: "single/copies", r: single, h: http.Header{"X-Real-Ip": copies("198.51.100.7")}, remote: proxy},
		{name: "forwarded/quoted", r: fwd, h: http.Header{"Forwarded": {quoted}}, remote: proxy},
		{name: "forwarded/unterminated", r: fwd, h: http.Header{"Forwarded": {unterminated}}, remote: proxy},
		{name: "forwarded/backslashes", r: fwd, h: http.Header{"Forwarded": {backslashes}}, remote: proxy},
		{name: "forwarded/long-params", r: fwd, h: http.Header{"Forwarded": {longParams}}, remote: proxy},
		{name: "forwarded/commas", r: fwd, h: http.Header{"Forwarded": {commas}}, remote: proxy},
		{name: "forwarded/copies", r: fwd, h: http.Header{"Forwarded": copies("for=10.0.0.2")}, remote: proxy},
		{name: "remote-addr", r: mk(), h: http.Header{}, remote: oneEntry},
		{name: "chain/all", r: chain, h: http.Header{"Cf-Connecting-Ip": {spaces}, "Forwarded": {commas}, "X-Forwarded-For": {oneEntry}}, remote: proxy},
	}
}

// TestHugeHeadersBounded checks that about 1 MB of any hostile header
// costs at most 4 allocations and under 1 KiB, through Resolve (which
// returns an error, built once) and through the middleware.
func TestHugeHeadersBounded(t *testing.T) {
	for _, c := range hugeCases(t) {
		t.Run(c.name, func(t *testing.T) {
			resolve := func() { _, _ = c.r.Resolve(c.h, c.remote) }
			allocs, bytes := allocsAndBytes(resolve)
			assert.LessOrEqual(t, allocs, 4.0, "Resolve allocations")
			assert.Less(t, bytes, 1024.0, "Resolve bytes")

			mw, err := clientip.NewMiddleware(c.r, ipmask.Default, nil)
			require.NoError(t, err)
			h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			tmpl := httptest.NewRequest(http.MethodGet, "/", nil)
			tmpl.RemoteAddr = c.remote
			for k, v := range c.h {
				tmpl.Header[k] = v
			}
			req := fresh(tmpl)
			w := httptest.NewRecorder()
			serve := func() { h.ServeHTTP(w, req()) }
			allocs, bytes = allocsAndBytes(serve)
			assert.LessOrEqual(t, allocs, 4.0, "middleware allocations")
			assert.Less(t, bytes, 1024.0, "middleware bytes")
		})
	}
}

// allocsAndBytes returns the mean allocations and bytes allocated per
// call of f.
func allocsAndBytes(f func()) (allocs, bytes float64) {
	const runs = 50
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / runs, float64(after.TotalAlloc-before.TotalAlloc) / runs
}

// BenchmarkHugeHeaders measures the cases of TestHugeHeadersBounded, with
// a small well-formed header as the baseline in the same run.
func BenchmarkHugeHeaders(b *testing.B) {
	tr, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(b, err)
	base, err := clientip.New(clientip.RightmostUntrusted(tr))
	require.NoError(b, err)
	cases := append([]hugeCase{{name: "baseline-3-hops", r: base, h: http.Header{"X-Forwarded-For": {"203.0.113.9, 198.51.100.7, 10.0.0.3"}}, remote: "10.0.0.1:4711"}}, hugeCases(b)...)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			loop(b, func() { _, _ = c.r.Resolve(c.h, c.remote) })
		})
	}
}
