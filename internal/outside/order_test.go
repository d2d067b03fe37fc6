package outside_test

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// The proxy the deployments of these tests trust.
const proxyAddr = "10.0.0.1"

// visitors are the classes of client address the order tests send: a
// plain IPv4 and IPv6 address, and one of each form that carries an IPv4
// address inside IPv6 (the README's guarantee 1), each as the direct peer
// and behind the trusted proxy.
func visitors() []netip.Addr {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	for _, c := range ipmasktest.Cases() {
		a := c.Addr.WithZone("")
		if a.Is4In6() || seen[a] {
			continue // an IPv4-mapped peer is the IPv4 peer
		}
		seen[a] = true
		out = append(out, a)
	}
	return out
}

// carried returns a and the IPv4 addresses it carries: a dump may spell
// either.
func carried(a netip.Addr) []netip.Addr {
	out := []netip.Addr{a}
	e, n := ipmask.EmbeddedIPv4(a)
	for _, x := range e[:n] {
		if x.IPv4.IsValid() {
			out = append(out, x.IPv4)
		}
	}
	return out
}

// plainObservers are what a service already has before it adopts
// clickanon, none of which masks anything: an access log written once the
// response is done (as chi's Logger, gorilla's LoggingHandler and most
// others write it), a recoverer that logs the request with the panic, and
// a handler that dumps the request (httputil.DumpRequest) and echoes it.
type plainObservers struct {
	access, recovered, dumps testlog.Buffer
}

// accessLog logs, after next returns, what an access log prints: the
// peer, the method, the request URI, the URL and every header.
func (o *plainObservers) accessLog(next http.Handler) http.Handler {
	l := log.New(&o.access, "", 0)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		l.Printf("%s %s %s %s %s host=%s headers=%v trailer=%v", r.RemoteAddr, r.Method, r.RequestURI, r.URL, r.URL.Query(), r.Host, r.Header, r.Trailer)
	})
}

// recoverer logs a panic with the request dumped, as many recoverers do.
func (o *plainObservers) recoverer(next http.Handler) http.Handler {
	l := log.New(&o.recovered, "", 0)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				dump, _ := httputil.DumpRequest(r, false)
				l.Printf("panic: %v; request from %s:\n%s", v, r.RemoteAddr, dump)
				w.WriteHeader(http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// handler answers a redirect for /go/{link}, after dumping the request and
// echoing what it saw; /panic/{link} panics with the request's peer.
func (o *plainObservers) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dump, err := httputil.DumpRequest(r, false)
		if err == nil {
			_, _ = o.dumps.Write(dump)
		}
		if strings.HasPrefix(r.URL.Path, "/panic/") {
			panic("handler failed for " + r.RemoteAddr + " on " + r.URL.String())
		}
		w.Header().Set("Location", "https://example.com/")
		w.WriteHeader(http.StatusFound)
		fmt.Fprintf(w, "peer %s\npath value %s\n%s", r.RemoteAddr, r.PathValue("link"), dump)
	})
}

// hostileRequest is a click on link from client, through the trusted proxy
// when proxied, with the client's address written wherever a client or a
// proxy writes one: every client-address header, a custom header, Via, a
// cookie, the Referer, the query and the path.
func hostileRequest(client netip.Addr, proxied bool, path string) *http.Request {
	a := client.String()
	r := httptest.NewRequest(http.MethodGet, path+"?ip="+url.QueryEscape(a)+"&next="+url.QueryEscape("http://["+client.StringExpanded()+"]/"), nil)
	if proxied {
		r.RemoteAddr = proxyAddr + ":4711"
		r.Header.Set("X-Forwarded-For", "192.0.2.200, "+a)
	} else {
		r.RemoteAddr = netip.AddrPortFrom(client, 51234).String()
		r.Header.Set("X-Forwarded-For", a) // forged: read from no one
	}
	for _, h := range clientip.ClientAddrHeaders() {
		if h != "X-Forwarded-For" {
			r.Header.Set(h, a)
		}
	}
	r.Header.Set("X-Custom-Client", a)
	r.Header.Set("Via", "1.1 "+netip.AddrPortFrom(client, 3128).String()+" (squid/5.7)")
	r.Header.Set("Cookie", "ip="+a+"; country=DE")
	r.Header.Set("Referer", "https://news.example.com/?from="+url.QueryEscape(a))
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
	return r
}

