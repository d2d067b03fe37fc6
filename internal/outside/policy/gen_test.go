package policy_test

import (
	"math/rand/v2"
	"net/netip"
	"strings"
)

// This file is the plain reference: address families laid out from their
// RFCs, not from the package's code, and the texts an address can be
// spelled in.

// family builds addresses that carry up to two IPv4 addresses (v[0], and
// v[1] where slots is 2) the way one RFC lays them out; rest fills every
// bit the layout leaves free, so two addresses built from the same rest
// differ only in the bits of their IPv4 addresses.
type family struct {
	name  string
	slots int // IPv4 addresses carried: 0 (plain IPv6), 1 or 2
	// ipv4 is true where the address is (or unmaps to) an IPv4 address,
	// masked with the IPv4 rule.
	ipv4 bool
	// offset is the bit at which the documentation says the carried IPv4
	// address starts ("keep min(v6, offset + v4) bits"), the smallest
	// where two are carried; unused for plain IPv6 and ipv4.
	offset int
	build  func(v [2][4]byte, rest [16]byte) netip.Addr
}

// from16 returns the IPv6 address b, with its bytes at and after at
// replaced by put.
func from16(b [16]byte, at int, put ...byte) netip.Addr {
	copy(b[at:], put)
	return netip.AddrFrom16(b)
}

// isatapID writes an ISATAP interface identifier (RFC 5214 section 6.1:
// 0000:5efe or 0200:5efe before the IPv4 address, the u bit set for a
// globally unique IPv4 address, the g bit possibly set too) into b[8:].
func isatapID(b *[16]byte, v [4]byte, ug byte) {
	b[8], b[9], b[10], b[11] = ug&3, 0, 0x5e, 0xfe
	copy(b[12:], v[:])
}

// nat64 lays v out after the network-specific prefix of length l in b as
// RFC 6052 section 2.2 does: the IPv4 bits fill the prefix's end and
// continue after bits 64 to 71 (the u octet, zero), then the suffix.
func nat64(b [16]byte, l int, v [4]byte) netip.Addr {
	b[8] = 0 // u
	i := l / 8
	for _, x := range v {
		if i == 8 {
			i++ // skip the u octet
		}
		b[i] = x
		i++
	}
	return netip.AddrFrom16(b)
}

// plainIPv6 reports whether b is none of the forms the documentation
// names, written from the RFCs' prefixes: it is neither in ::/80 (which
// holds the compatible, mapped and SIIT forms), nor 6to4 2002::/16, nor
// Teredo 2001::/32, nor in 64:ff9b::/32, nor an ISATAP interface ID.
func plainIPv6(b [16]byte) bool {
	switch {
	case b[0] == 0x20 && b[1] == 0x02,
		b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0,
		b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b,
		b[8]&^3 == 0 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe:
		return false
	}
	for _, x := range b[:10] {
		if x != 0 {
			return true
		}
	}
	return false
}

