package ipmask

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// ParseAddr parses s as an IP address, strictly: dotted-quad IPv4 without
// leading zeros (192.000.002.001 is an error, since some parsers read it as
// octal), or any RFC 4291 text form of IPv6, optionally with a non-empty
// %zone, which is dropped. It accepts exactly what [netip.ParseAddr]
// accepts, except a zone on an IPv4 address.
//
// An error wraps [ErrInvalidAddr] and says what is wrong, where and how long
// the text is, without quoting it (see [ErrInvalidAddr]).
//
// ParseAddr does not allocate when s is an address.
func ParseAddr(s string) (netip.Addr, error) {
	r := scan(s)
	if r.fault != 0 {
		return netip.Addr{}, r.err(s)
	}
	if r.is4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], r.v4)
		return netip.AddrFrom4(b), nil
	}
	return netip.AddrFrom16(r.v6), nil
}

// MaskString parses s as [ParseAddr] does and returns the text of its
// masked address, e.g. "192.0.2.0" for "192.0.2.123" under [Default], or
// "2001:db8::" for "2001:db8:0:1::7%eth0". The text is the one
// [netip.Addr.String] gives for [Policy.Mask] of the parsed address. Text
// that is not an address is an error wrapping [ErrInvalidAddr], never passed
// through, and the error does not quote it.
//
// MaskString parses, masks and formats in one pass, without allocating
// the result on its own. When the masked text is s or its leading part
// ("2001:db8:1::" of "2001:db8:1::7", or of "2001:db8:1::%eth0") it
// returns s or that part of s, and when it is "::" (every kept bit of an
// IPv6 address zero) it may return a constant instead, which holds no
// memory. Otherwise it carves the result out of a 256-byte block of
// memory shared with other results (about twenty IPv4 results), so that
// about one call in twenty allocates; the text of a
// result is written once and never changed. The price is memory held: as
// long as a result is referenced, so is the whole block it was carved from
// (256 bytes for a result of 7 to 39), and so is s when the result is part
// of it. A caller that keeps a few results among many for a long time (as
// map keys, in a cache) can copy them with [strings.Clone] to hold only
// their own bytes.
//
// MaskString is safe for concurrent use: concurrent callers are given
// disjoint parts of the shared blocks, and are spread over several blocks
// so that they seldom contend for one. To mask text in bulk,
// [Policy.AppendMask] into a reused buffer allocates nothing at all.
func (p Policy) MaskString(s string) (string, error) {
	if keep, v, m, k, ok := p.mask4Text(s); ok {
		// IPv4, most traffic: the masked text is s when masking changes
		// nothing and new text otherwise (a masked octet's text is never
		// a leading part of the original's), and its length is known
		// before it is written, so it is written straight into its block.
		if m == v {
			return s, nil
		}
		var h byte // its address is the hint that picks a block (see reserve)
		r := reserve(len(keep)+octetsLen(m, k), uintptr(unsafe.Pointer(&h)))
		appendOctets(append(r[:0], keep...), m, k)
		return unsafe.String(&r[0], len(r)), nil
	}
	if r, ok := parse6(s); ok {
		if t, ok := p.maskString6(s, r); ok {
			return t, nil
		}
	}
	return p.maskStringSlow(s)
}

// maskString6 is MaskString for IPv6 text without a zone, read by
// parse6: like IPv4, the masked text is written straight into its block
// from a length worked out first. It leaves to maskStringSlow (ok false)
// the masked addresses with more than 64 bits kept, which only policies
// that keep more than a /64 give.
func (p Policy) maskString6(s string, r parsed6) (string, bool) {
	var h byte // its address is the hint that picks a block (see reserve)
	v4, hi, lo, is4 := p.mask6Text(r)
	if is4 {
		b := reserve(octetsLen(v4, 0), uintptr(unsafe.Pointer(&h)))
		appendOctets(b[:0], v4, 0)
		return unsafe.String(&b[0], len(b)), true
	}
	switch {
	case lo != 0:
		return "", false
	case hi == 0:
		return "::", true
	}
	n := hiLen(hi)
	if isLeadingText(s, r, hi, n) {
		return s[:n], true
	}
	b := reserve(n, uintptr(unsafe.Pointer(&h)))
	putHi(b, hi)
	return unsafe.String(&b[0], n), true
}

