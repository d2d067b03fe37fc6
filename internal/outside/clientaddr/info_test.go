package clientaddr_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// outcomeCase is a request whose resolution ends one documented way.
type outcomeCase struct {
	name       string
	strategies func(tr *clientip.Trusted) []clientip.Strategy
	onFailure  clientip.Failure
	peer       string
	h          http.Header
	outcome    clientip.Outcome
	addr       string // the unmasked address the Info is about; "" for none
	strategy   string // Info.Strategy.String()
	sentinel   error  // Info.Err's sentinel; nil when resolved
	stats      clientip.Stats
}

func outcomeCases() []outcomeCase {
	xff := func(tr *clientip.Trusted) []clientip.Strategy {
		return []clientip.Strategy{clientip.RightmostUntrusted(tr), clientip.RemoteAddr()}
	}
	forged := http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Real-Ip": {"203.0.113.9"}, "Forwarded": {"for=203.0.113.9"}}
	return []outcomeCase{
		{name: "resolved from a header", strategies: xff, peer: "10.0.0.1:4711",
			h:       http.Header{"X-Forwarded-For": {"203.0.113.9, 198.51.100.77"}},
			outcome: clientip.Resolved, addr: "198.51.100.77", strategy: "x-forwarded-for/rightmost-untrusted", stats: clientip.Stats{Header: 1}},
		{name: "resolved ipv6 from forwarded", strategies: func(tr *clientip.Trusted) []clientip.Strategy {
			return []clientip.Strategy{clientip.Forwarded(tr)}
		}, peer: "[fd00::1]:4711",
			h:       http.Header{"Forwarded": {`for="[2001:db8:1:2::7]:443", for=10.0.0.2`}},
			outcome: clientip.Resolved, addr: "2001:db8:1:2::7", strategy: "forwarded/rightmost-untrusted", stats: clientip.Stats{Header: 1}},
		{name: "resolved as the direct peer", strategies: xff, peer: "198.51.100.77:4711", h: forged,
			outcome: clientip.Resolved, addr: "198.51.100.77", strategy: "remote-addr", stats: clientip.Stats{Peer: 1}},
		{name: "zero config ipv6 peer without port", peer: "2001:db8:1:2::7", h: forged,
			outcome: clientip.Resolved, addr: "2001:db8:1:2::7", strategy: "remote-addr", stats: clientip.Stats{Peer: 1}},
		{name: "malformed header: peer used", strategies: xff, peer: "10.0.0.1:4711",
			h:       http.Header{"X-Forwarded-For": {"198.51.100.77, garbage"}},
			outcome: clientip.PeerUsed, addr: "10.0.0.1", strategy: "x-forwarded-for/rightmost-untrusted", sentinel: clientip.ErrMalformed, stats: clientip.Stats{Malformed: 1}},
		{name: "untrusted peer, no fallback: peer used", strategies: func(tr *clientip.Trusted) []clientip.Strategy {
			return []clientip.Strategy{clientip.SingleHeader(tr, "cf-connecting-ip")}
		}, peer: "[2001:db8:1:2::7]:4711", h: http.Header{"Cf-Connecting-Ip": {"203.0.113.9"}},
			outcome: clientip.PeerUsed, addr: "2001:db8:1:2::7", strategy: "header/Cf-Connecting-Ip", sentinel: clientip.ErrUntrusted, stats: clientip.Stats{Untrusted: 1}},
		{name: "absent header, no fallback: peer used", strategies: func(tr *clientip.Trusted) []clientip.Strategy {
			return []clientip.Strategy{clientip.SingleHeader(tr, "X-Real-IP"), clientip.TrustedHops(tr, 2)}
		}, peer: "10.0.0.1:4711", h: http.Header{},
			outcome: clientip.PeerUsed, addr: "10.0.0.1", strategy: "x-forwarded-for/hops=2", sentinel: clientip.ErrNoAddr, stats: clientip.Stats{NoAddr: 1}},
		{name: "continue: unresolved", strategies: xff, onFailure: clientip.Continue, peer: "10.0.0.1:4711",
			h:       http.Header{"X-Forwarded-For": {"198.51.100.77:99999"}},
			outcome: clientip.Unresolved, strategy: "x-forwarded-for/rightmost-untrusted", sentinel: clientip.ErrMalformed, stats: clientip.Stats{Malformed: 1}},
		{name: "no RemoteAddr: unresolved", strategies: xff, peer: "", h: forged,
			outcome: clientip.Unresolved, strategy: "remote-addr", sentinel: clientip.ErrNoAddr, stats: clientip.Stats{NoAddr: 1}},
		{name: "garbage RemoteAddr: unresolved", strategies: xff, peer: "203.0.113.9:port", h: forged,
			outcome: clientip.Unresolved, strategy: "x-forwarded-for/rightmost-untrusted", sentinel: clientip.ErrMalformed, stats: clientip.Stats{Malformed: 1}},
		{name: "reject", strategies: xff, onFailure: clientip.Reject, peer: "10.0.0.1:4711",
			h:       http.Header{"X-Forwarded-For": {"198.51.100.77, unknown"}},
			outcome: clientip.Unresolved, strategy: "x-forwarded-for/rightmost-untrusted", sentinel: clientip.ErrMalformed, stats: clientip.Stats{Malformed: 1}},
	}
}

