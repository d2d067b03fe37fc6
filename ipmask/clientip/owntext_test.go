package clientip_test

import (
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// seenReq is what a handler behind the middleware found in its request.
type seenReq struct {
	header     http.Header
	url        string
	requestURI string
	dump       string
}

// serveSeen serves req through mw and returns what the handler saw.
func serveSeen(t *testing.T, mw func(http.Handler) http.Handler, req *http.Request) seenReq {
	t.Helper()
	var s *seenReq
	mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		s = &seenReq{header: r.Header.Clone(), url: r.URL.String(), requestURI: r.RequestURI, dump: string(dump(r))}
	})).ServeHTTP(httptest.NewRecorder(), req)
	require.NotNil(t, s, "the handler ran")
	return *s
}

// TestMiddlewareMasksClientAddrInText sends the client's own address
// inside longer header values, where no rule by name or by a value's ends
// finds it, from a proxy that names the client in X-Forwarded-For: the
// handler finds the masked address in its place, in each form the value
// wrote it, and every other text unchanged.
func TestMiddlewareMasksClientAddrInText(t *testing.T) {
	mw := behindProxy(t)
	const v6b = "2001:db8:0:0:1:0:0:1" // canonical 2001:db8::1:0:0:1
	tests := []struct {
		name, client, key, value, want string
	}{
		{"Via of a squid", canary4, "Via", "1.1 198.51.100.77:3128 (squid/5.7)", "1.1 198.51.100.0:3128 (squid/5.7)"},
		{"key-value pairs", canary4, "X-Client-Info", "ip=198.51.100.77; country=DE", "ip=198.51.100.0; country=DE"},
		{"an edge's request line", canary4, "X-Edge-Request", "client=198.51.100.77,pop=FRA", "client=198.51.100.0,pop=FRA"},
		{"Forwarded syntax, another name", canary4, "X-Fwd", "by=10.0.0.1;for=198.51.100.77;proto=https", "by=10.0.0.1;for=198.51.100.0;proto=https"},
		{"quoted with a port", canary4, "X-Fwd", `for="198.51.100.77:4711";proto=https`, `for="198.51.100.0:4711";proto=https`},
		{"JSON", canary4, "X-Geo", `{"ip":"198.51.100.77","asn":64500}`, `{"ip":"198.51.100.0","asn":64500}`},
		{"a cookie", canary4, "Cookie", "visitor_ip=198.51.100.77; other=1", "visitor_ip=198.51.100.0; other=1"},
		{"Kemp's X-ClientSide", canary4, "X-Clientside", "198.51.100.77:51234 -> 10.0.0.5:443", "198.51.100.0:51234 -> 10.0.0.5:443"},
		{"inside a list", canary4, "X-Chain", "hops 10.0.0.3 198.51.100.77 10.0.0.2", "hops 10.0.0.3 198.51.100.0 10.0.0.2"},
		{"IPv4-mapped", canary4, "X-Peer", "peer ::ffff:198.51.100.77 tcp", "peer ::ffff:198.51.100.0 tcp"},
		{"Referer", canary4, "Referer", "http://198.51.100.77:8080/page?x=1", "http://198.51.100.0:8080/page?x=1"},
		{"Origin", canary4, "Origin", "http://198.51.100.77", "http://198.51.100.0"},
		{"after a percent-escape", canary4, "X-Q", "q=see%20198.51.100.77%2C", "q=see%20198.51.100.0%2C"},
		{"twice", canary4, "X-Log", "a=198.51.100.77 b=198.51.100.77.", "a=198.51.100.0 b=198.51.100.0."},
		{"IPv6 key-value", canary6, "X-Client-Info", "ip=2001:db8:1:2:3:4:5:6; country=DE", "ip=2001:db8:1::; country=DE"},
		{"IPv6 in brackets with a port", canary6, "Via", "1.1 [2001:db8:1:2:3:4:5:6]:3128 (squid/5.7)", "1.1 [2001:db8:1::]:3128 (squid/5.7)"},
		{"IPv6 with a zone", canary6, "X-Peer", "peer 2001:db8:1:2:3:4:5:6%eth0 tcp", "peer 2001:db8:1::%eth0 tcp"},
		{"IPv6 expanded", canary6, "X-Client-Info", "ip=2001:0db8:0001:0002:0003:0004:0005:0006;x", "ip=2001:db8:1::;x"},
		{"IPv6 upper case", canary6, "X-Client-Info", "ip=2001:DB8:1:2:3:4:5:6;x", "ip=2001:db8:1::;x"},
		{"IPv6 percent-encoded", canary6, "Cookie", "ip=2001%3Adb8%3A1%3A2%3A3%3A4%3A5%3A6; x=1", "ip=2001%3Adb8%3A1%3A%3A; x=1"},
		{"IPv6 percent-encoded, lower case", canary6, "Cookie", "ip=2001%3adb8%3a1%3a2%3a3%3a4%3a5%3a6", "ip=2001%3Adb8%3A1%3A%3A"},
		{"IPv6 after a key and a colon", canary6, "X-Log", "src:2001:db8:1:2:3:4:5:6 dst:10.0.0.1", "src:2001:db8:1:: dst:10.0.0.1"},
		{"IPv6 with an unbracketed port", canary6, "X-Log", "from 2001:db8:1:2:3:4:5:6:443 via", "from 2001:db8:1:::443 via"},
		{"IPv6 JSON", canary6, "X-Geo", `{"ip":"2001:db8:1:2:3:4:5:6"}`, `{"ip":"2001:db8:1::"}`},
		{"IPv6 compressed another way", v6b, "X-Client-Info", "ip=2001:db8:0:0:1::1;x", "ip=2001:db8::;x"},
		{"IPv6 at the end of a sentence", canary6, "X-Log", "seen 2001:db8:1:2:3:4:5:6.", "seen 2001:db8:1::."},
		// Not the client's address: left alone.
		{"another address", canary4, "X-Client-Info", "ip=198.51.100.7; country=DE", "ip=198.51.100.7; country=DE"},
		{"a longer number after", canary4, "X-Client-Info", "ip=198.51.100.778;x", "ip=198.51.100.778;x"},
		{"a digit before", canary4, "X-Client-Info", "ip=1198.51.100.77;x", "ip=1198.51.100.77;x"},
		{"a browser version", canary4, "User-Agent", "Mozilla/5.0 Chrome/142.0.0.0 Safari/537.36", "Mozilla/5.0 Chrome/142.0.0.0 Safari/537.36"},
		{"another IPv6 address", canary6, "X-Client-Info", "ip=2001:db8:1:2:3:4:5:7;x", "ip=2001:db8:1:2:3:4:5:7;x"},
		{"a server header", canary4, "X-Forwarded-Host", "198.51.100.77:8080", "198.51.100.77:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = "10.0.0.1:1"
			req.Header.Set("X-Forwarded-For", tt.client)
			req.Header[tt.key] = []string{tt.value, "other " + tt.value}
			s := serveSeen(t, mw, req)
			assert.Equal(t, []string{tt.want, "other " + tt.want}, s.header[tt.key])
			if tt.want != tt.value { // the rows that keep their value hold the address
				assert.NotContains(t, s.dump, tt.client)
			}
		})
	}
}

