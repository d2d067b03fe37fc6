package ipmask_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
)

func mustPolicy(t testing.TB, v4, v6 int) ipmask.Policy {
	t.Helper()
	p, err := ipmask.New(v4, v6)
	require.NoError(t, err)
	return p
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		v4, v6  int
		wantErr string
	}{
		{name: "zero", v4: 0, v6: 0},
		{name: "default", v4: 24, v6: 48},
		{name: "all bits", v4: 32, v6: 128},
		{name: "negative v4", v4: -1, v6: 48, wantErr: `ipmask: New(-1, 48): IPv4 bits must be from 0 to 32`},
		{name: "v4 too large", v4: 33, v6: 48, wantErr: `ipmask: New(33, 48): IPv4 bits must be from 0 to 32`},
		{name: "negative v6", v4: 24, v6: -1, wantErr: `ipmask: New(24, -1): IPv6 bits must be from 0 to 128`},
		{name: "v6 too large", v4: 24, v6: 129, wantErr: `ipmask: New(24, 129): IPv6 bits must be from 0 to 128`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ipmask.New(tt.v4, tt.v6)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, tt.wantErr, err.Error())
				assert.Equal(t, ipmask.Policy{}, p)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.v4, p.IPv4Bits())
			assert.Equal(t, tt.v6, p.IPv6Bits())
		})
	}
}

func TestPresets(t *testing.T) {
	assert.Equal(t, mustPolicy(t, 24, 48), ipmask.Default)
	assert.Equal(t, mustPolicy(t, 16, 32), ipmask.Strict)
	assert.Equal(t, "ipv4/24,ipv6/48", ipmask.Default.String())
	assert.Equal(t, "ipv4/16,ipv6/32", ipmask.Strict.String())
}

func TestZeroPolicyKeepsNothing(t *testing.T) {
	var p ipmask.Policy
	assert.Equal(t, netip.MustParseAddr("0.0.0.0"), p.Mask(netip.MustParseAddr("192.0.2.1")))
	assert.Equal(t, netip.MustParseAddr("::"), p.Mask(netip.MustParseAddr("2001:db8::1")))
}

