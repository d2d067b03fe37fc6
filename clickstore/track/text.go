package track

import (
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/clickanon/clickanon/clickstore"
)

// queryParam returns the first value of key in the raw query, as
// url.Values.Get would, without building the map: it allocates only to
// unescape a key or value that needs it.
func queryParam(raw, key string) string {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				continue
			}
		}
		if k != key {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				continue
			}
		}
		return v
	}
	return ""
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// trimSpace trims ASCII spaces and tabs, the only blanks a header value
// may carry at its ends.
func trimSpace(s string) string { return strings.Trim(s, " \t") }

// truncate returns s cut to at most n bytes, never inside a rune.
func truncate(s string, n int) string {
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n-- // not into a rune
		}
		return s[:n]
	}
	return s
}

// addrText finds addresses in labels and links: mask is the tracker's
// logmask masker, which finds an address in every form logs and URLs
// write it (dotted, IPv6 in any spelling, with a port, in brackets,
// percent-encoded) and masks it to the tracker's policy.
type addrText struct{ mask func(string) string }

// mayHold reports whether s holds what the masker needs to find an
// address: a colon, a percent sign or a digit before a dot. Most labels
// and links hold none, and cost a scan of their bytes.
func mayHold(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ':', c == '%':
			return true
		case c == '.' && i > 0 && isDigit(s[i-1]):
			return true
		}
	}
	return false
}

// spells reports whether the label s holds an address: one the masker
// would change (an address that is already masked is the policy's, and
// stays), or one written with dashes for dots or colons, as host names
// spell them (see spellsAddr).
func (a addrText) spells(s string) bool {
	if mayHold(s) && a.mask(s) != s {
		return true
	}
	return strings.IndexByte(s, '-') >= 0 && spellsAddr(s)
}

// bot returns the bot label a click keeps: l cut to MaxLabelLen, or
// LabelBot when l is not text or spells an address, so that a bot stays a
// bot.
func (a addrText) bot(l string) string {
	if l == "" {
		return ""
	}
	c := truncate(l, clickstore.MaxLabelLen)
	if !clickstore.IsText(c) || a.spells(l) || (len(c) < len(l) && a.spells(c)) {
		return LabelBot
	}
	return c
}

// device returns the device class a click keeps: l, or "" when it is too
// long, not text or spells an address.
func (a addrText) device(l string) string {
	if len(l) > clickstore.MaxLabelLen || !clickstore.IsText(l) || a.spells(l) {
		return ""
	}
	return l
}

// referrerHost returns the host of a Referer header value, lower-cased,
// without port or user info, or "" when there is none. It allocates only
// when the host has upper-case letters.
func referrerHost(ref string) string {
	i := 0
	for i < len(ref) && ref[i] != ':' && ref[i] != '/' {
		i++
	}
	if i+3 > len(ref) || ref[i:i+3] != "://" {
		return "" // not an absolute URL: android-app:// and the like still pass
	}
	// One pass over the authority, which ends at the path, query or
	// fragment: the host is what follows its last '@' (user info) up to
	// the first ':' after that (the port), and only the host's bytes are
	// looked at.
	start, end := i+3, -1
	upper, numbers, bad := false, false, false
	j := start
scan:
	for ; j < len(ref); j++ {
		switch c := ref[j]; {
		case 'a' <= c && c <= 'z', c == '.', c == '_':
		case c == '/', c == '?', c == '#':
			break scan
		case c == '@':
			start, end = j+1, -1
			upper, numbers, bad = false, false, false
		case end >= 0:
			// the port, or user info before an '@'
		case c == ':':
			end = j
		case '0' <= c && c <= '9', c == '-':
			numbers = true
		case 'A' <= c && c <= 'Z':
			upper = true
		default:
			// Not a host name (and nothing a spreadsheet could run); an
			// IPv6 literal's '[' is caught here: an address, never kept.
			bad = true
		}
	}
	if end < 0 {
		end = j
	}
	host := ref[start:end]
	if bad || len(host) > clickstore.MaxReferrerLen {
		return ""
	}
	// An address needs a digit, or dashes for an IPv6 address's colons:
	// most host names have neither and skip the checks.
	if numbers && (numericHost(host) || spellsAddr(host) || hexQuad(host)) {
		return "" // an address, not a host name: never keep it
	}
	if upper {
		b := []byte(host)
		for k := range b {
			b[k] = lower(b[k])
		}
		return string(b)
	}
	return host
}

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

// spellsAddr reports whether a host name spells an address in its labels,
// as wildcard DNS services and reverse-DNS names do: an IPv4 address as
// four numbers joined by dots or dashes anywhere in the name, even run
// into letters ("198.51.100.7.nip.io", "app198-51-100-7.sslip.io",
// "ec2-198-51-100-7.compute-1.amazonaws.com"), or an IPv6 address with
// dashes for colons in one label ("2001-db8--7.sslip.io"). Such a name
// is the address itself, and a visitor chooses what a Referer says. It
// does not allocate unless a label looks like a dashed IPv6 address.
func spellsAddr(host string) bool {
	for i := 0; i < len(host); i++ {
		if isDigit(host[i]) && (i == 0 || !isDigit(host[i-1])) && dottedQuad(host[i:]) {
			return true
		}
	}
	for label := range strings.SplitSeq(host, ".") {
		if dashedIPv6(label) {
			return true
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
// digits. Hex digits alone (a date) or hex letters alone ("deadbeef") are
// taken for words: hex must mix both. It is for host names only: a device
// model may be eight such characters.
func hexQuad(host string) bool {
	for part := range strings.FieldsFuncSeq(host, func(r rune) bool { return r == '.' || r == '-' }) {
		switch {
		case len(part) == 32:
		case len(part) == 12 && paddedQuad(part):
			return true
		case len(part) >= 8 && len(part) <= 12:
			prefix := part[:len(part)-8]
			if strings.EqualFold(prefix, "0x") || strings.Trim(strings.ToLower(prefix), "abcdefghijklmnopqrstuvwxyz") == "" {
				part = part[len(part)-8:]
				break
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

// countryCode returns an ISO 3166-1 alpha-2 code in upper case, or "" for
// anything that is not two ASCII letters.
func countryCode(s string) string {
	if len(s) != 2 {
		return ""
	}
	a, b := s[0]&^0x20, s[1]&^0x20 // ASCII upper case
	if a < 'A' || a > 'Z' || b < 'A' || b > 'Z' {
		return ""
	}
	if a == s[0] && b == s[1] {
		return s
	}
	return string([]byte{a, b})
}