// TestMiddlewareMasksClientAddrInURL sends the client's address in the
// request's path and query, plain and percent-encoded: the handler's URL,
// RequestURI, query values and, where a ServeMux routed the request before
// the middleware, its path values hold the masked address.
func TestMiddlewareMasksClientAddrInURL(t *testing.T) {
	mw := behindProxy(t)
	tests := []struct {
		name, client, target, want string
	}{
		{"query", canary4, "/l/abc?ip=198.51.100.77&x=1", "/l/abc?ip=198.51.100.0&x=1"},
		{"path", canary4, "/lookup/198.51.100.77/x", "/lookup/198.51.100.0/x"},
		{"IPv6 query, encoded", canary6, "/l/abc?ip=2001%3Adb8%3A1%3A2%3A3%3A4%3A5%3A6", "/l/abc?ip=2001%3Adb8%3A1%3A%3A"},
		{"IPv6 path", canary6, "/lookup/2001:db8:1:2:3:4:5:6", "/lookup/2001:db8:1::"},
		{"IPv6 path, encoded", canary6, "/lookup/2001%3Adb8%3A1%3A2%3A3%3A4%3A5%3A6", "/lookup/2001%3Adb8%3A1%3A%3A"},
		{"path with encoded dots, decoded", canary4, "/lookup/198%2E51%2E100%2E77/a%2Fb", "/lookup/198.51.100.0/a%2Fb"},
		{"path decoded to the address", canary4, "/lookup/%31%39%38.51.100.77/a%2Fb", "/lookup/198.51.100.0/a/b"},
		{"query with encoded dots", canary4, "/l/abc?ip=198%2E51%2E100%2E77&b=198%2e51%2e100%2e77", "/l/abc?ip=198.51.100.0&b=198.51.100.0"},
		{"another address", canary4, "/l/abc?ip=198.51.100.7", "/l/abc?ip=198.51.100.7"},
		// An absolute-form target (to a forward proxy) may carry userinfo.
		{"userinfo", canary4, "http://198.51.100.77@example.com/x", "http://198.51.100.0@example.com/x"},
		{"userinfo password", canary4, "http://u:198.51.100.77@example.com/x", "http://u:198.51.100.0@example.com/x"},
		{"userinfo decoded to the address", canary4, "http://%31%39%38.51.100.77@example.com/x", "http://198.51.100.0@example.com/x"},
		{"IPv6 userinfo, encoded", canary6, "http://2001%3Adb8%3A1%3A2%3A3%3A4%3A5%3A6@example.com/x", "http://2001%3Adb8%3A1%3A%3A@example.com/x"},
		// net/url reads "2001" as the user and the rest as a password,
		// whose colons it encodes when it writes the URL again.
		{"IPv6 userinfo, split at its first colon", canary6, "http://2001:db8:1:2:3:4:5:6@example.com/x", "http://2001:db8:1::@example.com/x|http://2001:db8%3A1%3A%3A@example.com/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.target, nil)
			req.RemoteAddr = "10.0.0.1:1"
			req.Header.Set("X-Forwarded-For", tt.client)
			s := serveSeen(t, mw, req)
			wantURI, wantURL, ok := strings.Cut(tt.want, "|") // RequestURI|URL where they differ
			if !ok {
				wantURL = wantURI
			}
			assert.Equal(t, wantURI, s.requestURI)
			assert.Equal(t, wantURL, s.url)
			if tt.want != tt.target {
				noLeak(t, s.dump, tt.client)
			}
		})
	}

	t.Run("path values and a parsed form", func(t *testing.T) {
		var value string
		var form url.Values
		mux := http.NewServeMux()
		mux.Handle("GET /ip/{addr}/{rest...}", mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			value = r.PathValue("addr") + " " + r.PathValue("rest")
			form = r.Form
		})))
		outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			require.NoError(t, r.ParseForm()) // before the middleware
			mux.ServeHTTP(w, r)
		})
		req := httptest.NewRequest(http.MethodGet, "/ip/198.51.100.77/a/198.51.100.77?q=198.51.100.77", nil)
		req.RemoteAddr = "10.0.0.1:1"
		req.Header.Set("X-Forwarded-For", canary4)
		outer.ServeHTTP(httptest.NewRecorder(), req)
		assert.Equal(t, "198.51.100.0 a/198.51.100.0", value)
		assert.Equal(t, url.Values{"q": {"198.51.100.0"}}, form)
	})
}