// TestOrderWithPlainObservers checks README guarantee 7 ("no raw address
// leaves the request ... a log line, a dump or a response") for a service
// that adopts clickanon without changing its existing middlewares, which do
// not mask: the clientip middleware goes outermost but for the access log
// (the README: "a middleware wrapping it (an access logger) also sees the
// masked RemoteAddr ... once it returns"), then the ServeMux, the
// recoverer and the tracker, in each order the README allows, with
// StripPrefix, MaxBytesHandler and TimeoutHandler inside the middleware.
// Every visitor class, direct and proxied. What the access log, the
// recoverer's log, the handler's dump, the response, the store and the
// statistics hold must not spell the visitor's address in any form.
//
// Checked to fail: with the clientip middleware removed from the chain
// (chain returning the mux alone), every observer holds the raw address.
func TestOrderWithPlainObservers(t *testing.T) {
	type chain func(d *deployment, o *plainObservers) http.Handler
	routes := func(d *deployment, o *plainObservers, wrap func(http.Handler) http.Handler) *http.ServeMux {
		mux := http.NewServeMux()
		mux.Handle("GET /go/{link}", wrap(d.tracker.Handler(o.handler())))
		mux.Handle("GET /panic/{link}", wrap(d.tracker.Handler(o.handler())))
		return mux
	}
	id := func(h http.Handler) http.Handler { return h }
	chains := []struct {
		name  string
		build chain
	}{
		{"access>clientip>mux>recoverer>tracker", func(d *deployment, o *plainObservers) http.Handler {
			return o.accessLog(d.mw(routes(d, o, o.recoverer)))
		}},
		{"access>clientip>recoverer>mux>tracker", func(d *deployment, o *plainObservers) http.Handler {
			return o.accessLog(d.mw(o.recoverer(routes(d, o, id))))
		}},
		{"access>mux>clientip>tracker (per route)", func(d *deployment, o *plainObservers) http.Handler {
			return o.accessLog(routes(d, o, func(h http.Handler) http.Handler { return d.mw(o.recoverer(h)) }))
		}},
		{"access>recoverer>mux>tracker>clientip", func(d *deployment, o *plainObservers) http.Handler {
			mux := http.NewServeMux()
			h := d.tracker.Handler(d.mw(o.handler()))
			mux.Handle("GET /go/{link}", h)
			mux.Handle("GET /panic/{link}", h)
			return o.accessLog(d.mw(o.recoverer(mux))) // twice: outermost and behind the tracker
		}},
		// MaxBytesHandler copies the request, so the access log goes
		// inside it (see TestOrderOuterCopyKeepsRaw).
		{"maxbytes>access>clientip>stripprefix>timeout>mux>tracker", func(d *deployment, o *plainObservers) http.Handler {
			inner := http.TimeoutHandler(o.recoverer(routes(d, o, id)), 5*time.Second, "timeout")
			return http.MaxBytesHandler(o.accessLog(d.mw(http.StripPrefix("/app", inner))), 1<<20)
		}},
	}
	for _, c := range chains {
		for _, client := range visitors() {
			for _, proxied := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/proxied=%v", c.name, client, proxied)
				t.Run(name, func(t *testing.T) {
					d := newDeployment(t, []string{proxyAddr + "/32"}, nil, nil)
					o := &plainObservers{}
					h := c.build(d, o)
					prefix := ""
					if strings.Contains(c.name, "stripprefix") {
						prefix = "/app"
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, hostileRequest(client, proxied, prefix+"/go/spring"))
					require.Equal(t, http.StatusFound, w.Code, w.Body.String())
					p := httptest.NewRecorder()
					h.ServeHTTP(p, hostileRequest(client, proxied, prefix+"/panic/spring"))
					require.Equal(t, http.StatusInternalServerError, p.Code)

					addrs := carried(client)
					require.NotEmpty(t, o.access.String())
					require.NotEmpty(t, o.recovered.String())
					require.NotEmpty(t, o.dumps.String())
					assertNoForm(t, []byte(o.access.String()), "access log", addrs...)
					assertNoForm(t, []byte(o.recovered.String()), "recoverer's log", addrs...)
					assertNoForm(t, []byte(o.dumps.String()), "DumpRequest", addrs...)
					assertNoForm(t, w.Body.Bytes(), "response", addrs...)
					assertNoForm(t, []byte(fmt.Sprint(w.Header())), "response header", addrs...)
					assertNoForm(t, []byte(d.dumpHeld(t)), "store", addrs...)
					assertNoForm(t, []byte(d.logs.String()), "service log", addrs...)
					assert.Contains(t, w.Body.String(), "peer "+netip.AddrPortFrom(ipmask.Default.Mask(client), 0).String()[:len(netip.AddrPortFrom(ipmask.Default.Mask(client), 0).String())-2])

					held := d.held(t)
					require.Len(t, held, 1, "the click is held once; the panicking one is not counted")
					assert.Equal(t, ipmask.Default.Prefix(client), held[0].Network)
					assert.Equal(t, "spring", held[0].Link)
					assert.Equal(t, uint64(1), d.tracker.Stats().Unique)
				})
			}
		}
	}
}

