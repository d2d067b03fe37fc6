package clientip

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go4.org/netipx"
)

// The messages spell the bounds out as constants, so that building them
// never allocates; they must say what the code does.
func TestBoundsInMessages(t *testing.T) {
	assert.Equal(t, strconv.Itoa(maxElement), maxElementText)
	assert.Equal(t, strconv.Itoa(maxWalkBytes), maxWalkBytesText)
	longest := netip.AddrPortFrom(netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"), 65535)
	assert.LessOrEqual(t, len(longest.String()), maxAddrLen, "the longest address form fits")
	assert.Less(t, maxAddrLen, maxRawEntry)
}

// trustedSet.contains answers as the IPSet it indexes does, after
// unmapping and dropping the zone, on sets of mixed families (IPv4-mapped
// ranges included, which match nothing) and on the edges of every range.
func TestTrustedSetContainsAgreesWithIPSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randAddr := func() netip.Addr {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		switch rng.IntN(3) {
		case 0:
			return netip.AddrFrom4([4]byte(b[:4]))
		case 1:
			return netip.AddrFrom16(b).Unmap() // IPv6
		}
		return netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: b[0], 13: b[1], 14: b[2], 15: b[3]}) // IPv4-mapped
	}
	for n := range 200 {
		var bld netipx.IPSetBuilder
		for range n % 12 {
			a := randAddr()
			bld.AddPrefix(netip.PrefixFrom(a, rng.IntN(a.BitLen()+1)).Masked())
		}
		ipset, err := bld.IPSet()
		require.NoError(t, err)
		ts := newTrustedSet(ipset)
		probe := func(a netip.Addr) {
			want := ipset.Contains(a.Unmap().WithZone(""))
			assert.Equal(t, want, ts.contains(a), "set %d, address %s", n, a)
			if a.Is6() && !a.Is4In6() {
				assert.Equal(t, want, ts.contains(a.WithZone("eth0")), "set %d, address %s with a zone", n, a)
			}
		}
		for _, r := range ipset.Ranges() {
			for _, a := range []netip.Addr{r.From(), r.To(), r.From().Prev(), r.To().Next()} {
				if a.IsValid() {
					probe(a)
				}
			}
		}
		for range 50 {
			probe(randAddr())
		}
	}
	var empty *trustedSet
	assert.False(t, empty.contains(netip.MustParseAddr("192.0.2.1")), "a nil set is empty")
	assert.False(t, newTrustedSet(nil).contains(netip.MustParseAddr("192.0.2.1")))
	assert.False(t, newTrustedSet(nil).contains(netip.Addr{}))
}

// parseIPv4 accepts exactly what netip.ParseAddr accepts as IPv4, with the
// same address.
func TestParseIPv4AgreesWithNetip(t *testing.T) {
	for _, s := range []string{
		"", ".", "1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3.256",
		"01.2.3.4", "1.2.3.04", "1.2.3.0", "1.2.3", "1.2.3.4.5", "1..3.4", ".1.2.3",
		"1.2.3.", "1.2.3.4 ", "1.2.3.-4", "1.2.3.4a", "1000.1.1.1", "0000.1.1.1",
		"00.1.1.1", "1.2.3.4%eth0", "999.999.999.999", "192.0.2.1", "10.0.0.1",
	} {
		checkParseIPv4(t, s)
	}
}

func FuzzParseIPv4(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "01.2.3.4", "255.255.255.255", "1.2.3.256", "::1"} {
		f.Add(s)
	}
	f.Fuzz(checkParseIPv4)
}

func checkParseIPv4(t *testing.T, s string) {
	got, ok := parseIPv4(s)
	want, err := netip.ParseAddr(s)
	if want.Is4() && err == nil {
		assert.True(t, ok, "%q is IPv4", s)
		assert.Equal(t, want, got, "%q", s)
	} else {
		assert.False(t, ok, "%q is not IPv4", s)
	}
}

// parseIPv4Port, the fast path of parsePeer and parseEntry, accepts only
// what the general path accepts, with the same address and port.
func TestParseIPv4PortAgreesWithGeneralPath(t *testing.T) {
	for _, s := range []string{
		"192.0.2.1", "192.0.2.1:80", "192.0.2.1:0", "192.0.2.1:65535", "192.0.2.1:65536",
		"192.0.2.1:", "192.0.2.1:080", "192.0.2.1:8a", "192.0.2.1:80:80", "0.0.0.0", "0.0.0.0:80",
		"01.2.3.4:80", "[192.0.2.1]:80", "[::1]:80", "::1", "2001:db8::1:80", "192.0.2.1%eth0",
		"192.0.2.1 :80", "", ":80", "1.2.3:80", "255.255.255.255:123456",
	} {
		checkParseIPv4Port(t, s)
	}
}

func FuzzParseIPv4Port(f *testing.F) {
	for _, s := range []string{"192.0.2.1:80", "192.0.2.1", "0.0.0.0:1", "[::1]:80", "1.2.3.4:65536"} {
		f.Add(s)
	}
	f.Fuzz(checkParseIPv4Port)
}

func checkParseIPv4Port(t *testing.T, s string) {
	a, port, hasPort, ok := parseIPv4Port(s)
	host, wantPort, wantHasPort, why := splitHostPort(s)
	var want netip.Addr
	if why == "" {
		want, why = parseHost(host, hasBracket(s))
	}
	if !ok {
		assert.False(t, want.Is4() && why == "" && !strings.ContainsAny(s, "[%"), "%q: the general path takes a plain IPv4 the fast path refused", s)
		return
	}
	assert.Empty(t, why, "%q: the fast path took what the general path refuses", s)
	assert.Equal(t, want, a, "%q", s)
	assert.Equal(t, wantPort, port, "%q", s)
	assert.Equal(t, wantHasPort, hasPort, "%q", s)
}