// TestMiddlewareMasksClientAddrInParsedForms: a handler in front of the
// middleware parsed a POSTed form (url-encoded and multipart) before it
// ran: the values the next handler finds in Form, PostForm and
// MultipartForm hold the masked address. (The body itself is not read.)
func TestMiddlewareMasksClientAddrInParsedForms(t *testing.T) {
	mw := behindProxy(t)
	var mb strings.Builder
	mp := multipart.NewWriter(&mb)
	require.NoError(t, mp.WriteField("ip", "at 198.51.100.77:1"))
	require.NoError(t, mp.Close())
	tests := []struct {
		name, contentType, body string
	}{
		{"url-encoded", "application/x-www-form-urlencoded", "ip=at+198.51.100.77%3A1"},
		{"multipart", mp.FormDataContentType(), mb.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var form, post url.Values
			var multi map[string][]string
			h := mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				form, post = r.Form, r.PostForm
				if r.MultipartForm != nil {
					multi = r.MultipartForm.Value
				}
			}))
			req := httptest.NewRequest(http.MethodPost, "/form", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			req.RemoteAddr = "10.0.0.1:1"
			req.Header.Set("X-Forwarded-For", canary4)
			if tt.name == "multipart" { // before the middleware
				require.NoError(t, req.ParseMultipartForm(1<<20))
			} else {
				require.NoError(t, req.ParseForm())
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			want := []string{"at 198.51.100.0:1"}
			assert.Equal(t, want, form["ip"])
			assert.Equal(t, want, post["ip"])
			if tt.name == "multipart" {
				assert.Equal(t, want, multi["ip"])
			}
		})
	}
}

