package ipmask

import (
	"encoding/binary"
	"math/bits"
)

// parsed6 is IPv6 text read by parse6: the address hi:lo, and where its
// "::" was, which tells whether the masked text is a leading part of the
// input.
type parsed6 struct {
	hi, lo uint64
	ell    int // groups written before the "::", or -1 when there is none
	ellAt  int // byte offset of the "::" in the text
}

// parse6 reads s as IPv6 text without a zone, in one pass, and reports
// whether it is one. It accepts exactly the IPv6 text [netip.ParseAddr]
// accepts, zones aside: eight groups of one to four hex digits, at most
// one "::" standing for one or more zero groups, and optionally a
// dotted-quad IPv4 address for the last two groups. It gives no reason
// for a refusal, nor a zone: scan, which judges such text, is the slow
// path that describes errors.
//
// The groups are shifted into hi:lo as they are read, so the address
// needs no second pass over bytes; a "::" puts the groups read before it
// aside, to be shifted over the zero groups it stands for at the end.
func parse6(s string) (r parsed6, ok bool) {
	var hi, lo uint64 // the groups read since the "::" (or the start)
	var bh, bl uint64 // the groups read before the "::"
	r.ell = -1
	i, p := 0, 0 // groups read, bytes of s read
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		r.ell, p = 0, 2
		if p == len(s) {
			return r, true
		}
	}
	for {
		pair := false
		if q := s[p:]; len(q) >= 9 && i <= 6 && q[4] == ':' && (len(q) == 9 || len(q) > 10 && i <= 5 && q[9] == ':') {
			// Two groups of four digits at once, most of full text
			// ("2001:0db8:85a3:0000:..."): either the last two, or two
			// with the ':' after each and another group after them.
			d0, d1, d2, d3 := hexDigit[q[0]], hexDigit[q[1]], hexDigit[q[2]], hexDigit[q[3]]
			d4, d5, d6, d7 := hexDigit[q[5]], hexDigit[q[6]], hexDigit[q[7]], hexDigit[q[8]]
			if d0|d1|d2|d3|d4|d5|d6|d7 <= 0xf {
				g := uint64(d0)<<28 | uint64(d1)<<24 | uint64(d2)<<20 | uint64(d3)<<16 |
					uint64(d4)<<12 | uint64(d5)<<8 | uint64(d6)<<4 | uint64(d7)
				hi, lo = hi<<32|lo>>32, lo<<32|g
				i += 2
				if len(q) == 9 {
					break
				}
				p += 10
				pair = true
			}
		}
		if !pair {
			start := p
			var g uint64
			if len(s)-p >= 4 { // four digits at once, the common case
				q := s[p : p+4]
				d0, d1, d2, d3 := hexDigit[q[0]], hexDigit[q[1]], hexDigit[q[2]], hexDigit[q[3]]
				switch {
				case d0|d1|d2|d3 <= 0xf:
					g = uint64(d0)<<12 | uint64(d1)<<8 | uint64(d2)<<4 | uint64(d3)
					p += 4
				case d0 > 0xf:
				case d1 > 0xf:
					g = uint64(d0)
					p++
				case d2 > 0xf:
					g = uint64(d0)<<4 | uint64(d1)
					p += 2
				default:
					g = uint64(d0)<<8 | uint64(d1)<<4 | uint64(d2)
					p += 3
				}
			} else {
				for ; p < len(s); p++ {
					d := hexDigit[s[p]]
					if d > 0xf {
						break
					}
					g = g<<4 | uint64(d)
				}
			}
			if p == start {
				return r, false // an empty group or a byte that is no digit
			}
			if p < len(s) {
				if c := s[p]; c == '.' {
					// The group read is the first field of a dotted quad,
					// which stands for the last two groups.
					if (r.ell < 0 && i != 6) || i > 6 {
						return r, false
					}
					v, f, _ := scan4(s, start)
					if f != 0 {
						return r, false
					}
					hi, lo = hi<<32|lo>>32, lo<<32|uint64(v)
					i += 2
					break
				} else if c != ':' {
					return r, false // a fifth digit or any other byte
				}
			}
			hi, lo = hi<<16|lo>>48, lo<<16|g
			i++
			if p == len(s) {
				break
			}
			// s[p] is ':'.
			if i == 8 || p+1 == len(s) {
				return r, false // a ninth group, or a trailing ':'
			}
			p++
		}
		// p is after the ':' that follows a group.
		if s[p] == ':' {
			if r.ell >= 0 {
				return r, false
			}
			r.ell, r.ellAt = i, p-1
			bh, bl, hi, lo = hi, lo, 0, 0
			p++
			if p == len(s) {
				break
			}
		}
	}
	switch {
	case r.ell < 0:
		if i < 8 {
			return r, false
		}
	case i == 8:
		return r, false // a "::" standing for no group
	default:
		// Shift the groups read before the "::" over the 8-i zero
		// groups it stands for and the i-r.ell groups read after it.
		// A shift by 64 or more gives 0, so r.ell == 0 needs no case.
		k := uint(16 * (8 - r.ell))
		if k >= 64 {
			hi |= bl << (k - 64)
		} else {
			hi |= bh<<k | bl>>(64-k)
			lo |= bl << k
		}
	}
	r.hi, r.lo = hi, lo
	return r, true
}

