package headers_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// TestTrustedMappedRanges: a range given as IPv4-mapped IPv6, to
// NewTrusted or NewTrustedPrefixes, and a single host given so, trust
// exactly the IPv4 addresses they map (the Trusted doc: ::ffff:10.0.0.1
// is trusted exactly when 10.0.0.1 is), whether the peer and the entries
// are written plain or mapped; a mapped range covering every IPv4
// address is refused like a /0.
func TestTrustedMappedRanges(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 14))
	for i := range 500 {
		bits := 8 + r.IntN(25)
		base := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + r.IntN(223)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}), bits).Masked()
		mapped := netip.PrefixFrom(netip.AddrFrom16(base.Addr().As16()), 96+bits)
		var tr *clientip.Trusted
		var err error
		if r.IntN(2) == 0 {
			tr, err = clientip.NewTrusted(mapped.String())
		} else {
			tr, err = clientip.NewTrustedPrefixes(mapped)
		}
		require.NoError(t, err, mapped)
		res := resolver(t, clientip.RightmostUntrusted(tr))
		for range 20 {
			a := netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
			if r.IntN(2) == 0 { // an address in the range
				b, m := a.As4(), base.Addr().As4()
				for k := 0; k < bits; k++ {
					bit := byte(0x80 >> (k % 8))
					b[k/8] = b[k/8]&^bit | m[k/8]&bit
				}
				a = netip.AddrFrom4(b)
			}
			in := base.Contains(a)
			assert.Equal(t, in, tr.Contains(a), "case %d: %v in %v", i, a, mapped)
			assert.Equal(t, in, tr.Contains(netip.AddrFrom16(a.As16())), "case %d: mapped %v in %v", i, a, mapped)
			client := netip.AddrFrom4([4]byte{0, 0, 0, 0})
			for !client.IsValid() || client.IsUnspecified() || base.Contains(client) {
				client = randClient(r)
			}
			p := pick(r, peer(r, a), peer(r, netip.AddrFrom16(a.As16())), a.String())
			got, err := res.Resolve(http.Header{"X-Forwarded-For": {client.String() + ", ::ffff:" + a.String()}}, p)
			if in {
				if !assert.NoError(t, err, "case %d: peer %q", i, p) || !assert.Equal(t, client, got) {
					return
				}
			} else if !assert.ErrorIs(t, err, clientip.ErrUntrusted, "case %d: peer %q of %v answered %v", i, p, mapped, got) {
				return
			}
		}
	}
	for _, all := range []string{"::ffff:0.0.0.0/96", "::ffff:0:0/96", "0.0.0.0/0", "::/0"} {
		_, err := clientip.NewTrusted(all)
		assert.Error(t, err, all)
		_, err = clientip.NewTrustedPrefixes(netip.MustParsePrefix(all))
		assert.Error(t, err, all)
	}
}

// TestTrustedZones: a range with a zone is refused, and a peer with a
// zone (a link-local proxy, "[fe80::1%eth0]:80") is looked up without it.
func TestTrustedZones(t *testing.T) {
	for _, s := range []string{"fe80::/10%eth0", "fe80::1%eth0", "fe80::1%eth0/128", "fe80::1%25eth0"} {
		_, err := clientip.NewTrusted(s)
		assert.Error(t, err, s)
	}
	tr, err := clientip.NewTrusted("fe80::/10")
	require.NoError(t, err)
	res := resolver(t, clientip.RightmostUntrusted(tr))
	for _, p := range []string{"[fe80::1%eth0]:80", "[fe80::1%25eth0]:80", "[fe80::abcd%1]:443", "fe80::2%lo"} {
		a, err := res.Resolve(http.Header{"X-Forwarded-For": {"192.0.2.9"}}, p)
		if assert.NoError(t, err, p) {
			assert.Equal(t, netip.MustParseAddr("192.0.2.9"), a, p)
		}
		assert.True(t, tr.Contains(netip.MustParseAddr("fe80::1%eth0")))
	}
}

