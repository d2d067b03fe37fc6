// Package hostaddr tells whether a host name is an IP address or spells
// one in its labels, as wildcard DNS services (nip.io, sslip.io) and ISPs'
// reverse DNS names do. The tracker drops such a Referer host, and a
// clickstore.Click refuses one, since the host is then the address itself
// and would be kept as given.
package hostaddr

import (
	"net/netip"
	"strings"
)

// Host reports whether host, a host name without port in any case, is an
// IP address as a browser reads one (a dotted quad, one number, 0x hex, an
// IPv6 literal) or spells one in its labels: four numbers joined by dots
// or dashes anywhere in it, an IPv6 address with dashes for colons, or an
// address in hex, zero-padded decimal or 32 hex digits (see [Labels] and
// hexQuad), eight hex letters included (deadbeef.nip.io is
// 222.173.190.239, as package logmask reads it when a name follows). A
// host with no digit, '-', ':' or four hex letters in a row is none, and
// costs one pass over its bytes; Host does not allocate unless a label
// looks like a dashed IPv6 address.
func Host(host string) bool { return decide(host, scan(host)) }

// Referrer is [Host] for a referring host as a caller may have written
// it: a host, a host and port, or a whole URL, whose host (without user
// info or port) is what is looked at.
func Referrer(ref string) bool {
	seen := scan(ref)
	if seen&literal == 0 {
		return decide(ref, seen)
	}
	if i := strings.Index(ref, "://"); i >= 0 {
		ref = ref[i+3:]
		if j := strings.IndexAny(ref, "/?#"); j >= 0 {
			ref = ref[:j]
		}
		if j := strings.LastIndexByte(ref, '@'); j >= 0 {
			ref = ref[j+1:]
		}
	}
	if strings.HasPrefix(ref, "[") || strings.Count(ref, ":") > 1 {
		return true // an IPv6 literal
	}
	if j := strings.LastIndexByte(ref, ':'); j >= 0 {
		ref = ref[:j] // a port
	}
	return Host(ref)
}

// decide is Host for host, whose bytes' classes scan found to be seen.
func decide(host string, seen byte) bool {
	return seen&literal != 0 || seen&number != 0 && spelled(host) || seen&hexRun != 0 && hexWord(host)
}

// hexWord reports whether a host name with no digit or '-' (which
// spelled reads) has a label of eight hex letters after at most four
// other letters (see hexQuad). Only a label of 8 to 12 bytes is looked
// at, so that a host of shorter labels costs a pass of IndexByte.
func hexWord(host string) bool {
	for host != "" {
		label := host
		if i := strings.IndexByte(host, '.'); i >= 0 {
			label, host = host[:i], host[i+1:]
		} else {
			host = ""
		}
		if len(label) >= 8 && len(label) <= 12 && hexQuad(label) {
			return true
		}
	}
	return false
}

// scan returns the classes of the bytes in s (see class), and hexRun if
// four bytes from a multiple of four are hex digits, as eight in a row
// (a hex word's label) always are somewhere: in one pass with no branch
// per byte.
func scan(s string) byte {
	var seen byte
	i := 0
	for ; i+4 <= len(s); i += 4 {
		a, b, c, d := class[s[i]], class[s[i+1]], class[s[i+2]], class[s[i+3]]
		seen |= a | b | c | d | (a&b&c&d&hexDigit)<<1
	}
	for ; i < len(s); i++ {
		seen |= class[s[i]]
	}
	return seen
}

// spelled reports whether host, which has a digit or a '-', is an address as a browser reads one or spells one in its
// labels.
func spelled(host string) bool { return numericHost(host) || Labels(host) || hexQuad(host) }

// class marks the bytes Host looks for: those of an address literal, and
// those an address spelled in labels needs.
var class = func() (t [256]byte) {
	t[':'], t['['] = literal, literal
	t['-'] = number
	for c := '0'; c <= '9'; c++ {
		t[c] = number | hexDigit
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c], t[c-'a'+'A'] = hexDigit, hexDigit
	}
	return t
}()

const (
	literal = 1 << iota
	number
	hexDigit
	hexRun // not a byte's class: see scan
)

// numericHost reports whether a URL host is an IPv4 address as a browser
// reads one: its last label is a number, decimal or 0x hexadecimal (the
// WHATWG URL standard's rule; a real top-level domain is never numeric).
// It does not allocate, unlike parsing and failing.
func numericHost(host string) bool {
	host = strings.TrimSuffix(host, ".")
	last := host[strings.LastIndexByte(host, '.')+1:]
	if len(last) > 1 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return last != ""
}

