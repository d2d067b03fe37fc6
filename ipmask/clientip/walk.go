package clientip

import (
	"net/netip"
	"strconv"
	"strings"
)

// Bounds on the text a resolution reads, so that a hostile header costs a
// fixed amount of work whatever its size.
const (
	// maxAddrLen is the longest form an entry can take:
	// "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535". A longer
	// entry is refused before it is parsed.
	maxAddrLen = len("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535")
	// maxRawEntry bounds an entry with its optional whitespace (and a
	// RemoteAddr with its zone): the walk looks no further back than this
	// for the comma that starts an entry.
	maxRawEntry = 128
	// maxElement bounds one Forwarded element (for=, by=, host=, proto=).
	maxElement = 512
	// maxWalkBytes bounds the header text one walk reads from the end of a
	// list header, over every copy.
	maxWalkBytes = 4096

	maxElementText   = "512"  // maxElement, for messages
	maxWalkBytesText = "4096" // maxWalkBytes, for messages
)

// listWalker yields the elements of a comma-separated header list from the
// right: the last copy of the header first, each copy from its end. It
// never allocates, reads nothing to the left of what it has yielded, and
// looks no further back than maxRawEntry bytes for an element's start.
type listWalker struct {
	copies []string // copies not yet started, walked from the last
	cur    string   // the unread part of the current copy
	inCopy bool     // cur still has at least one element
}