// naiveTrusted is the reference: membership in any of the prefixes, after
// unmapping.
func naiveTrusted(ps []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// lastIP is the last address of p.
func lastIP(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// TestTrustedManyRanges: hundreds of ranges, overlapping, nested, single
// hosts of either family, given as strings or prefixes and replaced with
// Update: the walk's answer is the one a plain loop over the ranges gives.
func TestTrustedManyRanges(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 15))
	tr, err := clientip.NewTrusted()
	require.NoError(t, err)
	res := resolver(t, clientip.RightmostUntrusted(tr))
	for i := range 30 {
		var ps []netip.Prefix
		var ss []string
		for range 100 + r.IntN(400) {
			var p netip.Prefix
			if r.IntN(2) == 0 {
				p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + r.IntN(8)), byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))}), pick(r, 8, 14, 16, 20, 24, 28, 31, 32)).Masked()
			} else {
				b := netip.MustParseAddr("2001:db8::").As16()
				b[4], b[5], b[15] = byte(r.IntN(4)), byte(r.IntN(4)), byte(r.IntN(256))
				p = netip.PrefixFrom(netip.AddrFrom16(b), pick(r, 40, 44, 48, 64, 120, 128)).Masked()
			}
			ps = append(ps, p)
			if p.IsSingleIP() && r.IntN(2) == 0 {
				ss = append(ss, p.Addr().String())
			} else {
				ss = append(ss, p.String())
			}
		}
		require.NoError(t, tr.Update(ss...))
		addr := func() netip.Addr {
			if r.IntN(2) == 0 { // at a range's edge, or just outside it
				p := ps[r.IntN(len(ps))]
				a := p.Addr()
				if r.IntN(2) == 0 {
					a = lastIP(p)
				}
				switch r.IntN(3) {
				case 0:
					a = a.Prev()
				case 1:
					a = a.Next()
				}
				if a.IsValid() && !a.IsUnspecified() {
					return a
				}
			}
			if r.IntN(2) == 0 {
				return netip.AddrFrom4([4]byte{byte(1 + r.IntN(8)), byte(r.IntN(4)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
			}
			b := netip.MustParseAddr("2001:db8::").As16()
			b[4], b[5], b[15] = byte(r.IntN(4)), byte(r.IntN(4)), byte(1+r.IntN(254))
			return netip.AddrFrom16(b)
		}
		for j := range 300 {
			var chain []netip.Addr
			var xff string
			for k := range 1 + r.IntN(8) {
				a := addr()
				chain = append(chain, a)
				if k > 0 {
					xff += ", "
				}
				xff += xffEntry(r, a)
			}
			pa := addr()
			var want netip.Addr
			switch {
			case !naiveTrusted(ps, pa):
			default:
				for k := len(chain) - 1; k >= 0; k-- {
					if !naiveTrusted(ps, chain[k]) {
						want = chain[k]
						break
					}
				}
			}
			got, err := res.Resolve(http.Header{"X-Forwarded-For": {xff}}, peer(r, pa))
			what := fmt.Sprintf("set %d case %d: peer %v %q", i, j, pa, xff)
			assert.Equal(t, naiveTrusted(ps, pa), tr.Contains(pa), what)
			if want.IsValid() {
				if !assert.NoError(t, err, what) || !assert.Equal(t, want, got, what) {
					return
				}
			} else if !assert.Error(t, err, "%s answered %v", what, got) {
				return
			}
		}
	}
}

// TestPeerNotAnIPAddress: a peer on a Unix socket or with a RemoteAddr
// that does not parse is never a trusted proxy: no header strategy reads
// its header, and a chain ending in RemoteAddr answers no address rather
// than one a header names.
func TestPeerNotAnIPAddress(t *testing.T) {
	tr := trusted(t)
	h := http.Header{
		"X-Forwarded-For":  {"192.0.2.77"},
		"Forwarded":        {"for=192.0.2.77"},
		"X-Real-Ip":        {"192.0.2.77"},
		"Cf-Connecting-Ip": {"192.0.2.77"},
	}
	chains := [][]clientip.Strategy{
		{clientip.RightmostUntrusted(tr)}, {clientip.TrustedHops(tr, 1)}, {clientip.Forwarded(tr)},
		{clientip.SingleHeader(tr, "X-Real-IP")}, {clientip.SingleHeader(tr, "CF-Connecting-IP")},
		{clientip.RightmostUntrusted(tr), clientip.Forwarded(tr), clientip.SingleHeader(tr, "X-Real-IP"), clientip.RemoteAddr()},
	}
	for _, p := range []string{"@", "", "/run/app.sock", "@abstract", "unix:/tmp/s", "pipe", "10.0.0.1:", ":80", "10.0.0.1:x", "[10.0.0.1]:80", "10.0.0.1%eth0:80", "localhost:80", "10.0.0.1:80:80", "[::ffff:10.0.0.1"} {
		for _, c := range chains {
			a, err := resolver(t, c...).Resolve(h, p)
			assert.Error(t, err, "peer %q, %v answered %v", p, c, a)
			assert.False(t, a.IsValid(), "peer %q", p)
		}
	}
}

// TestMiddlewareNonIPPeer: behind the middleware, a request whose peer
// is not an IP address (a Unix socket's "@" or path, an empty or
// unparseable RemoteAddr) gets no address from a header, under every
// failure policy: the Info's Outcome is Unresolved with no address,
// RemoteAddr is "" (the middleware doc: "" when Unresolved and the peer
// has no address), no forwarding header is left, and Reject answers 400
// without calling the handler.
func TestMiddlewareNonIPPeer(t *testing.T) {
	tr := trusted(t)
	res := resolver(t, clientip.RightmostUntrusted(tr), clientip.Forwarded(tr), clientip.SingleHeader(tr, "X-Real-IP"), clientip.RemoteAddr())
	for _, f := range []clientip.Failure{clientip.UsePeer, clientip.Reject, clientip.Continue} {
		mw, err := clientip.NewMiddleware(res, ipmask.Default, &clientip.MiddlewareOptions{OnFailure: f})
		require.NoError(t, err)
		for _, p := range []string{"@", "", "/run/app.sock", "@abstract", "pipe", "10.0.0.1:x", "[10.0.0.1]:80"} {
			called := false
			var info clientip.Info
			var remote string
			var hdr http.Header
			h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				info, _ = clientip.FromContext(r.Context())
				remote, hdr = r.RemoteAddr, r.Header.Clone()
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = p
			req.Header.Set("X-Forwarded-For", "192.0.2.77")
			req.Header.Set("Forwarded", "for=192.0.2.77")
			req.Header.Set("X-Real-IP", "192.0.2.77")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			what := fmt.Sprintf("%v, peer %q", f, p)
			if f == clientip.Reject {
				assert.Equal(t, http.StatusBadRequest, rec.Code, what)
				assert.False(t, called, what)
				continue
			}
			require.True(t, called, what)
			assert.Equal(t, clientip.Unresolved, info.Outcome, what)
			assert.False(t, info.Addr.IsValid(), what)
			assert.Empty(t, remote, what)
			assert.Empty(t, hdr, what)
		}
	}
}
