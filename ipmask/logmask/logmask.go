package logmask

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/clickanon/clickanon/ipmask"
)

// DefaultMaxLine is the longest line, newline included, that a [Writer]
// masks as a whole when [Options].MaxLine is zero.
const DefaultMaxLine = 64 << 10

// minMaxLine is the smallest MaxLine accepted: room for any address text.
const minMaxLine = 256

// maxFields is the highest column number field mode can mask.
const maxFields = 64

// Options configure a [Masker] or [Writer]. The zero Options (and a nil
// *Options) mean: mask every address anywhere in the text, mask private
// addresses too, and take lines of up to [DefaultMaxLine] bytes whole.
// Constructors copy what they need; they never modify an Options.
type Options struct {
	// Fields, if not empty, turns on field mode: only these columns
	// (numbered from 1, like awk and anonip's --column) are masked, and a
	// value in one of them that is not an address list is replaced by
	// Placeholder. Other columns pass through untouched. Column numbers run
	// from 1 to 64. With a space delimiter, a list written with spaces
	// after its commas (a quoted X-Forwarded-For in the combined log
	// format) spans several columns; mask such logs in free-text mode.
	Fields []int

	// Delim separates columns in field mode. Zero means a space. Every
	// byte is a column boundary, so two spaces make an empty column, as
	// with cut(1). It may not be a newline or a byte that occurs in
	// addresses (hex digits, ':', '.', '%').
	Delim byte

	// Placeholder replaces, in field mode, a column value that is not an
	// address list (a host name, "unknown", an empty column). Empty means
	// "-". It may not hold a newline, the delimiter, or an address that
	// the policy does not mask.
	Placeholder string

	// SkipPrivate leaves private, loopback and link-local addresses as they
	// are (10.0.0.1, fd00::1, ::1; fe80::1%eth0 loses its zone, as every
	// address does, since a zone is free text). An
	// IPv6 address that embeds an IPv4 address (IPv4-mapped and
	// -compatible, SIIT, 6to4, Teredo, NAT64, ISATAP) is kept only if the
	// embedded address is private as well, so nothing public slips through:
	// 2002:a00:1::1 (6to4 of 10.0.0.1) is kept, 2002:cb00:7107::1 (6to4 of
	// 203.0.113.7) is masked, and an address in 64:ff9b:1::/48, where the
	// IPv4 position is unknown, is always masked.
	SkipPrivate bool

	// MaxLine is the longest line, newline included, that a [Writer]
	// masks as a whole; 0 means [DefaultMaxLine], and the least accepted is
	// 256. A longer line is masked in pieces as it arrives, so memory stays
	// bounded; see [Writer] for where it is cut. Masker ignores it.
	MaxLine int
}

// A Masker masks the IP addresses in text: every address anywhere in a line
// (free-text mode), or the values of chosen columns (field mode), as
// [Options] say. Build one with [NewMasker].
//
// A Masker is immutable and safe for concurrent use. The zero Masker masks
// every address in free-text mode with the zero [ipmask.Policy], which keeps
// no bits at all.
type Masker struct {
	policy      ipmask.Policy
	fields      uint64 // bit k set: column k+1 is masked; 0: free text
	delim       byte
	skipPrivate bool
	placeholder string
	maxLine     int
	// keyRisk: the policy keeps more than 32 IPv6 bits past its IPv4
	// bits, so an address that embeds an IPv4 address one group into the
	// text (6to4, read after a key) can keep fewer bits than the whole
	// text read as one address shows of it; see maskKeyReading.
	keyRisk bool
}

// NewMasker returns a Masker for policy p and options opts, which may be
// nil. It reports an error, naming the package and the option, for options
// it cannot honour; the error says what kind of fault it found and where
// (an entry's position, a byte offset, a length), never the option's text,
// which could hold an address.
func NewMasker(p ipmask.Policy, opts *Options) (*Masker, error) {
	m := &Masker{policy: p, delim: ' ', placeholder: "-", maxLine: DefaultMaxLine}
	m.keyRisk = p.IPv6Bits() > 32+p.IPv4Bits()
	if opts == nil {
		return m, nil
	}
	m.skipPrivate = opts.SkipPrivate
	switch {
	case opts.MaxLine == 0:
	case opts.MaxLine < 0:
		return nil, fmt.Errorf("logmask: MaxLine: negative; must be 0 (the default) or at least %d", minMaxLine)
	case opts.MaxLine < minMaxLine:
		return nil, fmt.Errorf("logmask: MaxLine: below %d, too short to hold any address text; use 0 for the default", minMaxLine)
	default:
		m.maxLine = opts.MaxLine
	}
	for i, f := range opts.Fields {
		if f < 1 || f > maxFields {
			return nil, fmt.Errorf("logmask: Fields: entry %d of %d: column numbers run from 1 to %d", i+1, len(opts.Fields), maxFields)
		}
		m.fields |= 1 << (f - 1)
	}
	if d := opts.Delim; d != 0 {
		switch {
		case d == '\n':
			return nil, errors.New("logmask: Delim: a newline ends lines and cannot separate columns")
		case d == '%' || class[d]&(cDigit|cHex|cColon|cDot) != 0:
			return nil, errors.New("logmask: Delim: a hex digit, ':', '.' or '%' occurs in addresses and cannot separate columns")
		}
		m.delim = d
	}
	if ph := opts.Placeholder; ph != "" {
		if i := strings.IndexByte(ph, '\n'); i >= 0 {
			return nil, fmt.Errorf("logmask: Placeholder (%d bytes): a newline at byte %d", len(ph), i)
		}
		if i := strings.IndexByte(ph, m.delim); i >= 0 {
			return nil, fmt.Errorf("logmask: Placeholder (%d bytes): the column delimiter at byte %d", len(ph), i)
		}
		for match := range Addrs([]byte(ph)) {
			if !p.IsMasked(match.Addr) {
				return nil, fmt.Errorf("logmask: Placeholder (%d bytes): an %s address at byte %d that %v does not mask", len(ph), family(match.Addr), match.Start, p)
			}
		}
		m.placeholder = ph
	}
	return m, nil
}

