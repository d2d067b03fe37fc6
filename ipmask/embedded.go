package ipmask

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// Form names a way of carrying an IPv4 address inside an IPv6 address.
// The zero Form is none.
type Form uint8

// The forms [Policy.Mask] recognises (see the package documentation).
const (
	Mapped     Form = iota + 1 // ::ffff:a.b.c.d (RFC 4291)
	Compatible                 // ::a.b.c.d (RFC 4291, deprecated)
	Translated                 // ::ffff:0:a.b.c.d, SIIT (RFC 2765)
	SixToFour                  // 2002:AABB:CCDD::/48 (RFC 3056)
	Teredo                     // 2001::/32, client address inverted (RFC 4380)
	NAT64                      // 64:ff9b::/96 (RFC 6052) and the rest of 64:ff9b::/32 (RFC 8215)
	ISATAP                     // interface ID [02]00:5efe:a.b.c.d (RFC 5214)
)

var formNames = [...]string{"none", "mapped", "compatible", "translated", "6to4", "teredo", "nat64", "isatap"}

// String returns the form's short name, such as "6to4" or "teredo".
func (f Form) String() string {
	if int(f) < len(formNames) {
		return formNames[f]
	}
	return "Form(" + strconv.Itoa(int(f)) + ")"
}

// Embedded is an IPv4 address found inside an IPv6 address. It is a small
// comparable value; the zero Embedded is none.
type Embedded struct {
	// Form is how the address is carried.
	Form Form
	// IPv4 is the carried address, de-obfuscated for Teredo. It is the zero
	// Addr where the form is known but not where the address sits: NAT64
	// prefixes other than 64:ff9b::/96, whose RFC 6052 layout the operator
	// chooses. Treat that as any address.
	IPv4 netip.Addr
	// Offset is the bit of the IPv6 address at which IPv4 starts (for an
	// unknown position, the earliest it can). [Policy.Mask] keeps at most
	// Offset plus its IPv4 bits.
	Offset int
}

// EmbeddedIPv4 returns the IPv4 addresses that a carries, in e[:n]: none
// for a plain IPv6 address, an IPv4 address or the zero Addr; one for most
// forms; two for an ISATAP interface ID after a 6to4, Teredo or NAT64
// prefix (the prefix's first). It is the same recognition [Policy.Mask]
// uses, for code that must judge an address by what it carries, such as a
// geo lookup or a private-address check.
//
// EmbeddedIPv4 does not allocate.
func EmbeddedIPv4(a netip.Addr) (e [2]Embedded, n int) {
	if a.Is4In6() {
		e[0] = Embedded{Form: Mapped, IPv4: a.Unmap(), Offset: offsetTail}
		return e, 1
	}
	if !a.Is6() {
		return e, 0
	}
	b := a.As16()
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	tail := netip.AddrFrom4([4]byte(b[12:16]))
	if f, off := prefixForm(hi, lo); off >= 0 {
		v4 := tail
		switch {
		case f == SixToFour:
			v4 = netip.AddrFrom4([4]byte(b[2:6]))
		case f == Teredo:
			v4 = netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		case off != offsetTail:
			v4 = netip.Addr{} // NAT64 with an unknown layout
		}
		e[n] = Embedded{Form: f, IPv4: v4, Offset: off}
		n++
	}
	if isISATAP(lo) {
		e[n] = Embedded{Form: ISATAP, IPv4: tail, Offset: offsetTail}
		n++
	}
	return e, n
}
