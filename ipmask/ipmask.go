package ipmask

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
)

// Policy says how many leading bits of an address survive masking: IPv4Bits
// of an IPv4 address, IPv6Bits of an IPv6 address, and for an IPv6 address
// that embeds an IPv4 address (see the package documentation) never more
// than the IPv4 rule allows for the embedded part.
//
// A Policy is a small comparable value, safe to copy and to use from many
// goroutines at once. Build one with [New] or use a preset such as
// [Default]. The zero Policy keeps no bits at all: every IPv4 address masks
// to 0.0.0.0 and every IPv6 address to ::, which is the most private choice
// and never the accidental one.
type Policy struct {
	v4 uint8 // leading IPv4 bits kept, 0..32
	v6 uint8 // leading IPv6 bits kept, 0..128
}

// Default keeps an IPv4 /24 and an IPv6 /48: the last octet of an IPv4
// address and everything after the site prefix of an IPv6 address are
// zeroed. It matches Google Analytics' anonymize_ip for IPv4 and the
// partial IPs of ClickMeter-style link trackers.
//
// Default is a variable only because Go has no struct constants; treat it as
// read-only.
var Default = Policy{v4: 24, v6: 48}

// Strict keeps an IPv4 /16 and an IPv6 /32. It matches Matomo's "2 bytes"
// IP anonymization level for IPv4 and the /32 the Dutch Internet.nl
// privacy guidance asks for IPv6, since a /48 is often one customer's
// network and so one household or small business.
//
// Strict is a variable only because Go has no struct constants; treat it as
// read-only.
var Strict = Policy{v4: 16, v6: 32}

// New returns a Policy that keeps ipv4Bits leading bits of an IPv4 address
// (0 to 32) and ipv6Bits leading bits of an IPv6 address (0 to 128). Any
// other count is an error.
func New(ipv4Bits, ipv6Bits int) (Policy, error) {
	if ipv4Bits < 0 || ipv4Bits > 32 {
		return Policy{}, fmt.Errorf("ipmask: New(%d, %d): IPv4 bits must be from 0 to 32", ipv4Bits, ipv6Bits)
	}
	if ipv6Bits < 0 || ipv6Bits > 128 {
		return Policy{}, fmt.Errorf("ipmask: New(%d, %d): IPv6 bits must be from 0 to 128", ipv4Bits, ipv6Bits)
	}
	return Policy{v4: uint8(ipv4Bits), v6: uint8(ipv6Bits)}, nil
}

// IPv4Bits reports how many leading bits of an IPv4 address p keeps.
func (p Policy) IPv4Bits() int { return int(p.v4) }

// IPv6Bits reports how many leading bits of a plain IPv6 address p keeps.
func (p Policy) IPv6Bits() int { return int(p.v6) }

// String returns the policy as "ipv4/N,ipv6/M", e.g. "ipv4/24,ipv6/48".
func (p Policy) String() string {
	return "ipv4/" + strconv.Itoa(int(p.v4)) + ",ipv6/" + strconv.Itoa(int(p.v6))
}

// Bits reports how many leading bits of a survive masking under p: the
// IPv4 rule for IPv4 and IPv4-mapped addresses, the IPv6 rule lowered by
// any embedded IPv4 address for the rest, and 0 for the zero Addr.
func (p Policy) Bits(a netip.Addr) int {
	_, n := p.mask(a)
	return n
}

// Mask returns a with every bit after the policy's bit count set to zero.
//
// An IPv4-mapped address (::ffff:a.b.c.d) is unmapped and masked with the
// IPv4 rule, so the result is a plain IPv4 address. An IPv6 address that
// embeds an IPv4 address keeps at most as many bits as the IPv4 rule allows
// for the embedded part (see the package documentation). The zone, if any,
// is dropped. The zero Addr gives the zero Addr.
//
// Mask does not allocate.
func (p Policy) Mask(a netip.Addr) netip.Addr {
	m, _ := p.mask(a)
	return m
}