// family names a's address family for error messages.
func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// Policy returns the policy m masks with.
func (m *Masker) Policy() ipmask.Policy { return m.policy }

// AppendMask appends text, with its addresses masked, to dst and returns
// the extended buffer. Text may hold any number of lines; field mode counts
// columns from the start of each. Bytes that are not part of an address are
// copied unchanged, and an address whose masked form equals it is kept
// byte for byte.
//
// AppendMask does not allocate when dst has room (text of over 1 KiB that
// holds a percent-encoded colon borrows a scratch buffer from a sync.Pool,
// which may allocate after a garbage collection); len(text) bytes are
// always enough except in field mode with a placeholder longer than the
// values it replaces, or where a run of over 256 bytes with no
// space or punctuation in it must be masked again, which is done in dst
// past the end of its output.
func (m *Masker) AppendMask(dst, text []byte) []byte {
	if m.fields == 0 {
		return m.appendFree(dst, text)
	}
	for len(text) > 0 {
		i := bytes.IndexByte(text, '\n')
		if i < 0 {
			return m.appendFields(dst, text)
		}
		dst = m.appendFields(dst, text[:i])
		dst = append(dst, '\n')
		text = text[i+1:]
	}
	return dst
}

// MaskString returns s with its addresses masked, as AppendMask does. When
// nothing changes it returns s itself, so text holding no address (most
// request paths and messages) costs no allocation (text of over 256 bytes
// that must be masked to find out, in field mode or holding a
// percent-encoded colon, is masked in a buffer from a sync.Pool, which
// may allocate after a garbage collection).
func (m *Masker) MaskString(s string) string {
	out, _ := m.maskString(s, m.fields != 0)
	return out
}

// maskString masks s in field mode if fields, else in free-text mode, and
// reports whether anything changed; if not, it returns s itself.
func (m *Masker) maskString(s string, fields bool) (string, bool) {
	// Masking only reads text, so a view of s's bytes is enough.
	text := unsafe.Slice(unsafe.StringData(s), len(s))
	var buf [256]byte
	dst := buf[:0]
	if len(s) > len(buf) {
		if !fields && !m.hasAddr(text) {
			return s, false
		}
		return m.maskLong(s, fields)
	}
	var out []byte
	if fields {
		out = m.AppendMask(dst, text)
	} else {
		out = m.appendFree(dst, text)
	}
	if string(out) == s {
		return s, false
	}
	return string(out), true
}

// maxScratch is the largest buffer maskLong keeps in scratchPool.
const maxScratch = 64 << 10

// scratchPool holds the buffers maskLong masks into.
var scratchPool = sync.Pool{New: func() any { return new([]byte) }}

// maskLong is maskString for text longer than its stack buffer, masked
// into a pooled buffer: such text with a percent-encoded colon (a query
// string holding an encoded URL), or any in field mode, cannot be told
// from text holding an address without masking it, and text that holds
// no address must cost no allocation. When nothing changes it returns s
// itself.
func (m *Masker) maskLong(s string, fields bool) (string, bool) {
	p := scratchPool.Get().(*[]byte)
	text := unsafe.Slice(unsafe.StringData(s), len(s))
	var out []byte
	if fields {
		out = m.AppendMask((*p)[:0], text)
	} else {
		out = m.appendFree((*p)[:0], text)
	}
	res, changed := s, false
	if string(out) != s {
		res, changed = string(out), true
	}
	if cap(out) <= maxScratch {
		*p = out[:0]
		scratchPool.Put(p)
	}
	return res, changed
}

// hasAddr reports whether free-text mode could change text: whether it
// holds an address or a percent-encoded colon. It does not allocate.
func (m *Masker) hasAddr(text []byte) bool {
	if hasPctColon(text) {
		return true
	}
	sc := newScanner(text)
	_, ok := sc.next()
	return ok
}

// stackDecode is the longest text with a percent-encoded colon that
// appendFree decodes on its stack; longer text borrows from decodedPool.
const stackDecode = 1024

// appendFree masks every address in text. Text with a percent-encoded
// colon is scanned in its decoded form (see decode.go). Each stretch of
// text that a masked address changed is then settled (see settle), so
// that the output is its own mask.
func (m *Masker) appendFree(dst, text []byte) []byte {
	if !hasPctColon(text) {
		return m.appendScanned(dst, text, text, nil)
	}
	if len(text) > stackDecode {
		d := decodedPool.Get().(*decoded)
		d.decode(text)
		dst = m.appendScanned(dst, text, d.text, d)
		decodedPool.Put(d)
		return dst
	}
	var buf [stackDecode]byte
	var colons [stackDecode / 3]int32
	var d decoded
	d.text, d.colons = decodeInto(buf[:0], colons[:0], text)
	return m.appendScanned(dst, text, d.text, &d)
}

