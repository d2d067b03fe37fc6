package clientip_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/reqctx"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// seen is what the downstream handler observed.
type seen struct {
	info       clientip.Info
	ok         bool
	remoteAddr string
	header     http.Header
	log        string
}

// serve runs a real server with the middleware in front of a handler that
// records what it sees and logs the Info with slog, and sends one request
// with the given headers.
func serve(t *testing.T, r *clientip.Resolver, opts *clientip.MiddlewareOptions, h http.Header) (seen, *http.Response) {
	t.Helper()
	var got seen
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logBuf, nil))
	mw, err := clientip.NewMiddleware(r, ipmask.Default, opts)
	require.NoError(t, err)
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		got.info, got.ok = clientip.FromContext(req.Context())
		got.remoteAddr = req.RemoteAddr
		got.header = req.Header.Clone()
		logger.Info("click", "client", got.info, "remote", req.RemoteAddr, "headers", req.Header)
		_, _ = io.WriteString(w, "ok")
	})))
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	for k, vv := range h {
		for _, v := range vv {
			req.Header.Add(k, v)
		}
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	got.log = logBuf.String()
	return got, resp
}

// fresh returns a func that resets one request to a copy of tmpl, the
// headers tmpl had put back into its map, and returns it: a server hands
// its handler a new request each time, and the middleware rewrites the
// request it is given (and deletes headers from its map), so a request
// served again must be reset first. It allocates nothing once the map
// has held every header.
func fresh(tmpl *http.Request) func() *http.Request {
	saved := tmpl.Header.Clone()
	req := new(http.Request)
	return func() *http.Request {
		for k, v := range saved {
			tmpl.Header[k] = v
		}
		*req = *tmpl
		return req
	}
}

// loopbackResolver trusts 127.0.0.0/8 and ::1, where the test client
// connects from, as if it were a proxy.
func loopbackResolver(t *testing.T, extra ...clientip.Strategy) *clientip.Resolver {
	t.Helper()
	tr, err := clientip.NewTrusted("127.0.0.0/8", "::1")
	require.NoError(t, err)
	r, err := clientip.New(append([]clientip.Strategy{clientip.RightmostUntrusted(tr)}, extra...)...)
	require.NoError(t, err)
	return r
}

func TestMiddlewareBehindProxy(t *testing.T) {
	const raw = "198.51.100.77"
	got, resp := serve(t, loopbackResolver(t), nil, http.Header{
		"X-Forwarded-For": {"203.0.113.250, " + raw},
		"Forwarded":       {"for=" + raw},
		"X-Real-Ip":       {raw},
		"X_forwarded_for": {"203.0.113.251"},
		"User-Agent":      {"test"},
	})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, got.ok)
	assert.Equal(t, netip.MustParseAddr("198.51.100.0"), got.info.Addr)
	assert.Equal(t, netip.MustParsePrefix("198.51.100.0/24"), got.info.Prefix)
	assert.Equal(t, clientip.Resolved, got.info.Outcome)
	assert.Equal(t, "x-forwarded-for/rightmost-untrusted", got.info.Strategy.String())
	assert.NoError(t, got.info.Err)
	assert.False(t, got.info.Raw.IsValid(), "no raw address unless asked")
	assert.True(t, strings.HasPrefix(got.remoteAddr, "198.51.100.0:"), got.remoteAddr)
	assert.Empty(t, got.header.Values("X-Forwarded-For"))
	assert.Empty(t, got.header.Values("Forwarded"))
	assert.Empty(t, got.header.Values("X-Real-Ip"))
	assert.Equal(t, "test", got.header.Get("User-Agent"), "other headers pass")
	assert.NotContains(t, got.log, raw, "the downstream log holds no raw address")
	assert.Contains(t, got.log, "client.addr=198.51.100.0 client.prefix=198.51.100.0/24")
}

