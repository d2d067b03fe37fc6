package outside_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// embedding builds an IPv6 address carrying v4 in one of the forms the
// README's guarantee 1 names; rest fills the bits the form leaves free.
type embedding struct {
	name string
	at   int // the bit the IPv4 address starts at
	make func(v4 [4]byte, rest [16]byte) netip.Addr
}

func embeddings() []embedding {
	put := func(b *[16]byte, at int, v4 [4]byte) {
		copy(b[at/8:], v4[:])
	}
	return []embedding{
		{"ipv4-mapped", 96, func(v4 [4]byte, _ [16]byte) netip.Addr { return netip.AddrFrom4(v4) }},
		{"ipv4-compatible", 96, func(v4 [4]byte, _ [16]byte) netip.Addr {
			var b [16]byte
			put(&b, 96, v4)
			return netip.AddrFrom16(b)
		}},
		{"siit", 96, func(v4 [4]byte, _ [16]byte) netip.Addr {
			var b [16]byte
			b[8], b[9] = 0xff, 0xff
			put(&b, 96, v4)
			return netip.AddrFrom16(b)
		}},
		{"6to4", 16, func(v4 [4]byte, r [16]byte) netip.Addr {
			b := r
			b[0], b[1] = 0x20, 0x02
			put(&b, 16, v4)
			return netip.AddrFrom16(b)
		}},
		{"teredo", 96, func(v4 [4]byte, r [16]byte) netip.Addr {
			b := r
			b[0], b[1], b[2], b[3] = 0x20, 0x01, 0, 0
			for i, v := range v4 {
				b[12+i] = ^v
			}
			return netip.AddrFrom16(b)
		}},
		{"nat64 well-known", 96, func(v4 [4]byte, _ [16]byte) netip.Addr {
			var b [16]byte
			b[0], b[1], b[2], b[3] = 0, 0x64, 0xff, 0x9b
			put(&b, 96, v4)
			return netip.AddrFrom16(b)
		}},
		{"nat64 local-use /48", 48, func(v4 [4]byte, r [16]byte) netip.Addr {
			b := r
			b[0], b[1], b[2], b[3], b[4], b[5] = 0, 0x64, 0xff, 0x9b, 0, 1
			put(&b, 48, v4)
			b[8] = 0 // RFC 6052: bits 64 to 71 are zero
			copy(b[9:], v4[2:])
			return netip.AddrFrom16(b)
		}},
		{"isatap", 96, func(v4 [4]byte, r [16]byte) netip.Addr {
			b := r
			b[0], b[1] = 0x20, 0x01 // any global prefix
			b[8], b[9], b[10], b[11] = 0, 0, 0x5e, 0xfe
			put(&b, 96, v4)
			return netip.AddrFrom16(b)
		}},
		{"isatap under 6to4", 16, func(v4 [4]byte, r [16]byte) netip.Addr {
			b := r
			b[0], b[1] = 0x20, 0x02
			put(&b, 16, v4)
			b[8], b[9], b[10], b[11] = 0x02, 0, 0x5e, 0xfe
			put(&b, 96, v4)
			return netip.AddrFrom16(b)
		}},
	}
}

