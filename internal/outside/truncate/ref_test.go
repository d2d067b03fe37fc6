package truncate_test

import (
	"math/rand/v2"
	"net/netip"
	"strings"

	"github.com/clickanon/clickanon/ipmask"
)

// This file is the reference, written from the package documentation with
// net/netip only: slow and obvious on purpose.

// refBits is the number of leading bits the documentation says p keeps of
// a: the IPv4 rule for IPv4 and IPv4-mapped addresses; otherwise the IPv6
// rule, lowered to offset+v4 for each IPv4 address the documented forms
// embed at offset.
func refBits(p ipmask.Policy, a netip.Addr) int {
	v4, v6 := p.IPv4Bits(), p.IPv6Bits()
	if a.Is4() || a.Is4In6() {
		return v4
	}
	b := a.As16()
	n := v6
	lower := func(off int) { n = min(n, off+v4) }
	in := func(pfx string) bool { return netip.MustParsePrefix(pfx).Contains(a.WithZone("")) }
	switch {
	case in("2002::/16"): // 6to4, RFC 3056
		lower(16)
	case in("2001::/32"): // Teredo, RFC 4380: client at bit 96
		lower(96)
	case in("64:ff9b::/96"): // NAT64 well-known prefix, RFC 6052
		lower(96)
	case in("64:ff9b::/32"): // 64:ff9b:1::/48 (RFC 8215) and the rest: earliest, bit 48
		lower(48)
	case in("::/96"): // IPv4-compatible, RFC 4291
		lower(96)
	case in("::ffff:0:0:0/96"): // SIIT, RFC 2765
		lower(96)
	}
	// ISATAP interface ID after any 64-bit prefix, RFC 5214: [0-3]00:5efe
	// (u and g bits free).
	if b[8]&^3 == 0 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe {
		lower(96)
	}
	return n
}

// refPrefix is the documented Prefix: the masked network, the zone
// dropped and an IPv4-mapped address unmapped.
func refPrefix(p ipmask.Policy, a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	u := a.WithZone("")
	if u.Is4In6() {
		u = u.Unmap()
	}
	q, err := u.Prefix(refBits(p, a))
	if err != nil {
		panic(err)
	}
	return q
}

// refMask is the documented Mask.
func refMask(p ipmask.Policy, a netip.Addr) netip.Addr { return refPrefix(p, a).Addr() }

// refParse is the documented ParseAddr acceptance: what netip.ParseAddr
// accepts, but for a zone on an IPv4 address; the zone is dropped.
func refParse(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || (a.Is4() && a.Zone() != "") {
		return netip.Addr{}, false
	}
	return a, true
}

// groupValues are the values a generated IPv6 group is drawn from: the
// groups every documented form starts with and their neighbours, so that
// addresses fall on both sides of each form's boundary.
var groupValues = []uint16{
	0, 0, 0, 0, 1, 2, 0xffff, 0xfffe, 0x2002, 0x2001, 0x2003, 0x2000,
	0x64, 0x65, 0xff9b, 0xff9a, 0x5efe, 0x5eff, 0x200, 0x100, 0x300, 0x400,
	0xc000, 0x0db8, 0x8000, 0x7fff,
}

// genAddr returns a random address: an IPv4 address, or an IPv6 address
// whose groups are drawn from groupValues or at random, often laid out as
// one of the documented forms.
func genAddr(rng *rand.Rand) netip.Addr {
	var b [16]byte
	for i := range 8 {
		g := uint16(rng.Uint32())
		if rng.IntN(3) != 0 {
			g = groupValues[rng.IntN(len(groupValues))]
		}
		b[2*i], b[2*i+1] = byte(g>>8), byte(g)
	}
	v4 := func(at int) {
		for i := range 4 {
			b[at+i] = byte(rng.Uint32())
		}
	}
	zero := func(from, to int) {
		for i := from; i < to; i++ {
			b[i] = 0
		}
	}
	switch rng.IntN(12) {
	case 0:
		var v [4]byte
		v4(12)
		copy(v[:], b[12:])
		return netip.AddrFrom4(v)
	case 1: // mapped
		zero(0, 10)
		b[10], b[11] = 0xff, 0xff
	case 2: // compatible
		zero(0, 12)
	case 3: // SIIT
		zero(0, 8)
		b[8], b[9], b[10], b[11] = 0xff, 0xff, 0, 0
	case 4: // 6to4
		b[0], b[1] = 0x20, 0x02
	case 5: // Teredo
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0, 0
	case 6: // NAT64 well-known
		zero(0, 12)
		b[1], b[2], b[3] = 0x64, 0xff, 0x9b
	case 7: // NAT64 local-use and the rest of the /32
		b[0], b[1], b[2], b[3] = 0, 0x64, 0xff, 0x9b
		if rng.IntN(2) == 0 {
			b[4], b[5] = 0, 1
		}
	case 8: // ISATAP, after any prefix, stacked on any form
		b[8], b[9], b[10], b[11] = byte(rng.IntN(4)), 0, 0x5e, 0xfe
	}
	return netip.AddrFrom16(b)
}