// next returns the next element, trimmed of optional whitespace; ok is
// false at the end of the list. long reports an element longer than
// maxRawEntry bytes, which is not returned and ends the walk.
func (w *listWalker) next() (e string, ok, long bool) {
	for !w.inCopy {
		if len(w.copies) == 0 {
			return "", false, false
		}
		w.cur = w.copies[len(w.copies)-1]
		w.copies = w.copies[:len(w.copies)-1]
		w.inCopy = true
	}
	lo := max(0, len(w.cur)-maxRawEntry-1)
	switch i := strings.LastIndexByte(w.cur[lo:], ','); {
	case i >= 0:
		e, w.cur = w.cur[lo+i+1:], w.cur[:lo+i]
	case lo > 0:
		return "", false, true
	default:
		e, w.cur, w.inCopy = w.cur, "", false
	}
	return trimOWS(e), true, false
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// xffWalk yields the addresses of X-Forwarded-For from the right. Empty
// elements are skipped, as RFC 9110 section 5.6.1 asks of list recipients,
// but count towards MaxHops; the first element that does not parse, or the
// one past MaxHops, ends the walk with a failure.
type xffWalk struct {
	w    listWalker
	n    int // elements read, empty ones included: the position from the right
	seen int // addresses yielded
}

// next returns the next address; ok is false at the end of the list or on
// a failure, which it then writes in *f.
func (x *xffWalk) next(f *failure) (a netip.Addr, ok bool) {
	for {
		e, more, long := x.w.next()
		if !more && !long {
			return netip.Addr{}, false
		}
		if x.n++; x.n > MaxHops {
			*f = errTooMany(HeaderXForwardedFor)
			return netip.Addr{}, false
		}
		if long {
			*f = failure{sentinel: ErrMalformed, where: HeaderXForwardedFor, pos: x.n, length: -1, why: whyTooLong}
			return netip.Addr{}, false
		}
		if e == "" {
			continue
		}
		if a = parseEntry(HeaderXForwardedFor, x.n, e, f); !a.IsValid() {
			return netip.Addr{}, false
		}
		x.seen++
		return a, true
	}
}

// rightmostUntrusted answers the rightmost X-Forwarded-For entry not in
// set, the trusted set loaded once for this resolution.
func rightmostUntrusted(copies []string, set *trustedSet, f *failure) netip.Addr {
	x := xffWalk{w: listWalker{copies: copies}}
	for {
		a, ok := x.next(f)
		switch {
		case f.sentinel != nil:
			return netip.Addr{}
		case !ok && x.seen == 0:
			*f = errAbsent(HeaderXForwardedFor)
			return netip.Addr{}
		case !ok:
			*f = failure{sentinel: ErrNoAddr, where: HeaderXForwardedFor, why: "every entry is a trusted proxy"}
			return netip.Addr{}
		case !set.contains(a):
			return a
		}
	}
}

// trustedHops answers the hops-th non-empty X-Forwarded-For entry from the
// right. The entries to its right are parsed too, so garbage there fails
// closed.
func trustedHops(copies []string, hops int, f *failure) netip.Addr {
	x := xffWalk{w: listWalker{copies: copies}}
	for {
		a, ok := x.next(f)
		switch {
		case f.sentinel != nil:
			return netip.Addr{}
		case !ok && x.seen == 0:
			*f = errAbsent(HeaderXForwardedFor)
			return netip.Addr{}
		case !ok:
			*f = failure{sentinel: ErrMalformed, where: HeaderXForwardedFor, why: "fewer entries than trusted hops", n: x.seen, m: hops}
			return netip.Addr{}
		case x.seen == hops:
			return a
		}
	}
}

// singleHeader answers the one address in the one copy of header name.
func singleHeader(copies []string, name string, f *failure) netip.Addr {
	switch len(copies) {
	case 0:
		*f = errAbsent(name)
		return netip.Addr{}
	case 1:
	default:
		*f = failure{sentinel: ErrMalformed, where: name, why: "several copies of a single-address header", n: len(copies)}
		return netip.Addr{}
	}
	v := copies[0]
	if len(v) > maxRawEntry {
		*f = failure{sentinel: ErrMalformed, where: name, length: len(v), why: whyTooLong}
		return netip.Addr{}
	}
	if v = trimOWS(v); v == "" {
		*f = errAbsent(name)
		return netip.Addr{}
	}
	if name == headerViewerAddress {
		return parseViewerAddress(v, f)
	}
	return parseEntry(name, 0, v, f)
}

// headerViewerAddress is Amazon CloudFront's header of the viewer's
// address and source port, in canonical form.
const headerViewerAddress = "Cloudfront-Viewer-Address"

// parseViewerAddress parses CloudFront-Viewer-Address, which always ends
// in the viewer's source port after a colon, also after an IPv6 address
// that it writes without brackets ("2001:db8::7:46532", or all eight
// groups and the port). So, unlike any other header's entry, an
// unbracketed IPv6 address there is read up to its last colon; what is
// before it is read as any entry without a port is.
func parseViewerAddress(v string, f *failure) netip.Addr {
	i := strings.LastIndexByte(v, ':')
	why := ""
	switch {
	case i < 0:
		why = "no port"
	case !hasBracket(v) && strings.Count(v[:i], ":") == 1:
		why = "two ports"
	default:
		if _, ok := parsePort(v[i+1:]); !ok {
			why = "bad port"
		}
	}
	if why != "" {
		*f = malformed(headerViewerAddress, 0, v, why)
		return netip.Addr{}
	}
	return parseEntry(headerViewerAddress, 0, v[:i], f)
}

// failure describes why a resolution found no address. It is a value,
// built without allocating, so that a strategy failing in a chain costs
// nothing; only a failure returned to the caller becomes an error. The
// walks write it through a pointer, and only when they fail: an answer
// costs no copy of it. A walk is given the zero failure, and reads a set
// one as its own.
//
// It never holds the offending text: an error gets logged, and the text
// may be an address. It says where (the header, the entry's position from
// the right), what kind of fault, and how long the entry was.
type failure struct {
	sentinel error  // ErrNoAddr, ErrUntrusted or ErrMalformed; nil: no failure
	where    string // the header name or "RemoteAddr"
	why      string // a fixed phrase
	pos      int    // the entry's position from the right, 1-based; 0: none
	length   int    // the entry's length in bytes; -1: over maxRawEntry; 0: none
	n, m     int    // counts: found, wanted
}

const whyTooLong = "longer than any address"

// resolveError is a failure returned to the caller: one allocation, and
// the message is only formatted when asked for.
type resolveError struct{ f failure }

func (e *resolveError) Unwrap() error { return e.f.sentinel }

func (e *resolveError) Error() string {
	f := &e.f
	b := make([]byte, 0, 128)
	b = append(b, "clientip: "...)
	b = append(b, f.where...)
	if f.pos > 0 {
		b = append(b, " entry "...)
		b = strconv.AppendInt(b, int64(f.pos), 10)
		b = append(b, " from the right"...)
	}
	switch {
	case f.length < 0:
		b = append(b, " (over "...)
		b = strconv.AppendInt(b, maxRawEntry, 10)
		b = append(b, " bytes)"...)
	case f.length > 0:
		b = append(b, " ("...)
		b = strconv.AppendInt(b, int64(f.length), 10)
		b = append(b, " bytes)"...)
	}
	b = append(b, ": "...)
	b = append(b, f.sentinel.Error()...)
	b = append(b, ": "...)
	b = append(b, f.why...)
	switch {
	case f.m > 0:
		b = append(b, " ("...)
		b = strconv.AppendInt(b, int64(f.n), 10)
		b = append(b, ", want "...)
		b = strconv.AppendInt(b, int64(f.m), 10)
		b = append(b, ')')
	case f.n > 0:
		b = append(b, " ("...)
		b = strconv.AppendInt(b, int64(f.n), 10)
		b = append(b, ')')
	}
	return string(b)
}

func (f failure) error() error {
	if f.sentinel == nil {
		return nil
	}
	return &resolveError{f}
}

func errAbsent(name string) failure {
	return failure{sentinel: ErrNoAddr, where: name, why: "header absent or empty"}
}

func errTooMany(name string) failure {
	return failure{sentinel: ErrMalformed, where: name, why: "more entries than MaxHops", n: MaxHops + 1, m: MaxHops}
}

// malformed describes the entry e at position pos of header name.
func malformed(name string, pos int, e, why string) failure {
	return failure{sentinel: ErrMalformed, where: name, pos: pos, length: len(e), why: why}
}

// parsePeer parses http.Request.RemoteAddr: "ip:port", "[ipv6]:port" or a
// bare address. A zone is dropped (the kernel put it there); the address
// is unmapped. On failure it returns the zero Addr and writes *f.
func parsePeer(s string, f *failure) (a netip.Addr, port uint16, hasPort bool) {
	if a, port, hasPort, ok := parseIPv4Port(s); ok {
		return a, port, hasPort
	}
	if s == "" {
		*f = failure{sentinel: ErrNoAddr, where: "RemoteAddr", why: "empty"}
		return netip.Addr{}, 0, false
	}
	if len(s) > maxRawEntry {
		*f = failure{sentinel: ErrMalformed, where: "RemoteAddr", length: len(s), why: whyTooLong}
		return netip.Addr{}, 0, false
	}
	host, port, hasPort, why := splitHostPort(s)
	if why == "" {
		a, why = parseHost(host, hasBracket(s))
	}
	if why != "" {
		*f = malformed("RemoteAddr", 0, s, why)
		return netip.Addr{}, 0, false
	}
	return a, port, hasPort
}

// parseIPv4Port parses "192.0.2.1" or "192.0.2.1:80", the form nearly
// every RemoteAddr and X-Forwarded-For entry takes, in one pass, and
// accepts it exactly when the general path (splitHostPort, then
// parseHost) would, with the same result. ok is false for anything else,
// which the general path then parses or refuses with the reason.
func parseIPv4Port(s string) (a netip.Addr, port uint16, hasPort, ok bool) {
	a, i, ok := dottedQuad(s, true)
	if !ok || a.IsUnspecified() {
		return netip.Addr{}, 0, false, false
	}
	if i == len(s) {
		return a, 0, false, true
	}
	if port, ok = parsePort(s[i+1:]); !ok {
		return netip.Addr{}, 0, false, false
	}
	return a, port, true, true
}

func hasBracket(s string) bool { return len(s) > 0 && s[0] == '[' }

// parseEntry parses the entry e at position pos (0 for a single-address
// header) of header name: an address, optionally with a port
// ("192.0.2.1:80", "[2001:db8::1]:80") or in brackets ("[2001:db8::1]").
// An IPv6 address without brackets has no port: "2001:db8::1:80" is the
// address it looks like. Zones are rejected, and so is an entry longer
// than any address, before it is parsed. On failure it returns the zero
// Addr and writes *f.
func parseEntry(name string, pos int, e string, f *failure) netip.Addr {
	if a, _, _, ok := parseIPv4Port(e); ok {
		return a // at most len("255.255.255.255:65535") bytes
	}
	var a netip.Addr
	why := ""
	switch {
	case len(e) > maxAddrLen:
		why = whyTooLong
	case strings.IndexByte(e, '%') >= 0:
		why = "a zone is not allowed"
	default:
		var host string
		if host, _, _, why = splitHostPort(e); why == "" {
			a, why = parseHost(host, hasBracket(e))
		}
	}
	if why != "" {
		*f = malformed(name, pos, e, why)
		return netip.Addr{}
	}
	return a
}

// splitHostPort splits s into host and optional port. Bracketed hosts may
// carry a port; an unbracketed host with exactly one colon is IPv4:port;
// with more colons it is a bare IPv6 address.
func splitHostPort(s string) (host string, port uint16, hasPort bool, why string) {
	if hasBracket(s) {
		j := strings.IndexByte(s, ']')
		if j < 0 {
			return "", 0, false, "unterminated bracket"
		}
		host, rest := s[1:j], s[j+1:]
		if rest == "" {
			return host, 0, false, ""
		}
		if rest[0] != ':' {
			return "", 0, false, "text after the bracket"
		}
		p, ok := parsePort(rest[1:])
		if !ok {
			return "", 0, false, "bad port"
		}
		return host, p, true, ""
	}
	i := strings.IndexByte(s, ':')
	if i < 0 || strings.IndexByte(s[i+1:], ':') >= 0 {
		return s, 0, false, "" // no colon, or a bare IPv6 address
	}
	p, ok := parsePort(s[i+1:])
	if !ok {
		return "", 0, false, "bad port"
	}
	return s[:i], p, true, ""
}

// parsePort parses 1 to 5 decimal digits up to 65535.
func parsePort(s string) (uint16, bool) {
	if len(s) == 0 || len(s) > 5 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// parseHost parses an address as netip.ParseAddr does (strict: no
// leading zeros; a zone, if the caller let one through, is dropped),
// checks that a bracketed host is IPv6 and an unbracketed host with a port
// IPv4, unmaps it and rejects the unspecified address. Text that cannot be
// an address is refused before netip.ParseAddr, whose error allocates.
func parseHost(host string, bracketed bool) (netip.Addr, string) {
	if i := strings.IndexByte(host, '%'); i >= 0 {
		if i == len(host)-1 || strings.IndexByte(host[:i], ':') < 0 {
			return netip.Addr{}, "not an IP address" // empty zone, or a zone on IPv4
		}
		host = host[:i]
	}
	var a netip.Addr
	if strings.IndexByte(host, ':') < 0 {
		var ok bool
		if a, ok = parseIPv4(host); !ok {
			return netip.Addr{}, "not an IP address"
		}
	} else {
		if !addrChars(host) {
			return netip.Addr{}, "not an IP address"
		}
		var err error
		if a, err = netip.ParseAddr(host); err != nil {
			return netip.Addr{}, "not an IP address"
		}
	}
	if bracketed && !a.Is6() {
		return netip.Addr{}, "IPv4 in brackets"
	}
	a = a.Unmap()
	if a.IsUnspecified() {
		return netip.Addr{}, "unspecified address"
	}
	return a, ""
}

// parseIPv4 parses s as netip.ParseAddr parses an IPv4 address: four
// decimal fields from 0 to 255 separated by dots, with no leading zeros
// and nothing else. It is that parser's IPv4 case, which is most of the
// cost of a resolution, without its generality (and its error, which
// allocates).
func parseIPv4(s string) (netip.Addr, bool) {
	a, _, ok := dottedQuad(s, false)
	return a, ok
}

// dottedQuad parses the IPv4 address s starts with, as parseIPv4 parses
// s, up to the end of s or, if colon is set, its first ':', whose index
// it returns as i (len(s) when the address ends s): one pass over the
// text of "192.0.2.1:80", a field at a time.
func dottedQuad(s string, colon bool) (a netip.Addr, i int, ok bool) {
	var ip [4]byte
	for f := range ip {
		if i >= len(s) || s[i]-'0' > 9 {
			return netip.Addr{}, 0, false // an empty field
		}
		v := uint(s[i] - '0')
		i++
		// A field that starts with '0' is "0": a digit after it is a
		// leading zero, refused by what must follow the field.
		if v != 0 && i < len(s) && s[i]-'0' <= 9 {
			v = v*10 + uint(s[i]-'0')
			i++
			if i < len(s) && s[i]-'0' <= 9 {
				if v = v*10 + uint(s[i]-'0'); v > 255 {
					return netip.Addr{}, 0, false
				}
				i++
			}
		}
		ip[f] = byte(v)
		if f < 3 {
			if i >= len(s) || s[i] != '.' {
				return netip.Addr{}, 0, false
			}
			i++
		}
	}
	if i < len(s) && (s[i] != ':' || !colon) {
		return netip.Addr{}, 0, false
	}
	return netip.AddrFrom4(ip), i, true
}

// addrChars reports whether s is made of the characters of an address's
// text: hex digits, dots and colons.
func addrChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// forwarded answers the rightmost for= node in the Forwarded header that is
// not in set, the trusted set loaded once for this resolution. It reads at
// most maxWalkBytes of the header from its end.
func forwarded(copies []string, set *trustedSet, f *failure) netip.Addr {
	a, fail := forwardedWalk(copies, set)
	if fail.sentinel != nil {
		*f = fail
	}
	return a
}

func forwardedWalk(copies []string, set *trustedSet) (netip.Addr, failure) {
	seen, n, budget := 0, 0, maxWalkBytes
	for i := len(copies) - 1; i >= 0; i-- {
		v := copies[i]
		for more := true; more; {
			if n++; n > MaxHops {
				return netip.Addr{}, errTooMany(HeaderForwarded)
			}
			var e string
			var fail failure
			before := len(v)
			e, v, more, fail = lastElement(v, n)
			if fail.sentinel != nil {
				return netip.Addr{}, fail
			}
			if budget -= before - len(v); budget < 0 {
				return netip.Addr{}, failure{sentinel: ErrMalformed, where: HeaderForwarded, pos: n, why: "walk past " + maxWalkBytesText + " bytes"}
			}
			e = trimOWS(e)
			if e == "" {
				continue
			}
			seen++
			a, fail := forwardedFor(e, n)
			if fail.sentinel != nil {
				return netip.Addr{}, fail
			}
			if !set.contains(a) {
				return a, failure{}
			}
		}
	}
	if seen == 0 {
		return netip.Addr{}, errAbsent(HeaderForwarded)
	}
	return netip.Addr{}, failure{sentinel: ErrNoAddr, where: HeaderForwarded, why: "every node is a trusted proxy"}
}

// lastElement splits the last element (position pos from the right) off
// the Forwarded list v, honouring quoted strings (a comma inside quotes
// does not end an element), looking back at most maxElement bytes. It
// returns the element, what is left of v, and whether anything is left.
//
// A backslash is not read as an escape here: a quoted value holding one
// is refused by unquote, and reading a \" as a closing quote can only
// make the element found end to the right of a backslash, which is then
// in it; so escapes change which error is reported, never what is
// accepted.
func lastElement(v string, pos int) (elem, rest string, more bool, fail failure) {
	stop := max(0, len(v)-maxElement)
	w := v[stop:] // the window; indexes below are into it
	end := len(w)
	for {
		c := strings.LastIndexByte(w[:end], ',')
		q := strings.LastIndexByte(w[c+1:end], '"')
		if q < 0 { // no quote right of the comma
			if c >= 0 {
				return v[stop+c+1:], v[:stop+c], true, failure{}
			}
			break
		}
		// Skip the quoted string that ends at q.
		open := strings.LastIndexByte(w[:c+1+q], '"')
		if open < 0 {
			if stop > 0 {
				break
			}
			return "", "", false, malformed(HeaderForwarded, pos, v, unterminated(v))
		}
		end = open
	}
	if stop > 0 {
		return "", "", false, failure{sentinel: ErrMalformed, where: HeaderForwarded, pos: pos, why: "element longer than " + maxElementText + " bytes"}
	}
	return v, "", false, failure{}
}

// forwardedFor returns the address in the for= parameter of element e,
// at position pos from the right.
func forwardedFor(e string, pos int) (netip.Addr, failure) {
	bad := func(why string) (netip.Addr, failure) {
		return netip.Addr{}, malformed(HeaderForwarded, pos, e, why)
	}
	var node string
	found := false
	for rest := e; ; {
		var pair, why string
		pair, rest, why = nextPair(rest)
		if why != "" {
			return bad(why)
		}
		if pair = trimOWS(pair); pair == "" {
			// RFC 7239 section 4 allows empty parameters
			// ("for=192.0.2.1;;proto=http", ";for=...", "for=...;"):
			// they say nothing.
			if rest == "" {
				break
			}
			continue
		}
		eq := strings.IndexByte(pair, '=')
		if eq <= 0 || !validToken(pair[:eq]) {
			return bad("not a list of name=value pairs")
		}
		name, val := pair[:eq], pair[eq+1:]
		val, why = unquote(val)
		if why != "" {
			return bad(why)
		}
		if strings.EqualFold(name, "for") {
			if found {
				return bad("two for= parameters")
			}
			found, node = true, val
		}
		if rest == "" {
			break
		}
	}
	if !found {
		return bad("no for= parameter")
	}
	a, why := forwardedNode(node)
	if why != "" {
		return bad(why)
	}
	return a, failure{}
}

// unterminated names the fault of s, which has an odd number of quotes:
// an escaped quote, if s holds a backslash, else a quoted string that
// does not end.
func unterminated(s string) string {
	if strings.IndexByte(s, '\\') >= 0 {
		return "escape in a quoted value"
	}
	return "unterminated quoted string"
}

// nextPair splits the first ;-separated pair off s, honouring quotes. A
// backslash is not read as an escape, for the reason lastElement gives.
func nextPair(s string) (pair, rest, why string) {
	for i := 0; ; {
		semi := strings.IndexByte(s[i:], ';')
		q := strings.IndexByte(s[i:], '"')
		if q < 0 || semi >= 0 && semi < q {
			if semi < 0 {
				return s, "", ""
			}
			return s[:i+semi], s[i+semi+1:], ""
		}
		closing := strings.IndexByte(s[i+q+1:], '"')
		if closing < 0 {
			return "", "", unterminated(s)
		}
		i += q + 1 + closing + 1
	}
}

// unquote returns a token value as it is and a quoted value without its
// quotes. A quoted value holding a backslash is refused: no node needs
// one, and refusing saves unescaping.
func unquote(v string) (string, string) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		if strings.IndexByte(v, '\\') >= 0 || strings.IndexByte(v, '"') >= 0 {
			return "", "escape in a quoted value"
		}
		return v, ""
	}
	if !validToken(v) {
		return "", "value is neither a token nor a quoted string"
	}
	return v, ""
}