// appendOnce is appendFree without settling: one pass of the scanner.
// settle calls it; it is a function of its own (not appendFree with a
// flag) so that no call cycle makes escape analysis move the callers'
// stack buffers to the heap.
func (m *Masker) appendOnce(dst, text []byte) []byte {
	var d, pooled *decoded
	var sd decoded
	var buf [stackSettle + 2]byte
	var colons [(stackSettle + 2) / 3]int32
	scan := text
	if hasPctColon(text) {
		if len(text) > len(buf) {
			pooled = decodedPool.Get().(*decoded)
			pooled.decode(text)
			d = pooled
		} else {
			sd.text, sd.colons = decodeInto(buf[:0], colons[:0], text)
			d = &sd
		}
		scan = d.text
	}
	sc := newScanner(scan)
	last := 0
	for {
		match, ok := sc.next()
		if !ok {
			break
		}
		if dst, last, ok = retake(dst, text, d, match, last); !ok {
			continue // in text the last match's masking took: see appendScanned
		}
		dst, last, _ = m.maskMatch(dst, text, scan, d, &sc, match, last)
		sc.took(match)
	}
	if pooled != nil {
		decodedPool.Put(pooled)
	}
	return append(dst, text[last:]...)
}

// appendScanned masks the addresses that the scanner finds in scan, the
// decoded form of text by d (scan is text when d is nil), copying every
// other byte from text, and settles (see settle) each stretch in which a
// match changed the text, unless the match was the whole stretch.
func (m *Masker) appendScanned(dst, text, scan []byte, d *decoded) []byte {
	sc := newScanner(scan)
	last := 0 // in text
	// The stretch being written that needs settling: where its output
	// starts in dst (-1: none), and where it starts and ends in text.
	seg, segFrom, segEnd := -1, 0, 0
	for {
		match, ok := sc.next()
		start := 0
		if ok {
			start, _ = d.orig(match.Start)
		}
		if seg >= 0 && (!ok || start >= segEnd) {
			dst = append(dst, text[last:segEnd]...)
			last = segEnd
			dst = m.settle(dst, seg, text, segFrom, segEnd)
			seg = -1
		}
		if !ok {
			return append(dst, text[last:]...)
		}
		if dst, last, ok = retake(dst, text, d, match, last); !ok {
			// The last match's masking took text this one starts in (a
			// key's reading settled with it): the stretch is settled
			// below, which reads it again.
			continue
		}
		var k int
		dst, last, k = m.maskMatch(dst, text, scan, d, &sc, match, last)
		sc.took(match)
		if seg >= 0 || (start == 0 || class[text[start-1]]&cSafe != 0) && (last == len(text) || class[text[last]]&cSafe != 0) {
			continue // the stretch is to be settled already, or the match is all of it and reads as itself masked
		}
		if sc.keyAt < 0 && bytes.Equal(dst[k:], text[start:last]) {
			continue // nothing changed
		}
		segFrom, segEnd = start, last
		for segFrom > 0 && class[text[segFrom-1]]&cSafe == 0 {
			segFrom--
		}
		for segEnd < len(text) && class[text[segEnd]]&cSafe == 0 {
			segEnd++
		}
		// The text of the stretch before the match was copied unchanged
		// (an earlier match in it changed nothing) or rewritten in place by
		// settleKey; either way it starts this far before k.
		seg = k - (start - segFrom)
	}
}

// retake is for a match that starts in text the last match's masking
// took (settleKey takes the rest of a key reading's token), up to last.
// Where the match runs past last and that text was copied as it was, the
// text is taken back out of dst and the match is to be masked (ok): a
// dashed label whose first group ends the token (0:::.1--.0 reads 1-- as
// 1::). Otherwise the match is skipped (not ok). A match that starts at or
// after last is to be masked as it is.
func retake(dst, text []byte, d *decoded, match Match, last int) ([]byte, int, bool) {
	start, _ := d.orig(match.Start)
	if start >= last {
		return dst, last, true
	}
	end, _ := d.orig(match.End)
	if end <= last || !bytes.HasSuffix(dst, text[start:last]) {
		return dst, last, false
	}
	return dst[:len(dst)-(last-start)], start, true
}

// maskMatch appends to dst the text from last to match and match masked, as appendScanned does, and returns dst, the position
// in text to copy from next, and where in dst the masked address starts.
// A masked address whose colons were all escaped is written with escaped
// colons; one kept as it was is copied from text.
func (m *Masker) maskMatch(dst, text, scan []byte, d *decoded, sc *scanner, match Match, last int) ([]byte, int, int) {
	prev := last
	start, escBefore := d.orig(match.Start)
	end, escAfter := d.orig(match.End)
	dst = append(dst, text[last:start]...)
	k := len(dst)
	raw := scan[match.Start:match.End]
	if sc.form != formText {
		return m.appendForm(dst, raw, match.Addr, sc.form), end, k
	}
	dst = m.appendAddr(dst, raw, match.Addr, inZone(scan, match.Start))
	if m.keyRisk && match.Addr.Is6() && (match.Start == 0 || scan[match.Start-1] != ':') && !(m.skipPrivate && isPrivate(match.Addr)) {
		dst = m.maskKeyReading(dst, k)
	}
	n := len(dst)
	last = end
	if sc.cut && sc.portEnd > match.End { // not left from an earlier match
		// Hex digits cut off the address's last group: dropped with it
		// where it is masked, since they could read on from the masked
		// text as another address (2001:db8:: and "d").
		if !bytes.Equal(dst[k:], raw) {
			last, _ = d.orig(sc.portEnd)
		}
	} else if match.Addr.Is6() {
		// IPv6 with an unbracketed :port. If the masked text and the
		// port would read as one longer address, drop the port.
		if sc.portEnd > match.End && !match.Addr.Is4In6() {
			dst = append(dst, scan[match.End:sc.portEnd]...)
			if _, ok := parse6(dst[k:]); ok {
				last, _ = d.orig(sc.portEnd)
			}
			dst = dst[:n]
		}
		// Drop as well digits after a colon (a port, or text that ends
		// the token) that are the last group of the address the input
		// reads as after a key: 12:2001:db8:1:2:3:4:5:6.
		if e := groupAfter(scan, match.End); e > 0 && m.portInKeyReading(scan, match.Start, e) {
			last, _ = d.orig(e)
		}
	}
	if sc.keyAt >= 0 && d == nil && sc.keyAt >= prev {
		var n int
		dst, n = m.settleKey(dst, k-(start-sc.keyAt), text[last:])
		last += n
	}
	if esc := escAfter - escBefore; esc > 0 {
		switch {
		case bytes.Equal(dst[k:], raw):
			dst = append(dst[:k], text[start:end]...) // kept: as written
		case esc == bytes.Count(raw, []byte{':'}):
			if alike, lower, twice := d.escapedAlike(escBefore, escAfter); alike {
				dst = encodeColons(dst, k, lower, twice)
			}
		}
	}
	return dst, last, k
}

