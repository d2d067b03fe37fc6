package clientip

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

// putAddrPort, which writes the rewritten RemoteAddr, and putDotted, which
// writes the IPv4 text the middleware looks for, write what net/netip
// writes: every octet value in every position, every port length, IPv6
// and the zero Addr.
func TestPutAddrPortAgreesWithNetip(t *testing.T) {
	check := func(a netip.Addr, port uint16, hasPort bool) {
		t.Helper()
		want := ""
		switch {
		case !a.IsValid():
		case hasPort:
			want = netip.AddrPortFrom(a, port).String()
		default:
			want = a.String()
		}
		var buf [maxRemoteAddr]byte
		assert.Equal(t, want, string(buf[:putAddrPort(&buf, a, port, hasPort)]), "%v port %d (%v)", a, port, hasPort)
		if a.Is4() {
			var d [dottedRoom]byte
			assert.Equal(t, a.String(), string(d[:putDotted(d[:], a.As4())]))
		}
	}
	for pos := range 4 {
		for v := range 256 {
			b := [4]byte{198, 51, 100, 77}
			b[pos] = byte(v)
			check(netip.AddrFrom4(b), uint16(v), v%2 == 0)
		}
	}
	for _, port := range []uint16{0, 9, 10, 99, 100, 999, 1000, 9999, 10000, 65535} {
		check(netip.MustParseAddr("255.255.255.255"), port, true)
		check(netip.MustParseAddr("2001:db8::1"), port, true)
	}
	check(netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 65535, true)
	check(netip.MustParseAddr("2001:db8::"), 0, false)
	check(netip.Addr{}, 80, true)
}