// TestInfoForEveryOutcome checks what the documented accessors say for
// every way a resolution ends (resolved from a header, resolved as the
// peer, the peer used after ErrMalformed, ErrUntrusted or ErrNoAddr, no
// address under Continue, with no or a garbage RemoteAddr, and Reject),
// under every option (KeepRaw, NoRewrite) and two policies, as the docs of
// Info, Outcome, Failure, MiddlewareOptions, KeyFunc, LogValue, Stats and
// NewMiddleware describe it: the Outcome; Addr and Prefix the masked
// address (zero when Unresolved); the Strategy that answered or failed
// last; Err nil or the bare sentinel, the full error only under KeepRaw;
// Raw only under KeepRaw; RemoteAddr the masked address with the peer's
// port (the masked peer when Unresolved, "" with no peer; raw under
// NoRewrite); KeyFunc the masked network or an ErrNoAddr; LogValue no
// raw address; one count in Stats; a handler wrapping the middleware sees
// what the handler behind it saw. Checked to fail: with the rows' expected
// strategy or address changed (a PeerUsed row expecting the client), and
// with KeepRaw's Raw expected empty.
func TestInfoForEveryOutcome(t *testing.T) {
	strict, err := ipmask.New(16, 32)
	require.NoError(t, err)
	for _, c := range outcomeCases() {
		for _, p := range []ipmask.Policy{ipmask.Default, strict} {
			for _, opts := range []clientip.MiddlewareOptions{{}, {KeepRaw: true}, {NoRewrite: true}, {KeepRaw: true, NoRewrite: true}} {
				opts.OnFailure = c.onFailure
				t.Run(fmt.Sprintf("%s/%s/keepraw=%v/norewrite=%v", c.name, p, opts.KeepRaw, opts.NoRewrite), func(t *testing.T) {
					checkOutcome(t, c, p, opts)
				})
			}
		}
	}
}