func TestMiddlewareDirectClient(t *testing.T) {
	// The zero resolver: a direct client spoofing headers gets its peer.
	got, resp := serve(t, nil, nil, http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Real-Ip": {"127.0.0.2"}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, got.ok)
	assert.Equal(t, clientip.Resolved, got.info.Outcome)
	assert.True(t, got.info.Addr == netip.MustParseAddr("127.0.0.0") || got.info.Addr == netip.MustParseAddr("::"), got.info.Addr.String())
	assert.Empty(t, got.header.Values("X-Forwarded-For"))
	assert.Empty(t, got.header.Values("X-Real-Ip"))
	assert.NotContains(t, got.log, "203.0.113.9")
	assert.NotContains(t, got.log, "127.0.0.1")
}

func TestMiddlewareFailure(t *testing.T) {
	bad := http.Header{"X-Forwarded-For": {"198.51.100.77, not-an-address"}}
	tests := []struct {
		name    string
		opts    *clientip.MiddlewareOptions
		status  int
		outcome clientip.Outcome
		addr    string
	}{
		{name: "default uses the peer", opts: nil, status: http.StatusOK, outcome: clientip.PeerUsed, addr: "127.0.0.0"},
		{name: "reject", opts: &clientip.MiddlewareOptions{OnFailure: clientip.Reject}, status: http.StatusBadRequest},
		{name: "continue without address", opts: &clientip.MiddlewareOptions{OnFailure: clientip.Continue}, status: http.StatusOK, outcome: clientip.Unresolved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, resp := serve(t, loopbackResolver(t), tt.opts, bad)
			require.Equal(t, tt.status, resp.StatusCode)
			if tt.status != http.StatusOK {
				assert.False(t, got.ok, "the handler is not called")
				return
			}
			require.True(t, got.ok)
			assert.Equal(t, tt.outcome, got.info.Outcome)
			assert.ErrorIs(t, got.info.Err, clientip.ErrMalformed)
			assert.Equal(t, clientip.ErrMalformed, got.info.Err, "only the sentinel, which quotes nothing")
			if tt.addr != "" {
				assert.Equal(t, netip.MustParseAddr(tt.addr), got.info.Addr)
			} else {
				assert.False(t, got.info.Addr.IsValid())
				assert.False(t, got.info.Prefix.IsValid())
			}
			assert.True(t, strings.HasPrefix(got.remoteAddr, "127.0.0.0:"), "RemoteAddr is masked: %q", got.remoteAddr)
			assert.NotContains(t, got.log, "198.51.100.77")
			assert.Contains(t, got.log, "client.outcome="+tt.outcome.String())
			assert.Contains(t, got.log, `client.error="malformed client address"`)
		})
	}
}

func TestMiddlewareKeepRawAndNoRewrite(t *testing.T) {
	got, _ := serve(t, loopbackResolver(t), &clientip.MiddlewareOptions{KeepRaw: true, NoRewrite: true},
		http.Header{"X-Forwarded-For": {"198.51.100.77"}})
	require.True(t, got.ok)
	assert.Equal(t, netip.MustParseAddr("198.51.100.77"), got.info.Raw)
	assert.Equal(t, netip.MustParseAddr("198.51.100.0"), got.info.Addr)
	assert.Equal(t, "198.51.100.77", got.header.Get("X-Forwarded-For"), "NoRewrite leaves the headers")
	assert.True(t, strings.HasPrefix(got.remoteAddr, "127.0.0.1:"), got.remoteAddr)
	assert.NotContains(t, got.log, "client.raw", "LogValue never prints Raw")
	assert.Contains(t, got.log, "client.addr=198.51.100.0 ")
}

