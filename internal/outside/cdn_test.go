package outside_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// Addresses of the CDN deployments: the load balancer in front of the
// service, the CDN's edge, the visitor and a client that connects directly.
var (
	lbAddr     = netip.MustParseAddr("10.0.0.1")
	edgeAddr   = netip.MustParseAddr("192.0.2.10")
	visitor4   = netip.MustParseAddr("198.51.100.77")
	visitor6   = netip.MustParseAddr("2001:db8:1:2::7")
	directAddr = netip.MustParseAddr("203.0.113.50")
)

// seen is what the handler behind the middleware and the tracker saw of
// a request.
type seen struct {
	info clientip.Info
	dump string
}

// cdnDeployment is a service behind a CDN's header name, trusting the load
// balancer and the CDN's edges, with the clientip middleware in front of a
// ServeMux route that the tracker counts. It returns the service and what
// its handler saw of the last request.
func cdnDeployment(t *testing.T, header string) (*deployment, http.Handler, *seen) {
	t.Helper()
	d := newDeployment(t, []string{lbAddr.String() + "/32", "192.0.2.0/24"}, func(tr *clientip.Trusted) clientip.Strategy {
		if header == "" {
			return clientip.RightmostUntrusted(tr)
		}
		return clientip.SingleHeader(tr, header)
	}, nil)
	s := &seen{}
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", d.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.info, _ = clientip.FromContext(r.Context())
		b, _ := httputil.DumpRequest(r, false)
		s.dump = r.RemoteAddr + "\n" + string(b)
		w.WriteHeader(http.StatusFound)
	})))
	return d, d.mw(mux), s
}

// cdnHeaders are the headers the README and clientip.ClientAddrHeaders
// name that a CDN or platform sets to one client address (the lists,
// X-Forwarded-For and Forwarded, have strategies of their own).
func cdnHeaders() []string {
	var out []string
	for _, h := range clientip.ClientAddrHeaders() {
		switch h {
		case "X-Forwarded-For", "Forwarded":
			continue
		}
		out = append(out, h)
	}
	return out
}

// valueForms writes a as the CDN that owns header writes it: CloudFront
// always appends the viewer's port and leaves IPv6 unbracketed; the others
// write the address alone, and some proxies add a port, brackets, spaces
// or upper case.
func valueForms(header string, a netip.Addr) map[string]string {
	if header == "Cloudfront-Viewer-Address" {
		return map[string]string{
			"with port":       a.String() + ":46532",
			"upper with port": strings.ToUpper(a.String()) + ":443",
		}
	}
	out := map[string]string{
		"plain":     a.String(),
		"upper":     strings.ToUpper(a.String()),
		"with port": netip.AddrPortFrom(a, 443).String(),
		"spaces":    "  " + a.String() + "\t",
	}
	if a.Is6() {
		out["expanded"] = a.StringExpanded()
		out["bracketed"] = "[" + a.String() + "]"
	} else {
		out["ipv4-mapped"] = "::ffff:" + a.String()
	}
	return out
}

// TestCDNHeaders checks guarantees 3 and 7 behind every CDN header the
// README names, with one trusted hop (the CDN's edge connects) and two
// (the edge, then the load balancer): the visitor the header names is
// found, the handler sees its masked address and none of its text, and the
// tracker stores its network. Checked to fail: with the strategy reading
// another header, every row finds the peer instead.
func TestCDNHeaders(t *testing.T) {
	for _, header := range cdnHeaders() {
		for _, client := range []netip.Addr{visitor4, visitor6} {
			for form, value := range valueForms(header, client) {
				for _, peer := range []netip.Addr{edgeAddr, lbAddr} {
					t.Run(fmt.Sprintf("%s/%s/%s/peer=%s", header, client, form, peer), func(t *testing.T) {
						d, h, s := cdnDeployment(t, header)
						r := browserRequest("/go/spring")
						r.RemoteAddr = netip.AddrPortFrom(peer, 4711).String()
						r.Header.Set(header, value)
						if peer == lbAddr {
							r.Header.Set("X-Forwarded-For", client.String()+", "+edgeAddr.String())
						}
						h.ServeHTTP(httptest.NewRecorder(), r)
						assert.Equal(t, clientip.Resolved, s.info.Outcome)
						assert.Equal(t, ipmask.Default.Prefix(client), s.info.Prefix)
						assertNoForm(t, []byte(s.dump), "what the handler saw", client)
						held := d.held(t)
						require.Len(t, held, 1)
						assert.Equal(t, ipmask.Default.Prefix(client), held[0].Network)
					})
				}
			}
		}
	}
}

