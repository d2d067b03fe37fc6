package clientip

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/clickanon/clickanon/ipmask"
)

// listWalker yields the elements of a comma-separated header list from the
// right: the last copy of the header first, each copy from its end. It
// never allocates and reads nothing to the left of what it has yielded.
type listWalker struct {
	copies []string // copies not yet started, walked from the last
	cur    string   // the unread part of the current copy
	inCopy bool     // cur still has at least one element
}

// next returns the next element, trimmed of optional whitespace.
func (w *listWalker) next() (string, bool) {
	for !w.inCopy {
		if len(w.copies) == 0 {
			return "", false
		}
		w.cur = w.copies[len(w.copies)-1]
		w.copies = w.copies[:len(w.copies)-1]
		w.inCopy = true
	}
	var e string
	if i := strings.LastIndexByte(w.cur, ','); i >= 0 {
		e, w.cur = w.cur[i+1:], w.cur[:i]
	} else {
		e, w.cur, w.inCopy = w.cur, "", false
	}
	return trimOWS(e), true
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
	n    int // elements read, empty ones included
	seen int // addresses yielded
}

// next returns the next address; ok is false at the end of the list or on
// a failure, which fail then holds.
func (x *xffWalk) next() (a netip.Addr, fail failure, ok bool) {
	for {
		e, more := x.w.next()
		if !more {
			return netip.Addr{}, failure{}, false
		}
		if x.n++; x.n > MaxHops {
			return netip.Addr{}, errTooLong(HeaderXForwardedFor), false
		}
		if e == "" {
			continue
		}
		a, fail := parseEntry(HeaderXForwardedFor, e)
		if fail.sentinel != nil {
			return netip.Addr{}, fail, false
		}
		x.seen++
		return a, failure{}, true
	}
}

// rightmostUntrusted answers the rightmost X-Forwarded-For entry not in t.
func rightmostUntrusted(copies []string, t *Trusted) (netip.Addr, failure) {
	x := xffWalk{w: listWalker{copies: copies}}
	for {
		a, fail, ok := x.next()
		switch {
		case fail.sentinel != nil:
			return netip.Addr{}, fail
		case !ok && x.seen == 0:
			return netip.Addr{}, errAbsent(HeaderXForwardedFor)
		case !ok:
			return netip.Addr{}, failure{sentinel: ErrNoAddr, where: HeaderXForwardedFor, why: "every entry is a trusted proxy"}
		case !t.Contains(a):
			return a, failure{}
		}
	}
}

// trustedHops answers the hops-th non-empty X-Forwarded-For entry from the
// right. The entries to its right are parsed too, so garbage there fails
// closed.
func trustedHops(copies []string, hops int) (netip.Addr, failure) {
	x := xffWalk{w: listWalker{copies: copies}}
	for {
		a, fail, ok := x.next()
		switch {
		case fail.sentinel != nil:
			return netip.Addr{}, fail
		case !ok && x.seen == 0:
			return netip.Addr{}, errAbsent(HeaderXForwardedFor)
		case !ok:
			return netip.Addr{}, failure{sentinel: ErrMalformed, where: HeaderXForwardedFor, why: "fewer entries than trusted hops", n: x.seen, m: hops}
		case x.seen == hops:
			return a, failure{}
		}
	}
}

// singleHeader answers the one address in the one copy of header name.
func singleHeader(copies []string, name string) (netip.Addr, failure) {
	switch len(copies) {
	case 0:
		return netip.Addr{}, errAbsent(name)
	case 1:
	default:
		return netip.Addr{}, failure{sentinel: ErrMalformed, where: name, why: "several copies of a single-address header"}
	}
	v := trimOWS(copies[0])
	if v == "" {
		return netip.Addr{}, errAbsent(name)
	}
	return parseEntry(name, v)
}

// failure describes why a walk found no address. It is a value, built
// without allocating, so that a strategy failing in a chain costs nothing;
// only a failure returned to the caller becomes an error.
type failure struct {
	sentinel error      // ErrNoAddr, ErrUntrusted or ErrMalformed; nil: no failure
	where    string     // the header, "RemoteAddr" or "peer"
	input    string     // the offending text, quoted in the message
	why      string     // a fixed phrase
	n, m     int        // for "fewer entries than trusted hops": found, wanted
	peer     netip.Addr // the untrusted peer, quoted in the message
}