// mask6Text masks the address r holds: an IPv4-mapped address is
// unmapped and masked as IPv4 (v4, with is4 true), any other masked as
// IPv6 (hi:lo).
func (p Policy) mask6Text(r parsed6) (v4 uint32, hi, lo uint64, is4 bool) {
	if isMapped(r.hi, r.lo) {
		return uint32(r.lo) &^ (^uint32(0) >> p.v4), 0, 0, true
	}
	hi, lo, _ = p.mask6(r.hi, r.lo)
	return 0, hi, lo, false
}

// maskStringSlow is MaskString for what the fast paths leave: IPv6 text
// with a zone, masks that keep more than 64 bits, and text that is not an
// address. It has the buffer only this path needs.
func (p Policy) maskStringSlow(s string) (string, error) {
	var buf [maxText]byte // its address is also the hint that picks a block
	out, err := p.appendMask(buf[:0], s)
	if err != nil {
		return "", err
	}
	if n := len(out); n <= len(s) && out[n-1] == s[n-1] && string(out) == s[:n] { // compared without a copy
		return s[:n], nil
	}
	r := reserve(len(out), uintptr(unsafe.Pointer(&buf)))
	copy(r, out)
	return unsafe.String(&r[0], len(r)), nil
}

// maxText is the length of the longest masked text, an IPv6 address with
// eight groups of four digits.
const maxText = len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")

// AppendMask parses s as [ParseAddr] does, appends the text of its masked
// address (as [Policy.MaskString] gives it) to dst and returns the extended
// buffer. Text that is not an address is an error wrapping
// [ErrInvalidAddr]; dst is then returned unchanged. The error keeps no
// reference to s.
//
// AppendMask does not allocate when s is an address and dst has room.
func (p Policy) AppendMask(dst, s []byte) ([]byte, error) {
	// appendMask keeps no reference to s once it returns, and neither does
	// its error, so a view of s is safe and saves a copy.
	return p.appendMask(dst, unsafe.String(unsafe.SliceData(s), len(s)))
}

func (p Policy) appendMask(dst []byte, s string) ([]byte, error) {
	// IPv4 first, on a path of its own: it is most traffic.
	if keep, _, m, k, ok := p.mask4Text(s); ok {
		return appendOctets(append(dst, keep...), m, k), nil
	}
	r6, ok := parse6(s)
	if !ok { // a zone, or not an address
		r := scan(s)
		if r.fault != 0 {
			return dst, r.err(s)
		}
		if r.is4 { // mask4Text takes all IPv4 text; this keeps the two honest
			return appendOctets(dst, r.v4&^(^uint32(0)>>p.v4), 0), nil
		}
		r6.hi = binary.BigEndian.Uint64(r.v6[:8])
		r6.lo = binary.BigEndian.Uint64(r.v6[8:])
	}
	v4, hi, lo, is4 := p.mask6Text(r6)
	switch {
	case is4:
		return appendOctets(dst, v4, 0), nil
	case lo != 0:
		return appendV6(dst, hi, lo), nil
	}
	n := hiLen(hi)
	dst = slices.Grow(dst, n)
	putHi(dst[len(dst):len(dst)+n], hi)
	return dst[:len(dst)+n], nil
}

// mask4Text parses s as a dotted-quad IPv4 address, as scan4 does, and
// returns what its masked text is made of: keep, the part of s that writes
// the k octets the policy keeps whole (dotted-quad text without leading
// zeros is canonical, so they are copied as written), then the octets of
// the masked address m from the k-th on. v is the address s holds, so the
// masked text is s when m == v. ok is false for anything else, valid or
// not, which scan then judges.
func (p Policy) mask4Text(s string) (keep string, v, m uint32, k int, ok bool) {
	k = int(p.v4) / 8
	end, i := 0, 0
	for j := 0; j < 4; j++ {
		// One to three digits, written out: a leading 0 stands alone.
		if i >= len(s) {
			return "", 0, 0, 0, false
		}
		val := uint32(s[i] - '0')
		if val > 9 {
			return "", 0, 0, 0, false
		}
		i++
		if val != 0 && i < len(s) {
			if d := uint32(s[i] - '0'); d <= 9 {
				val = val*10 + d
				i++
				if i < len(s) {
					if d := uint32(s[i] - '0'); d <= 9 {
						val = val*10 + d
						i++
						if val > 255 {
							return "", 0, 0, 0, false
						}
					}
				}
			}
		}
		v = v<<8 | val
		if j == k-1 {
			end = i
		}
		if j < 3 {
			if i >= len(s) || s[i] != '.' {
				return "", 0, 0, 0, false
			}
			i++
		}
	}
	if i != len(s) {
		return "", 0, 0, 0, false
	}
	return s[:end], v, v &^ (^uint32(0) >> p.v4), k, true
}

