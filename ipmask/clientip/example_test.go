package clientip_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// A service behind a load balancer in 10.0.0.0/8 reads the rightmost
// X-Forwarded-For entry the balancer did not write; a client that
// connects directly gets its own address, whatever headers it sends.
func ExampleRightmostUntrusted() {
	lb, err := clientip.NewTrusted("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	r, err := clientip.New(clientip.RightmostUntrusted(lb), clientip.RemoteAddr())
	if err != nil {
		panic(err)
	}
	h := http.Header{"X-Forwarded-For": {"203.0.113.9, 198.51.100.7, 10.0.0.3"}}

	a, err := r.Resolve(h, "10.0.0.1:4711") // via the balancer
	fmt.Println(a, err)
	a, err = r.Resolve(h, "192.0.2.1:4711") // direct, spoofing the header
	fmt.Println(a, err)
	_, err = r.Resolve(http.Header{"X-Forwarded-For": {"198.51.100.7:99999"}}, "10.0.0.1:4711")
	fmt.Println(errors.Is(err, clientip.ErrMalformed), err)
	// Output:
	// 198.51.100.7 <nil>
	// 192.0.2.1 <nil>
	// true clientip: X-Forwarded-For entry 1 from the right (18 bytes): malformed client address: bad port
}

func ExampleForwarded() {
	proxies, err := clientip.NewTrusted("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	r, err := clientip.New(clientip.Forwarded(proxies))
	if err != nil {
		panic(err)
	}
	h := http.Header{"Forwarded": {`for=192.0.2.60;proto=http, For="[2001:db8:cafe::17]:4711", for=10.0.0.2`}}
	fmt.Println(r.Resolve(h, "10.0.0.1:443"))
	// Output:
	// 2001:db8:cafe::17 <nil>
}

// The middleware masks the client before any handler sees it, and logging
// the Info prints only the masked network.
func ExampleNewMiddleware() {
	lb, err := clientip.NewTrusted("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	r, err := clientip.New(clientip.RightmostUntrusted(lb))
	if err != nil {
		panic(err)
	}
	mw, err := clientip.NewMiddleware(r, ipmask.Default, nil)
	if err != nil {
		panic(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		info, _ := clientip.FromContext(req.Context())
		logger.Info("click", "client", info)
		fmt.Println(req.RemoteAddr, req.Header.Get("X-Forwarded-For") == "")
		key, _ := clientip.KeyFunc(req)
		fmt.Println("rate-limit key:", key)
	}))

	req := httptest.NewRequest(http.MethodGet, "/l/abc", nil)
	req.RemoteAddr = "10.0.0.1:51234"
	req.Header.Set("X-Forwarded-For", "198.51.100.77")
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// level=INFO msg=click client.addr=198.51.100.0 client.prefix=198.51.100.0/24 client.strategy=x-forwarded-for/rightmost-untrusted client.outcome=resolved
	// 198.51.100.0:51234 true
	// rate-limit key: 198.51.100.0/24
}

// Errors say where and what, never the text: it may be an address, and
// errors get logged.
func ExampleResolver_Resolve_errors() {
	cdn, err := clientip.NewTrusted("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	r, err := clientip.New(clientip.SingleHeader(cdn, "CF-Connecting-IP"))
	if err != nil {
		panic(err)
	}
	h := http.Header{"Cf-Connecting-Ip": {"198.51.100.77, 203.0.113.9"}}
	_, err = r.Resolve(h, "10.0.0.1:443")
	fmt.Println(err)
	_, err = r.Resolve(h, "203.0.113.50:443")
	fmt.Println(err)
	_, err = clientip.NewTrusted("10.0.0.0/8", "198.51.100.77/24")
	fmt.Println(err)
	// Output:
	// clientip: Cf-Connecting-Ip (26 bytes): malformed client address: not an IP address
	// clientip: Cf-Connecting-Ip: peer is not a trusted proxy: header not read
	// clientip: trusted proxy 2: bits set after the prefix length /24
}

// Stats counts resolutions by how they ended, for metrics: no address
// or network is ever in it.
func ExampleResolver_Stats() {
	lb, err := clientip.NewTrusted("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	r, err := clientip.New(clientip.RightmostUntrusted(lb), clientip.RemoteAddr())
	if err != nil {
		panic(err)
	}
	_, _ = r.Resolve(http.Header{"X-Forwarded-For": {"198.51.100.7"}}, "10.0.0.1:1")
	_, _ = r.Resolve(http.Header{"X-Forwarded-For": {"198.51.100.7"}}, "203.0.113.9:1")
	_, _ = r.Resolve(http.Header{"X-Forwarded-For": {"garbage"}}, "10.0.0.1:1")
	fmt.Printf("%+v\n", r.Stats())
	// Output:
	// {Header:1 Peer:1 NoAddr:0 Untrusted:0 Malformed:1}
}

// Behind a CDN the middleware reads one header and hides all of them from
// the handler, whichever answered.
func ExampleClientAddrHeaders() {
	cdn, err := clientip.NewTrusted("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	r, err := clientip.New(clientip.SingleHeader(cdn, "CF-Connecting-IP"), clientip.RemoteAddr())
	if err != nil {
		panic(err)
	}
	mw, err := clientip.NewMiddleware(r, ipmask.Default, nil)
	if err != nil {
		panic(err)
	}
	h := mw(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		fmt.Println(req.RemoteAddr, len(req.Header), req.Header.Get("User-Agent"))
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.0.0.1:443"
	req.Header.Set("CF-Connecting-IP", "198.51.100.77") // read, and hidden
	for _, k := range []string{"True-Client-IP", "X-Forwarded-For", "X-Real-IP", "forwarded", "x_client_ip"} {
		req.Header[k] = []string{"198.51.100.77"} // hidden in any spelling
	}
	req.Header.Set("X-Real-Client-Ip", "198.51.100.77:5555") // hidden for its value: no list names it
	req.Header.Set("User-Agent", "example")
	h.ServeHTTP(httptest.NewRecorder(), req)
	fmt.Println(len(clientip.ClientAddrHeaders()) > 30)
	// Output:
	// 198.51.100.0:443 1 example
	// true
}

// The middleware rewrites the request it is given, so an access logger
// wrapping it logs, once the handler returns, the masked address and
// the Info: the raw address is gone from the request for everyone.
func ExampleNewMiddleware_accessLog() {
	lb, err := clientip.NewTrusted("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	r, err := clientip.New(clientip.RightmostUntrusted(lb))
	if err != nil {
		panic(err)
	}
	mw, err := clientip.NewMiddleware(r, ipmask.Default, nil)
	if err != nil {
		panic(err)
	}
	accessLog := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			next.ServeHTTP(w, req)
			info, _ := clientip.FromContext(req.Context())
			fmt.Println(req.Method, req.URL.Path, req.RemoteAddr, info.Prefix, req.Header.Values("X-Forwarded-For"))
		})
	}
	h := accessLog(mw(http.NotFoundHandler()))

	req := httptest.NewRequest(http.MethodGet, "/l/abc", nil)
	req.RemoteAddr = "10.0.0.1:51234"
	req.Header.Set("X-Forwarded-For", "198.51.100.77")
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// GET /l/abc 198.51.100.0:51234 198.51.100.0/24 []
}

// Where the client's own address is written inside other text, in a header
// or the URL, the handler finds the masked address in its place; the
// text around it, and other addresses, stay as they were.
func ExampleNewMiddleware_addressInText() {
	lb, err := clientip.NewTrusted("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	r, err := clientip.New(clientip.RightmostUntrusted(lb))
	if err != nil {
		panic(err)
	}
	mw, err := clientip.NewMiddleware(r, ipmask.Default, nil)
	if err != nil {
		panic(err)
	}
	h := mw(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		fmt.Println(req.Header.Get("Via"))
		fmt.Println(req.Header.Get("Cookie"))
		fmt.Println(req.URL.RawQuery)
	}))
	req := httptest.NewRequest(http.MethodGet, "/go/spring?ip=2001%3ADB8%3A1%3A2%3A%3A7", nil)
	req.RemoteAddr = "10.0.0.1:4711"
	req.Header.Set("X-Forwarded-For", "2001:db8:1:2::7")
	req.Header.Set("Via", "1.1 [2001:db8:1:2::7]:3128 (squid/5.7), 1.1 10.0.0.1")
	req.Header.Set("Cookie", "seen_from=2001:0db8:0001:0002:0000:0000:0000:0007; theme=dark")
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// 1.1 [2001:db8:1::]:3128 (squid/5.7), 1.1 10.0.0.1
	// seen_from=2001:db8:1::; theme=dark
	// ip=2001%3Adb8%3A1%3A%3A
}

// A handler that takes the connection over, as a websocket library does
// on an upgrade, finds the peer's masked address on the connection, as in
// the request.
func ExampleNewMiddleware_hijack() {
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		peer := conn.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().String()
		fmt.Fprintf(brw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(peer), peer)
		_ = brw.Flush()
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
	// Output: 127.0.0.0
}