// maskKeyReading masks, in dst[k:], a masked IPv6 address not read after a
// key, the address that the text after its first group and a single colon
// reads as (cafe:2002:cb00:7109:: holds the 6to4 address 2002:cb00:7109::),
// if the Masker does not keep it: the whole reading can show bits of it
// that its own rule drops. The masked text is never longer.
func (m *Masker) maskKeyReading(dst []byte, k int) []byte {
	out := dst[k:]
	j := bytes.IndexByte(out, ':')
	if j <= 0 || j+1 >= len(out) || out[j+1] == ':' {
		return dst
	}
	a, ok := parse6(out[j+1:])
	if !ok || m.kept(a) {
		return dst
	}
	var raw [maxAddrText]byte
	var rep [maxAddrText]byte
	return append(dst[:k+j+1], m.appendAddr(rep[:0], append(raw[:0], out[j+1:]...), a, false)...)
}

// groupAfter returns the end of the decimal digits after a colon at
// scan[end] that end a group (no hex digit follows them), or 0.
func groupAfter(scan []byte, end int) int {
	if end >= len(scan) || scan[end] != ':' {
		return 0
	}
	e := end + 1
	for e < len(scan) && class[scan[e]]&cDigit != 0 {
		e++
	}
	if e == end+1 || e < len(scan) && hexVal[scan[e]] != 0xff {
		return 0
	}
	return e
}

// portInKeyReading reports whether scan[start:end], an IPv6 address, a
// colon and digits (an unbracketed :port), reads also as a key, one colon
// and an address that the Masker does not keep: 12:2001:db8:1:2:3:4:5:6
// is the address 12:2001:db8:1:2:3:4:5 and the port 6, or the key 12 and
// the address 2001:db8:1:2:3:4:5:6, whose last group the port is. Text
// read after a key already (src:2001:db8:1:2:3:4:5:6:443) is read so only
// once.
func (m *Masker) portInKeyReading(scan []byte, start, end int) bool {
	if start > 0 && scan[start-1] == ':' {
		return false
	}
	c := bytes.IndexByte(scan[start:end], ':')
	if c <= 0 || scan[start+c+1] == ':' {
		return false
	}
	a, ok := parse6(scan[start+c+1 : end])
	return ok && !m.kept(a)
}

// settlePasses is how many times settle masks a stretch again before it
// gives up on reaching text that masks to itself.
const settlePasses = 8

// stackSettle is the longest stretch that settle masks on its stack;
// a longer one is masked in dst past its end.
const stackSettle = 256

// settle makes the output of one stretch a fixed point of masking.
// A stretch is a maximal run of bytes that are not cSafe: address text,
// words, '%' and escapes. The scanner reads each stretch by itself and the
// bytes on either side of it (cSafe bytes, which masking never changes),
// so text masks to itself if each of its stretches does. A masked address
// can read otherwise next to the text it was cut from (a key before it, a
// port or letters after it, escaped colons), so dst[from:], the masked
// text[segFrom:segEnd], is masked again with the byte on either side of it
// until it no longer changes. Each pass only masks, so what the scanner
// finds in the result is masked under any reading. Should that take more
// than settlePasses passes (no input known does), every ':', '.' and '%' of
// the stretch becomes '-', which leaves nothing that can read as an
// address.
func (m *Masker) settle(dst []byte, from int, text []byte, segFrom, segEnd int) []byte {
	var pre, post int
	if segFrom > 0 {
		pre = 1
	}
	if segEnd < len(text) {
		post = 1
	}
	var inBuf [stackSettle + 2]byte
	var outBuf [stackSettle + 64]byte
	for range settlePasses {
		end := len(dst)
		var in, out []byte
		if end-from <= stackSettle {
			in, out = inBuf[:0], outBuf[:0]
		} else {
			dst = slices.Grow(dst, 2*(end-from)+64)
			in = dst[end:end]
		}
		in = append(in, text[segFrom-pre:segFrom]...)
		in = append(in, dst[from:end]...)
		in = append(in, text[segEnd:segEnd+post]...)
		if out == nil {
			dst = dst[:end] // in is past end; mask it after itself
			out = in[len(in):]
		}
		out = m.appendOnce(out, in)
		got := out[pre : len(out)-post]
		if bytes.Equal(got, dst[from:end]) {
			return dst[:end]
		}
		dst = append(dst[:from], got...)
	}
	for i := from; i < len(dst); i++ {
		switch dst[i] {
		case ':', '.', '%':
			dst[i] = '_' // not '-': digits between dashes read as a host name's address
		}
	}
	return dst
}

// settleKey handles an address read after a key that is all address text
// (dead:2001:db8:1:2:3:4:5:abc, which does not parse whole): dst[from:] is
// the key, its colon and the masked address, and rest the text after
// them. Key and masked address could now read otherwise, as one address
// that the policy does not mask (dead:2001:db8:1::). settleKey takes the
// rest of the token from rest into dst and masks whatever the scanner
// reads in it that is not masked, key and all, until nothing is left, so
// that the output reveals no more than the policy under any reading. It
// returns dst and how many bytes of rest it took.
func (m *Masker) settleKey(dst []byte, from int, rest []byte) ([]byte, int) {
	n := 0
	for n < len(rest) && class[rest[n]]&cT != 0 {
		n++
	}
	dst = append(dst, rest[:n]...)
	end := len(dst)
	if n < len(rest) {
		dst = append(dst, rest[n]) // what follows the token decides some readings
	}
	for range 8 {
		sc := newScanner(dst)
		sc.i, sc.end = from, from // no reading reaches back before the key (a dashed label's)
		var match Match
		ok := false
		for {
			match, ok = sc.next()
			if !ok || match.Start >= end || !m.kept(match.Addr) {
				break
			}
			sc.took(match)
		}
		if !ok || match.Start >= end {
			break
		}
		var raw [128]byte
		var out [64]byte
		rep := m.appendAddr(out[:0], append(raw[:0], dst[match.Start:match.End]...), match.Addr, false)
		dst = slices.Replace(dst, match.Start, match.End, rep...)
		end += len(rep) - (match.End - match.Start)
	}
	return dst[:end], n
}

// kept reports whether the Masker leaves a as it is.
func (m *Masker) kept(a netip.Addr) bool {
	return m.skipPrivate && isPrivate(a) || m.policy.IsMasked(a)
}

// appendForm appends raw, an address a written as a host name's
// hyphenated quad, as the labels of a reverse DNS name or in a Dovecot
// session ID (see hyphenQuad, reverseName and session), masked and written
// the same way; a session ID keeps its timestamp and port. Each label keeps the
// bits that the policy keeps of a (for a reverse name with fewer labels, of
// the network they stand for). Four in-addr.arpa labels also read forward
// as a dotted quad, so they keep only the bits the policy keeps in both
// readings. A label that does not change is copied as written.
func (m *Masker) appendForm(dst, raw []byte, a netip.Addr, f form) []byte {
	if f == formName {
		// Its labels read backwards too, as in-addr.arpa labels do.
		b := a.As4()
		a, f = netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]}), formInAddr
	}
	r := a
	if !m.kept(a) {
		r = m.policy.Mask(a)
	}
	if f == formDash {
		b := r.As16()
		if q, ok := lastQuad(raw); ok && !m.kept(q) {
			// Its last four groups also read as a hyphenated quad
			// (2001-db8--1-2-3-4): zero them, so that neither reading
			// keeps more than the policy does.
			clear(b[8:])
		}
		n := len(dst)
		if b == a.As16() {
			dst = append(dst, raw...)
		} else if dst = appendDashed(dst, b, -1); len(dst)-n > len(raw) {
			// raw's "--" stands for fewer groups, or fewer bytes, than the
			// masked form's: put the masked form's where raw has it, so
			// that it is no longer than raw.
			at := 0 // the group raw's "--" starts at
			if i := bytes.Index(raw, []byte("--")); i > 0 {
				at = bytes.Count(raw[:i], []byte{'-'}) + 1
			}
			dst = appendDashed(dst[:n], b, at)
		}
		for i := n; i+1 < len(dst); i++ {
			if x, ok := dashedAddr(dst[i+1:]); ok && dst[i] == '-' && !m.kept(x) {
				// A reading of it without its first groups is another
				// address that the policy masks otherwise (an
				// IPv4-compatible one, say): write neither.
				return append(dst[:n], "--"...)
			}
		}
		return dst
	}
	if f == formSession {
		if r == a {
			return append(dst, raw...)
		}
		var b [24]byte
		n, _ := base64.StdEncoding.Decode(b[:], raw)
		if n == 12 {
			v := r.As4()
			copy(b[8:], v[:])
		} else {
			v := r.As16()
			copy(b[8:], v[:])
		}
		return base64.StdEncoding.AppendEncode(dst, b[:n])
	}
	if f == formHex {
		var b []byte
		if len(raw) == 32 {
			v := r.As16() // an IPv4-mapped address unmapped by Mask maps back
			b = v[:]
		} else {
			v := r.As4()
			b = v[:]
		}
		for j, c := range raw {
			v := b[j/2] >> (4 * (1 - j%2)) & 0xf
			switch {
			case hexVal[c] == v:
				dst = append(dst, c)
			case c >= 'a':
				dst = append(dst, "0123456789abcdef"[v])
			default:
				dst = append(dst, "0123456789ABCDEF"[v])
			}
		}
		return dst
	}
	if f == formTuple {
		// The numbers in raw, masked, each where raw has it.
		b := r.As16()
		width := 2 // bytes a number stands for
		if a.Is4() {
			width = 1
		}
		j := 12 // the first number's byte in b: IPv4 is mapped there
		if width == 2 {
			j = 0
		}
		for k := 0; k < len(raw); {
			if class[raw[k]]&cDigit == 0 {
				dst = append(dst, raw[k])
				k++
				continue
			}
			e := k
			for e < len(raw) && class[raw[e]]&cDigit != 0 {
				e++
			}
			x := uint64(b[j])
			if width == 2 {
				x = x<<8 | uint64(b[j+1])
			}
			dst = strconv.AppendUint(dst, x, 10)
			j += width
			k = e
		}
		return dst
	}
	if f == formPadded {
		for j, x := range r.As4() {
			if x == a.As4()[j] {
				dst = append(dst, raw[3*j:3*j+3]...)
			} else {
				dst = append(dst, '0'+x/100, '0'+x/10%10, '0'+x%10)
			}
		}
		return dst
	}
	if f == formIP6 {
		b := r.As16()
		n := (len(raw) + 1) / 2
		for j := range n {
			if j > 0 {
				dst = append(dst, '.')
			}
			k := n - 1 - j
			v := b[k/2] >> (4 * (1 - k%2)) & 0xf
			if c := raw[2*j]; hexVal[c] == v {
				dst = append(dst, c)
			} else if c >= 'A' && c <= 'F' {
				dst = append(dst, "0123456789ABCDEF"[v])
			} else {
				dst = append(dst, "0123456789abcdef"[v])
			}
		}
		return dst
	}
	sep := byte('.')
	if f == formHyphen {
		sep = '-'
	}
	var labels [4][]byte
	var in, out [4]byte
	n := 0
	for t := raw; n < len(labels); n++ {
		i := bytes.IndexByte(t, sep)
		if i < 0 {
			labels[n] = t
			n++
			break
		}
		labels[n], t = t[:i], t[i+1:]
	}
	for j := range n {
		in[j], _ = octet(labels[j])
	}
	rb := r.As4()
	switch fwd := netip.AddrFrom4(in); {
	case f == formHyphen:
		out = rb
	case n == 4 && !(m.kept(a) && m.kept(fwd)):
		// Masking one reading changes the other, which SkipPrivate
		// could then no longer keep: both are masked.
		rb = m.policy.Mask(a).As4()
		fb := m.policy.Mask(fwd).As4()
		for j := range n {
			out[j] = rb[n-1-j] & fb[j]
		}
	default:
		for j := range n {
			out[j] = rb[n-1-j]
		}
	}
	for j := range n {
		if j > 0 {
			dst = append(dst, sep)
		}
		if in[j] == out[j] {
			dst = append(dst, labels[j]...)
		} else {
			dst = strconv.AppendUint(dst, uint64(out[j]), 10)
		}
	}
	return dst
}