// zones are zone texts of odd content: an address, colons, dots, percent
// signs, spaces, non-ASCII.
var zones = []string{"eth0", "1", "203.0.113.9", "2001:db8::1", "%", "%%x", " ", "é", "a:b.c%d", "[]", "::"}

// spellings returns texts of a, as many as the documentation accepts that
// the generator reaches: IPv4 as its one dotted quad (and, for IPv6, an
// IPv4-mapped spelling too); IPv6 with "::" over each zero run of each
// length in turn or none, random leading zeros and case, a dotted tail or
// not, and a zone or not.
func spellings(rng *rand.Rand, a netip.Addr) []string {
	if a.Is4() {
		return []string{a.String()}
	}
	b := a.As16()
	var g [8]uint16
	for i := range g {
		g[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	var out []string
	for _, dotted := range []bool{false, true} {
		ng := 8
		if dotted {
			ng = 6
		}
		runs := [][2]int{{-1, -1}}
		for i := 0; i < ng; i++ {
			for j := i; j < ng && g[j] == 0; j++ {
				runs = append(runs, [2]int{i, j + 1})
			}
		}
		for _, r := range runs {
			var sb strings.Builder
			for i := 0; i < ng; i++ {
				if i == r[0] {
					sb.WriteString("::")
					i = r[1] - 1
					continue
				}
				if i > 0 && i != r[1] {
					sb.WriteByte(':')
				}
				h := strings.Repeat("0", rng.IntN(4)) + strings.TrimLeft(strings.ToLower(hex4(g[i])), "0")
				if h == "" {
					h = "0"
				}
				if len(h) > 4 {
					h = h[len(h)-4:]
				}
				for _, c := range []byte(h) {
					if rng.IntN(2) == 0 && c >= 'a' {
						c -= 'a' - 'A'
					}
					sb.WriteByte(c)
				}
			}
			if dotted {
				if r[1] != ng {
					sb.WriteByte(':')
				}
				sb.WriteString(netip.AddrFrom4([4]byte(b[12:])).String())
			}
			if rng.IntN(3) == 0 {
				sb.WriteString("%" + zones[rng.IntN(len(zones))])
			}
			out = append(out, sb.String())
		}
	}
	return out
}

func hex4(g uint16) string {
	const d = "0123456789abcdef"
	return string([]byte{d[g>>12], d[g>>8&15], d[g>>4&15], d[g&15]})
}

// refEmbedded is what the documentation says EmbeddedIPv4 finds in a:
// the prefix form's IPv4 address first, then an ISATAP one; the zero
// Addr where a NAT64 prefix other than 64:ff9b::/96 leaves the position
// to the operator.
func refEmbedded(a netip.Addr) []ipmask.Embedded {
	if a.Is4In6() {
		return []ipmask.Embedded{{Form: ipmask.Mapped, IPv4: a.Unmap(), Offset: 96}}
	}
	if !a.Is6() {
		return nil
	}
	b := a.As16()
	tail := netip.AddrFrom4([4]byte(b[12:]))
	in := func(pfx string) bool { return netip.MustParsePrefix(pfx).Contains(a.WithZone("")) }
	var out []ipmask.Embedded
	switch {
	case in("2002::/16"):
		out = append(out, ipmask.Embedded{Form: ipmask.SixToFour, IPv4: netip.AddrFrom4([4]byte(b[2:6])), Offset: 16})
	case in("2001::/32"):
		out = append(out, ipmask.Embedded{Form: ipmask.Teredo, IPv4: netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), Offset: 96})
	case in("64:ff9b::/96"):
		out = append(out, ipmask.Embedded{Form: ipmask.NAT64, IPv4: tail, Offset: 96})
	case in("64:ff9b::/32"):
		out = append(out, ipmask.Embedded{Form: ipmask.NAT64, Offset: 48})
	case in("::/96"):
		out = append(out, ipmask.Embedded{Form: ipmask.Compatible, IPv4: tail, Offset: 96})
	case in("::ffff:0:0:0/96"):
		out = append(out, ipmask.Embedded{Form: ipmask.Translated, IPv4: tail, Offset: 96})
	}
	if b[8]&^3 == 0 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe {
		out = append(out, ipmask.Embedded{Form: ipmask.ISATAP, IPv4: tail, Offset: 96})
	}
	return out
}