// TestMaskingKeepsNoMoreThanPolicy checks guarantee 1 over classes: for
// random IPv4 addresses carried in every form the README names, behind
// random other bits, two visitors whose IPv4 addresses differ only in
// their last 8 bits are masked to the same value, by every way the module
// masks an address (Policy.Mask and Prefix, MaskString in the address's
// compressed, expanded and upper-case text, logmask's text masking, the
// clientip middleware's RemoteAddr); and the masked value holds the
// IPv4 address's first 24 bits where the form keeps them. The same for
// Strict and 16 bits. Checked to fail: a mask without the embedded-IPv4
// rule (a.Prefix(48), what Matomo and anonip keep) in place of
// Policy.Mask gives different values for the 6to4 rows, whose two
// addresses differ in bits 40 to 47.
func TestMaskingKeepsNoMoreThanPolicy(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 1))
	masker, err := logmask.NewMasker(ipmask.Default, nil)
	require.NoError(t, err)
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	viaMiddleware := func(a netip.Addr) string {
		var got string
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = netip.AddrPortFrom(a, 4711).String()
		mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.RemoteAddr })).ServeHTTP(httptest.NewRecorder(), r)
		return got
	}
	for _, e := range embeddings() {
		for _, pol := range []struct {
			name string
			p    ipmask.Policy
			keep int // IPv4 bits
		}{{"default", ipmask.Default, 24}, {"strict", ipmask.Strict, 16}} {
			t.Run(e.name+"/"+pol.name, func(t *testing.T) {
				for range 200 {
					var v4 [4]byte
					var rest [16]byte
					for i := range v4 {
						v4[i] = byte(rng.UintN(256))
					}
					for i := range rest {
						rest[i] = byte(rng.UintN(256))
					}
					other := v4
					other[3] ^= byte(1 + rng.UintN(255)) // differs in the last 8 bits
					if pol.keep == 16 {
						other[2] ^= byte(rng.UintN(256))
					}
					a, b := e.make(v4, rest), e.make(other, rest)
					require.NotEqual(t, a, b)
					p := pol.p
					assert.Equal(t, p.Mask(a), p.Mask(b), "%s and %s", a, b)
					assert.Equal(t, p.Prefix(a), p.Prefix(b))
					assert.LessOrEqual(t, p.Bits(a), max(pol.keep, min(p.IPv6Bits(), e.at+pol.keep)))
					for _, text := range []func(netip.Addr) string{
						netip.Addr.String, netip.Addr.StringExpanded,
						func(x netip.Addr) string { return strings.ToUpper(x.StringExpanded()) },
					} {
						ma, err := p.MaskString(text(a))
						require.NoError(t, err)
						mb, err := p.MaskString(text(b))
						require.NoError(t, err)
						assert.Equal(t, ma, mb)
						assert.Equal(t, p.Mask(a).String(), ma)
					}
					if pol.name == "default" {
						assert.Equal(t, masker.MaskString("peer "+a.String()+" said"), masker.MaskString("peer "+b.String()+" said"))
						assert.Equal(t, viaMiddleware(a), viaMiddleware(b))
					}
					// What is kept is the IPv4 address's leading bits, no
					// fewer where the form lets the policy keep them.
					if e.at+pol.keep <= p.IPv6Bits() || e.name == "ipv4-mapped" {
						carried, n := ipmask.EmbeddedIPv4(p.Mask(a))
						if e.name == "ipv4-mapped" {
							assert.Equal(t, netip.PrefixFrom(netip.AddrFrom4(v4), pol.keep).Masked().Addr(), p.Mask(a))
						} else if assert.Positive(t, n, "%s masks to %s", a, p.Mask(a)) && carried[0].IPv4.IsValid() {
							assert.Equal(t, netip.PrefixFrom(netip.AddrFrom4(v4), pol.keep).Masked().Addr(), carried[0].IPv4)
						}
					}
				}
			})
		}
	}
}

// TestMaskingIsIdempotentAndTotal checks guarantee 2 over classes: random
// IPv4 and IPv6 addresses, every embedded form, zoned and mapped ones:
// masking twice changes nothing (Mask, MaskString, logmask's text), the
// masked network contains the address, zones are dropped; and the classes
// of text that is not an address (empty, a name, leading zeros, a port, a
// CIDR, a list, a zone on IPv4, out of range, trailing junk, NUL, invalid
// UTF-8) are errors wrapping ipmask.ErrInvalidAddr, never passed through.
func TestMaskingIsIdempotentAndTotal(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 2))
	masker, err := logmask.NewMasker(ipmask.Default, nil)
	require.NoError(t, err)
	var addrs []netip.Addr
	for range 500 {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		var v4 [4]byte
		copy(v4[:], b[:4])
		addrs = append(addrs, netip.AddrFrom16(b), netip.AddrFrom4(v4), netip.AddrFrom16(b).WithZone("eth0"), netip.AddrFrom16(netip.AddrFrom4(v4).As16()))
		for _, e := range embeddings() {
			addrs = append(addrs, e.make(v4, b))
		}
	}
	for _, p := range []ipmask.Policy{ipmask.Default, ipmask.Strict} {
		for _, a := range addrs {
			m := p.Mask(a)
			require.Equal(t, m, p.Mask(m), "%s under %s", a, p)
			assert.Empty(t, m.Zone())
			assert.True(t, p.Prefix(a).Contains(a.Unmap().WithZone("")), "%s in %s", a, p.Prefix(a))
			assert.True(t, p.IsMasked(m))
			s, err := p.MaskString(a.String())
			require.NoError(t, err)
			s2, err := p.MaskString(s)
			require.NoError(t, err)
			assert.Equal(t, s, s2)
			if p == ipmask.Default {
				once := masker.MaskString("from " + a.String() + ", " + a.StringExpanded())
				assert.Equal(t, once, masker.MaskString(once))
			}
		}
	}
	assert.Equal(t, netip.Addr{}, ipmask.Default.Mask(netip.Addr{}))
	assert.False(t, ipmask.Default.IsMasked(netip.Addr{}))
	for _, s := range []string{
		"", " ", "localhost", "198.051.100.7", "198.51.100.7:80", "[2001:db8::1]:443", "198.51.100.0/24",
		"198.51.100.7, 198.51.100.8", "198.51.100.7%eth0", "256.1.1.1", "198.51.100.7x", "2001:db8::1::2",
		"198.51.100.7\x00", "\xff198.51.100.7", "::ffff:198.51.100.256", fmt.Sprint(uint32(3325256781)), "0xc633644d",
	} {
		out, err := ipmask.Default.MaskString(s)
		assert.ErrorIs(t, err, ipmask.ErrInvalidAddr, "%q", s)
		assert.Empty(t, out, "%q is not passed through", s)
		_, err = ipmask.ParseAddr(s)
		assert.ErrorIs(t, err, ipmask.ErrInvalidAddr, "%q", s)
	}
}
