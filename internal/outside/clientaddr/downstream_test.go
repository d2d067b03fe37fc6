package clientaddr_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// spell writes a in one of the spellings NewMiddleware's doc says it
// finds: IPv4 as a dotted quad, alone, with a port, in brackets inside
// "::ffff:"; IPv6 in any spelling net/netip parses (any zero run
// compressed or none, groups zero-padded or not, either case, the last 32
// bits as a dotted quad), with a zone, in brackets, with a port.
func spell(r *rand.Rand, a netip.Addr) string {
	if a.Is4() {
		s := a.String()
		switch r.IntN(5) {
		case 0:
			return s + ":" + port(r)
		case 1:
			return "::ffff:" + s
		case 2:
			return "[::FFFF:" + s + "]:" + port(r)
		}
		return s
	}
	b := a.As16()
	var g [8]uint16
	for i := range g {
		g[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	n := 8
	tail := ""
	if r.IntN(4) == 0 {
		n = 6
		tail = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}).String()
	}
	parts := make([]string, n)
	upper := r.IntN(2) == 0
	for i := range n {
		p := strconv.FormatUint(uint64(g[i]), 16)
		if r.IntN(3) == 0 {
			p = strings.Repeat("0", 4-len(p)) + p
		}
		if upper {
			p = strings.ToUpper(p)
		}
		parts[i] = p
	}
	if tail != "" {
		parts = append(parts, tail)
	}
	// Compress one run of zero groups, chosen at random, or none.
	var runs [][2]int
	for i := 0; i < n; {
		if g[i] != 0 {
			i++
			continue
		}
		j := i
		for j < n && g[j] == 0 {
			j++
		}
		runs = append(runs, [2]int{i, j})
		i = j
	}
	s := strings.Join(parts, ":")
	if len(runs) > 0 && r.IntN(3) > 0 {
		run := runs[r.IntN(len(runs))]
		left := strings.Join(parts[:run[0]], ":")
		right := strings.Join(parts[run[1]:], ":")
		s = left + "::" + right
	}
	switch r.IntN(5) {
	case 0:
		return "[" + s + "]:" + port(r)
	case 1:
		return "[" + s + "]"
	case 2:
		return s + "%eth0"
	}
	return s
}

// inText puts a spelling of a inside text as other headers write it: a
// Via, key=value pairs, JSON, a list, after a word and a colon.
func inText(r *rand.Rand, a netip.Addr) string {
	s := spell(r, a)
	before := []string{"", " ", "ip=", "for=", "1.1 ", "src:", "(", "\"", "client ", "{\"ip\":\"", "unknown, ", "10.0.0.1, "}[r.IntN(12)]
	after := []string{"", " ", ";", ", 10.0.0.1", ")", "\"", " (squid/5.7)", "; country=DE", "\"}", "/x"}[r.IntN(10)]
	return before + s + after
}

// urlPart puts a spelling of a into a URL path segment or query, escaped
// as a client escapes it: nothing beyond what must be, all of it, or the
// colons and dots of the address percent-encoded.
func urlPart(r *rand.Rand, a netip.Addr, query bool) string {
	s := spell(r, a)
	s = strings.ReplaceAll(s, "%", "%25") // the zone's percent
	switch r.IntN(3) {
	case 0:
		if query {
			return url.QueryEscape(s)
		}
		return url.PathEscape(s)
	case 1:
		return strings.NewReplacer(":", "%3A", "[", "%5B", "]", "%5D").Replace(s)
	}
	return strings.NewReplacer("[", "%5B", "]", "%5D").Replace(s)
}

var headerNames = []string{"Via", "X-Request-Context", "Cookie", "X-Debug", "X-Original-Client", "x-custom-chain", "X_CLIENT_ADDR", "Forwarded-Host-Info", "X-Amzn-Trace-Id", "Accept-Language"}

