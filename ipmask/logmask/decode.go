package logmask

import (
	"bytes"
	"sync"
)

// Percent-encoded colons. A URL's query string writes an IPv6 address with
// each ':' as "%3A" (2001%3Adb8%3A%3A1), so a scanner that only looks for
// ':' would pass it through. Text holding "%3A" or "%3a" is scanned in its
// decoded form, where each such escape is one ':', and positions found there
// are mapped back to the text. Only the colon escape is decoded: '.', hex
// digits and the zone's '%' are never escaped by URL encoders, and brackets
// and separators ("%5B", "%2C") are handled by the scanner as the
// percent-escapes they are.

// pctColon reports whether s[i:] starts with "%3A" or "%3a".
func pctColon(s []byte, i int) bool {
	return i+2 < len(s) && s[i] == '%' && s[i+1] == '3' && s[i+2]|0x20 == 'a'
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
	// escape, shifted left by one, with the low bit set for "%3a".
	colons []int32
	next   int // mapping cursor: the first colons entry not yet passed
}

var decodedPool = sync.Pool{New: func() any { return new(decoded) }}

// decode sets d to the decoded form of s, reusing d's buffers.
func (d *decoded) decode(s []byte) {
	d.text, d.colons = decodeInto(d.text[:0], d.colons[:0], s)
	d.next = 0
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
		if !pctColon(s, i) {
			text = append(text, '%')
			i++
			continue
		}
		lower := int32(0)
		if s[i+2] == 'a' {
			lower = 1
		}
		colons = append(colons, int32(len(text))<<1|lower)
		text = append(text, ':')
		i += 3
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
	for d.next < len(d.colons) && int(d.colons[d.next]>>1) < p {
		d.next++
	}
	return p + 2*d.next, d.next
}

// encodeColons rewrites each ':' in b[k:] as "%3A" ("%3a" if lower), for a
// masked address written in place of one whose colons were all escaped.
func encodeColons(b []byte, k int, lower bool) []byte {
	n := bytes.Count(b[k:], []byte{':'})
	if n == 0 {
		return b
	}
	end := len(b)
	b = append(b, make([]byte, 2*n)...)
	w := len(b)
	for r := end - 1; r >= k; r-- {
		c := b[r]
		if c != ':' {
			w--
			b[w] = c
			continue
		}
		w -= 3
		b[w], b[w+1], b[w+2] = '%', '3', 'A'
		if lower {
			b[w+2] = 'a'
		}
	}
	return b
}