// appendV6 appends the RFC 5952 text of the IPv6 address hi:lo, as
// netip.Addr.String gives it: lower-case hex without leading zeros, and
// the first longest run of two or more zero groups written "::". It is
// never called for an IPv4-mapped address, which masking unmaps.
func appendV6(dst []byte, hi, lo uint64) []byte {
	var g [8]uint16
	for i := range 4 {
		g[i] = uint16(hi >> (48 - 16*i))
		g[4+i] = uint16(lo >> (48 - 16*i))
	}
	zs, ze := 8, 8 // the run of zero groups written "::"
	for i := 0; i < 8; {
		if g[i] != 0 {
			i++
			continue
		}
		j := i + 1
		for j < 8 && g[j] == 0 {
			j++
		}
		if j-i >= 2 && j-i > ze-zs {
			zs, ze = i, j
		}
		i = j
	}
	for i := 0; i < 8; i++ {
		if i == zs {
			dst = append(dst, ':', ':')
			i = ze - 1
			continue
		}
		if i > 0 && i != ze {
			dst = append(dst, ':')
		}
		x := g[i]
		if x >= 0x1000 {
			dst = append(dst, hexChars[x>>12])
		}
		if x >= 0x100 {
			dst = append(dst, hexChars[x>>8&0xf])
		}
		if x >= 0x10 {
			dst = append(dst, hexChars[x>>4&0xf])
		}
		dst = append(dst, hexChars[x&0xf])
	}
	return dst
}

const hexChars = "0123456789abcdef"

// appendOctets appends the dotted-quad text of the octets of v from the
// k-th on (0 for all of them), each preceded by a dot but the first.
func appendOctets(dst []byte, v uint32, k int) []byte {
	for i := k; i < 4; i++ {
		if i > 0 {
			dst = append(dst, '.')
		}
		d := &decimal[byte(v>>(24-8*i))]
		dst = append(dst, d[:d[3]]...)
	}
	return dst
}

// octetsLen returns how many bytes appendOctets(dst, v, k) appends.
func octetsLen(v uint32, k int) int {
	n := 4 - k // the dots: one before each octet but the first
	if k == 0 {
		n = 3
	}
	for i := k; i < 4; i++ {
		n += int(decimal[byte(v>>(24-8*i))][3])
	}
	return n
}

// hexDigit holds the value of every hex digit, and 0xff for other bytes.
var hexDigit = func() (t [256]uint8) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "0123456789abcdef" {
		t[c] = uint8(i)
	}
	for i, c := range "ABCDEF" {
		t[c] = uint8(10 + i)
	}
	return t
}()

// decimal holds the text of every octet value: up to three digits, and
// their count in the last byte.
var decimal = func() (t [256][4]byte) {
	for i := range t {
		s := strconv.Itoa(i)
		copy(t[i][:], s)
		t[i][3] = byte(len(s))
	}
	return t
}()

// scanned is the result of scan: an address or the fault that stopped it.
type scanned struct {
	v6    [16]byte
	v4    uint32
	is4   bool
	fault fault
	pos   int // byte offset of the fault, where it has one
}

