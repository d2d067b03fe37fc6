package logmask

import (
	"bytes"
	"sync"
)

// Percent-encoded colons. A URL's query string writes an IPv6 address with
// each ':' as "%3A" (2001%3Adb8%3A%3A1), so a scanner that only looks for
// ':' would pass it through. Text holding "%3A" or "%3a" is scanned in its
// decoded form, where each such escape is one ':', and positions found there
// are mapped back to the text. So is a colon encoded twice, "%253A", as a
// URL carried in another URL's query string writes it
// (?next=%2F%3Fip%3D2001%253Adb8%253A%253A1). Only the colon escape is
// decoded: '.', hex
// digits and the zone's '%' are never escaped by URL encoders, and brackets
// and separators ("%5B", "%2C") are handled by the scanner as the
// percent-escapes they are.

// pctColon reports whether s[i:] starts with "%3A" or "%3a", or with
// "%253A" or "%253a".
func pctColon(s []byte, i int) bool { return colonWidth(s, i) > 0 }

// colonWidth returns the length of the encoded colon s[i:] starts with:
// 3 for "%3A" or "%3a", 5 for "%253A" or "%253a", else 0.
func colonWidth(s []byte, i int) int {
	if i+2 >= len(s) || s[i] != '%' {
		return 0
	}
	if s[i+1] == '3' && s[i+2]|0x20 == 'a' {
		return 3
	}
	if i+4 < len(s) && s[i+1] == '2' && s[i+2] == '5' && s[i+3] == '3' && s[i+4]|0x20 == 'a' {
		return 5
	}
	return 0
}

// hasPctColon reports whether s holds "%3A" or "%3a".
func hasPctColon(s []byte) bool {
	for i := bytes.IndexByte(s, '%'); i >= 0; {
		if pctColon(s, i) {
			return true
		}
		j := bytes.IndexByte(s[i+1:], '%')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// A decoded text is a text with its percent-encoded colons decoded, and the
// map back. It is reused through decodedPool.
type decoded struct {
	text []byte
	// colons holds, in order, the position in text of each ':' that was an
	// escape, shifted left by two, with the low bit set for "%3a" (or
	// "%253a") and the next for "%253A" (or "%253a").
	colons []int32
	next   int // mapping cursor: the first colons entry not yet passed
	shift  int // the bytes the escapes before next took beyond their ':'
}

var decodedPool = sync.Pool{New: func() any { return new(decoded) }}

// decode sets d to the decoded form of s, reusing d's buffers.
func (d *decoded) decode(s []byte) {
	d.text, d.colons = decodeInto(d.text[:0], d.colons[:0], s)
	d.next, d.shift = 0, 0
}

// decodeInto appends the decoded form of s to text, and the positions of
// its escaped colons (see decoded.colons) to colons. A function of values
// rather than a method, so that buffers on the caller's stack stay there.
func decodeInto(text []byte, colons []int32, s []byte) ([]byte, []int32) {
	for i := 0; i < len(s); {
		j := bytes.IndexByte(s[i:], '%')
		if j < 0 {
			return append(text, s[i:]...), colons
		}
		text = append(text, s[i:i+j]...)
		i += j
		w := colonWidth(s, i)
		if w == 0 {
			text = append(text, '%')
			i++
			continue
		}
		kind := int32(0)
		if s[i+w-1] == 'a' {
			kind = 1
		}
		if w == 5 {
			kind |= 2
		}
		colons = append(colons, int32(len(text))<<2|kind)
		text = append(text, ':')
		i += w
	}
	return text, colons
}

// orig maps position p of the decoded text to the text it was decoded
// from, and reports how many escaped colons precede p. Calls must come with
// p never decreasing (the scanner's order), which keeps each one O(1)
// amortized. A nil d maps every position to itself.
func (d *decoded) orig(p int) (int, int) {
	if d == nil {
		return p, 0
	}
	for d.next < len(d.colons) && int(d.colons[d.next]>>2) < p {
		d.shift += 2 + int(d.colons[d.next]&2)
		d.next++
	}
	return p + d.shift, d.next
}

// escapedAlike reports whether the escaped colons d.colons[from:to] are
// all written alike, "%3A" or "%3a" each, or "%253A" or "%253a" each, and
// returns whether the first is lower case and encoded twice.
func (d *decoded) escapedAlike(from, to int) (alike, lower, twice bool) {
	kind := d.colons[from] & 3
	for _, c := range d.colons[from+1 : to] {
		if c&2 != kind&2 {
			return false, false, false
		}
	}
	return true, kind&1 == 1, kind&2 == 2
}

// encodeColons rewrites each ':' in b[k:] as "%3A" ("%3a" if lower;
// "%253A" or "%253a" if twice), for a masked address written in place of
// one whose colons were all escaped alike.
func encodeColons(b []byte, k int, lower, twice bool) []byte {
	n := bytes.Count(b[k:], []byte{':'})
	if n == 0 {
		return b
	}
	esc := "%3A"
	if twice {
		esc = "%253A"
	}
	end := len(b)
	b = append(b, make([]byte, (len(esc)-1)*n)...)
	w := len(b)
	for r := end - 1; r >= k; r-- {
		c := b[r]
		if c != ':' {
			w--
			b[w] = c
			continue
		}
		w -= len(esc)
		copy(b[w:], esc)
		if lower {
			b[w+len(esc)-1] = 'a'
		}
	}
	return b
}
