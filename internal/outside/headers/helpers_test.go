package headers_test

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask/clientip"
)

// The trusted proxies of every test: an IPv4 and an IPv6 range.
var proxyRanges = []string{"10.0.0.0/8", "2001:db8:ffff::/48"}

func trusted(t *testing.T) *clientip.Trusted {
	t.Helper()
	tr, err := clientip.NewTrusted(proxyRanges...)
	require.NoError(t, err)
	return tr
}

func resolver(t *testing.T, s ...clientip.Strategy) *clientip.Resolver {
	t.Helper()
	r, err := clientip.New(s...)
	require.NoError(t, err)
	return r
}

// randClient is a public address no proxy range holds: IPv4 in
// 192.0.2.0/24..203.0.113.0/24 style space, or IPv6 in 2001:db8:1::/48.
func randClient(r *rand.Rand) netip.Addr {
	if r.IntN(2) == 0 {
		return netip.AddrFrom4([4]byte{byte(11 + r.IntN(180)), byte(r.IntN(256)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
	}
	var b [16]byte
	b[0], b[1], b[2], b[3], b[4], b[5] = 0x20, 0x01, 0x0d, 0xb8, 0, 1
	for i := 6; i < 16; i++ {
		b[i] = byte(r.IntN(256))
	}
	b[15] |= 1
	return netip.AddrFrom16(b)
}

// randProxy is an address in one of proxyRanges.
func randProxy(r *rand.Rand) netip.Addr {
	if r.IntN(2) == 0 {
		return netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
	}
	b := netip.MustParseAddr("2001:db8:ffff::").As16()
	for i := 6; i < 16; i++ {
		b[i] = byte(r.IntN(256))
	}
	b[15] |= 1
	return netip.AddrFrom16(b)
}

func port(r *rand.Rand) string { return strconv.Itoa(1 + r.IntN(65535)) }

// peer writes a as a RemoteAddr, with a port.
func peer(r *rand.Rand, a netip.Addr) string {
	return netip.AddrPortFrom(a, uint16(1+r.IntN(65535))).String()
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }
