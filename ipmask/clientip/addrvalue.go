package clientip

import (
	"net/netip"
	"strings"
)

// No list of names can be complete: every platform, CDN and load balancer
// can name its own client-address header (X-Real-Client-Ip, Source-Ip, a
// Kong or Caddy rule's choice), and one the middleware did not know reached
// the handler raw. So besides the names it knows, the middleware removes a
// header by what it holds: a value that is an IP address, or a list that
// begins or ends with one, in the forms proxies write one (an address,
// with a port, in brackets, quoted, with leading zeros, with a zone),
// whatever the header's name. The headers that name the server a client
// asked for (Host, X-Forwarded-Host, X-Original-Host) are left alone: an
// address there is the server's, and an application builds its URLs from
// them.

// listsAddr reports whether a copy of a header, values, begins or ends
// with an address ([isAddrText]): is one, or is a comma-separated list
// whose first or last element is one. A proxy that sets a header to the
// client's address writes it alone, and one that appends to a list
// writes it last; a list's first element is the client's as the first
// proxy saw it. Most values are rejected on a few bytes at each end
// ([startsLikeAddr], [endsLikeAddr]) without a search; an element is
// looked for no further than maxRawEntry bytes from its end of the
// value, so that the work is bounded whatever the header's size.
func listsAddr(values []string) bool {
	for _, v := range values {
		if !mayHoldAddr(v) {
			continue
		}
		if startsLikeAddr(v) {
			e := v[:min(len(v), maxRawEntry+1)]
			if i := strings.IndexByte(e, ','); i >= 0 {
				e = e[:i]
			}
			if isAddrText(trimOWS(e)) {
				return true
			}
		}
		if endsLikeAddr(v) {
			e := v[max(0, len(v)-maxRawEntry-1):]
			if i := strings.LastIndexByte(e, ','); i >= 0 {
				e = e[i+1:]
			}
			if isAddrText(trimOWS(e)) {
				return true
			}
		}
	}
	return false
}

// mayHoldAddr reports whether v can begin or end with an address, as its
// first two bytes and its last two tell: most values cannot ("en", "gzip",
// "navigate", "Mozilla/5.0 (...)"). It is the test the middleware makes
// of every value of a header it does not remove by name, small enough to
// be inlined.
func mayHoldAddr(v string) bool {
	n := len(v)
	if n < len("::") {
		return false
	}
	a, z := class[v[0]], class[v[n-1]]
	return a&(lead|sep) != 0 || z&(trail|sep) != 0 ||
		a&hex != 0 && class[v[1]]&(hex|sep) != 0 || z&hex != 0 && class[v[n-2]]&(hex|sep) != 0
}

// Classes of bytes, for the first look at a value's ends.
const (
	hex   = 1 << iota // a hex digit
	sep               // '.' or ':'
	lead              // OWS, a quote or '[', which can come before an address
	trail             // OWS, a quote or ']', which can come after one
)

var class = func() (t [256]uint8) {
	for _, c := range []byte("0123456789abcdefABCDEF") {
		t[c] = hex
	}
	t['.'], t[':'] = sep, sep
	for _, c := range []byte(" \t\"") {
		t[c] = lead | trail
	}
	t['['], t[']'] = lead, trail
	return t
}()

// startsLikeAddr reports whether s can start with the text of an address:
// after OWS, a quote and a bracket, at most four hex digits, then a '.'
// or a ':'. It rejects most header values ("en", "document", "Mozilla")
// in a byte or two.
func startsLikeAddr(s string) bool {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if i < len(s) && s[i] == '"' {
		i++
	}
	if i < len(s) && s[i] == '[' {
		i++
	}
	for n := 0; i < len(s) && n < 4 && isHex(s[i]); n++ {
		i++
	}
	return i < len(s) && (s[i] == '.' || s[i] == ':')
}

// endsLikeAddr reports whether s can end with the text of an address, as
// startsLikeAddr does its start: before OWS, a quote and a bracket, at
// most five digits (a port, an IPv4 field or an IPv6 group) after a '.'
// or a ':', or a ':' ("2001:db8::"). A zone ends in any letter, so an
// address with a zone is not found at the end of a list.
func endsLikeAddr(s string) bool {
	i := len(s) - 1
	for i >= 0 && (s[i] == ' ' || s[i] == '\t') {
		i--
	}
	if i >= 0 && s[i] == '"' {
		i--
	}
	if i >= 0 && s[i] == ']' {
		i--
	}
	for n := 0; i >= 0 && n < 5 && isHex(s[i]); n++ {
		i--
	}
	return i >= 0 && (s[i] == '.' || s[i] == ':')
}

// isAddrText reports whether e, an element of a header's list, is an IP
// address in any of the forms a proxy writes one: "192.0.2.1",
// "192.0.2.1:80", "[2001:db8::1]:443", "2001:db8::1", quoted, with a zone,
// or with leading zeros in its IPv4 fields ("192.000.002.001", which
// ParseAddr refuses but which still names the address). It allocates only
// for text of hex digits, dots and colons that has the colons of IPv6 and
// is not an address.
func isAddrText(e string) bool {
	if len(e) >= 2 && e[0] == '"' && e[len(e)-1] == '"' {
		e = e[1 : len(e)-1]
	}
	if len(e) < len("::") || len(e) > maxRawEntry {
		return false
	}
	// As an entry of a forwarding header is split: brackets and a port,
	// or IPv4 and a port (IPv6 has more than one colon).
	host, _, _, why := splitHostPort(e)
	if why != "" || host == "" {
		return false
	}
	if z := strings.IndexByte(host, '%'); z > 0 {
		if z == len(host)-1 {
			return false // an empty zone
		}
		host = host[:z]
	}
	if strings.IndexByte(host, ':') < 0 {
		return isLooseIPv4(host)
	}
	if !addrChars(host) {
		return false
	}
	// An IPv6 address has a "::" or exactly seven colons: a MAC address
	// or a fingerprint of colon-separated bytes is refused without the
	// parse, whose error allocates.
	if !strings.Contains(host, "::") && strings.Count(host, ":") != 7 {
		return false
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}

// isLooseIPv4 reports whether s is four dot-separated decimal fields of
// one to three digits, each at most 255, leading zeros allowed.
func isLooseIPv4(s string) bool {
	var b [4]byte
	return looseIPv4(s, &b)
}

// looseIPv4 parses t as isLooseIPv4 reads it, into b.
func looseIPv4[T string | []byte](t T, b *[4]byte) bool {
	fields, digits, val := 0, 0, 0
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case '0' <= c && c <= '9':
			if digits++; digits > 3 {
				return false
			}
			if val = val*10 + int(c-'0'); val > 255 {
				return false
			}
		case c == '.' && digits > 0 && fields < 3:
			b[fields] = byte(val)
			fields, digits, val = fields+1, 0, 0
		default:
			return false
		}
	}
	if fields != 3 || digits == 0 {
		return false
	}
	b[3] = byte(val)
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// serverHeaders name the server a client asked for, not the client: an
// address in them is the server's, and they are never removed for holding
// one.
var serverHeaders = []string{"host", "x-forwarded-host", "x-original-host"}

func isServerHeader(k string) bool {
	for _, n := range serverHeaders {
		if len(k) == len(n) && foldEqual(k, n) {
			return true
		}
	}
	return false
}