func TestMask(t *testing.T) {
	tests := []struct {
		name   string
		v4, v6 int
		in     string
		want   string
		bits   int
	}{
		// Plain families under the default policy.
		{name: "ipv4 default", v4: 24, v6: 48, in: "192.0.2.123", want: "192.0.2.0", bits: 24},
		{name: "ipv6 default", v4: 24, v6: 48, in: "2001:db8:1:2:3:4:5:6", want: "2001:db8:1::", bits: 48},
		{name: "ipv6 loopback", v4: 24, v6: 128, in: "::1", want: "::", bits: 120},
		{name: "ipv6 unspecified", v4: 24, v6: 48, in: "::", want: "::", bits: 48},

		// IPv4-mapped: unmapped and masked as IPv4, result is plain IPv4.
		{name: "mapped", v4: 24, v6: 48, in: "::ffff:192.0.2.123", want: "192.0.2.0", bits: 24},
		{name: "mapped keep all v6", v4: 16, v6: 128, in: "::ffff:c000:27b", want: "192.0.0.0", bits: 16},

		// Zones are dropped.
		{name: "zoned link-local", v4: 24, v6: 48, in: "fe80::1%eth0", want: "fe80::", bits: 48},
		{name: "zoned keep all", v4: 32, v6: 128, in: "fe80::1%eth0", want: "fe80::1", bits: 128},

		// 6to4 (RFC 3056): IPv4 at bit 16.
		{name: "6to4 default", v4: 24, v6: 48, in: "2002:c000:02ff::1", want: "2002:c000:200::", bits: 40},
		{name: "6to4 keep all v6", v4: 24, v6: 128, in: "2002:c000:02ff:1:2:3:4:5", want: "2002:c000:200::", bits: 40},
		{name: "6to4 strict v6 wins", v4: 32, v6: 16, in: "2002:c000:02ff::1", want: "2002::", bits: 16},

		// Teredo (RFC 4380): client IPv4 inverted in the low 32 bits.
		{name: "teredo default", v4: 24, v6: 48, in: "2001:0:4136:e378:8000:63bf:3fff:fdd2", want: "2001:0:4136::", bits: 48},
		{name: "teredo keep all v6", v4: 24, v6: 128, in: "2001:0:4136:e378:8000:63bf:3fff:fdd2", want: "2001:0:4136:e378:8000:63bf:3fff:fd00", bits: 120},
		{name: "teredo v4 zero", v4: 0, v6: 128, in: "2001:0:4136:e378:8000:63bf:3fff:fdd2", want: "2001:0:4136:e378:8000:63bf::", bits: 96},

		// NAT64 (RFC 6052, RFC 8215).
		{name: "nat64 well-known", v4: 24, v6: 128, in: "64:ff9b::192.0.2.33", want: "64:ff9b::c000:200", bits: 120},
		{name: "nat64 well-known default", v4: 24, v6: 48, in: "64:ff9b::192.0.2.33", want: "64:ff9b::", bits: 48},
		{name: "nat64 local-use", v4: 24, v6: 128, in: "64:ff9b:1:c000:2:2100::", want: "64:ff9b:1:c000::", bits: 72},
		{name: "nat64 other in /32", v4: 8, v6: 128, in: "64:ff9b:0:1::c000:221", want: "64:ff9b:0:0::", bits: 56},

		// IPv4-compatible (RFC 4291) and SIIT IPv4-translated (RFC 2765).
		{name: "compatible", v4: 24, v6: 128, in: "::192.0.2.1", want: "::192.0.2.0", bits: 120},
		{name: "siit translated", v4: 24, v6: 128, in: "::ffff:0:192.0.2.1", want: "::ffff:0:192.0.2.0", bits: 120},

		// ISATAP (RFC 5214), alone and on top of 6to4.
		{name: "isatap private", v4: 24, v6: 128, in: "fe80::5efe:192.0.2.1", want: "fe80::5efe:192.0.2.0", bits: 120},
		{name: "isatap global", v4: 24, v6: 128, in: "2001:db8::200:5efe:192.0.2.1", want: "2001:db8::200:5efe:192.0.2.0", bits: 120},
		{name: "isatap over 6to4", v4: 24, v6: 128, in: "2002:c000:0201::200:5efe:c000:201", want: "2002:c000:200::", bits: 40},

		// Bit-count boundaries.
		{name: "v4 0 bits", v4: 0, v6: 48, in: "203.0.113.200", want: "0.0.0.0", bits: 0},
		{name: "v4 1 bit", v4: 1, v6: 48, in: "203.0.113.200", want: "128.0.0.0", bits: 1},
		{name: "v4 31 bits", v4: 31, v6: 48, in: "203.0.113.201", want: "203.0.113.200", bits: 31},
		{name: "v4 32 bits", v4: 32, v6: 48, in: "203.0.113.201", want: "203.0.113.201", bits: 32},
		{name: "v6 0 bits", v4: 24, v6: 0, in: "ffff::1", want: "::", bits: 0},
		{name: "v6 1 bit", v4: 24, v6: 1, in: "ffff::1", want: "8000::", bits: 1},
		{name: "v6 63 bits", v4: 24, v6: 63, in: "2001:db8:ffff:ffff:ffff::", want: "2001:db8:ffff:fffe::", bits: 63},
		{name: "v6 64 bits", v4: 24, v6: 64, in: "2001:db8:ffff:ffff:ffff::", want: "2001:db8:ffff:ffff::", bits: 64},
		{name: "v6 65 bits", v4: 24, v6: 65, in: "2001:db8::ffff:0:0:0", want: "2001:db8::8000:0:0:0", bits: 65},
		{name: "v6 127 bits", v4: 24, v6: 127, in: "2001:db8::ffff", want: "2001:db8::fffe", bits: 127},
		{name: "v6 128 bits", v4: 24, v6: 128, in: "2001:db8::ffff", want: "2001:db8::ffff", bits: 128},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPolicy(t, tt.v4, tt.v6)
			in := netip.MustParseAddr(tt.in)
			want := netip.MustParseAddr(tt.want)

			got := p.Mask(in)
			assert.Equal(t, want, got)
			assert.Equal(t, tt.bits, p.Bits(in))
			assert.Equal(t, netip.PrefixFrom(want, tt.bits), p.Prefix(in))
			assert.Equal(t, got, p.Mask(got), "Mask is idempotent")
			assert.True(t, p.IsMasked(got))
			assert.True(t, p.Prefix(in).Contains(in.Unmap().WithZone("")), "prefix contains the input")
		})
	}
}