// TestMiddlewareOriginOfOwnServer: a browser on the server's machine (in
// development) asks for the server by the address it connects from. Its
// Origin and Referer name the server, and are kept, so that same-origin
// checks still pass; a cookie holding the address is masked.
func TestMiddlewareOriginOfOwnServer(t *testing.T) {
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/form", nil)
	req.RemoteAddr = "127.0.0.1:51234"
	req.Header.Set("Origin", "http://127.0.0.1:8080")
	req.Header.Set("Referer", "http://127.0.0.1:8080/page")
	req.Header.Set("Cookie", "ip=127.0.0.1")
	s := serveSeen(t, mw, req)
	assert.Equal(t, "http://127.0.0.1:8080", s.header.Get("Origin"))
	assert.Equal(t, "http://127.0.0.1:8080/page", s.header.Get("Referer"))
	assert.Equal(t, "ip=127.0.0.0", s.header.Get("Cookie"))

	req = httptest.NewRequest(http.MethodPost, "http://example.com/form", nil)
	req.RemoteAddr = "127.0.0.1:51234"
	req.Header.Set("Origin", "http://127.0.0.1:8080")
	s = serveSeen(t, mw, req)
	assert.Equal(t, "http://127.0.0.0:8080", s.header.Get("Origin"), "the Host names another server")
}

// TestMiddlewareInFrontOfReverseProxy: httputil.ReverseProxy behind the
// middleware appends the client's address to X-Forwarded-For from
// RemoteAddr, after the middleware ran, and copies the headers: the
// backend receives the masked address only.
func TestMiddlewareInFrontOfReverseProxy(t *testing.T) {
	var got string
	backend := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		_ = r.Header.Write(&b)
		got = b.String() + r.RequestURI
	}))
	t.Cleanup(backend.Close)
	u, err := url.Parse(backend.URL)
	require.NoError(t, err)
	for _, tt := range []struct {
		name  string
		proxy *httputil.ReverseProxy
	}{
		{"Director", httputil.NewSingleHostReverseProxy(u)},
		{"Rewrite", &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mw := behindProxy(t)
			front := httptest.NewServer(mw(tt.proxy))
			t.Cleanup(front.Close)
			// The front's peer, 127.0.0.1, is no trusted proxy: it is the
			// client.
			req, err := http.NewRequest(http.MethodGet, front.URL+"/l/abc?ip=127.0.0.1", nil)
			require.NoError(t, err)
			req.Header.Set("X-Client-Info", "ip=127.0.0.1; country=DE")
			req.Header.Set("X-Real-Ip", "127.0.0.1")
			got = ""
			resp, err := front.Client().Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			require.NoError(t, resp.Body.Close())
			assert.Contains(t, got, "X-Forwarded-For: 127.0.0.0\r\n")
			assert.Contains(t, got, "X-Client-Info: ip=127.0.0.0; country=DE\r\n")
			assert.True(t, strings.HasSuffix(got, "/l/abc?ip=127.0.0.0"), got)
			assert.NotContains(t, got, "X-Real-Ip")
		})
	}
}

const hostile6, hostile4 = "[" + canary6 + "]:1", canary4 + ":1"

// hostileText is about 1 MB of one header value built to make the search
// for the client's address (remote's) work hard: colons, escapes, near
// misses, thousands of occurrences; extra is the allocations its masking
// adds (the new value and its slice).
var hostileText = []struct {
	name, remote, v string
	extra           float64
}{
	{"letters-IPv6-client", hostile6, strings.Repeat("abcdefgh", 1<<17), 0},
	{"IPv6-groups", hostile6, strings.Repeat("1:1:1:1:1:1:1:1 ", 1<<16), 0},
	{"IPv6-ellipses", hostile6, strings.Repeat("1::1 ", 1<<18), 0},
	{"colons", hostile6, strings.Repeat(":", 1<<20), 0},
	{"escaped-colons", hostile6, strings.Repeat("%3A", 1<<18), 0},
	{"IPv6-near-misses", hostile6, strings.Repeat(" 2001:db8:1:2:3:4:5:7", 1<<15*3/2), 0},
	{"IPv6-occurrences", hostile6, strings.Repeat(" 2001:db8:1:2:3:4:5:6", 1<<15*3/2), 2},
	{"letters-IPv4-client", hostile4, strings.Repeat("abcdefgh", 1<<17), 0},
	{"IPv4-near-misses", hostile4, strings.Repeat("198.51.100.777", 1<<16*5/4), 0},
	{"IPv4-occurrences", hostile4, strings.Repeat(" 198.51.100.77", 1<<16), 2},
}