func families() []family {
	return []family{
		{name: "ipv4", slots: 1, ipv4: true, build: func(v [2][4]byte, _ [16]byte) netip.Addr {
			return netip.AddrFrom4(v[0])
		}},
		// RFC 4291 2.5.5.2: 80 zero bits, 16 one bits, the IPv4 address.
		{name: "mapped", slots: 1, ipv4: true, build: func(v [2][4]byte, _ [16]byte) netip.Addr {
			return from16([16]byte{10: 0xff, 11: 0xff}, 12, v[0][:]...)
		}},
		// RFC 4291 2.5.5.1 (deprecated): 96 zero bits, the IPv4 address.
		{name: "compatible", slots: 1, offset: 96, build: func(v [2][4]byte, _ [16]byte) netip.Addr {
			return from16([16]byte{}, 12, v[0][:]...)
		}},
		// RFC 2765 2.1: ::ffff:0:a.b.c.d.
		{name: "siit", slots: 1, offset: 96, build: func(v [2][4]byte, _ [16]byte) netip.Addr {
			return from16([16]byte{8: 0xff, 9: 0xff}, 12, v[0][:]...)
		}},
		// RFC 3056 2: 2002:V4ADDR::/48, then SLA ID and interface ID.
		{name: "6to4", slots: 1, offset: 16, build: func(v [2][4]byte, r [16]byte) netip.Addr {
			r[0], r[1] = 0x20, 0x02
			if r[10] == 0x5e {
				r[10] = 0 // no ISATAP interface ID by chance
			}
			return from16(r, 2, v[0][:]...)
		}},
		// RFC 3056 with an RFC 5214 interface ID: two IPv4 addresses.
		{name: "6to4+isatap", slots: 2, offset: 16, build: func(v [2][4]byte, r [16]byte) netip.Addr {
			r[0], r[1] = 0x20, 0x02
			copy(r[2:], v[0][:])
			isatapID(&r, v[1], r[15])
			return netip.AddrFrom16(r)
		}},
		// RFC 4380 4: 2001:0000, server IPv4, flags, port and client
		// IPv4 each XORed with all ones.
		{name: "teredo", slots: 1, offset: 96, build: func(v [2][4]byte, r [16]byte) netip.Addr {
			r[0], r[1], r[2], r[3] = 0x20, 0x01, 0, 0
			for i, x := range v[0] {
				r[12+i] = ^x
			}
			return netip.AddrFrom16(r)
		}},
		// Teredo whose flags and obfuscated port spell an ISATAP
		// interface ID (port 0xa101): the client's bits read both ways.
		{name: "teredo+isatap", slots: 1, offset: 96, build: func(v [2][4]byte, r [16]byte) netip.Addr {
			r[0], r[1], r[2], r[3] = 0x20, 0x01, 0, 0
			isatapID(&r, [4]byte{^v[0][0], ^v[0][1], ^v[0][2], ^v[0][3]}, r[15])
			return netip.AddrFrom16(r)
		}},
		// RFC 6052 2.1: the well-known prefix 64:ff9b::/96.
		{name: "nat64-wkp", slots: 1, offset: 96, build: func(v [2][4]byte, _ [16]byte) netip.Addr {
			return from16([16]byte{1: 0x64, 2: 0xff, 3: 0x9b}, 12, v[0][:]...)
		}},
		// RFC 8215: 64:ff9b:1::/48, in each RFC 6052 layout a prefix
		// inside it can have (/48, /56, /64, /96); the documentation
		// assumes the earliest, bit 48.
		nat64Family("nat64-local/48", 48, false),
		nat64Family("nat64-local/56", 56, false),
		nat64Family("nat64-local/64", 64, false),
		nat64Family("nat64-local/96", 96, false),
		// The rest of 64:ff9b::/32, documented as the local-use prefix.
		nat64Family("nat64-rest/48", 48, true),
		nat64Family("nat64-rest/96", 96, true),
		// RFC 5214 6.1: any 64-bit prefix, then [02]00:5efe and the IPv4
		// address (u/g bits in any state).
		{name: "isatap", slots: 1, offset: 96, build: func(v [2][4]byte, r [16]byte) netip.Addr {
			isatapID(&r, v[0], r[15])
			for !plainIPv6([16]byte{0: r[0], 1: r[1], 2: r[2], 3: r[3], 8: 1}) || r[0]|r[1]|r[2]|r[3]|r[4]|r[5]|r[6]|r[7] == 0 {
				r[0]++ // a prefix of no other form
			}
			return netip.AddrFrom16(r)
		}},
		// RFC 8215 /96 with an ISATAP-looking interface ID.
		{name: "nat64-local/96+isatap", slots: 1, offset: 48, build: func(v [2][4]byte, r [16]byte) netip.Addr {
			r[0], r[1], r[2], r[3], r[4], r[5] = 0, 0x64, 0xff, 0x9b, 0, 1
			isatapID(&r, v[0], 0)
			return netip.AddrFrom16(r)
		}},
		{name: "ipv6", build: func(_ [2][4]byte, r [16]byte) netip.Addr {
			// Zero groups are common and give "::" runs in text.
			for i := 0; i < 16; i += 2 {
				if r[i]&1 == 0 && r[i+1]&1 == 0 {
					r[i], r[i+1] = 0, 0
				}
			}
			for !plainIPv6(r) {
				r[0] ^= 0x3c
				r[9] ^= 0x41
			}
			return netip.AddrFrom16(r)
		}},
		// Near misses: one bit away from a form's prefix. They carry no
		// IPv4 address and keep the IPv6 rule's bits.
		{name: "near-miss", build: func(_ [2][4]byte, r [16]byte) netip.Addr {
			var b [16]byte
			switch r[15] % 7 {
			case 0:
				b = [16]byte{0x20, 0x03} // 2003::/16
			case 1:
				b = [16]byte{0x20, 0x01, 0, 1} // 2001:1::/32
			case 2:
				b = [16]byte{0, 0x64, 0xff, 0x9a} // 64:ff9a::/32
			case 3:
				b = [16]byte{9: 1} // ::1:0:0:0, in ::/80 but no form
			case 4:
				b = [16]byte{9: 1, 10: 0xff, 11: 0xff} // ::1:ffff:0:0
			case 5:
				b = [16]byte{0x20, 0x01, 0x0d, 0xb8, 8: 4, 10: 0x5e, 11: 0xfe} // 0400:5efe
			case 6:
				b = [16]byte{0x20, 0x01, 0x0d, 0xb8, 10: 0x5e, 11: 0xff} // 0000:5eff
			}
			for i := 4; i < 16; i++ {
				if b[i] == 0 && !(i < 12 && r[15]%7 >= 3) {
					b[i] = r[i]
				}
			}
			if r[15]%7 == 0 || r[15]%7 == 1 || r[15]%7 == 2 {
				if b[10] == 0x5e {
					b[10] = 0
				}
			}
			return netip.AddrFrom16(b)
		}},
	}
}