// lastQuad reads the last four groups of raw, an IPv6 address with '-'
// for ':', as a hyphenated quad, if they are four decimal octets.
func lastQuad(raw []byte) (netip.Addr, bool) {
	var v [4]byte
	for k := 3; k >= 0; k-- {
		i := bytes.LastIndexByte(raw, '-') // -1: the group is all of raw
		x, ok := octet(raw[i+1:])
		if !ok || i < 0 && k > 0 {
			return netip.Addr{}, false
		}
		v[k] = x
		if i >= 0 {
			raw = raw[:i]
		}
	}
	return netip.AddrFrom4(v), true
}

// appendDashed appends the IPv6 address b written with '-' for ':' and
// no dotted tail (the labels of a host name have no ':' or '.'), with
// "--" for the run of zero groups that holds group at, or if at is -1
// for its longest run of two or more (the first of equal runs).
func appendDashed(dst []byte, b [16]byte, at int) []byte {
	zs, zl := -1, 1
	for i := 0; i < 8; {
		j := i
		for j < 8 && b[2*j] == 0 && b[2*j+1] == 0 {
			j++
		}
		if at < 0 && j-i > zl || at >= i && at < j {
			zs, zl = i, j-i
		}
		i = j + 1
	}
	for i := 0; i < 8; i++ {
		if i == zs {
			dst = append(dst, "--"...)
			i += zl - 1
			continue
		}
		if i > 0 && i != zs+zl {
			dst = append(dst, '-')
		}
		dst = strconv.AppendUint(dst, uint64(b[2*i])<<8|uint64(b[2*i+1]), 16)
	}
	return dst
}

// inZone reports whether text[:i] ends in a '%' and zone characters, so
// that zone characters written at i would extend a %zone.
func inZone(text []byte, i int) bool {
	for i > 0 && class[text[i-1]]&cZone != 0 {
		i--
	}
	return i > 0 && text[i-1] == '%'
}

// appendAddr appends the masked form of a, written in text as raw. An
// address already masked is kept as written (an IPv4-mapped one too). An
// IPv4-mapped address where a %zone could run on into it (afterPercent)
// keeps the mapped form, whose colons end a zone, so that its digits
// cannot be read back as part of a zone and dropped with it.
func (m *Masker) appendAddr(dst, raw []byte, a netip.Addr, afterPercent bool) []byte {
	if m.skipPrivate && isPrivate(a) {
		if i := bytes.IndexByte(raw, '%'); i >= 0 {
			raw = raw[:i] // zones are always dropped
		}
		return append(dst, raw...)
	}
	masked := m.policy.Mask(a)
	if masked == a.Unmap() && !hasZone(raw) {
		return append(dst, raw...)
	}
	if afterPercent && a.Is4In6() {
		// The mapped form, written the way the input was: dotted after
		// dotted (a hexadecimal tail could run into a ":port" after it
		// and read as another address), hexadecimal groups after
		// hexadecimal ones (a dotted tail could be longer than the input).
		// Either way it is never longer than the input.
		dst = append(dst, "::ffff:"...)
		if dottedTail(raw) {
			return masked.AppendTo(dst)
		}
		b := masked.As4()
		dst = strconv.AppendUint(dst, uint64(b[0])<<8|uint64(b[1]), 16)
		dst = append(dst, ':')
		return strconv.AppendUint(dst, uint64(b[2])<<8|uint64(b[3]), 16)
	}
	if masked.Is6() && dottedTail(raw) {
		return appendMixed(dst, masked, raw)
	}
	return appendFit(dst, masked, raw)
}

