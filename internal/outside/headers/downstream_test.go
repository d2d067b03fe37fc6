package headers_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// seen is what the handler behind the middleware saw of one request.
type seen struct {
	remote string
	info   clientip.Info
	ok     bool
	dump   string // headers, trailers, URL, RequestURI, form, context, Info's log value
	names  []string
}

// hostileVendor is what a client puts in a vendor header the service
// does not read: two values, a list, junk after the address, obs-text
// bytes around it, the client's own address (which a proxy rule may
// copy) or one it chose.
func hostileVendor(r *rand.Rand, client, chosen netip.Addr) []string {
	a := pick(r, client, chosen)
	s := pick(r, a.String(), "["+a.String()+"]:"+port(r))
	switch r.IntN(5) {
	case 0:
		return []string{s, chosen.String()}
	case 1:
		return []string{chosen.String() + ", " + s}
	case 2:
		return []string{s + pick(r, " junk", ";proto=https", ",", " (via cdn)")}
	case 3:
		return []string{pick(r, "\x80", "\xff\xfe", "é") + s + pick(r, "\x80", "\xa0", "")}
	}
	return []string{s}
}

// TestDownstreamOfEdgeHeaders: through a real server, requests whose
// forwarding headers take the edge forms the other tests generate
// (Forwarded and X-Forwarded-For in every accepted layout, vendor headers
// with two values, lists, junk and obs-text, names in odd case and with
// underscores, many lines, the whole near net/http's header size limit)
// reach the handler with RemoteAddr and the Info masked from the client
// the strategy names, and with no header, trailer, URL, form value or
// context value holding the client's address, nor any header that
// ClientAddrHeaders names.
func TestDownstreamOfEdgeHeaders(t *testing.T) {
	p := ipmask.Default
	tr, err := clientip.NewTrusted(append([]string{"127.0.0.0/8", "::1/128"}, proxyRanges...)...)
	require.NoError(t, err)
	res := resolver(t, clientip.RightmostUntrusted(tr), clientip.Forwarded(tr), clientip.SingleHeader(tr, "X-Azure-ClientIP"), clientip.RemoteAddr())
	mw, err := clientip.NewMiddleware(res, p, nil)
	require.NoError(t, err)

	var mu sync.Mutex
	var got seen
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		_, _ = io.Copy(io.Discard, r.Body)
		info, ok := clientip.FromContext(r.Context())
		var sb strings.Builder
		var names []string
		for k, vv := range r.Header {
			names = append(names, k)
			fmt.Fprintf(&sb, "%s: %q\n", k, vv)
		}
		fmt.Fprintf(&sb, "trailer %v\nurl %s\nuri %s\nform %v\nctx %v\ninfo %v\n", r.Trailer, r.URL, r.RequestURI, r.Form, r.Context(), info.LogValue())
		mu.Lock()
		got = seen{remote: r.RemoteAddr, info: info, ok: ok, dump: sb.String(), names: names}
		mu.Unlock()
	})))
	t.Cleanup(srv.Close)

	r := rand.New(rand.NewPCG(4, 16))
	for i := range 40 {
		client, chosen := randClient(r), randClient(r)
		h := http.Header{}
		// Which strategy of the chain answers: X-Forwarded-For, Forwarded
		// or the configured single-address header.
		which := r.IntN(3)
		switch which {
		case 0:
			entries, _ := xffChain(r, client)
			h["X-Forwarded-For"] = xffLines(r, entries)
			h["Forwarded"] = split(r, forwardedChain(r, chosen, r.IntN(2) == 0))
		case 1:
			h["Forwarded"] = split(r, forwardedChain(r, client, r.IntN(2) == 0))
		default:
			h["X-Azure-Clientip"] = []string{singleValue(r, client)}
		}
		for _, n := range vendorHeaders {
			if n == "X-Azure-ClientIP" || r.IntN(2) == 0 {
				continue
			}
			h[pick(r, n, strings.ToLower(n), strings.ReplaceAll(n, "-", "_"), oddCase(r, strings.ReplaceAll(n, "-", "_")))] = hostileVendor(r, client, chosen)
		}
		h["X_Forwarded_For"] = []string{client.String() + ", " + chosen.String()}
		// In other text, the client in the forms the middleware doc says
		// it finds there (not an IPv4 client in hex inside IPv6).
		via := xffEntry(r, client)
		for client.Is4() && !strings.Contains(via, client.String()) {
			via = xffEntry(r, client)
		}
		h["Via"] = []string{"1.1 " + via + " (proxy)"}
		if r.IntN(3) == 0 {
			// Near the server's limit (1 MB): forged entries left of
			// the chain, in a line of their own or the first line.
			size := 700_000 + r.IntN(280_000)
			if which == 1 {
				size = size * 2 / 3 // "for=" is added to each entry
			}
			var sb strings.Builder
			for sb.Len() < size {
				sb.WriteString(xffEntry(r, randClient(r)))
				sb.WriteString(", ")
			}
			if which == 1 {
				h["Forwarded"] = append([]string{"for=" + strings.ReplaceAll(sb.String(), ", ", ", for=") + "for=1.2.3.4"}, h["Forwarded"]...)
			} else if which == 0 {
				h["X-Forwarded-For"] = append([]string{sb.String()}, h["X-Forwarded-For"]...)
			} else {
				h["X-Pad"] = []string{sb.String()}
			}
		}
		q := url.Values{"ip": {client.String()}, "x": {"[" + client.String() + "]:1"}}
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/p/"+url.PathEscape(client.String())+"?"+q.Encode(), nil)
		require.NoError(t, err)
		for k, vv := range h {
			req.Header[k] = vv // as written, not canonicalized
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err, "case %d", i)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "case %d", i)

		mu.Lock()
		g := got
		mu.Unlock()
		what := fmt.Sprintf("case %d (strategy %d) %q", i, which, truncate(h))
		require.True(t, g.ok, what)
		if !assert.Equal(t, clientip.Resolved, g.info.Outcome, "%s: %v", what, g.info.Err) {
			continue
		}
		assert.Equal(t, p.Mask(client), g.info.Addr, what)
		assert.Equal(t, p.Prefix(client), g.info.Prefix, what)
		host, _, err := net.SplitHostPort(g.remote)
		if assert.NoError(t, err, what) {
			assert.Equal(t, p.Mask(client).String(), host, what)
		}
		ipmasktest.AssertNoRawIPOf(t, p, g.dump, []netip.Addr{client}, what)
		for _, n := range g.names {
			for _, c := range clientip.ClientAddrHeaders() {
				assert.False(t, strings.EqualFold(n, c) || strings.EqualFold(strings.ReplaceAll(n, "_", "-"), c), "%s: %s reached the handler", what, n)
			}
		}
	}
}

func truncate(h http.Header) string {
	s := fmt.Sprint(h)
	if len(s) > 600 {
		s = s[:300] + " ... " + s[len(s)-300:]
	}
	return s
}