func nat64Family(name string, l int, reserved bool) family {
	return family{name: name, slots: 1, offset: 48, build: func(v [2][4]byte, r [16]byte) netip.Addr {
		r[0], r[1], r[2], r[3] = 0, 0x64, 0xff, 0x9b
		if reserved {
			if r[4] == 0 && r[5] < 2 {
				r[5] += 2 // neither the well-known nor the local-use prefix
			}
		} else {
			r[4], r[5] = 0, 1
		}
		if l == 96 && r[11] == 0xfe {
			r[11] = 0 // no ISATAP interface ID by chance
		}
		return nat64(r, l, v[0])
	}}
}

// randV4 returns a random IPv4 address.
func randV4(rng *rand.Rand) [4]byte {
	var v [4]byte
	for i := range v {
		v[i] = byte(rng.Uint32())
	}
	return v
}

// sameLead returns an IPv4 address that agrees with v in its first k bits
// and is random after them, and differs from v unless k is 32.
func sameLead(rng *rand.Rand, v [4]byte, k int) [4]byte {
	if k == 32 {
		return v
	}
	x := uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
	low := ^uint32(0) >> k
	y := x&^low | rng.Uint32()&low
	for y == x {
		y = x&^low | rng.Uint32()&low
	}
	return [4]byte{byte(y >> 24), byte(y >> 16), byte(y >> 8), byte(y)}
}

func randRest(rng *rand.Rand) [16]byte {
	var r [16]byte
	for i := range r {
		r[i] = byte(rng.Uint32())
	}
	return r
}

// oddZones are zone texts of odd content: the zone is everything after
// the first '%' and may hold anything but nothing.
var oddZones = []string{
	"eth0", "1", "%", "%%", " ", "\t", "\x00", "\xff\xfe", "ü", "%25", "1.2.3.4", "203.0.113.9", "::1",
	"[", "]:80", "/24", ":", ".", "2001:db8::1", strings.Repeat("z", 512),
}

// spell returns a random text of a valid for netip (and so for ipmask's
// text functions): IPv4 as a dotted quad (its only form without leading
// zeros); IPv6 with each group in upper, lower or mixed case hex with up
// to four digits of leading zeros, "::" over any run of one or more zero
// groups or none, the last 32 bits as a dotted quad or not, and perhaps a
// zone of odd content.
func spell(rng *rand.Rand, a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	b := a.As16()
	var g [8]uint16
	for i := range g {
		g[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	dotted := rng.IntN(3) == 0
	ngroups := 8
	if dotted {
		ngroups = 6
	}
	// Pick a run of zero groups to write as "::", if any.
	zs, ze := -1, -1
	if rng.IntN(4) != 0 {
		var runs [][2]int
		for i := 0; i < ngroups; i++ {
			for j := i; j < ngroups && g[j] == 0; j++ {
				runs = append(runs, [2]int{i, j + 1})
			}
		}
		if len(runs) > 0 {
			r := runs[rng.IntN(len(runs))]
			zs, ze = r[0], r[1]
		}
	}
	// One random number decides each group's leading zeros and case.
	upper := rng.IntN(3) // 0 all upper case, 1 mixed, 2 lower
	bits := rng.Uint64()
	out := make([]byte, 0, 64)
	for i := 0; i < ngroups; i++ {
		if i == zs {
			out = append(out, ':', ':')
			i = ze - 1
			continue
		}
		if i > 0 && i != ze {
			out = append(out, ':')
		}
		nd := 1
		for x := g[i] >> 4; x != 0; x >>= 4 {
			nd++
		}
		nd += int(bits&7) % (5 - nd) // leading zeros, up to four digits
		bits = bits>>3 | bits<<61
		for d := nd - 1; d >= 0; d-- {
			c := "0123456789abcdef"[g[i]>>(4*d)&0xf]
			if c >= 'a' && (upper == 0 || upper == 1 && bits&1 == 0) {
				c -= 'a' - 'A'
			}
			bits = bits>>1 | bits<<63
			out = append(out, c)
		}
	}
	if dotted {
		if ze != ngroups {
			out = append(out, ':')
		}
		out = netip.AddrFrom4([4]byte(b[12:])).AppendTo(out)
	}
	if rng.IntN(3) == 0 {
		out = append(out, '%')
		out = append(out, oddZones[rng.IntN(len(oddZones))]...)
	}
	return string(out)
}