// appendFit appends a in canonical form, unless a is IPv6 and that would
// be longer than raw, the text it replaces (without any %zone), plain or
// with its colons written "%3A". Canonical form puts "::" on the first
// longest run of zero groups, which masking can move (0:0:1::1:0:1 masks
// under /96 to ::1:0:0:1:0:0, one byte longer), and never on a single
// group. a is then written by appendGroups.
func appendFit(dst []byte, a netip.Addr, raw []byte) []byte {
	n := len(dst)
	dst = a.AppendTo(dst)
	// Canonical text holds at most 7 colons and raw at least 2: ten bytes
	// shorter fits either way (the common case: a full address masked).
	if !a.Is6() || len(dst)-n+10 <= len(raw) || fits(dst[n:], raw) {
		return dst
	}
	b := a.As16()
	return appendGroups(dst[:n], b[:], raw)
}

// fits reports whether out is no longer than raw (without any %zone),
// plain and with every colon written "%3A".
func fits(out, raw []byte) bool {
	if i := bytes.IndexByte(raw, '%'); i >= 0 {
		raw = raw[:i]
	}
	colon := []byte{':'}
	return len(out) <= len(raw) && len(out)+2*bytes.Count(out, colon) <= len(raw)+2*bytes.Count(raw, colon)
}

// appendGroups writes b, the bytes of the first eight or six groups of an
// IPv6 address, in hexadecimal with "::" on the run of zero groups that
// holds the one raw's "::" stands for (0:0:1::1:0:0 for raw 0:0:1::1:0:1),
// or with no "::" if raw has none. Masking only clears bits, so each group
// is no longer than raw's and there are no more of them around "::": the
// text is no longer than raw's groups, plain or percent-encoded. With six
// groups, it ends in "::" or in a group, before which the caller writes a
// dotted tail (after a ':' in the second case).
func appendGroups(dst, b, raw []byte) []byte {
	if i := bytes.IndexByte(raw, '%'); i >= 0 {
		raw = raw[:i]
	}
	var g [8]uint16
	n := len(b) / 2
	for k := range n {
		g[k] = uint16(b[2*k])<<8 | uint16(b[2*k+1])
	}
	i, j := n, n // the run written "::", none if i == n
	if gap := bytes.Index(raw, []byte("::")); gap >= 0 {
		i = 0
		if gap > 0 {
			i = bytes.Count(raw[:gap], []byte{':'}) + 1
		}
		if i < n && g[i] == 0 {
			for i > 0 && g[i-1] == 0 {
				i--
			}
			for j = i; j < n && g[j] == 0; j++ {
			}
		} else {
			i = n
		}
	}
	for k := 0; k < n; k++ {
		switch {
		case k == i:
			dst = append(dst, "::"...)
			k = j - 1
			continue
		case k > 0 && k != j:
			dst = append(dst, ':')
		}
		dst = strconv.AppendUint(dst, uint64(g[k]), 16)
	}
	return dst
}

// appendMixed writes an IPv6 address given with a dotted tail
// (64:ff9b::192.0.2.33) the way it came: the first 96 bits in canonical
// form, or as appendGroups writes them where that would be longer than
// raw's, and the last 32 dotted, unless those are all zero. Masking only
// clears bits, so the tail is never longer than the input's, and it cannot
// run into a ":port" after it; two hexadecimal groups could do both.
// a is never IPv4-mapped: Policy.Mask unmaps those.
func appendMixed(dst []byte, a netip.Addr, raw []byte) []byte {
	b := a.As16()
	tail := [4]byte(b[12:])
	if tail == [4]byte{} {
		return appendFit(dst, a, raw)
	}
	n := len(dst)
	// Two non-zero groups in the tail keep the "::" in the first 96 bits,
	// where RFC 5952 section 5 puts it; they format as "1:1".
	b[12], b[13], b[14], b[15] = 0, 1, 0, 1
	dst = netip.AddrFrom16(b).AppendTo(dst)
	dst = dst[:len(dst)-len("1:1")]
	dst = netip.AddrFrom4(tail).AppendTo(dst)
	if fits(dst[n:], raw) {
		return dst
	}
	dst = appendGroups(dst[:n], b[:12], raw)
	if dst[len(dst)-1] != ':' {
		dst = append(dst, ':')
	}
	return netip.AddrFrom4(tail).AppendTo(dst)
}

// dottedTail reports whether the address text raw (maybe with a %zone)
// ends in a dotted IPv4 tail; a dot in a zone (%eth0.100) does not count.
func dottedTail(raw []byte) bool {
	if i := bytes.IndexByte(raw, '%'); i >= 0 {
		raw = raw[:i]
	}
	return bytes.IndexByte(raw, '.') >= 0
}

