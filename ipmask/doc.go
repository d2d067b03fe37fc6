// Package ipmask truncates IP addresses so that what a service keeps names a
// network, not a visitor ("IP masking"). A [Policy] says how many leading
// bits survive: [Default] keeps an IPv4 /24 and an IPv6 /48, [Strict] an
// IPv4 /16 and an IPv6 /32, and [New] builds any other. [Policy.Mask] works on
// [netip.Addr] values without allocating, [Policy.Prefix] gives the masked
// network as a [netip.Prefix], and [Policy.MaskString] and
// [Policy.AppendMask] work on text, refusing anything that is not an address
// rather than passing it through.
//
// # The rule, for a privacy officer
//
// An IPv4 address is 32 bits and an IPv6 address 128; a policy keeps the
// first few bits of each and sets the rest to zero, so the result says which
// network a visitor came from but not which machine. Some IPv6 addresses,
// however, carry a whole IPv4 address inside them: transition technologies
// such as 6to4, Teredo, NAT64 and ISATAP build an IPv6 address out of the
// visitor's IPv4 one. Masking such an address with the IPv6 rule alone can
// keep the complete IPv4 address (a /48 of the 6to4 address 2002:c000:2ff::1
// still holds all of 192.0.2.255), which is how the anonymizers in Matomo,
// Google Analytics, Caddy, anonip and Snowplow leak at their defaults.
//
// This package never keeps more of a visitor's embedded IPv4 address than
// its IPv4 rule allows. Where an IPv4 address starts at bit offset of an IPv6
// address, at most min(IPv6 bits, offset + IPv4 bits) leading bits are kept.
// Under [Default], 2002:c000:2ff::1 therefore becomes 2002:c000:200::, the
// network 2002:c000:200::/40, which reveals 192.0.2.0/24 and nothing more.
//
// # The forms recognised
//
//   - IPv4-mapped ::ffff:a.b.c.d (RFC 4291): unmapped, then masked as IPv4;
//     the result is a plain IPv4 address.
//   - IPv4-compatible ::a.b.c.d (RFC 4291, deprecated) and SIIT
//     IPv4-translated ::ffff:0:a.b.c.d (RFC 2765): IPv4 at bit 96.
//   - 6to4 2002::/16 (RFC 3056): IPv4 at bit 16.
//   - Teredo 2001::/32 (RFC 4380): the client's IPv4, bit-inverted, at bit
//     96 (its port at bits 80 to 95). The Teredo server's IPv4 address at
//     bits 32 to 63 is a public relay's, not the visitor's, and is kept as
//     far as the IPv6 rule reaches (16 of its bits under [Default]).
//   - NAT64 well-known prefix 64:ff9b::/96 (RFC 6052): IPv4 at bit 96. The
//     local-use 64:ff9b:1::/48 (RFC 8215) and the rest of 64:ff9b::/32, where
//     the operator's RFC 6052 format is unknown: IPv4 assumed at bit 48, the
//     earliest it can start.
//   - ISATAP interface identifiers ::0:5efe:a.b.c.d and ::200:5efe:a.b.c.d
//     after any 64-bit prefix (RFC 5214): IPv4 at bit 96. This can stack on
//     the forms above; the smallest count wins.
//
// [EmbeddedIPv4] reports what an address carries, by the same recognition,
// for code that must judge an address by its IPv4 part (a geo lookup, a
// private-address check).
//
// Zones (fe80::1%eth0) are dropped. Masking is idempotent: masking a masked
// address changes nothing. The zero [netip.Addr] masks to the zero Addr, and
// text that is not an address is an error wrapping [ErrInvalidAddr]. No
// error quotes its input, which may hold an address even when it does not
// parse as one ("203.0.113.9:80"): it names the kind of fault, the byte
// position and the length instead, since errors get logged.
package ipmask