func TestZeroAddr(t *testing.T) {
	var zero netip.Addr
	assert.Equal(t, netip.Addr{}, ipmask.Default.Mask(zero))
	assert.Equal(t, netip.Prefix{}, ipmask.Default.Prefix(zero))
	assert.Equal(t, 0, ipmask.Default.Bits(zero))
	assert.False(t, ipmask.Default.IsMasked(zero))
}

func TestIsMasked(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "masked ipv4", in: "192.0.2.0", want: true},
		{name: "raw ipv4", in: "192.0.2.1", want: false},
		{name: "masked mapped", in: "::ffff:192.0.2.0", want: true},
		{name: "raw mapped", in: "::ffff:192.0.2.9", want: false},
		{name: "masked ipv6 zoned", in: "fe80::%eth0", want: true},
		{name: "6to4 with full ipv4", in: "2002:c000:2ff::", want: false},
		{name: "6to4 masked", in: "2002:c000:200::", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ipmask.Default.IsMasked(netip.MustParseAddr(tt.in)))
		})
	}
}

func TestMaskString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "ipv4", in: "192.0.2.123", want: "192.0.2.0"},
		{name: "ipv6", in: "2001:DB8:0:1::7", want: "2001:db8::"},
		{name: "ipv6 zone", in: "2001:db8:0:1::7%eth0", want: "2001:db8::"},
		{name: "mapped", in: "::ffff:192.0.2.9", want: "192.0.2.0"},
		{name: "6to4", in: "2002:c000:02ff::1", want: "2002:c000:200::"},
		{name: "dotted tail", in: "64:ff9b::192.0.2.33", want: "64:ff9b::"},
		{name: "upper case before the ellipsis", in: "2001:DB8:1::7", want: "2001:db8:1::"},
		{name: "leading zeros before the ellipsis", in: "2001:0db8:1::7", want: "2001:db8:1::"},
		{name: "kept group changed by the mask", in: "2002:c000:2ff::", want: "2002:c000:200::"},
		{name: "ellipsis after a masked group", in: "2001:db8:1:2::7", want: "2001:db8:1::"},
		{name: "all masked away", in: "::7", want: "::"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ipmask.Default.MaskString(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)

			buf, err := ipmask.Default.AppendMask([]byte("x="), []byte(tt.in))
			require.NoError(t, err)
			assert.Equal(t, "x="+tt.want, string(buf))

			a, err := ipmask.ParseAddr(tt.in)
			require.NoError(t, err)
			assert.Empty(t, a.Zone(), "ParseAddr drops the zone")
		})
	}
}