// Prefix returns the masked network of a: Mask(a) with the number of bits
// kept, e.g. 192.0.2.0/24 for 192.0.2.123 under [Default]. It is the key
// aggregates group by. The zero Addr gives the zero Prefix.
//
// Prefix does not allocate.
func (p Policy) Prefix(a netip.Addr) netip.Prefix {
	m, n := p.mask(a)
	if !m.IsValid() {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(m, n)
}

// IsMasked reports whether the bits of a are no more than p keeps: a is a
// valid address and masking it changes nothing but a zone or an
// IPv4-mapped form. The zero Addr is not masked. The zone is not looked
// at, and it is free text that may hold anything (fe80::%203.0.113.9 is
// masked under [Default]): keep or print [Policy.Mask] of a, which drops
// it, rather than a.
func (p Policy) IsMasked(a netip.Addr) bool {
	return a.IsValid() && p.Mask(a) == a.Unmap().WithZone("")
}

// mask returns the masked address and the number of leading bits kept.
func (p Policy) mask(a netip.Addr) (netip.Addr, int) {
	switch {
	case a.Is4():
		return mask4(a.As4(), int(p.v4))
	case a.Is4In6():
		return mask4(a.Unmap().As4(), int(p.v4))
	case a.Is6():
		b := a.As16()
		hi := binary.BigEndian.Uint64(b[:8])
		lo := binary.BigEndian.Uint64(b[8:])
		n := p.bits6(hi, lo)
		if n < 64 { // written out, not a call to mask6: Mask is the hot path
			hi &^= ^uint64(0) >> n
			lo = 0
		} else {
			lo &^= ^uint64(0) >> (n - 64)
		}
		binary.BigEndian.PutUint64(b[:8], hi)
		binary.BigEndian.PutUint64(b[8:], lo)
		return netip.AddrFrom16(b), n
	default:
		return netip.Addr{}, 0
	}
}

// mask6 masks the IPv6 address hi:lo (not IPv4-mapped) and returns it
// with the number of leading bits kept.
func (p Policy) mask6(hi, lo uint64) (uint64, uint64, int) {
	n := p.bits6(hi, lo)
	if n < 64 {
		hi &^= ^uint64(0) >> n
		lo = 0
	} else {
		lo &^= ^uint64(0) >> (n - 64)
	}
	return hi, lo, n
}

func mask4(b [4]byte, n int) (netip.Addr, int) {
	v := binary.BigEndian.Uint32(b[:])
	v &^= ^uint32(0) >> n // a shift by 32 gives 0, so n == 32 keeps all
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b), n
}

// Offsets, in bits from the start of the address, at which an IPv4 address
// sits inside the IPv6 forms that embed one.
const (
	offset6to4    = 16 // 2002:AABB:CCDD::/48 (RFC 3056)
	offsetLocal   = 48 // 64:ff9b:1::/48 local-use NAT64 (RFC 8215), earliest RFC 6052 position
	offsetTail    = 96 // low 32 bits: compatible, SIIT, Teredo, NAT64 /96, ISATAP
	isatapMask    = 0xfcff_ffff
	isatapPattern = 0x0000_5efe
)

// prefixForm returns the form of the IPv6 address hi:lo that its leading
// bits announce, and the offset of its IPv4 address; 0 and -1 for none.
// IPv4-mapped addresses are the callers' to handle.
func prefixForm(hi, lo uint64) (Form, int) {
	switch {
	case hi>>48 == 0x2002: // 6to4, RFC 3056: 2002:V4ADDR::/48
		return SixToFour, offset6to4
	case hi>>32 == 0x2001_0000: // Teredo, RFC 4380: client IPv4 inverted in the low 32 bits
		return Teredo, offsetTail
	case hi>>32 == 0x0064_ff9b: // NAT64, RFC 6052 and RFC 8215
		if hi == 0x0064_ff9b_0000_0000 && lo>>32 == 0 {
			return NAT64, offsetTail // the well-known prefix 64:ff9b::/96
		}
		// 64:ff9b:1::/48 and the rest of the /32, where the RFC 6052
		// format (and so the IPv4 position) cannot be known: assume the
		// earliest.
		return NAT64, offsetLocal
	case hi == 0 && lo>>32 == 0: // IPv4-compatible ::a.b.c.d (RFC 4291, deprecated)
		return Compatible, offsetTail
	case hi == 0 && lo>>32 == 0xffff_0000: // SIIT IPv4-translated ::ffff:0:a.b.c.d (RFC 2765)
		return Translated, offsetTail
	}
	return 0, -1
}

// isISATAP reports whether the low 64 bits are an ISATAP interface ID,
// [02]00:5efe:a.b.c.d (RFC 5214), after any 64-bit prefix. The u/g bits are
// ignored so every variant is caught.
func isISATAP(lo uint64) bool { return (lo>>32)&isatapMask == isatapPattern }

// bits6 returns how many leading bits of the IPv6 address hi:lo survive:
// p.v6, lowered to offset+p.v4 for every IPv4 address embedded at offset.
func (p Policy) bits6(hi, lo uint64) int {
	n := int(p.v6)
	if _, off := prefixForm(hi, lo); off >= 0 {
		n = min(n, off+int(p.v4))
	}
	if isISATAP(lo) { // it can stack on a prefix form
		n = min(n, offsetTail+int(p.v4))
	}
	return n
}