// TestCDNHeadersFailClosed checks the README's "anything unparseable fails
// closed" over the classes of bad value a CDN header can carry (two
// copies, a list, empty, "unknown", a zone, leading zeros, a name, a port
// out of range, CloudFront's value without its port), from a trusted
// peer: the visitor is never taken from the header (the peer stands in,
// Outcome PeerUsed), and the handler sees no text of the address the bad
// value carried. Checked to fail: with the visitor's address appended to
// the expected prefixes, the rows whose header holds it would be Resolved.
func TestCDNHeadersFailClosed(t *testing.T) {
	a := visitor4.String()
	bad := map[string][]string{
		"two copies":    {a, a},
		"list":          {a + ", " + visitor6.String()},
		"empty":         {""},
		"unknown":       {"unknown"},
		"zone":          {"fe80::1%eth0"},
		"leading zeros": {"198.051.100.077"},
		"name":          {"client.example.com"},
		"bad port":      {a + ":99999"},
		"unspecified":   {"0.0.0.0"},
		"nul":           {a + "\x00"},
	}
	for _, header := range cdnHeaders() {
		for name, values := range bad {
			t.Run(header+"/"+name, func(t *testing.T) {
				_, h, s := cdnDeployment(t, header)
				r := browserRequest("/go/spring")
				r.RemoteAddr = netip.AddrPortFrom(edgeAddr, 4711).String()
				r.Header[header] = values
				h.ServeHTTP(httptest.NewRecorder(), r)
				if name == "empty" {
					// An empty header is an absent one (ErrNoAddr): the
					// next strategy, RemoteAddr, answers the peer.
					assert.Equal(t, clientip.Resolved, s.info.Outcome)
				} else {
					assert.Equal(t, clientip.PeerUsed, s.info.Outcome)
				}
				assert.Equal(t, ipmask.Default.Prefix(edgeAddr), s.info.Prefix)
				assertNoForm(t, []byte(s.dump), "what the handler saw", visitor4)
				assertInfoClean(t, s)
			})
		}
		if header == "Cloudfront-Viewer-Address" {
			t.Run(header+"/no port", func(t *testing.T) {
				_, h, s := cdnDeployment(t, header)
				r := browserRequest("/go/spring")
				r.RemoteAddr = netip.AddrPortFrom(edgeAddr, 4711).String()
				r.Header.Set(header, "198.51.100.77")
				h.ServeHTTP(httptest.NewRecorder(), r)
				assert.Equal(t, clientip.PeerUsed, s.info.Outcome)
			})
		}
	}
}

// assertInfoClean checks the Info the handler got logs no raw address.
func assertInfoClean(t *testing.T, s *seen) {
	t.Helper()
	assertNoForm(t, []byte(fmt.Sprintf("%v %+v", s.info.LogValue(), s.info)), "Info", visitor4, visitor6, edgeAddr)
}