// TestOrderOuterCopyKeepsRaw pins what the clientip package documentation
// says the middleware does not reach, so that the documentation stays true:
// a handler in front of it that copies the request (http.StripPrefix,
// http.TimeoutHandler) hands it the copy, and an access log wrapping that
// handler keeps the original, raw RemoteAddr. The README's own advice
// ("must read anything raw before", "install the middleware outermost")
// covers it. Checked to fail: the access log moved inside StripPrefix sees
// the masked address.
func TestOrderOuterCopyKeepsRaw(t *testing.T) {
	client := netip.MustParseAddr("198.51.100.77")
	for name, wrap := range map[string]func(http.Handler) http.Handler{
		"StripPrefix":    func(h http.Handler) http.Handler { return http.StripPrefix("/app", h) },
		"TimeoutHandler": func(h http.Handler) http.Handler { return http.TimeoutHandler(h, time.Second, "") },
		// The clientip documentation asks for MaxBytesHandler in front of
		// the middleware; it copies the request too (rv6-findings.md).
		"MaxBytesHandler": func(h http.Handler) http.Handler { return http.MaxBytesHandler(h, 1<<20) },
	} {
		t.Run(name, func(t *testing.T) {
			d := newDeployment(t, nil, nil, nil)
			o := &plainObservers{}
			h := o.accessLog(wrap(d.mw(o.handler())))
			h.ServeHTTP(httptest.NewRecorder(), hostileRequest(client, false, "/app/go/x"))
			assert.Contains(t, o.access.String(), client.String(), "documented: the outer logger keeps the original request")
			assertNoForm(t, []byte(o.dumps.String()), "DumpRequest behind the middleware", client)
		})
	}
}

// TestTrackerEitherOrder checks the README's "the masking middleware and
// the tracker may be installed in either order: the tracker still tells
// three visitors of one /24 apart", over classes: three visitors of one
// IPv4 /24, of one IPv6 /48, and of one 6to4 network (which masks to one
// /40), each behind the trusted proxy and direct. Checked to fail: with
// the tracker's Resolver nil behind the proxy in the tracker-first order,
// the three proxied visitors are one (the proxy).
func TestTrackerEitherOrder(t *testing.T) {
	groups := map[string][]string{
		"ipv4 /24": {"198.51.100.7", "198.51.100.8", "198.51.100.9"},
		"ipv6 /48": {"2001:db8:1:2::7", "2001:db8:1:3::7", "2001:db8:1:ffff::1"},
		"6to4":     {"2002:c633:6407::1", "2002:c633:6408::1", "2002:c633:6409::1"},
		"nat64":    {"64:ff9b::198.51.100.7", "64:ff9b::198.51.100.8", "64:ff9b::198.51.100.9"},
	}
	for name, group := range groups {
		for _, order := range []string{"clientip first", "tracker first"} {
			for _, proxied := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/proxied=%v", name, order, proxied), func(t *testing.T) {
					d := newDeployment(t, []string{proxyAddr + "/32"}, nil, nil)
					ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) })
					mux := http.NewServeMux()
					var h http.Handler
					if order == "clientip first" {
						mux.Handle("GET /go/{link}", d.tracker.Handler(ok))
						h = d.mw(mux)
					} else {
						mux.Handle("GET /go/{link}", d.tracker.Handler(d.mw(ok)))
						h = mux
					}
					for range 2 { // the second round is all repeats
						for _, s := range group {
							a := netip.MustParseAddr(s)
							r := hostileRequest(a, proxied, "/go/spring")
							w := httptest.NewRecorder()
							h.ServeHTTP(w, r)
							require.Equal(t, http.StatusFound, w.Code)
						}
					}
					st := d.tracker.Stats()
					assert.Equal(t, uint64(3), st.Unique, "three visitors of one network told apart")
					assert.Equal(t, uint64(3), st.Repeat)
					assert.Zero(t, st.MaskedAddrs)
					nets := map[netip.Prefix]int{}
					for _, c := range d.held(t) {
						nets[c.Network]++
					}
					assert.Equal(t, map[netip.Prefix]int{ipmask.Default.Prefix(netip.MustParseAddr(group[0])): 3}, nets)
				})
			}
		}
	}
}