// The Info is rebuilt from a compact payload: with KeepRaw it carries the
// full error of a failed resolution, without it the sentinel alone, and
// in both cases the strategy that failed and the masked peer used.
func TestMiddlewareInfoOnFailure(t *testing.T) {
	for _, keepRaw := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepRaw=%v", keepRaw), func(t *testing.T) {
			got, _ := serve(t, loopbackResolver(t), &clientip.MiddlewareOptions{KeepRaw: keepRaw},
				http.Header{"X-Forwarded-For": {"198.51.100.77, 198.51.100.7x"}})
			require.True(t, got.ok)
			info := got.info
			assert.Equal(t, clientip.PeerUsed, info.Outcome)
			assert.Equal(t, "x-forwarded-for/rightmost-untrusted", info.Strategy.String())
			assert.Equal(t, netip.MustParsePrefix("127.0.0.0/24"), info.Prefix)
			assert.Equal(t, netip.MustParseAddr("127.0.0.0"), info.Addr)
			require.ErrorIs(t, info.Err, clientip.ErrMalformed)
			if keepRaw {
				assert.Equal(t, netip.MustParseAddr("127.0.0.1"), info.Raw)
				assert.Equal(t, "clientip: X-Forwarded-For entry 1 from the right (13 bytes): malformed client address: not an IP address", info.Err.Error())
			} else {
				assert.False(t, info.Raw.IsValid())
				assert.Same(t, clientip.ErrMalformed, info.Err)
			}
		})
	}
}

// Keys that share a hidden name's length and first letter, the empty key,
// and a SingleHeader name longer than any built-in one are told apart.
func TestMiddlewareHeaderMatching(t *testing.T) {
	tr, err := clientip.NewTrusted("127.0.0.0/8")
	require.NoError(t, err)
	long := "X-" + strings.Repeat("Long-", 14) + "Client" // 78 bytes
	r, err := clientip.New(clientip.SingleHeader(tr, long), clientip.RemoteAddr())
	require.NoError(t, err)
	mw, err := clientip.NewMiddleware(r, ipmask.Default, nil)
	require.NoError(t, err)
	var left http.Header
	h := mw(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) { left = req.Header.Clone() }))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "127.0.0.1:1"
	req.Header = http.Header{
		"X-Forwarded-Fox":                  {"a"}, // X-Forwarded-For's length and first letter
		"Y-Forwarded-For":                  {"b"}, // its length, another first letter
		"X-Forwarded-Fo":                   {"c"}, // a prefix of it
		"":                                 {"d"},
		strings.ToLower(long):              {canary4},
		strings.ReplaceAll(long, "-", "_"): {canary4},
		strings.ReplaceAll(long, "Client", "Clienu"): {"e"},
		"X_FORWARDED_FOR": {canary4},
	}
	h.ServeHTTP(httptest.NewRecorder(), req)
	assert.Equal(t, http.Header{
		"X-Forwarded-Fox": {"a"}, "Y-Forwarded-For": {"b"}, "X-Forwarded-Fo": {"c"}, "": {"d"},
		strings.ReplaceAll(long, "Client", "Clienu"): {"e"},
	}, left)
}