// scan parses s as netip.ParseAddr does, zone aside: the first '.', ':' or
// '%' decides between IPv4, IPv6 and an error, and an IPv6 zone (everything
// after the first '%') must not be empty and is dropped. It never retains s.
func scan(s string) (r scanned) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.':
			r.v4, r.fault, r.pos = scan4(s, 0)
			r.is4 = true
			return r
		case ':':
			// parse6 fails on any '%', so the zone is looked for only
			// after a failure: zones and errors are the rare case, and
			// only an error needs fault6, which says what is wrong.
			t := s
			if r6, ok := parse6(t); ok {
				return r.put6(r6)
			}
			if z := strings.IndexByte(s, '%'); z >= 0 {
				if z == len(s)-1 {
					r.fault, r.pos = faultZoneEmpty, z
					return r
				}
				t = s[:z]
				if r6, ok := parse6(t); ok {
					return r.put6(r6)
				}
			}
			r.fault, r.pos = fault6(t)
			return r
		case '%':
			r.fault, r.pos = faultZoneNoV6, i
			return r
		}
	}
	if len(s) == 0 {
		r.fault = faultEmpty
	} else {
		r.fault = faultNoSeparator
	}
	return r
}

// put6 returns r holding the address r6 holds.
func (r scanned) put6(r6 parsed6) scanned {
	binary.BigEndian.PutUint64(r.v6[:8], r6.hi)
	binary.BigEndian.PutUint64(r.v6[8:], r6.lo)
	return r
}

// scan4 parses s[off:] as a dotted-quad IPv4 address: four decimal fields
// of one to three digits, each at most 255 and without a leading zero.
func scan4(s string, off int) (v uint32, f fault, pos int) {
	val, digits, fields := uint32(0), 0, 0
	for i := off; i < len(s); i++ {
		switch c := s[i]; {
		case c-'0' < 10:
			if digits == 1 && val == 0 {
				return 0, faultV4Zero, i - 1
			}
			val = val*10 + uint32(c-'0')
			digits++
			if val > 255 {
				return 0, faultV4Range, i + 1 - digits
			}
		case c == '.':
			if digits == 0 {
				return 0, faultV4Empty, i
			}
			if fields == 3 {
				return 0, faultV4Long, i
			}
			v = v<<8 | val
			fields++
			val, digits = 0, 0
		case c == '%':
			return 0, faultZoneNoV6, i
		default:
			return 0, faultChar, i
		}
	}
	if digits == 0 {
		return 0, faultV4Empty, len(s)
	}
	if fields < 3 {
		return 0, faultV4Short, len(s)
	}
	return v<<8 | val, 0, 0
}

// fault6 says what is wrong with s, IPv6 text without a zone that parse6
// refused: parse6 is the one reader that accepts IPv6 text, and fault6
// only walks the same grammar (eight groups of one to four hex digits, at
// most one "::" standing for one or more zero groups, optionally a
// dotted-quad IPv4 address for the last two) to name the first fault and
// where it is. It builds no address. FuzzParse6 holds parse6 to
// netip.ParseAddr, and FuzzMaskString holds the errors to it; should
// fault6 find nothing wrong with text parse6 refused, the text is still
// refused, as faultV6Other.
func fault6(s string) (f fault, pos int) {
	ellipsis := false
	i, p := 0, 0 // groups read, bytes of s read
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis, p = true, 2
		if p == len(s) {
			return faultV6Other, 0
		}
	}
	for i < 8 {
		start := p
		for end := min(len(s), start+4); p < end && hexDigit[s[p]] <= 0xf; p++ {
		}
		if p-start == 4 && p < len(s) && hexDigit[s[p]] <= 0xf {
			return faultV6Digits, start
		}
		if p == start {
			if p < len(s) && s[p] != ':' {
				return faultChar, p
			}
			return faultV6Empty, p
		}
		if p < len(s) && s[p] == '.' {
			if (!ellipsis && i != 6) || i > 6 {
				return faultV6Dotted, start
			}
			if _, f, pos := scan4(s, start); f != 0 {
				return f, pos
			}
			i += 2
			p = len(s)
			break
		}
		i++
		if p == len(s) {
			break
		}
		if s[p] != ':' {
			return faultChar, p
		}
		if p+1 == len(s) {
			return faultV6Colon, p
		}
		p++
		if s[p] == ':' {
			if ellipsis {
				return faultV6Ellipsis, p - 1
			}
			ellipsis = true
			p++
			if p == len(s) {
				break
			}
		}
	}
	switch {
	case p != len(s):
		return faultV6Long, p
	case i < 8 && !ellipsis:
		return faultV6Short, len(s)
	case i == 8 && ellipsis:
		return faultV6EmptyEllipsis, 0
	}
	return faultV6Other, 0
}