// TestWrongOrderIsLoud checks the one order the tracker's documentation
// forbids: a masking middleware that is not clientip's (it rewrites
// RemoteAddr to the masked address and hands the full address on to no
// one) in front of the tracker. The README says such requests are not
// counted, since they would make a whole network one visitor; an outside
// tester checks that this is loud: logged (ErrMaskedAddr) and counted
// (Stats.MaskedAddrs, Outcome Unresolved), not a silent undercount. An
// IPv6 address with its interface part zeroed is never a client, and is
// refused at once; an IPv4 address ending in .0 can be one, and the
// tracker takes a run of four for masking (its code says so; its
// documentation does not: rv6-findings.md), so visitors of several
// networks are sent until the run is reached. Checked to fail: with
// RemoteAddr left raw by the foreign middleware, every click is counted
// and nothing is logged.
func TestWrongOrderIsLoud(t *testing.T) {
	foreign := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ap, err := netip.ParseAddrPort(r.RemoteAddr)
			if err == nil {
				r.RemoteAddr = netip.AddrPortFrom(ipmask.Default.Mask(ap.Addr()), ap.Port()).String()
			}
			next.ServeHTTP(w, r)
		})
	}
	for name, c := range map[string]struct {
		clients []string
		counted uint64 // before the tracker can tell
	}{
		"ipv6": {[]string{"2001:db8:1:2::7", "2001:db8:2:2::7", "2001:db8:3:2::7", "2001:db8:4:2::7", "2001:db8:5:2::7"}, 0},
		"ipv4": {[]string{"198.51.100.7", "198.51.101.7", "198.51.102.7", "198.51.103.7", "198.51.104.7"}, 3},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDeployment(t, nil, nil, nil)
			mux := http.NewServeMux()
			mux.Handle("GET /go/{link}", d.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusFound)
			})))
			h := foreign(mux)
			for _, client := range c.clients {
				r := httptest.NewRequest(http.MethodGet, "/go/spring", nil)
				r.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(client), 4711).String()
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
			st := d.tracker.Stats()
			assert.Equal(t, c.counted, st.Clicks)
			assert.Equal(t, uint64(len(c.clients))-c.counted, st.MaskedAddrs)
			assert.Equal(t, st.MaskedAddrs, st.Unresolved)
			assert.Contains(t, d.logs.String(), "already masked")
			assertNoForm(t, []byte(d.logs.String()), "service log", netip.MustParseAddr(c.clients[0]))
		})
	}
}

// TestServeMuxPathValues checks the README's claim that the path values of
// a ServeMux pattern matched before the middleware ran are masked, over
// wildcard kinds ({x}, {x...}) and address spellings (IPv4, IPv6
// compressed, expanded, upper case, percent-encoded). Checked to fail:
// the route handler without the middleware reads the raw address back.
func TestServeMuxPathValues(t *testing.T) {
	client := netip.MustParseAddr("2001:db8:1:2::7")
	v4 := netip.MustParseAddr("198.51.100.77")
	cases := map[string]struct {
		peer netip.Addr
		path string
	}{
		"ipv4":             {v4, "/u/198.51.100.77/rest/198.51.100.77"},
		"ipv4 %2E":         {v4, "/u/198%2E51%2E100%2E77/rest/x"},
		"ipv6":             {client, "/u/2001:db8:1:2::7/rest/2001:db8:1:2::7"},
		"ipv6 expanded":    {client, "/u/" + client.StringExpanded() + "/rest/a"},
		"ipv6 upper":       {client, "/u/2001:DB8:1:2::7/rest/b"},
		"ipv6 %3A":         {client, "/u/2001%3Adb8%3A1%3A2%3A%3A7/rest/c"},
		"ipv6 in brackets": {client, "/u/[2001:db8:1:2::7]:80/rest/d"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d := newDeployment(t, nil, nil, nil)
			var seen string
			mux := http.NewServeMux()
			mux.Handle("GET /u/{who}/rest/{more...}", d.mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = r.PathValue("who") + " " + r.PathValue("more") + " " + r.URL.Path + " " + r.URL.RawPath + " " + r.RequestURI + " " + r.Pattern
			})))
			r := httptest.NewRequest(http.MethodGet, c.path, nil)
			r.RemoteAddr = netip.AddrPortFrom(c.peer, 4711).String()
			mux.ServeHTTP(httptest.NewRecorder(), r)
			require.NotEmpty(t, seen)
			assertNoForm(t, []byte(seen), "path values", c.peer)
		})
	}
}