// A RemoteAddr longer than the state's 24 bytes of text (an IPv6 address
// under a policy that keeps more than 48 bits) takes the larger state:
// still one allocation, and the text whole.
func TestMiddlewareLongRemoteAddr(t *testing.T) {
	keepAll, err := ipmask.New(32, 128)
	require.NoError(t, err)
	tests := []struct {
		name, remote, want string
		policy             ipmask.Policy
	}{
		{name: "longest IPv6 with a port", remote: "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535", want: "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535", policy: keepAll},
		{name: "IPv6 of 25 bytes with a port", remote: "[2001:db8:a:b:c:d::]:4433", want: "[2001:db8:a:b:c:d::]:4433", policy: keepAll},
		{name: "longest /48 with a port fits the small state", remote: "[ffff:ffff:ffff:1::1]:65535", want: "[ffff:ffff:ffff::]:65535", policy: ipmask.Default},
		{name: "longest IPv4 with a port", remote: "255.255.255.254:65535", want: "255.255.255.254:65535", policy: keepAll},
		{name: "IPv6 without a port", remote: "2001:db8:1:2:3:4:5:6", want: "2001:db8:1:2:3:4:5:6", policy: keepAll},
	}
	for _, tt := range tests {
		// Each row with the recorder, and with a writer that can hijack (the
		// states that also hold the middleware's writer), whose conn's peer
		// is the row's address.
		for _, hijack := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, hijack=%v", tt.name, hijack), func(t *testing.T) {
				mw, err := clientip.NewMiddleware(nil, tt.policy, nil)
				require.NoError(t, err)
				var got, conn string
				var info clientip.Info
				takeOver := hijack
				h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					got = r.RemoteAddr
					info, _ = clientip.FromContext(r.Context())
					if takeOver {
						if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
							conn = c.RemoteAddr().String()
						}
					}
				}))
				tmpl := httptest.NewRequest(http.MethodGet, "/", nil)
				tmpl.RemoteAddr = tt.remote
				req := fresh(tmpl)
				full, err := netip.ParseAddr(tt.remote)
				peer := &net.TCPAddr{IP: full.AsSlice()}
				if ap, perr := netip.ParseAddrPort(tt.remote); perr == nil {
					full, err = ap.Addr(), nil
					peer = net.TCPAddrFromAddrPort(ap)
				}
				require.NoError(t, err)
				var w http.ResponseWriter = httptest.NewRecorder()
				if hijack {
					w = hijackRecorder{httptest.NewRecorder(), peer}
				}
				h.ServeHTTP(w, req())
				assert.Equal(t, tt.want, got)
				assert.Equal(t, clientip.Resolved, info.Outcome)
				assert.Equal(t, tt.policy.Prefix(full), info.Prefix)
				if hijack {
					want := net.TCPAddrFromAddrPort(netip.AddrPortFrom(tt.policy.Mask(full), uint16(peer.Port)))
					assert.Equal(t, want.String(), conn, "the hijacked conn's peer, masked")
				}
				takeOver = false // the middleware's allocations alone
				assert.LessOrEqual(t, testing.AllocsPerRun(50, func() { h.ServeHTTP(w, req()) }), 1.0)
			})
		}
	}
}

// TestMiddlewareRewritesCallersRequest: by default the middleware
// rewrites the request it is given, in place, so the next handler gets
// that same request, and a handler wrapping the middleware sees, once it
// returns, the masked RemoteAddr, the Info, and no client-address header.
func TestMiddlewareRewritesCallersRequest(t *testing.T) {
	mw, err := clientip.NewMiddleware(loopbackResolver(t), ipmask.Default, nil)
	require.NoError(t, err)
	var downstream *http.Request
	h := mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { downstream = r }))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	req.Header.Set("X-Forwarded-For", canary4)
	req.Header.Set("Accept", "*/*")
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.NotNil(t, downstream)
	assert.Same(t, req, downstream)
	assert.Equal(t, "198.51.100.0:5555", req.RemoteAddr, "the caller's request has the masked RemoteAddr")
	info, ok := clientip.FromContext(req.Context())
	assert.True(t, ok, "and the Info in its context")
	assert.Equal(t, clientip.Resolved, info.Outcome)
	assert.Equal(t, http.Header{"Accept": {"*/*"}}, req.Header)
	noLeak(t, string(dump(req)), canary4)
}

// TestMiddlewareNoRewriteLeavesCallersRequest: under NoRewrite the
// caller's request is not touched at all; the next handler gets a copy
// that differs only in its context.
func TestMiddlewareNoRewriteLeavesCallersRequest(t *testing.T) {
	mw, err := clientip.NewMiddleware(loopbackResolver(t), ipmask.Default, &clientip.MiddlewareOptions{NoRewrite: true})
	require.NoError(t, err)
	var downstream *http.Request
	var info clientip.Info
	h := mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		downstream = r
		info, _ = clientip.FromContext(r.Context())
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	req.Header.Set("X-Forwarded-For", canary4)
	before := *req
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.NotNil(t, downstream)
	assert.NotSame(t, req, downstream)
	assert.Equal(t, clientip.Resolved, info.Outcome)
	assert.Equal(t, netip.MustParseAddr("198.51.100.0"), info.Addr)
	assert.Equal(t, before, *req, "the caller's request is as it was")
	assert.Equal(t, canary4, req.Header.Get("X-Forwarded-For"))
	_, ok := clientip.FromContext(req.Context())
	assert.False(t, ok, "its context has no Info")
	same := *downstream
	same = *same.WithContext(req.Context())
	assert.Equal(t, *req, same, "the copy differs only in its context")
}