// Labels reports whether host, a host name or a label, spells an address
// in its labels: an IPv4 address as four numbers joined by dots or dashes
// anywhere in it, even run into letters ("198.51.100.7.nip.io",
// "app198-51-100-7.sslip.io", "ec2-198-51-100-7.compute-1.amazonaws.com"),
// or an IPv6 address with dashes for colons in one label
// ("2001-db8--7.sslip.io"). It does not allocate unless a label looks like
// a dashed IPv6 address.
func Labels(host string) bool {
	for i := 0; i < len(host); i++ {
		if isDigit(host[i]) && (i == 0 || !isDigit(host[i-1])) && dottedQuad(host[i:]) {
			return true
		}
	}
	for label := range strings.SplitSeq(host, ".") {
		// The label, or what follows one of its dashes (ip6-2001-db8--7),
		// as package logmask reads a label after a word.
		for k := 0; k < len(label); k++ {
			if (k == 0 || label[k-1] == '-') && dashedIPv6(label[k:]) {
				return true
			}
		}
	}
	return false
}

// hexQuad reports whether a host name holds an address in another
// notation, in a label or a part of one between dashes: an IPv4 address in
// eight hexadecimal digits, as nip.io spells one ("app-c6336407.nip.io")
// and ISPs' reverse DNS names do after a few letters or "0x"
// ("p5dc5a9f2.dip0.t-ipconnect.de"); twelve decimal digits, three an
// octet ("198051100077.ip.example"); or an IPv6 address in 32 hexadecimal
// digits, which must mix digits and letters. Eight hex digits are read as
// an address whatever they are (a date, "deadbeef"), as package logmask
// reads them in a host name, so that no host the tracker keeps is one
// logmask would mask. It is for host names only: a device model may be
// eight such characters.
func hexQuad(host string) bool {
	for part := range strings.FieldsFuncSeq(host, func(r rune) bool { return r == '.' || r == '-' }) {
		switch {
		case len(part) == 32:
		case len(part) == 12 && paddedQuad(part):
			return true
		case len(part) >= 8 && len(part) <= 12:
			prefix := part[:len(part)-8]
			if strings.EqualFold(prefix, "0x") || strings.Trim(strings.ToLower(prefix), "abcdefghijklmnopqrstuvwxyz") == "" {
				if strings.Trim(part[len(part)-8:], "0123456789abcdefABCDEF") == "" {
					return true
				}
			}
			continue
		default:
			continue
		}
		if mixedHex(part) {
			return true
		}
	}
	return false
}

// mixedHex reports whether s is all hexadecimal digits, decimal digits
// and letters both.
func mixedHex(s string) bool {
	digits, letters := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i] | 0x20; {
		case isDigit(s[i]):
			digits++
		case 'a' <= c && c <= 'f':
			letters++
		}
	}
	return digits+letters == len(s) && digits > 0 && letters > 0
}

// paddedQuad reports whether s is twelve decimal digits, each three an
// octet of at most 255.
func paddedQuad(s string) bool {
	for i := 0; i < 12; i += 3 {
		if !isDigit(s[i]) || !isDigit(s[i+1]) || !isDigit(s[i+2]) {
			return false
		}
		if int(s[i]-'0')*100+int(s[i+1]-'0')*10+int(s[i+2]-'0') > 255 {
			return false
		}
	}
	return true
}

// dottedQuad reports whether s starts with four numbers of at most 255,
// of one to three digits each, joined by dots or dashes, the last one not
// followed by a digit.
func dottedQuad(s string) bool {
	for k := range 4 {
		n, v := 0, 0
		for n < len(s) && isDigit(s[n]) {
			v = v*10 + int(s[n]-'0')
			if n++; n > 3 {
				return false
			}
		}
		if n == 0 || v > 255 {
			return false
		}
		s = s[n:]
		if k < 3 {
			if len(s) < 2 || (s[0] != '.' && s[0] != '-') {
				return false
			}
			s = s[1:]
		}
	}
	return true
}

// MayHold reports whether s has what every address package logmask finds
// needs: a colon (IPv6, HAProxy's hex IDs), a '%' (a percent-encoded
// colon), a '<' (Dovecot's base64 session IDs), a hex digit before a dot
// (a dotted quad, an in-addr.arpa name, and a host name's label that
// spells an address with dashes or in hex, as 2001-db8--a.sslip.io or
// c633644d.nip.io), a '-' before a digit (a host name written without
// its domain, ip-10-0-0-5) or a '{' (an Erlang tuple, {203,0,113,9}).
// Text without any costs one pass over its bytes and needs no masker:
// links and labels, as a rule.
func MayHold(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ':', '%', '<', '{':
			return true
		case '.':
			if i > 0 && isHex(s[i-1]) {
				return true
			}
		case '-':
			if i+1 < len(s) && isDigit(s[i+1]) {
				return true
			}
		}
	}
	return false
}

func isHex(c byte) bool { return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'f' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// dashedIPv6 reports whether a label is an IPv6 address written with
// dashes for colons: hex digits and dashes only, with a "--" or eight
// groups, that parses once the dashes are colons.
func dashedIPv6(label string) bool {
	dashes := 0
	for i := 0; i < len(label); i++ {
		switch c := label[i]; {
		case c == '-':
			dashes++
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	if dashes < 2 || (dashes < 7 && !strings.Contains(label, "--")) {
		return false
	}
	_, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ":"))
	return err == nil
}