// TestGzipWrapperAndMetrics runs the README's full deployment behind a
// gzip wrapper (a ResponseWriter of its own around everything), then
// scrapes nothing but the tracker's figures: the decompressed response
// holds no raw address, and the click is counted once.
func TestGzipWrapper(t *testing.T) {
	gz := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			z := gzip.NewWriter(w)
			defer z.Close()
			next.ServeHTTP(gzipWriter{w, z}, r)
		})
	}
	client := netip.MustParseAddr("2002:c633:644d::1") // 6to4 of 198.51.100.77
	d := newDeployment(t, []string{proxyAddr + "/32"}, nil, nil)
	o := &plainObservers{}
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", d.tracker.Handler(o.handler()))
	h := gz(d.mw(mux))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, hostileRequest(client, true, "/go/spring"))
	zr, err := gzip.NewReader(w.Body)
	require.NoError(t, err)
	body, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Contains(t, string(body), "peer [2002:c633:6400::]:4711")
	assertNoForm(t, body, "response", carried(client)...)
	assert.Equal(t, uint64(1), d.tracker.Stats().Unique)
	rep, err := d.stats.Report(context.Background(), aggregate.Query{Link: "spring", Granularity: aggregate.Day, From: time.Now().Add(-48 * time.Hour), To: time.Now().Add(48 * time.Hour), K: 1})
	require.NoError(t, err)
	var nets []string
	for _, c := range rep.Cells {
		if c.Dimension == aggregate.Network && !c.Suppressed {
			nets = append(nets, c.Value)
		}
	}
	assert.Contains(t, nets, "2002:c633:6400::/40")
}

type gzipWriter struct {
	http.ResponseWriter
	z *gzip.Writer
}

func (g gzipWriter) Write(b []byte) (int, error) { return g.z.Write(b) }

// TestReverseProxyDownstream checks guarantee 7's "a header passed
// downstream" for a service that proxies behind the middleware with
// httputil.ReverseProxy, in both its forms (Director, which appends the
// peer to X-Forwarded-For, and Rewrite with SetXForwarded): the backend
// receives the masked address and none of the client's, in any header,
// the path or the query. Checked to fail: with the middleware taken out,
// the backend's X-Forwarded-For holds the raw address.
func TestReverseProxyDownstream(t *testing.T) {
	var got testlog.Buffer
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := httputil.DumpRequest(r, false)
		got.Write(b)
	}))
	defer backend.Close()
	target, err := url.Parse(backend.URL)
	require.NoError(t, err)
	proxies := map[string]http.Handler{
		"director": httputil.NewSingleHostReverseProxy(target),
		"rewrite": &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		}},
	}
	for name, p := range proxies {
		for _, client := range visitors() {
			for _, proxied := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/proxied=%v", name, client, proxied), func(t *testing.T) {
					d := newDeployment(t, []string{proxyAddr + "/32"}, nil, nil)
					before := len(got.String())
					w := httptest.NewRecorder()
					d.mw(p).ServeHTTP(w, hostileRequest(client, proxied, "/api/"+client.String()))
					require.Equal(t, http.StatusOK, w.Code)
					sent := got.String()[before:]
					require.Contains(t, sent, "X-Forwarded-For: "+ipmask.Default.Mask(client).String())
					assertNoForm(t, []byte(sent), "what the backend received", carried(client)...)
				})
			}
		}
	}
}