// TestMiddlewareServedAgain: a request the middleware rewrote that is
// served through it again (a retry by an outer handler, or the
// middleware installed twice, with a router between that copies the
// request) keeps its first resolution, rather than one of the masked
// address, which would fail (and with Reject answer 400) or give the
// tracker the masked address as the client's; a request whose RemoteAddr
// was set anew is resolved anew.
func TestMiddlewareServedAgain(t *testing.T) {
	router := func(next http.Handler) http.Handler { // what chi's Mux does
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), benchKey{}, "route")))
		})
	}
	tests := []struct {
		name    string
		install func(mw func(http.Handler) http.Handler, h http.Handler) http.Handler
	}{
		{name: "served again by an outer handler", install: func(mw func(http.Handler) http.Handler, h http.Handler) http.Handler {
			inner := mw(h)
			return mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inner.ServeHTTP(w, r)
				r.Header.Set("X-Real-Ip", canary4) // put back by something in between
				inner.ServeHTTP(w, r)
				assert.Empty(t, r.Header.Values("X-Real-Ip"), "hidden again")
			}))
		}},
		{name: "installed twice, a router between", install: func(mw func(http.Handler) http.Handler, h http.Handler) http.Handler {
			return mw(router(mw(h)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := loopbackResolver(t)
			mw, err := clientip.NewMiddleware(r, ipmask.Default, &clientip.MiddlewareOptions{OnFailure: clientip.Reject})
			require.NoError(t, err)
			var infos []clientip.Info
			var fulls []netip.Addr
			h := tt.install(mw, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				info, _ := clientip.FromContext(r.Context())
				infos = append(infos, info)
				full, _ := reqctx.ClientAddr(r.Context())
				fulls = append(fulls, full)
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = "127.0.0.1:5555"
			req.Header.Set("X-Forwarded-For", "203.0.113.9, "+canary4)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			assert.Equal(t, http.StatusOK, w.Code, "not rejected")
			require.NotEmpty(t, infos)
			for i, info := range infos {
				assert.Equal(t, clientip.Resolved, info.Outcome, "call %d", i)
				assert.Equal(t, "x-forwarded-for/rightmost-untrusted", info.Strategy.String(), "call %d", i)
				assert.Equal(t, netip.MustParseAddr(canary4), fulls[i], "call %d: the full address, for the tracker", i)
			}
			assert.Equal(t, clientip.Stats{Header: 1}, r.Stats(), "one request, one resolution counted")
		})
	}

	// The same request object reused with a new RemoteAddr (as a test
	// table might): resolved again, from what it now holds.
	mw, err := clientip.NewMiddleware(loopbackResolver(t, clientip.RemoteAddr()), ipmask.Default, nil)
	require.NoError(t, err)
	var info clientip.Info
	h := mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { info, _ = clientip.FromContext(r.Context()) }))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	req.Header.Set("X-Forwarded-For", canary4)
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.Equal(t, netip.MustParseAddr("198.51.100.0"), info.Addr)
	req.RemoteAddr = "203.0.113.0:1" // a masked-looking address, set anew
	h.ServeHTTP(httptest.NewRecorder(), req)
	assert.Equal(t, netip.MustParseAddr("203.0.113.0"), info.Addr)
	assert.Equal(t, "remote-addr", info.Strategy.String())
}