// isMapped reports whether hi:lo is IPv4-mapped, ::ffff:a.b.c.d.
func isMapped(hi, lo uint64) bool { return hi == 0 && lo>>32 == 0xffff }

// hiLen returns the length of the text of the IPv6 address hi:0, as
// netip.Addr.String gives it. With its last four groups zero, the text is
// always the groups up to the last non-zero one, each followed by ':',
// then one more ':' ("2001:db8:1::"), or "::" when hi is 0: the zero run
// at the end is at least four groups long, and any run before it at most
// three, so the end is the run written "::".
func hiLen(hi uint64) int {
	n := 1 // the closing ':'
	for ; hi != 0; hi <<= 16 {
		n += (bits.Len64(hi>>48|1)+3)>>2 + 1 // a group's digits and its ':'
	}
	return max(n, 2)
}

// putHi writes the text of the IPv6 address hi:0 into b, which is exactly
// as long as hiLen(hi) says. It writes nothing outside b, so b can be a
// region of a chunk. Each group is written with one 4-byte store of its
// hex digits, shifted so that its leading zeros fall off the end, where
// the ':' and the text after it overwrite them: that text is at least
// four bytes long but after the last group of one digit ("1::"), written
// byte by byte.
func putHi(b []byte, hi uint64) {
	j := 0
	for ; hi != 0; hi <<= 16 {
		x := uint32(hi >> 48)
		d := (bits.Len32(x|1) + 3) >> 2
		h := hex4(x << (16 - 4*d)) // its d digits in the low bytes
		if len(b)-j >= 4 {
			binary.LittleEndian.PutUint32(b[j:], h)
		} else {
			b[j] = byte(h)
		}
		j += d
		b[j] = ':'
		j++
	}
	b[j] = ':'
	if j == 0 { // hi is 0: "::"
		b[1] = ':'
	}
}

// hex4 returns the four lower-case hex digits of the 16-bit x as four
// bytes, the first digit in the lowest byte.
func hex4(x uint32) uint32 {
	return uint32(hexPairs[x>>8&0xff]) | uint32(hexPairs[x&0xff])<<16
}

// hexPairs holds the two lower-case hex digits of every byte value, the
// first in the low byte.
var hexPairs = func() (t [256]uint16) {
	for i := range t {
		t[i] = uint16(hexChars[i>>4]) | uint16(hexChars[i&0xf])<<8
	}
	return t
}()

// isLeadingText reports whether the text of the masked address hi:0, not
// 0, which is n bytes long, is s[:n], s being the text r was parsed from
// with the unmasked address in r.hi. It is when s wrote the same groups,
// without leading zeros and in lower case, and then its "::":
// "2001:db8:1::7" for "2001:db8:1::".
func isLeadingText(s string, r parsed6, hi uint64, n int) bool {
	kept := 64 - bits.TrailingZeros64(hi)&^15 // bits of the groups written
	if r.ell != kept/16 || r.ellAt+2 != n || (r.hi^hi)>>(64-kept) != 0 {
		return false
	}
	// The text of the groups is as long as theirs with no leading zeros,
	// so it has none; a hex letter without the 0x20 bit is upper case.
	for i := range r.ellAt {
		if s[i]&0x20 == 0 {
			return false
		}
	}
	return true
}