// TestForgedByDirectClient checks guarantee 3 from the other side: a
// client that connects directly (not a trusted proxy) and forges every
// header the README names, with every strategy, is itself the visitor;
// nothing it wrote is believed, the handler sees neither its address nor
// the forged one, and the tracker stores its own network. Checked to fail:
// with the direct client's network added to the trusted set, the forged
// address is believed.
func TestForgedByDirectClient(t *testing.T) {
	for _, header := range append(cdnHeaders(), "") {
		name := header
		if name == "" {
			name = "X-Forwarded-For (rightmost untrusted)"
		}
		t.Run(name, func(t *testing.T) {
			d, h, s := cdnDeployment(t, header)
			r := browserRequest("/go/spring")
			r.RemoteAddr = netip.AddrPortFrom(directAddr, 4711).String()
			for _, f := range clientip.ClientAddrHeaders() {
				r.Header.Set(f, visitor4.String())
			}
			r.Header.Set("Forwarded", `for="[2001:db8:1:2::7]:443";proto=https`)
			r.Header.Add("X-Forwarded-For", visitor6.String())
			r.Header.Set("X-Client-Ip-Custom", visitor6.String())
			h.ServeHTTP(httptest.NewRecorder(), r)
			assert.Equal(t, clientip.Resolved, s.info.Outcome)
			assert.Equal(t, ipmask.Default.Prefix(directAddr), s.info.Prefix)
			assertNoForm(t, []byte(s.dump), "what the handler saw", visitor4, visitor6, directAddr)
			held := d.held(t)
			require.Len(t, held, 1)
			assert.Equal(t, ipmask.Default.Prefix(directAddr), held[0].Network)
		})
	}
}

// TestXForwardedForTwoHops checks RightmostUntrusted over the classes of
// X-Forwarded-For a chain of trusted hops writes (README guarantee 3:
// "right to left over every copy of the header"): the list in one header
// or split over copies, with ports, brackets, spaces, empty entries, and a
// forged prefix the visitor wrote itself.
func TestXForwardedForTwoHops(t *testing.T) {
	e := edgeAddr.String()
	for name, c := range map[string]struct {
		values []string
		want   netip.Addr
	}{
		"one header":            {[]string{"192.0.2.99, " + visitor4.String() + ", " + e}, visitor4},
		"forged prefix":         {[]string{visitor6.String() + ", " + visitor4.String() + ", " + e}, visitor4},
		"copies":                {[]string{visitor6.String(), visitor4.String(), e}, visitor4},
		"ports and brackets":    {[]string{"[" + visitor6.String() + "]:443, " + e + ":80"}, visitor6},
		"spaces and empties":    {[]string{" , " + visitor6.String() + " ,, " + e + " , "}, visitor6},
		"upper case ipv6":       {[]string{strings.ToUpper(visitor6.StringExpanded()) + "," + e}, visitor6},
		"ipv4-mapped":           {[]string{"::ffff:" + visitor4.String() + ", " + e}, visitor4},
		"edge only (lb copies)": {[]string{visitor4.String() + ", " + e, ""}, visitor4},
	} {
		t.Run(name, func(t *testing.T) {
			d, h, s := cdnDeployment(t, "")
			r := browserRequest("/go/spring")
			r.RemoteAddr = netip.AddrPortFrom(lbAddr, 4711).String()
			r.Header["X-Forwarded-For"] = c.values
			h.ServeHTTP(httptest.NewRecorder(), r)
			assert.Equal(t, clientip.Resolved, s.info.Outcome)
			assert.Equal(t, ipmask.Default.Prefix(c.want), s.info.Prefix)
			assertNoForm(t, []byte(s.dump), "what the handler saw", visitor4, visitor6)
			held := d.held(t)
			require.Len(t, held, 1)
			assert.Equal(t, ipmask.Default.Prefix(c.want), held[0].Network)
		})
	}
}

// browserRequest is a GET of path from a browser (a request without a
// User-Agent is a bot's, counted but not held).
func browserRequest(path string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
	return r
}