func hasZone(raw []byte) bool { return bytes.IndexByte(raw, '%') >= 0 }

// appendFields masks the chosen columns of one line (no newline). A '\r'
// ending it (a CRLF line ending) is kept and is not part of the last
// column. An empty line has no columns and stays empty.
func (m *Masker) appendFields(dst, line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return append(m.appendColumns(dst, line[:n-1]), '\r')
	}
	return m.appendColumns(dst, line)
}

// appendColumns is appendFields for a line without a '\r' at its end.
func (m *Masker) appendColumns(dst, line []byte) []byte {
	if len(line) == 0 {
		return dst
	}
	col := 0
	for {
		i := bytes.IndexByte(line, m.delim)
		v := line
		if i >= 0 {
			v = line[:i]
		}
		if col < maxFields && m.fields&(1<<col) != 0 {
			if m.validList(v) {
				dst = m.appendList(dst, v)
			} else {
				dst = append(dst, m.placeholder...)
			}
		} else {
			dst = append(dst, v...)
		}
		if i < 0 {
			return dst
		}
		dst = append(dst, m.delim)
		line = line[i+1:]
		col++
	}
}

// A column value in field mode is an address list: items separated by
// commas (and optional spaces or tabs), the whole optionally in double
// quotes, each item an address (IPv6 with an optional %zone), [IPv6],
// [IPv6]:port or IPv4:port.

// validList reports whether v is an address list.
func (m *Masker) validList(v []byte) bool {
	v = unquote(v)
	if len(v) == 0 {
		return false
	}
	for {
		i := bytes.IndexByte(v, ',')
		seg := v
		if i >= 0 {
			seg = v[:i]
		}
		if _, _, _, ok := parseItem(trimBlank(seg)); !ok {
			return false
		}
		if i < 0 {
			return true
		}
		v = v[i+1:]
	}
}

// appendList appends the address list v with each address masked, keeping
// quotes, commas, blanks, brackets and ports.
func (m *Masker) appendList(dst, v []byte) []byte {
	quoted := len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"'
	if quoted {
		dst = append(dst, '"')
		v = v[1 : len(v)-1]
	}
	for {
		i := bytes.IndexByte(v, ',')
		seg := v
		if i >= 0 {
			seg = v[:i]
		}
		item := trimBlank(seg)
		lead := len(seg) - len(trimBlankLeft(seg))
		a, as, ae, _ := parseItem(item)
		dst = append(dst, seg[:lead]...)
		dst = append(dst, item[:as]...)
		dst = m.appendAddr(dst, item[as:ae], a, false)
		dst = append(dst, item[ae:]...)
		dst = append(dst, seg[lead+len(item):]...)
		if i < 0 {
			break
		}
		dst = append(dst, ',')
		v = v[i+1:]
	}
	if quoted {
		dst = append(dst, '"')
	}
	return dst
}

func unquote(v []byte) []byte {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

func trimBlankLeft(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

func trimBlank(b []byte) []byte {
	b = trimBlankLeft(b)
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseItem parses one list item; item[start:end] is the address text,
// zone included.
func parseItem(item []byte) (a netip.Addr, start, end int, ok bool) {
	if len(item) == 0 {
		return a, 0, 0, false
	}
	if item[0] == '[' {
		j := bytes.IndexByte(item, ']')
		if j < 0 {
			return a, 0, 0, false
		}
		a, ok = parseZoned(item[1:j])
		if !ok || !a.Is6() {
			return a, 0, 0, false
		}
		if rest := item[j+1:]; len(rest) > 0 && (rest[0] != ':' || !isPort(rest[1:])) {
			return a, 0, 0, false
		}
		return a, 1, j, true
	}
	if a, ok = parseZoned(item); ok {
		return a, 0, len(item), true
	}
	// IPv4:port
	if k := bytes.LastIndexByte(item, ':'); k > 0 && isPort(item[k+1:]) {
		if v4, ok := parse4(item[:k]); ok {
			return netip.AddrFrom4(v4), 0, k, true
		}
	}
	return a, 0, 0, false
}

// parseZoned parses an address with an optional non-empty %zone on IPv6.
func parseZoned(b []byte) (netip.Addr, bool) {
	if i := bytes.IndexByte(b, '%'); i >= 0 {
		if i == len(b)-1 {
			return netip.Addr{}, false
		}
		a, ok := parse6(b[:i])
		return a, ok
	}
	return parseAddr(b)
}

func isPort(b []byte) bool {
	if len(b) == 0 || len(b) > 5 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

// isPrivate reports whether a is private, loopback or link-local, and so
// is every IPv4 address it embeds. An address behind a prefix form (6to4,
// Teredo, NAT64, compatible, mapped) is judged by its IPv4 address alone;
// one with only an ISATAP interface ID, by its IPv6 prefix as well.
func isPrivate(a netip.Addr) bool {
	if a.Is4() {
		return private4(a.As4())
	}
	if a.IsLoopback() || a.IsUnspecified() {
		return true // ::1 and ::, which also read as IPv4-compatible
	}
	e, n := ipmask.EmbeddedIPv4(a)
	prefix := false
	for _, x := range e[:n] {
		if !x.IPv4.IsValid() || !private4(x.IPv4.As4()) {
			return false // a public or unknown IPv4 address inside
		}
		prefix = prefix || x.Form != ipmask.ISATAP
	}
	return prefix || a.IsPrivate() || a.IsLinkLocalUnicast()
}

func private4(v [4]byte) bool {
	a := netip.AddrFrom4(v)
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified()
}