func TestMaskStringInvalid(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantMsg string
	}{
		{name: "empty", in: "", wantMsg: `ipmask: not an IP address: empty text (text of 0 bytes)`},
		{name: "word", in: "localhost", wantMsg: `ipmask: not an IP address: no '.' or ':' (text of 9 bytes)`},
		{name: "leading zero", in: "192.000.002.123", wantMsg: `ipmask: not an IP address: IPv4 field with a leading zero at byte 4 (text of 15 bytes)`},
		{name: "too many octets", in: "1.2.3.4.5", wantMsg: `ipmask: not an IP address: more than four IPv4 fields at byte 7 (text of 9 bytes)`},
		{name: "too few octets", in: "1.2.3", wantMsg: `ipmask: not an IP address: fewer than four IPv4 fields (text of 5 bytes)`},
		{name: "trailing dot", in: "1.2.3.", wantMsg: `ipmask: not an IP address: empty IPv4 field at byte 6 (text of 6 bytes)`},
		{name: "octet above 255", in: "1.2.3.256", wantMsg: `ipmask: not an IP address: IPv4 field above 255 at byte 6 (text of 9 bytes)`},
		{name: "with port", in: "192.0.2.1:80", wantMsg: `ipmask: not an IP address: unexpected ':' at byte 9 (text of 12 bytes)`},
		{name: "brackets", in: "[2001:db8::1]", wantMsg: `ipmask: not an IP address: unexpected '[' at byte 0 (text of 13 bytes)`},
		{name: "zone on ipv4", in: "192.0.2.1%eth0", wantMsg: `ipmask: not an IP address: zone '%' on text that is not IPv6 at byte 9 (text of 14 bytes)`},
		{name: "zone alone", in: "%eth0", wantMsg: `ipmask: not an IP address: zone '%' on text that is not IPv6 at byte 0 (text of 5 bytes)`},
		{name: "empty zone", in: "fe80::1%", wantMsg: `ipmask: not an IP address: empty zone after the '%' at byte 7 (text of 8 bytes)`},
		{name: "prefix", in: "192.0.2.0/24", wantMsg: `ipmask: not an IP address: unexpected '/' at byte 9 (text of 12 bytes)`},
		{name: "space", in: " 192.0.2.1", wantMsg: `ipmask: not an IP address: unexpected space at byte 0 (text of 10 bytes)`},
		{name: "letter", in: "::g", wantMsg: `ipmask: not an IP address: unexpected letter at byte 2 (text of 3 bytes)`},
		{name: "nine groups", in: "1:2:3:4:5:6:7:8:9", wantMsg: `ipmask: not an IP address: more than eight IPv6 groups at byte 16 (text of 17 bytes)`},
		{name: "seven groups", in: "1:2:3:4:5:6:7", wantMsg: `ipmask: not an IP address: fewer than eight IPv6 groups and no "::" (text of 13 bytes)`},
		{name: "two ellipses", in: "1::2::3", wantMsg: `ipmask: not an IP address: second "::" at byte 4 (text of 7 bytes)`},
		{name: "empty ellipsis", in: "1:2:3:4:5:6:7::8", wantMsg: `ipmask: not an IP address: "::" standing for no group (text of 16 bytes)`},
		{name: "trailing colon", in: "1:", wantMsg: `ipmask: not an IP address: trailing ':' at byte 1 (text of 2 bytes)`},
		{name: "empty group", in: "1:2:::3", wantMsg: `ipmask: not an IP address: empty IPv6 group at byte 5 (text of 7 bytes)`},
		{name: "long group", in: "12345::", wantMsg: `ipmask: not an IP address: IPv6 group of more than four hex digits at byte 0 (text of 7 bytes)`},
		{name: "dotted too early", in: "1:2:3:4:5:1.2.3.4", wantMsg: `ipmask: not an IP address: dotted IPv4 part not in the last two groups at byte 10 (text of 17 bytes)`},
		{name: "dotted too late", in: "1:2:3:4:5:6:7:1.2.3.4", wantMsg: `ipmask: not an IP address: dotted IPv4 part not in the last two groups at byte 14 (text of 21 bytes)`},
		{name: "non-ascii", in: "1.2.3.\xff", wantMsg: `ipmask: not an IP address: unexpected non-ASCII byte at byte 6 (text of 7 bytes)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ipmask.Default.MaskString(tt.in)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ipmask.ErrInvalidAddr))
			assert.Equal(t, tt.wantMsg, err.Error())
			assert.Empty(t, got)

			dst := []byte("keep")
			out, err := ipmask.Default.AppendMask(dst, []byte(tt.in))
			require.Error(t, err)
			assert.True(t, errors.Is(err, ipmask.ErrInvalidAddr))
			assert.Equal(t, "keep", string(out), "dst is returned unchanged")

			_, err = ipmask.ParseAddr(tt.in)
			assert.True(t, errors.Is(err, ipmask.ErrInvalidAddr))
		})
	}
}

// The error of AppendMask must not alias the caller's buffer: reusing the
// buffer after the call must not change what the error says.
func TestAppendMaskErrorOwnsItsText(t *testing.T) {
	in := []byte("not-an-ip")
	_, err := ipmask.Default.AppendMask(nil, in)
	require.Error(t, err)
	before := err.Error()
	copy(in, "XXXXXXXXX")
	assert.Equal(t, before, err.Error())
}

func TestAllocs(t *testing.T) {
	addrs := []netip.Addr{
		netip.MustParseAddr("192.0.2.1"),
		netip.MustParseAddr("2002:c000:2ff::1"),
		netip.MustParseAddr("::ffff:192.0.2.1"),
		netip.MustParseAddr("fe80::1%eth0"),
	}
	texts := [][]byte{[]byte("192.0.2.1"), []byte("2001:db8::1"), []byte("fe80::1%eth0"), []byte("::ffff:192.0.2.1")}
	buf := make([]byte, 0, 64)
	var sink netip.Addr
	var psink netip.Prefix
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		for _, a := range addrs {
			sink = ipmask.Default.Mask(a)
		}
	}), "Mask")
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		for _, a := range addrs {
			psink = ipmask.Default.Prefix(a)
		}
	}), "Prefix")
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		for _, s := range texts {
			buf, _ = ipmask.Default.AppendMask(buf[:0], s)
		}
	}), "AppendMask")
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		sink, _ = ipmask.ParseAddr("2001:db8::1%eth0")
	}), "ParseAddr")
	for _, s := range []string{"2001:db8::1", "203.0.113.9", "::ffff:203.0.113.9", "fe80::1%eth0"} {
		assert.LessOrEqual(t, testing.AllocsPerRun(100, func() {
			_, _ = ipmask.Default.MaskString(s)
		}), 1.0, "MaskString(%q)", s)
	}
	for _, s := range []string{"203.0.113.0", "2001:db8:1::"} {
		assert.Zero(t, testing.AllocsPerRun(100, func() {
			_, _ = ipmask.Default.MaskString(s)
		}), "MaskString(%q) of masked text returns it", s)
	}
	_, _ = sink, psink
}

// The IPv6 text MaskString writes is netip's, zero runs and ties included,
// whether all eight groups are kept or only the leading ones (which it
// writes straight into place).
func TestMaskStringIPv6Text(t *testing.T) {
	policies := []ipmask.Policy{mustPolicy(t, 32, 128), ipmask.Default, mustPolicy(t, 32, 64), mustPolicy(t, 32, 37)}
	for _, s := range []string{
		"1:0:0:1:0:0:1:1", "1:0:0:1:0:0:0:1", "1:0:0:0:1:0:0:0", "0:0:1::", "1::", "::1", "::",
		"1:0:1:0:1:0:1:0", "2001:db8:0:0:1:0:0:1", "0:1:0:1:0:1:0:1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"abcd:ef01:2345:6789:a:bc:def:0", "1:2:3:4:5:6:0:0", "0:0:3:4:5:6:7:8",
	} {
		t.Run(s, func(t *testing.T) {
			for _, p := range policies {
				got, err := p.MaskString(s)
				require.NoError(t, err)
				assert.Equal(t, p.Mask(netip.MustParseAddr(s)).String(), got, "under %v", p)
			}
		})
	}
}