func checkOutcome(t *testing.T, c outcomeCase, p ipmask.Policy, opts clientip.MiddlewareOptions) {
	tr, err := clientip.NewTrusted("10.0.0.0/8", "fd00::/8")
	require.NoError(t, err)
	var ss []clientip.Strategy
	if c.strategies != nil {
		ss = c.strategies(tr)
	}
	res, err := clientip.New(ss...)
	require.NoError(t, err)
	mw, err := clientip.NewMiddleware(res, p, &opts)
	require.NoError(t, err)

	type view struct {
		ran    bool
		info   clientip.Info
		ok     bool
		remote string
		key    string
		keyErr error
	}
	look := func(r *http.Request) view {
		v := view{ran: true, remote: r.RemoteAddr}
		v.info, v.ok = clientip.FromContext(r.Context())
		v.key, v.keyErr = clientip.KeyFunc(r)
		return v
	}
	var inner, outer view
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner = look(r)
		w.WriteHeader(http.StatusNoContent)
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = c.peer
	req.Header = c.h.Clone()
	w := httptest.NewRecorder()
	func() {
		h.ServeHTTP(w, req)
		outer = look(req)
	}()

	assert.Equal(t, c.stats, res.Stats(), "one count, in its field")

	var addr netip.Addr
	if c.addr != "" {
		addr = netip.MustParseAddr(c.addr)
	}
	peer, hasPort := parsePeer(c.peer)
	if c.onFailure == clientip.Reject && c.outcome != clientip.Resolved {
		assert.Equal(t, http.StatusBadRequest, w.Code)
		assert.False(t, inner.ran, "the next handler is not called")
		if opts.NoRewrite {
			assert.False(t, outer.ok, "under NoRewrite the caller's request stays as it arrived")
			assert.Equal(t, c.peer, outer.remote)
			return
		}
	} else {
		assert.Equal(t, http.StatusNoContent, w.Code)
		require.True(t, inner.ran)
		require.True(t, inner.ok, "FromContext finds the Info")
	}

	views := map[string]view{"outer": outer}
	if inner.ran {
		views["inner"] = inner
	}
	if opts.NoRewrite {
		// The caller's request is untouched; only the next handler's copy
		// has the Info.
		assert.False(t, outer.ok, "outer under NoRewrite")
		assert.Equal(t, c.peer, outer.remote)
		delete(views, "outer")
	}
	for where, v := range views {
		i := v.info
		assert.Equal(t, c.outcome, i.Outcome, where)
		assert.Equal(t, c.strategy, i.Strategy.String(), where)
		if addr.IsValid() {
			assert.Equal(t, p.Mask(addr), i.Addr, where)
			assert.Equal(t, p.Prefix(addr), i.Prefix, where)
			assert.NoError(t, v.keyErr, where)
			assert.Equal(t, p.Prefix(addr).String(), v.key, where)
		} else {
			assert.False(t, i.Addr.IsValid(), where)
			assert.False(t, i.Prefix.IsValid(), where)
			assert.ErrorIs(t, v.keyErr, clientip.ErrNoAddr, where)
			assert.Empty(t, v.key, where)
		}
		if c.sentinel == nil {
			assert.NoError(t, i.Err, where)
		} else {
			require.Error(t, i.Err, where)
			assert.ErrorIs(t, i.Err, c.sentinel, where)
			if opts.KeepRaw {
				assert.True(t, strings.HasPrefix(i.Err.Error(), "clientip: "), where)
				for _, raw := range rawAddrs(c) {
					assertNotSeen(t, fmt.Sprintf("%v %+v", i.Err, i.Err), raw, where+": the full error")
				}
			} else {
				assert.Same(t, c.sentinel, i.Err, "%s: the bare sentinel without KeepRaw", where)
			}
			for _, s := range []error{clientip.ErrNoAddr, clientip.ErrUntrusted, clientip.ErrMalformed} {
				if s != c.sentinel {
					assert.False(t, errors.Is(i.Err, s), "%s: wraps %v too", where, s)
				}
			}
		}
		if opts.KeepRaw {
			assert.Equal(t, addr, i.Raw, "%s: Raw is the unmasked address", where)
		} else {
			assert.False(t, i.Raw.IsValid(), "%s: no Raw without KeepRaw", where)
		}
		// LogValue: masked data only, whatever the options.
		var sb strings.Builder
		slog.New(slog.NewTextHandler(&sb, nil)).Info("req", "client", i)
		logged := sb.String()
		assert.Contains(t, logged, "outcome="+c.outcome.String(), where)
		for _, raw := range rawAddrs(c) {
			assertNoAddr(t, logged, raw, where+": LogValue")
		}
		// RemoteAddr: the masked address (or the masked peer when none)
		// with the peer's port; "" with no peer.
		shown := addr
		if !shown.IsValid() {
			shown = peer
		}
		switch {
		case opts.NoRewrite:
			assert.Equal(t, c.peer, v.remote, "%s: raw under NoRewrite", where)
		case !shown.IsValid():
			assert.Empty(t, v.remote, where)
		case hasPort:
			ap, err := netip.ParseAddrPort(c.peer)
			require.NoError(t, err)
			assert.Equal(t, netip.AddrPortFrom(p.Mask(shown), ap.Port()).String(), v.remote, where)
		default:
			assert.Equal(t, p.Mask(shown).String(), v.remote, where)
		}
		if !opts.NoRewrite {
			for _, raw := range rawAddrs(c) {
				assertNoAddr(t, v.remote, raw, where+": RemoteAddr")
			}
		}
	}
}

// rawAddrs are the unmasked addresses a case's request carries.
func rawAddrs(c outcomeCase) []netip.Addr {
	var out []netip.Addr
	if c.addr != "" {
		out = append(out, netip.MustParseAddr(c.addr))
	}
	if a, _ := parsePeer(c.peer); a.IsValid() {
		out = append(out, a)
	}
	return append(out, netip.MustParseAddr("203.0.113.9"))
}

// parsePeer reads RemoteAddr as the package doc says: "ip:port",
// "[ipv6]:port" or a bare address.
func parsePeer(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), false
	}
	return netip.Addr{}, false
}