func (f failure) error() error {
	if f.sentinel == nil {
		return nil
	}
	in := f.input
	if f.peer.IsValid() {
		in = f.peer.String()
	}
	if len(in) > 64 {
		in = in[:64] + "..."
	}
	var msg string
	switch {
	case f.n > 0 || f.m > 0:
		msg = fmt.Sprintf("%s (%d, want %d)", f.why, f.n, f.m)
	default:
		msg = f.why
	}
	if in == "" {
		return fmt.Errorf("clientip: %s: %w: %s", f.where, f.sentinel, msg)
	}
	return fmt.Errorf("clientip: %s %q: %w: %s", f.where, in, f.sentinel, msg)
}

func errAbsent(name string) failure {
	return failure{sentinel: ErrNoAddr, where: name, why: "header absent or empty"}
}

func errTooLong(name string) failure {
	return failure{sentinel: ErrMalformed, where: name, why: "more than MaxHops entries examined"}
}

func malformed(name, entry, why string) failure {
	return failure{sentinel: ErrMalformed, where: name, input: entry, why: why}
}

// parsePeer parses http.Request.RemoteAddr: "ip:port", "[ipv6]:port" or a
// bare address. A zone is dropped (the kernel put it there); the address
// is unmapped.
func parsePeer(s string) (a netip.Addr, port uint16, hasPort bool, err failure) {
	if s == "" {
		return netip.Addr{}, 0, false, failure{sentinel: ErrNoAddr, where: "RemoteAddr", why: "empty"}
	}
	host, port, hasPort, why := splitHostPort(s)
	if why == "" {
		a, why = parseHost(host, hasBracket(s))
	}
	if why != "" {
		return netip.Addr{}, 0, false, malformed("RemoteAddr", s, why)
	}
	return a, port, hasPort, failure{}
}

func hasBracket(s string) bool { return len(s) > 0 && s[0] == '[' }

// parseEntry parses one list entry or single-header value: an address,
// optionally with a port ("192.0.2.1:80", "[2001:db8::1]:80") or in
// brackets ("[2001:db8::1]"). An IPv6 address without brackets has no
// port: "2001:db8::1:80" is the address it looks like. Zones are rejected.
func parseEntry(name, e string) (netip.Addr, failure) {
	if strings.IndexByte(e, '%') >= 0 {
		return netip.Addr{}, malformed(name, e, "a zone is not allowed")
	}
	host, _, _, why := splitHostPort(e)
	var a netip.Addr
	if why == "" {
		a, why = parseHost(host, hasBracket(e))
	}
	if why != "" {
		return netip.Addr{}, malformed(name, e, why)
	}
	return a, failure{}
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

// parseHost parses an address with ipmask.ParseAddr (strict: no leading
// zeros; a zone, if the caller let one through, is dropped), checks that a
// bracketed host is IPv6 and an unbracketed host with a port IPv4, unmaps
// it and rejects the unspecified address.
func parseHost(host string, bracketed bool) (netip.Addr, string) {
	a, err := ipmask.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, "not an IP address"
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

// forwarded answers the rightmost for= node in the Forwarded header that is
// not in t.
func forwarded(copies []string, t *Trusted) (netip.Addr, failure) {
	seen := 0
	n := 0
	for i := len(copies) - 1; i >= 0; i-- {
		v := copies[i]
		for more := true; more; {
			var e string
			var err failure
			e, v, more, err = lastElement(v)
			if err.sentinel != nil {
				return netip.Addr{}, err
			}
			n++
			if n > MaxHops {
				return netip.Addr{}, errTooLong(HeaderForwarded)
			}
			e = trimOWS(e)
			if e == "" {
				continue
			}
			seen++
			a, err := forwardedFor(e)
			if err.sentinel != nil {
				return netip.Addr{}, err
			}
			if !t.Contains(a) {
				return a, failure{}
			}
		}
	}
	if seen == 0 {
		return netip.Addr{}, errAbsent(HeaderForwarded)
	}
	return netip.Addr{}, failure{sentinel: ErrNoAddr, where: HeaderForwarded, why: "every node is a trusted proxy"}
}

// maxElement bounds how far back lastElement looks for the start of one
// Forwarded element.
const maxElement = 1024

// lastElement splits the last element off the Forwarded list v, honouring
// quoted strings (a comma inside quotes does not end an element). It
// returns the element, what is left of v, and whether anything is left.
func lastElement(v string) (elem, rest string, more bool, err failure) {
	inQuote := false
	stop := max(0, len(v)-maxElement)
	for i := len(v) - 1; i >= stop; i-- {
		c := v[i]
		if inQuote {
			if c == '"' {
				k := 0
				for j := i - 1; j >= 0 && v[j] == '\\'; j-- {
					k++
				}
				if k%2 == 0 {
					inQuote = false
				}
			}
			continue
		}
		switch c {
		case '"':
			inQuote = true
		case ',':
			return v[i+1:], v[:i], true, failure{}
		}
	}
	if inQuote {
		return "", "", false, malformed(HeaderForwarded, v[stop:], "unterminated quoted string")
	}
	if stop > 0 {
		return "", "", false, malformed(HeaderForwarded, v[stop:], "element too long")
	}
	return v, "", false, failure{}
}

// forwardedFor returns the address in the for= parameter of element e.
func forwardedFor(e string) (netip.Addr, failure) {
	var node string
	found := false
	for rest := e; ; {
		var pair string
		var err failure
		pair, rest, err = nextPair(rest, e)
		if err.sentinel != nil {
			return netip.Addr{}, err
		}
		pair = trimOWS(pair)
		eq := strings.IndexByte(pair, '=')
		if eq <= 0 || !validToken(pair[:eq]) {
			return netip.Addr{}, malformed(HeaderForwarded, e, "not a list of name=value pairs")
		}
		name, val := pair[:eq], pair[eq+1:]
		if strings.EqualFold(name, "for") {
			if found {
				return netip.Addr{}, malformed(HeaderForwarded, e, "two for= parameters")
			}
			found = true
			node, err = unquote(val, e)
			if err.sentinel != nil {
				return netip.Addr{}, err
			}
		} else if _, err := unquote(val, e); err.sentinel != nil {
			return netip.Addr{}, err
		}
		if rest == "" {
			break
		}
	}
	if !found {
		return netip.Addr{}, malformed(HeaderForwarded, e, "no for= parameter")
	}
	return forwardedNode(node, e)
}

// nextPair splits the first ;-separated pair off s, honouring quotes.
func nextPair(s, elem string) (pair, rest string, err failure) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ';':
			if i == len(s)-1 {
				return "", "", malformed(HeaderForwarded, elem, "empty parameter")
			}
			return s[:i], s[i+1:], failure{}
		}
	}
	if inQuote {
		return "", "", malformed(HeaderForwarded, elem, "unterminated quoted string")
	}
	return s, "", failure{}
}