// forwardedNode parses an RFC 7239 node: IPv4 or bracketed IPv6, with an
// optional port or obfuscated port. "unknown" and obfuscated identifiers
// are errors: the walk cannot see past them.
func forwardedNode(node string) (netip.Addr, string) {
	if len(node) > maxAddrLen {
		return netip.Addr{}, "node longer than any address"
	}
	host, port := node, ""
	if hasBracket(node) {
		j := strings.IndexByte(node, ']')
		if j < 0 {
			return netip.Addr{}, "unterminated bracket"
		}
		host, port = node[1:j], node[j+1:]
		if port != "" && port[0] != ':' {
			return netip.Addr{}, "text after the bracket"
		}
	} else if i := strings.IndexByte(node, ':'); i >= 0 {
		if strings.IndexByte(node[i+1:], ':') >= 0 {
			return netip.Addr{}, "IPv6 node without brackets"
		}
		host, port = node[:i], node[i:]
	}
	if port != "" {
		p := port[1:]
		if _, ok := parsePort(p); !ok && !isObfuscated(p) {
			return netip.Addr{}, "bad port"
		}
	}
	if strings.EqualFold(host, "unknown") || isObfuscated(host) {
		return netip.Addr{}, "unknown or obfuscated node hides the hop"
	}
	if strings.IndexByte(host, '%') >= 0 {
		return netip.Addr{}, "a zone is not allowed"
	}
	a, why := parseHost(host, hasBracket(node))
	if why == "" && !hasBracket(node) && !a.Is4() {
		why = "IPv6 node without brackets"
	}
	return a, why
}

// isObfuscated reports whether s is an RFC 7239 obfnode or obfport:
// "_" followed by letters, digits, ".", "_" or "-".
func isObfuscated(s string) bool {
	if len(s) < 2 || s[0] != '_' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