// TestMiddlewareServedAgainMaskedToUnspecified: a peer whose network
// masks to the unspecified address (::1, IPv4-compatible and SIIT
// addresses, under /48) gets RemoteAddr "[::]:port", which does not parse
// as a peer; served through the middleware again it keeps its first
// resolution all the same, rather than lose it (Unresolved, RemoteAddr
// "", a tracker between the two counting nothing).
func TestMiddlewareServedAgainMaskedToUnspecified(t *testing.T) {
	for _, peer := range []string{"[::1]:4711", "[::203.0.113.9]:4711", "[::ffff:0:203.0.113.9]:4711", "[2001:db8:1:2::7]:4711"} {
		t.Run(peer, func(t *testing.T) {
			mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
			require.NoError(t, err)
			var infos []clientip.Info
			var remotes []string
			h := mw(mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				info, _ := clientip.FromContext(r.Context())
				infos = append(infos, info)
				remotes = append(remotes, r.RemoteAddr)
			})))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = peer
			h.ServeHTTP(httptest.NewRecorder(), r)
			require.Len(t, infos, 1)
			assert.Equal(t, clientip.Resolved, infos[0].Outcome, "the first resolution is kept")
			assert.NotEmpty(t, remotes[0])
			full, _ := netip.ParseAddrPort(peer)
			assert.Equal(t, ipmask.Default.Mask(full.Addr()), infos[0].Addr)
		})
	}
}

func TestMiddlewareIPv6RemoteAddr(t *testing.T) {
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	var downstream *http.Request
	h := mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { downstream = r }))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "[2001:db8:1:2:3::7]:443"
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.NotNil(t, downstream)
	assert.Equal(t, "[2001:db8:1::]:443", downstream.RemoteAddr)
}

func TestNewMiddlewareValidates(t *testing.T) {
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, &clientip.MiddlewareOptions{OnFailure: 9})
	require.Error(t, err)
	assert.Nil(t, mw)
	assert.Contains(t, err.Error(), "clientip: NewMiddleware: OnFailure 9")

	opts := &clientip.MiddlewareOptions{}
	before := *opts
	_, err = clientip.NewMiddleware(nil, ipmask.Default, opts)
	require.NoError(t, err)
	assert.Equal(t, before, *opts, "the caller's options are not modified")
}

func TestKeyFunc(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	_, err := clientip.KeyFunc(req)
	assert.ErrorIs(t, err, clientip.ErrNoAddr, "no middleware")

	ctx := clientip.NewContext(context.Background(), clientip.Info{
		Addr:   netip.MustParseAddr("198.51.100.0"),
		Prefix: netip.MustParsePrefix("198.51.100.0/24"),
	})
	key, err := clientip.KeyFunc(req.WithContext(ctx))
	require.NoError(t, err)
	assert.Equal(t, "198.51.100.0/24", key)

	ctx = clientip.NewContext(context.Background(), clientip.Info{Outcome: clientip.Unresolved})
	_, err = clientip.KeyFunc(req.WithContext(ctx))
	assert.ErrorIs(t, err, clientip.ErrNoAddr, "no address")

	_, err = clientip.KeyFunc(nil)
	assert.ErrorIs(t, err, clientip.ErrNoAddr)
}

func TestFromContextThroughOtherValues(t *testing.T) {
	type other struct{}
	info := clientip.Info{Addr: netip.MustParseAddr("198.51.100.0"), Outcome: clientip.Resolved}
	ctx := context.WithValue(clientip.NewContext(context.WithValue(context.Background(), other{}, 1), info), other{}, 2)
	got, ok := clientip.FromContext(ctx)
	require.True(t, ok)
	assert.Equal(t, info, got)
	assert.Equal(t, 2, ctx.Value(other{}))
	_, ok = clientip.FromContext(context.Background())
	assert.False(t, ok)

	//lint:ignore SA1012 a nil context is the input under test
	nilCtx := clientip.NewContext(nil, info)
	got, ok = clientip.FromContext(nilCtx)
	require.True(t, ok)
	assert.Equal(t, info, got)
	assert.Nil(t, nilCtx.Value(other{}), "a nil context reads as Background, not a panic")
}