// TestDefaultReadsPeerOnly checks guarantee 3's "by default only the
// connecting peer counts" for the defaults a service gets when it
// configures nothing: clientip.New() and a tracker with no Resolver, with
// and without the middleware, and a client that forges every header the
// README names. Checked to fail: a resolver trusting the client's peer
// reads the forged address.
func TestDefaultReadsPeerOnly(t *testing.T) {
	for _, withMiddleware := range []bool{false, true} {
		t.Run(fmt.Sprintf("middleware=%v", withMiddleware), func(t *testing.T) {
			d := newDeployment(t, nil, nil, nil)
			tracker, err := track.New(d.builder, d.store, d.stats, nil) // no Resolver
			require.NoError(t, err)
			mux := http.NewServeMux()
			mux.Handle("GET /go/{link}", tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) })))
			var h http.Handler = mux
			if withMiddleware {
				h = d.mw(mux)
			}
			r := browserRequest("/go/spring")
			r.RemoteAddr = netip.AddrPortFrom(directAddr, 4711).String()
			for _, f := range clientip.ClientAddrHeaders() {
				r.Header.Set(f, visitor4.String())
			}
			r.Header.Set("Forwarded", "for="+visitor4.String())
			h.ServeHTTP(httptest.NewRecorder(), r)
			held := d.held(t)
			require.Len(t, held, 1)
			assert.Equal(t, ipmask.Default.Prefix(directAddr), held[0].Network)
		})
	}
}

// TestForwardedHeaderForms checks the RFC 7239 strategy over the forms
// proxies write (README guarantee 3): the visitor found is the rightmost
// for= node that is not a trusted proxy, over every copy, with quoted and
// bracketed IPv6 and ports, parameter names in any case and other
// parameters beside it; an "unknown" or obfuscated node, an element
// without for=, or an unquoted IPv6 node fails closed: the peer stands in
// for the handler, and the tracker counts the request Unresolved, holding
// nothing, as it does when its own Resolver fails (counting it as the
// peer's would make every such visitor one). The tracker stores the
// visitor's network, and the handler sees none of the header. Checked to fail: with the strategy RightmostUntrusted (which
// reads X-Forwarded-For), every row finds the peer.
func TestForwardedHeaderForms(t *testing.T) {
	e := edgeAddr.String()
	v6 := `"[` + visitor6.String() + `]:443"`
	for name, c := range map[string]struct {
		values []string
		want   netip.Addr
	}{
		"ipv4":                 {[]string{"for=" + visitor4.String() + ";proto=https, for=" + e}, visitor4},
		"quoted ipv6 and port": {[]string{"for=" + v6 + ";by=" + e + ", for=" + e}, visitor6},
		"upper-case names":     {[]string{"For=" + visitor4.String() + ";Proto=http;Host=example.com, FOR=" + e}, visitor4},
		"copies":               {[]string{"for=192.0.2.99", "for=" + visitor4.String(), "for=" + e}, visitor4},
		"forged to the left":   {[]string{"for=" + visitor6.String() + ", for=" + visitor4.String() + ", for=" + e}, visitor4},
		"unknown":              {[]string{"for=" + visitor4.String() + ", for=unknown, for=" + e}, edgeAddr},
		"obfuscated":           {[]string{"for=" + visitor4.String() + ", for=_hidden"}, edgeAddr},
		"no for":               {[]string{"for=" + visitor4.String() + ", proto=https"}, edgeAddr},
		"unquoted ipv6":        {[]string{"for=[" + visitor6.String() + "]"}, edgeAddr},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDeployment(t, []string{"192.0.2.0/24"}, clientip.Forwarded, nil)
			var dump string
			mux := http.NewServeMux()
			mux.Handle("GET /go/{link}", d.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := httputil.DumpRequest(r, false)
				dump = r.RemoteAddr + "\n" + string(b)
				w.WriteHeader(http.StatusFound)
			})))
			r := browserRequest("/go/spring")
			r.RemoteAddr = netip.AddrPortFrom(edgeAddr, 4711).String()
			r.Header["Forwarded"] = c.values
			d.mw(mux).ServeHTTP(httptest.NewRecorder(), r)
			held := d.held(t)
			assertNoForm(t, []byte(dump), "what the handler saw", visitor4, visitor6)
			if c.want == edgeAddr {
				assert.Empty(t, held, "a request whose client is not found is not the proxy's click")
				assert.Equal(t, uint64(1), d.tracker.Stats().Unresolved)
				assert.Contains(t, dump, ipmask.Default.Prefix(edgeAddr).Addr().String(), "the handler sees the peer")
				return
			}
			require.Len(t, held, 1)
			assert.Equal(t, ipmask.Default.Prefix(c.want), held[0].Network)
		})
	}
}