// hostileServe returns a func serving a fresh copy of a request from
// remote with the header X-A: v through the default middleware.
func hostileServe(tb testing.TB, remote, v string) func() {
	tb.Helper()
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(tb, err)
	h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = remote
	return func() {
		r := *req
		r.Header = http.Header{"X-A": {v}}
		h.ServeHTTP(nil, &r)
	}
}

// TestMiddlewareOwnAddrSearchHostile sends the hostileText values: the
// search allocates nothing where it masks nothing, and two allocations
// (the new value and its slice) where it masks every occurrence of a
// value.
func TestMiddlewareOwnAddrSearchHostile(t *testing.T) {
	allocs := func(remote, v string) float64 {
		return testing.AllocsPerRun(3, hostileServe(t, remote, v))
	}
	base6, base4 := allocs(hostile6, "x"), allocs(hostile4, "x")
	for _, tt := range hostileText {
		t.Run(tt.name, func(t *testing.T) {
			base := base4
			if tt.remote == hostile6 {
				base = base6
			}
			assert.Equal(t, base+tt.extra, allocs(tt.remote, "x"+tt.v+"x"))
		})
	}
}

// BenchmarkMiddlewareHostileText measures the hostileText values through
// the middleware; the rows of 1 MB of letters are the baselines, the
// least any value of that size costs the search.
func BenchmarkMiddlewareHostileText(b *testing.B) {
	for _, c := range hostileText {
		serve := hostileServe(b, c.remote, "x"+c.v+"x")
		b.Run(c.name, func(b *testing.B) { loop(b, serve) })
	}
}

// TestMiddlewareMasksClientAddrInMethod: the method is a token, which
// digits, dots and percent signs may spell, and every access log writes
// it: a client that sends its own address as the method finds it masked
// there too; real methods are left alone.
func TestMiddlewareMasksClientAddrInMethod(t *testing.T) {
	mw := behindProxy(t)
	for _, tt := range []struct {
		name, client, method, want string
	}{
		{"IPv4", canary4, "198.51.100.77", "198.51.100.0"},
		{"IPv6, percent-encoded", canary6, "2001%3Adb8%3A1%3A2%3A3%3A4%3A5%3A6", "2001%3Adb8%3A1%3A%3A"},
		{"a real method", canary4, "PROPFIND", "PROPFIND"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "/", nil)
			req.RemoteAddr = "10.0.0.1:1"
			req.Header.Set("X-Forwarded-For", tt.client)
			var method string
			mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { method = r.Method })).ServeHTTP(httptest.NewRecorder(), req)
			assert.Equal(t, tt.want, method)
		})
	}
}

// TestMiddlewareMasksClientAddrInParsedFormNames: forms parsed before the
// middleware ran may hold the client's address in a field's name (the
// query's, which the URL no longer shows) and in a file's name and part
// header: the next handler finds it masked there too, the values kept
// under the masked name.
func TestMiddlewareMasksClientAddrInParsedFormNames(t *testing.T) {
	mw := behindProxy(t)
	var mb strings.Builder
	mp := multipart.NewWriter(&mb)
	require.NoError(t, mp.WriteField("seen-198.51.100.77", "a"))
	fw, err := mp.CreateFormFile("upload", "log-198.51.100.77.txt")
	require.NoError(t, err)
	_, err = io.WriteString(fw, "file")
	require.NoError(t, err)
	require.NoError(t, mp.Close())
	req := httptest.NewRequest(http.MethodPost, "/form?198.51.100.77=q&198.51.100.0=r", strings.NewReader(mb.String()))
	req.Header.Set("Content-Type", mp.FormDataContentType())
	req.RemoteAddr = "10.0.0.1:1"
	req.Header.Set("X-Forwarded-For", canary4)
	require.NoError(t, req.ParseMultipartForm(1<<20)) // before the middleware
	var seen string
	var form url.Values
	var file *multipart.FileHeader
	mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		form = r.Form
		file = r.MultipartForm.File["upload"][0]
		seen = fmt.Sprint(r.Form, r.PostForm, r.MultipartForm.Value, file.Filename, file.Header)
	})).ServeHTTP(httptest.NewRecorder(), req)
	noLeak(t, seen, canary4)
	assert.Equal(t, []string{"r", "q"}, form["198.51.100.0"], "the masked name holds its values and the renamed one's")
	assert.Equal(t, []string{"a"}, form["seen-198.51.100.0"])
	assert.Equal(t, "log-198.51.100.0.txt", file.Filename)
	f, err := file.Open()
	require.NoError(t, err)
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	assert.Equal(t, "file", string(b), "the file is still there")
}