// With no RemoteAddr every strategy fails the same way; the Info names
// the last one, as its documentation says.
func TestMiddlewareNoRemoteAddrNamesLastStrategy(t *testing.T) {
	mw, err := clientip.NewMiddleware(loopbackResolver(t, clientip.RemoteAddr()), ipmask.Default, &clientip.MiddlewareOptions{OnFailure: clientip.Continue})
	require.NoError(t, err)
	var info clientip.Info
	h := mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { info, _ = clientip.FromContext(r.Context()) }))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = ""
	h.ServeHTTP(httptest.NewRecorder(), req)
	assert.Equal(t, clientip.Unresolved, info.Outcome)
	assert.Equal(t, "remote-addr", info.Strategy.String())
	assert.ErrorIs(t, info.Err, clientip.ErrNoAddr)
}

func TestInfoLogValue(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("x", "client", clientip.Info{
		Addr:    netip.MustParseAddr("2001:db8::"),
		Prefix:  netip.MustParsePrefix("2001:db8::/48"),
		Outcome: clientip.Resolved,
		Raw:     netip.MustParseAddr("2001:db8::1234"),
	})
	assert.Contains(t, buf.String(), `"client":{"addr":"2001:db8::","prefix":"2001:db8::/48","strategy":"remote-addr","outcome":"resolved"}`)
	assert.NotContains(t, buf.String(), "1234")
}

func TestMiddlewareAllocs(t *testing.T) {
	mw, err := clientip.NewMiddleware(loopbackResolver(t), ipmask.Default, nil)
	require.NoError(t, err)
	var info clientip.Info
	h := mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { info, _ = clientip.FromContext(r.Context()) }))
	w := httptest.NewRecorder()
	tmpl := httptest.NewRequest(http.MethodGet, "/", nil)
	tmpl.RemoteAddr = "198.51.100.77:5555"
	direct := fresh(tmpl)
	tmpl = httptest.NewRequest(http.MethodGet, "/", nil)
	tmpl.RemoteAddr = "127.0.0.1:5555"
	tmpl.Header.Set("X-Forwarded-For", "198.51.100.77")
	tmpl.Header.Set("User-Agent", "test")
	tmpl.Header.Set("Accept", "*/*")
	proxied := fresh(tmpl)
	h.ServeHTTP(w, proxied())
	require.Equal(t, clientip.Resolved, info.Outcome, "the header answers, so the allocations below are the resolving path's")
	require.Equal(t, "x-forwarded-for/rightmost-untrusted", info.Strategy.String())

	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { h.ServeHTTP(w, direct()) }), 1.0, "direct: the context node and RemoteAddr's text in one")
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { h.ServeHTTP(w, proxied()) }), 1.0, "proxied: the request rewritten and the header deleted in place, not copied")

	assert.LessOrEqual(t, leastBytesPer(func() { h.ServeHTTP(w, proxied()) }), uint64(80), "bytes per request: the state stays in the 80-byte size class")

	keep, err := clientip.NewMiddleware(loopbackResolver(t), ipmask.Default, &clientip.MiddlewareOptions{NoRewrite: true})
	require.NoError(t, err)
	hk := keep(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { hk.ServeHTTP(w, proxied()) }), 1.0, "proxied, NoRewrite: the node and the request copy in one")
	assert.LessOrEqual(t, leastBytesPer(func() { hk.ServeHTTP(w, proxied()) }), uint64(384), "bytes per request under NoRewrite")
}

// leastBytesPer returns the bytes f allocates per call. TotalAlloc counts
// every goroutine's allocations, the runtime's and other tests' leftovers
// too; they only ever add, so the least of a few trials is f's own figure.
func leastBytesPer(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 5 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const n = 1000
		for range n {
			f()
		}
		runtime.ReadMemStats(&after)
		least = min(least, (after.TotalAlloc-before.TotalAlloc)/n)
	}
	return least
}