// TestDownstreamSeesNoClientAddr checks the second claim over
// generated requests sent to a real server, over HTTP/1.1 (raw bytes) and
// HTTP/2 (Go's client: names in lower case, trailers declared), through a
// trusted proxy (the loopback peer): a client whose address the proxy writes in
// X-Forwarded-For also writes it, in every spelling the doc of
// NewMiddleware lists, in other headers (whole values, lists, inside
// text; names in any case, with underscores; several lines), in the URL's
// path and query (raw and percent-encoded) and in trailers that arrive
// after a chunked body. The handler behind the middleware, and an access
// log wrapping it, see no spelling of the client's address in RemoteAddr,
// RequestURI, the URL, any header or trailer, or the printed context; the
// Info says the client was resolved. The check parses every run of
// address characters in what they saw (after decoding percent-escapes),
// so it finds any spelling net/netip reads. Checked to fail: with the
// middleware left out (the handler then sees the client in every
// request), with NoRewrite set, with the search in other values turned
// off, and with the trailers' hiding turned off (each protocol fails).
func TestDownstreamSeesNoClientAddr(t *testing.T) {
	tr, err := clientip.NewTrusted("127.0.0.0/8", "::1/128")
	require.NoError(t, err)
	res, err := clientip.New(clientip.RightmostUntrusted(tr), clientip.RemoteAddr())
	require.NoError(t, err)
	mw, err := clientip.NewMiddleware(res, ipmask.Default, nil)
	require.NoError(t, err)

	var mu sync.Mutex
	var seen, logged string
	var info clientip.Info
	capture := func(r *http.Request) string {
		var sb strings.Builder
		fmt.Fprintf(&sb, "%s\n%s %s\n%s\n%s\n%s\n%s\n", r.RemoteAddr, r.Method, r.RequestURI, r.URL, r.URL.RawPath, r.URL.Path, r.URL.RawQuery)
		for k, vv := range r.Header {
			fmt.Fprintf(&sb, "%s: %q\n", k, vv)
		}
		for k, vv := range r.Trailer {
			fmt.Fprintf(&sb, "trailer %s: %q\n", k, vv)
		}
		fmt.Fprintf(&sb, "%v\n", r.Context())
		return sb.String()
	}
	handler := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		defer mu.Unlock()
		info, _ = clientip.FromContext(r.Context())
		seen = capture(r)
		w.WriteHeader(http.StatusNoContent)
	}))
	accessLog := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.ServeHTTP(w, r)
		mu.Lock()
		defer mu.Unlock()
		logged = capture(r)
	})
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		t.Run(proto, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(accessLog)
			if proto == "HTTP/2" {
				srv.EnableHTTP2 = true
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			rng := rand.New(rand.NewPCG(7, uint64(len(proto))))
			for i := range 120 {
				client := randClient(rng, tr).Unmap()
				if ipmask.Default.IsMasked(client) {
					continue // a network's first address is its own mask
				}
				want := client.WithZone("")
				g := generateRequest(rng, client)
				var code int
				if proto == "HTTP/2" {
					code = g.sendHTTP2(t, srv)
				} else {
					code = roundTrip(t, srv.Listener.Addr().String(), g.raw())
				}
				require.Equal(t, http.StatusNoContent, code, "%d: %s", i, g.raw())
				mu.Lock()
				s, l, in := seen, logged, info
				mu.Unlock()
				assert.Equal(t, clientip.Resolved, in.Outcome, "%d", i)
				assert.Equal(t, ipmask.Default.Prefix(want), in.Prefix, "%d", i)
				if !assertNotSeen(t, s, want, fmt.Sprintf("%d: the handler, for %q", i, g.raw())) ||
					!assertNotSeen(t, l, want, fmt.Sprintf("%d: the access log, for %q", i, g.raw())) {
					return
				}
			}
		})
	}
}

// generated is a request from a client behind the loopback proxy that
// writes its own address all over it.
type generated struct {
	target   string
	headers  [][2]string
	trailers [][2]string
}

func generateRequest(rng *rand.Rand, client netip.Addr) generated {
	var g generated
	g.target = "/p/" + urlPart(rng, client, false) + "/x?q=" + urlPart(rng, client, true) + "&" + urlPart(rng, client, true) + "=v"
	g.headers = append(g.headers, [2]string{"X-Forwarded-For", spell(rng, randAddr(rng)) + ", " + xffEntry(rng, client)})
	for range 3 + rng.IntN(5) {
		name := headerNames[rng.IntN(len(headerNames))]
		var v string
		switch rng.IntN(3) {
		case 0:
			v = spell(rng, client)
		case 1:
			v = inText(rng, client) + ", " + inText(rng, client)
		default:
			v = inText(rng, client)
		}
		g.headers = append(g.headers, [2]string{name, v})
		if rng.IntN(2) == 0 {
			g.trailers = append(g.trailers, [2]string{fmt.Sprintf("X-Trailer-%d", len(g.trailers)), inText(rng, client)})
		}
	}
	return g
}

// raw is g as HTTP/1.1 bytes, with a chunked body and its trailers (one
// declared, the others not).
func (g generated) raw() string {
	var req strings.Builder
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: example.com\r\n", g.target)
	for _, h := range g.headers {
		fmt.Fprintf(&req, "%s: %s\r\n", h[0], h[1])
	}
	req.WriteString("Transfer-Encoding: chunked\r\n")
	if len(g.trailers) > 0 {
		req.WriteString("Trailer: X-Trailer-0\r\n")
	}
	req.WriteString("\r\n4\r\nbody\r\n0\r\n")
	for _, tl := range g.trailers {
		req.WriteString(tl[0] + ": " + tl[1] + "\r\n")
	}
	req.WriteString("\r\n")
	return req.String()
}