// unquote returns a token value as it is and a quoted value without its
// quotes. A quoted value holding a backslash is refused: no node needs
// one, and refusing saves unescaping.
func unquote(v, elem string) (string, failure) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		if strings.IndexByte(v, '\\') >= 0 || strings.IndexByte(v, '"') >= 0 {
			return "", malformed(HeaderForwarded, elem, "escape in a quoted value")
		}
		return v, failure{}
	}
	if !validToken(v) {
		return "", malformed(HeaderForwarded, elem, "value is neither a token nor a quoted string")
	}
	return v, failure{}
}

// forwardedNode parses an RFC 7239 node: IPv4 or bracketed IPv6, with an
// optional port or obfuscated port. "unknown" and obfuscated identifiers
// are errors: the walk cannot see past them.
func forwardedNode(node, elem string) (netip.Addr, failure) {
	host, port := node, ""
	if hasBracket(node) {
		j := strings.IndexByte(node, ']')
		if j < 0 {
			return netip.Addr{}, malformed(HeaderForwarded, elem, "unterminated bracket")
		}
		host, port = node[1:j], node[j+1:]
		if port != "" && port[0] != ':' {
			return netip.Addr{}, malformed(HeaderForwarded, elem, "text after the bracket")
		}
	} else if i := strings.IndexByte(node, ':'); i >= 0 {
		host, port = node[:i], node[i:]
	}
	if port != "" {
		p := port[1:]
		if _, ok := parsePort(p); !ok && !isObfuscated(p) {
			return netip.Addr{}, malformed(HeaderForwarded, elem, "bad port")
		}
	}
	if strings.EqualFold(host, "unknown") || isObfuscated(host) {
		return netip.Addr{}, malformed(HeaderForwarded, elem, "unknown or obfuscated node hides the hop")
	}
	if strings.IndexByte(host, '%') >= 0 {
		return netip.Addr{}, malformed(HeaderForwarded, elem, "a zone is not allowed")
	}
	a, why := parseHost(host, hasBracket(node))
	if why == "" && !hasBracket(node) && !a.Is4() {
		why = "IPv6 node without brackets"
	}
	if why != "" {
		return netip.Addr{}, malformed(HeaderForwarded, elem, why)
	}
	return a, failure{}
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