// sendHTTP2 sends g over HTTP/2 with Go's client: header names in lower
// case on the wire, the trailers declared and sent after the body.
func (g generated) sendHTTP2(t *testing.T, srv *httptest.Server) int {
	t.Helper()
	tb := &trailingBody{r: strings.NewReader("body")}
	req, err := http.NewRequest(http.MethodPost, srv.URL+g.target, tb)
	require.NoError(t, err)
	req.Host = "example.com"
	req.ContentLength = -1
	for _, h := range g.headers {
		req.Header.Add(h[0], h[1])
	}
	if len(g.trailers) > 0 {
		req.Trailer = http.Header{}
		for _, tl := range g.trailers {
			req.Trailer[tl[0]] = nil
		}
		tb.done = func() {
			for _, tl := range g.trailers {
				req.Trailer.Set(tl[0], tl[1])
			}
		}
	}
	client := srv.Client()
	client.Timeout = 10 * time.Second
	resp, err := client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 2, resp.ProtoMajor)
	return resp.StatusCode
}

// trailingBody fills the request's trailers when its body ends, as
// net/http's client asks.
type trailingBody struct {
	r    io.Reader
	done func()
}

func (b *trailingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && b.done != nil {
		b.done()
		b.done = nil
	}
	return n, err
}

// roundTrip sends raw, one request, on a new connection and returns the
// response's status code.
func roundTrip(t *testing.T, addr, raw string) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, raw)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// findAddr reports whether text holds a in any spelling net/netip parses,
// after decoding percent-escapes: it reads every run of address
// characters, and every part of a run between colons, with and without a
// port at its end.
func findAddr(text string, a netip.Addr) (string, bool) {
	a = a.Unmap().WithZone("")
	if u, err := url.PathUnescape(text); err == nil {
		text = u
	} else {
		text = strings.NewReplacer("%3A", ":", "%3a", ":", "%2E", ".", "%2e", ".", "%25", "%", "%5B", "[", "%5D", "]").Replace(text)
	}
	isAddrChar := func(c byte) bool {
		return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == ':' || c == '.'
	}
	try := func(s string) bool {
		s = strings.TrimRight(s, ".")
		b, err := netip.ParseAddr(s)
		return err == nil && b.Unmap() == a
	}
	for i := 0; i < len(text); {
		if !isAddrChar(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && isAddrChar(text[j]) {
			j++
		}
		run := text[i:j]
		i = j
		var colons []int
		for k := 0; k < len(run); k++ {
			if run[k] == ':' {
				colons = append(colons, k)
			}
		}
		starts := []int{0}
		for _, k := range colons {
			starts = append(starts, k+1)
		}
		ends := []int{len(run)}
		ends = append(ends, colons...)
		for _, s := range starts {
			for _, e := range ends {
				if e > s && try(run[s:e]) {
					return run, true
				}
			}
		}
	}
	return "", false
}

func assertNotSeen(t *testing.T, text string, a netip.Addr, what string) bool {
	t.Helper()
	run, found := findAddr(text, a)
	return assert.False(t, found, "%s: sees %s as %q in:\n%s", what, a, run, text)
}

// TestFindAddr shows the leak check finds spellings and ignores the
// masked address and neighbours.
func TestFindAddr(t *testing.T) {
	v4 := netip.MustParseAddr("198.51.100.7")
	v6 := netip.MustParseAddr("2001:db8:1:2::c633:6407")
	for text, want := range map[string]bool{
		"via 198.51.100.7:80 x": true, "::ffff:198.51.100.7": true, "198%2E51%2E100%2E7": true, "ip=198.51.100.7.": true,
		"198.51.100.70": false, "198.51.100.0": false, "2001:db8:1::": false,
	} {
		_, got := findAddr(text, v4)
		assert.Equal(t, want, got, text)
	}
	for text, want := range map[string]bool{
		"src:2001:DB8:1:2:0:0:C633:6407": true, "[2001:db8:1:2::198.51.100.7]:80": true, "2001%3Adb8%3A1%3A2%3A%3Ac633%3A6407": true,
		"fe80::1%eth0 2001:0db8:0001:0002:0000:0000:c633:6407%eth0": true, "2001:db8:1::": false, "2001:db8:1:2::c633:6408": false,
	} {
		_, got := findAddr(text, v6)
		assert.Equal(t, want, got, text)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		a := randAddr(rng).Unmap()
		s := spell(rng, a)
		_, got := findAddr("x "+s+" y", a)
		require.True(t, got, "%s as %s", a, s)
	}
}
