package logmask

import (
	"bytes"
	"encoding/base64"
	"iter"
	"net/netip"
)

// Byte classes. A token is a maximal run of bytes of class cT (hex digits,
// ':' and '.'); only tokens can hold an address, so the scanner skips
// everything else with one table lookup per byte.
const (
	cDigit = 1 << iota // 0-9
	cHex               // a-f, A-F
	cColon             // :
	cDot               // .
	cWord              // letters g-z, G-Z and '_': glue that makes a token an identifier
	cZone              // bytes allowed in a %zone: A-Z a-z 0-9 _ . -
	cSafe              // bytes that can never touch an address token: a safe place to cut a line
	cRare              // '<', '{' and '-': where a reading that is no token may start (see next)

	cT = cDigit | cHex | cColon | cDot
)

// maxZone is the longest %zone taken as part of an address (and dropped with
// it). Interface names are at most 15 bytes on Linux and numbers on Windows.
const maxZone = 64

var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		switch {
		case '0' <= b && b <= '9':
			t[c] = cDigit | cZone
		case 'a' <= b && b <= 'f', 'A' <= b && b <= 'F':
			t[c] = cHex | cZone
		case 'g' <= b && b <= 'z', 'G' <= b && b <= 'Z', b == '_':
			t[c] = cWord | cZone
		case b == ':':
			t[c] = cColon
		case b == '.':
			t[c] = cDot | cZone
		case b == '-':
			t[c] = cZone | cRare
		case b == '<', b == '{':
			t[c] = cSafe | cRare
		case b == '%':
			// neither zone nor safe
		default:
			t[c] = cSafe
		}
	}
	return t
}()

var hexVal = func() (t [256]uint8) {
	for c := range t {
		t[c] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = uint8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = uint8(c - 'a' + 10)
		t[c-'a'+'A'] = uint8(c - 'a' + 10)
	}
	return t
}()

// parse4 parses a dotted quad of four decimal numbers from 0 to 255 with one
// to three digits each. Unlike ipmask.ParseAddr it accepts leading zeros
// (192.000.002.001): a logger that pads octets still wrote an address, and
// passing it through would leak it. Such text is read as decimal.
func parse4(b []byte) (a [4]byte, ok bool) {
	part, digits, v := 0, 0, 0
	for _, c := range b {
		if c == '.' {
			if digits == 0 || part == 3 {
				return a, false
			}
			a[part] = byte(v)
			part, digits, v = part+1, 0, 0
			continue
		}
		if c < '0' || c > '9' {
			return a, false
		}
		v = v*10 + int(c-'0')
		digits++
		if digits > 3 || v > 255 {
			return a, false
		}
	}
	if part != 3 || digits == 0 {
		return a, false
	}
	a[3] = byte(v)
	return a, true
}

// parse6 parses any RFC 4291 text form of an IPv6 address (no zone): hex
// groups of one to four digits, at most one "::", and optionally a dotted
// IPv4 tail in the last 32 bits (read by parse4).
func parse6(s []byte) (netip.Addr, bool) {
	var ip [16]byte
	ellipsis := -1
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis = 0
		s = s[2:]
		if len(s) == 0 {
			return netip.IPv6Unspecified(), true
		}
	}
	i := 0
	for i < 16 {
		j, acc := 0, uint32(0)
		for j < len(s) {
			v := hexVal[s[j]]
			if v == 0xff {
				break
			}
			acc = acc<<4 | uint32(v)
			j++
			if j > 4 {
				return netip.Addr{}, false
			}
		}
		if j == 0 {
			return netip.Addr{}, false
		}
		if j < len(s) && s[j] == '.' {
			// A dotted IPv4 tail: the last 32 bits, so it ends the text.
			if (ellipsis < 0 && i != 12) || i > 12 {
				return netip.Addr{}, false
			}
			v4, ok := parse4(s)
			if !ok {
				return netip.Addr{}, false
			}
			copy(ip[i:], v4[:])
			i += 4
			s = nil
			break
		}
		ip[i], ip[i+1] = byte(acc>>8), byte(acc)
		i += 2
		s = s[j:]
		if len(s) == 0 {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return netip.Addr{}, false
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis = i
			s = s[1:]
			if len(s) == 0 {
				break
			}
		}
	}
	if len(s) != 0 {
		return netip.Addr{}, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return netip.Addr{}, false
		}
		n := 16 - i
		copy(ip[ellipsis+n:], ip[ellipsis:i])
		clear(ip[ellipsis : ellipsis+n])
	} else if ellipsis >= 0 {
		return netip.Addr{}, false // "::" must stand for at least one group
	}
	return netip.AddrFrom16(ip), true
}

// parseAddr parses an IPv4 dotted quad or an IPv6 address, without zone.
func parseAddr(b []byte) (netip.Addr, bool) {
	for _, c := range b {
		if c == ':' {
			return parse6(b)
		}
	}
	a, ok := parse4(b)
	if !ok {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(a), true
}

// A Match is one address found in text by [Addrs]: Addr is the address (its
// zone dropped) and text[Start:End] the bytes that wrote it, including any
// %zone but not brackets or a port. For a reverse DNS name, text[Start:End]
// is its labels and Addr the address or network they stand for.
//
// The zero Match has the zero Addr and an empty span.
type Match struct {
	Addr       netip.Addr
	Start, End int
}

// Addrs returns an iterator over every address in text, in order, found by
// the rules the package documentation states: the same scan that
// [Masker.AppendMask] masks. The iterator reads text as it goes; do not
// modify text while iterating.
func Addrs(text []byte) iter.Seq[Match] {
	return func(yield func(Match) bool) {
		var d *decoded
		scan := text
		if hasPctColon(text) {
			d = new(decoded)
			d.decode(text)
			scan = d.text
		}
		sc := newScanner(scan)
		for {
			m, ok := sc.next()
			if !ok {
				return
			}
			sc.took(m)
			m.Start, _ = d.orig(m.Start)
			m.End, _ = d.orig(m.End)
			if !yield(m) {
				return
			}
		}
	}
}

// scanner finds addresses in s from position i on.
type scanner struct {
	s []byte
	i int
	// While i < quadEnd the scanner is inside a token whose whole text is
	// not an address and looks only for dotted quads in it.
	quadEnd int
	// portEnd is the end of the ":port" after the last match, or 0. If
	// cut, it is instead the end of the hex digits that ran on past the
	// last match in its last group (2001:db8::1abcd before a word).
	portEnd int
	cut     bool
	// keyAt is where the key of the last match starts when it was read as
	// a key, a colon and an address with nothing glued to the key's left
	// ("dead:2001:db8:1:2:3:4:5:abc"), or -1. Such a key could read, with
	// the masked address after it, as one address; see Masker.remaskKey.
	keyAt int
	// form is how the last match wrote its address: formText, or one of
	// the forms reverseName and hyphenQuad read.
	form form
	// pending is a match to return once the quads before it are found.
	pending pending
	// end is where the text of the last match taken (see took) ended,
	// or 0.
	end int
	// dashDot is the '.' after the last dashed label read that ends in
	// its "--" (2001-db8--.sslip.io), or 0: the scan goes on from it, as
	// the start of the next token (--.0:::1 reads .0:::1 as it does
	// alone), and does not read the label again there.
	dashDot int
}

// pending is a match held back, with the scanner state to return it with.
type pending struct {
	m                 Match
	portEnd, keyAt, i int
	cut, ok           bool
	form              form
}

// rareAt reads, where s[r] is '<', '{' or '-', what may follow that
// byte: a Dovecot session ID after a '<', an Erlang tuple after a '{', and
// after a '-' and a decimal digit a host name's label ending in a
// hyphenated quad that no name follows (ip-10-0-0-5 sshd[42]:); one that
// a name, a '.' or a ':' follows is found with the token there. The
// scanner goes on after s[r], or after the match.
func (sc *scanner) rareAt(r int) (Match, bool) {
	s := sc.s
	sc.i = r + 1
	switch s[r] {
	case '<':
		return sc.session(r)
	case '{':
		return sc.tuple(r)
	}
	a := r + 1
	if a >= len(s) || class[s[a]]&cDigit == 0 {
		return Match{}, false
	}
	e := a + 1
	for e < len(s) && class[s[e]]&cDigit != 0 {
		e++
	}
	if e < len(s) && class[s[e]]&(cDot|cColon) != 0 {
		return Match{}, false
	}
	return sc.hyphenQuad(a)
}

// stop is the class of the bytes next stops at.
const stop = cColon | cDot | cRare

// skip returns the position of the first byte at or after p that next
// stops at: a '.', ':', '<' or '{', or a '-' before a decimal digit. It
// reads four bytes a round, which is what makes one table lookup a byte
// cheaper than a vectorised bytes.IndexByte for each of those bytes (most
// of a log's tokens are a few bytes apart).
func skip(s []byte, p int) int {
	for {
		for ; p+4 <= len(s); p += 4 {
			w := s[p : p+4 : p+4]
			if class[w[0]]&stop != 0 {
				break
			}
			if class[w[1]]&stop != 0 {
				p++
				break
			}
			if class[w[2]]&stop != 0 {
				p += 2
				break
			}
			if class[w[3]]&stop != 0 {
				p += 3
				break
			}
		}
		for p < len(s) && class[s[p]]&stop == 0 {
			p++
		}
		if p+1 < len(s) && s[p] == '-' && class[s[p+1]]&cDigit == 0 {
			p++ // a '-' before anything but a digit starts no reading
			continue
		}
		return p
	}
}

func newScanner(s []byte) scanner { return scanner{s: s, keyAt: -1} }

// took notes that the caller has taken m, the last match next returned,
// with its port or the hex digits cut off after it: a reading that
// starts before their end is not looked for.
func (sc *scanner) took(m Match) { sc.end = max(m.End, sc.portEnd) }

// next returns the next address in s, or false when there is none.
func (sc *scanner) next() (Match, bool) {
	s := sc.s
	n := len(s)
	sc.form = formText
	for {
		if sc.i < sc.quadEnd {
			if m, ok := sc.quad(sc.quadEnd); ok {
				return m, true
			}
			sc.i = sc.quadEnd
		}
		if sc.pending.ok { // rare: tested before anything is copied
			p := &sc.pending
			p.ok = false
			sc.i, sc.portEnd, sc.keyAt, sc.cut, sc.form = p.i, p.portEnd, p.keyAt, p.cut, p.form
			return p.m, true
		}
		// Only a token holding ':' or '.' can be an address, so skip to
		// the next of those bytes and widen it to its token, never back
		// past sc.i. Every other reading starts at a '<', '{' or '-',
		// which are no token's bytes: one table lookup finds them all.
		p := skip(s, sc.i)
		if p < n && class[s[p]]&cRare != 0 {
			if m, ok := sc.rareAt(p); ok {
				return m, true
			}
			continue
		}
		if p >= n {
			sc.i = n
			return Match{}, false
		}
		// Widen p to its token s[a:i]: back to a, over hex digits only
		// (p is the first '.' or ':' from sc.i on), then on to i,
		// counting its colons and dots and noting the classes met from p
		// on (where every label after a '.' is). A "::" is a colon whose
		// left neighbour in the token is one too.
		colons, dots, met := 0, 0, uint8(0)
		a := p
		for a > sc.i && class[s[a-1]]&cT != 0 {
			a--
		}
		// The loop has no branch but its end: the bytes of address
		// text come in no order a branch predictor could learn.
		i, pairs, prev := p, uint8(0), uint8(0)
		for i < n {
			c := class[s[i]]
			if c&cT == 0 {
				break
			}
			met |= c
			pairs |= c & prev // cColon set: a ':' after a ':'
			prev = c
			colons += int(c&cColon) / cColon
			dots += int(c&cDot) / cDot
			i++
		}
		double := pairs&cColon != 0
		b := i
		sc.i = b
		// A host name's label that is an IPv6 address with '-' for ':'
		// (2001-db8--7.sslip.io, 2001-db8-1-2-3-4-5-6.ipv6.example.net),
		// also one that ends in its "--" (2001-db8--.sslip.io), as a
		// masked one does. Its last four groups may also read as a
		// hyphenated quad; appendForm masks both readings.
		if a > 1 && a != sc.dashDot && s[a-1] == '-' && (class[s[a]]&(cDigit|cHex) != 0 || s[a] == '.' && s[a-2] == '-') {
			if m, ok := sc.dashed6(sc.end, a); ok {
				return m, true
			}
		}
		// A host name's label ending in an address written with hyphens
		// (ec2-203-0-113-9.compute-1.amazonaws.com), also where a port
		// follows the name (203-0-113-9.be:443).
		if a > 0 && s[a-1] == '-' && class[s[a]]&cDigit != 0 {
			if m, ok := sc.hyphenQuad(a); ok {
				return m, true
			}
		}
		// A host name's label ending in an IPv4 address in hex
		// (p5dc5a9f2.dip0.t-ipconnect.de, c633644d.nip.io). A token of
		// digits and three dots that does not end in a dot, as an IPv4
		// address's, cannot hold one that a name follows: the name's
		// first label starts with a letter, a hex one after p or, past
		// the token, any other, after the '.' that ends the token.
		if colons == 0 && b-a > 8 && (dots != 3 || met&cHex != 0 || s[b-1] == '.') {
			if m, ok := sc.hexLabel(a, b); ok {
				if m.Start > a+1 { // rare: the token may hold a dotted quad before it
					sc.pending = pending{m: m, i: sc.i, keyAt: -1, form: sc.form, ok: true}
					// The quads found first are text, not the label's form.
					sc.i, sc.quadEnd, sc.form = a, m.Start-1, formText
					continue
				}
				return m, true
			}
		}
		if colons == 0 {
			// A reverse DNS name ends its token with a '.' before
			// "in-addr.arpa" or "ip6.arpa".
			if b < n && s[b]|0x20 == 'i' && s[b-1] == '.' {
				if m, ok := sc.reverseName(a, b); ok {
					return m, true
				}
			}
			if dots >= 3 { // look for dotted quads in it
				// A token that is a dotted quad and nothing more, after
				// a byte that ends no escape (escapeEnd), is what quad
				// would read as its one piece: read it here, exactly as
				// quad does, without a second pass over it. No name
				// follows it (nameQuad): the byte after it is no '.'.
				// Anything else (hex digits, "..", five numbers, an
				// escape before it) goes to quad.
				if dots == 3 && met&cHex == 0 && class[s[a]]&cDigit != 0 && class[s[b-1]]&cDigit != 0 &&
					(a == 0 || class[s[a-1]]&cSafe != 0 && s[a-1] != '#' && s[a-1] != '\\') {
					if v4, ok := parse4(s[a:b]); ok {
						return Match{Addr: netip.AddrFrom4(v4), Start: a, End: b}, true
					}
				}
				sc.i = a
				sc.quadEnd = b
			}
			continue
		}
		// Enough colons for an IPv6 address (eight groups, a "::", or a
		// dotted tail), or a dotted quad with a port?
		if colons < 7 && !double && dots < 3 {
			if colons == 1 && dots == 0 && b-a == 13 { // rare: HAProxy's unique IDs
				if m, ok := sc.hexQuad(a, b); ok {
					return m, true
				}
			}
			if colons == 1 && dots == 1 && b < n && s[b] == ')' { // rare: an audit record's timestamp
				if m, ok := sc.auditAddr(a, b); ok {
					return m, true
				}
			}
			continue
		}
		sc.portEnd, sc.keyAt, sc.cut = 0, -1, false
		from := a
		if dots > 0 {
			// A '.' right before the token's first colon ends what
			// comes before it, which no address then starts with: a
			// sentence or a name may end right before an address that
			// starts with "::" (ended.::ffff:cb00:7109).
			if k := bytes.IndexByte(s[a:b], ':'); k > 0 && s[a+k-1] == '.' {
				from = a + k
			}
		}
		if m, ok := sc.colonToken(from, b); ok {
			if m.Start > a+1 && bytes.Count(s[a:m.Start], []byte{'.'}) >= 3 {
				// A key that may hold a dotted quad (1.2.3.4:2001:db8::1):
				// look for quads in it, then return m.
				sc.pending = pending{m: m, portEnd: sc.portEnd, keyAt: sc.keyAt, i: max(b, m.End), cut: sc.cut, ok: true}
				sc.i, sc.quadEnd, sc.portEnd, sc.keyAt, sc.cut = a, m.Start-1, 0, -1, false
				continue
			}
			sc.i = max(b, m.End) // past the token and any %zone
			return m, true
		}
		if dots >= 3 {
			sc.i = a
			sc.quadEnd = b
		}
	}
}

// session reads, where s[lt] is '<', a Dovecot session ID: 16 or 32
// base64 characters and a '>' after "session=<" (its login lines) or after
// ")<" and a process ID and "><" (the prefix of its mail processes' lines:
// "imap(alice)<4321><...>"). Dovecot writes there, in base64, a 48-bit
// timestamp, the client's port and its IPv4 (16 characters) or IPv6 (32)
// address; the match's Addr is that address, its span the base64 text.
func (sc *scanner) session(lt int) (Match, bool) {
	s := sc.s
	switch {
	case lt >= 8 && string(s[lt-8:lt]) == "session=":
	case lt >= 4 && s[lt-1] == '>':
		j := lt - 1
		for j > 0 && class[s[j-1]]&cDigit != 0 {
			j--
		}
		if j == lt-1 || j < 2 || s[j-1] != '<' || s[j-2] != ')' {
			return Match{}, false
		}
	default:
		return Match{}, false
	}
	a := lt + 1
	e := a
	for e < len(s) && e-a <= 32 && isBase64(s[e]) {
		e++
	}
	if e >= len(s) || s[e] != '>' || e-a != 16 && e-a != 32 {
		return Match{}, false
	}
	var b [24]byte
	if _, err := base64.StdEncoding.Decode(b[:], s[a:e]); err != nil {
		return Match{}, false
	}
	addr := netip.AddrFrom16([16]byte(b[8:24]))
	if e-a == 16 {
		addr = netip.AddrFrom4([4]byte(b[8:12]))
	}
	sc.i = e
	sc.portEnd, sc.keyAt, sc.cut, sc.form = 0, -1, false, formSession
	return Match{Addr: addr, Start: a, End: e}, true
}

func isBase64(c byte) bool {
	return class[c]&(cDigit|cHex|cWord) != 0 && c != '_' || c == '+' || c == '/'
}

// form is how a match writes its address.
type form int8

const (
	formText    form = iota // as text: dotted, colons, or both
	formHyphen              // a dotted quad with '-' for '.' (hyphenQuad)
	formInAddr              // in-addr.arpa labels (reverseName)
	formIP6                 // ip6.arpa nibbles (reverseName)
	formSession             // a Dovecot session ID (session)
	formHex                 // the address's bytes in hex, as HAProxy's unique IDs (hexQuad) and audit's saddr (auditAddr)
	formName                // a dotted quad that is labels of a host name (nameQuad)
	formDash                // IPv6 with '-' for ':' in a host name's label (dashed6)
	formPadded              // twelve zero-padded decimal digits in a host name's label (hexLabel)
	formTuple               // an Erlang tuple of decimal octets or 16-bit groups (tuple)
)

// hexQuad reads the token s[a:b], which holds one colon, as the start of
// a HAProxy unique ID in the format its documentation gives
// (%{+X}o %ci:%cp_%fi:%fp_..., 7F000001:8296_7F00001E:1F90_...): eight
// hex digits, a colon, four and a '_' after them. The eight digits are an
// IPv4 address, the client's or the frontend's; the four its port.
func (sc *scanner) hexQuad(a, b int) (Match, bool) {
	s := sc.s
	k := a + 8
	if b-a != 13 || b >= len(s) || s[b] != '_' || s[k] != ':' || !hexRun(s[a:k]) || !hexRun(s[k+1:b]) {
		return Match{}, false
	}
	var v [4]byte
	for j := range v {
		v[j] = hexVal[s[a+2*j]]<<4 | hexVal[s[a+2*j+1]]
	}
	sc.portEnd, sc.keyAt, sc.cut, sc.form = 0, -1, false, formHex
	return Match{Addr: netip.AddrFrom4(v), Start: a, End: k}, true
}

// tuple reads, where s[at] is '{', an address as Erlang and Elixir write
// one (inet:ip_address(), Plug's remote_ip, Cowboy's peer): a tuple of
// four decimal numbers up to 255 (IPv4) or eight up to 65535 (IPv6, a
// 16-bit group each), separated by commas with or without spaces:
// {203,0,113,9} and {8193, 3512, 0, 0, 0, 0, 0, 1}. The match is the
// tuple, braces included. On success, the scanner goes on after it.
func (sc *scanner) tuple(at int) (Match, bool) {
	s := sc.s
	var v [8]uint32
	n, k := 0, at+1
	for {
		for k < len(s) && s[k] == ' ' {
			k++
		}
		d := k
		x := uint32(0)
		for k < len(s) && class[s[k]]&cDigit != 0 && k-d < 5 {
			x = x*10 + uint32(s[k]-'0')
			k++
		}
		if k == d || n == len(v) || x > 0xffff || k < len(s) && class[s[k]]&cDigit != 0 {
			return Match{}, false
		}
		v[n] = x
		n++
		for k < len(s) && s[k] == ' ' {
			k++
		}
		if k >= len(s) || s[k] != ',' && s[k] != '}' {
			return Match{}, false
		}
		k++
		if s[k-1] == '}' {
			break
		}
	}
	var a netip.Addr
	switch n {
	case 4:
		if v[0]|v[1]|v[2]|v[3] > 0xff {
			return Match{}, false
		}
		a = netip.AddrFrom4([4]byte{byte(v[0]), byte(v[1]), byte(v[2]), byte(v[3])})
	case 8:
		var b [16]byte
		for j, x := range v {
			b[2*j], b[2*j+1] = byte(x>>8), byte(x)
		}
		a = netip.AddrFrom16(b)
	default:
		return Match{}, false
	}
	sc.i = k
	sc.portEnd, sc.keyAt, sc.cut, sc.form = 0, -1, false, formTuple
	return Match{Addr: a, Start: at, End: k}, true
}

// auditAddr reads, where the token s[a:b] is a Linux audit record's
// timestamp and serial after "audit(" (msg=audit(1718092800.123:456):),
// a SOCKADDR record's "saddr=" after it: the struct sockaddr the syscall
// was given, in hex, its family first (0200 AF_INET, 0A00 AF_INET6,
// little-endian; 0002 and 000A big-endian), then the port, then the
// address (for AF_INET6 after the 32-bit flow label). The match is the
// address's hex digits. On success, the scanner goes on after the hex.
func (sc *scanner) auditAddr(a, b int) (Match, bool) {
	s := sc.s
	const key = "): saddr="
	h := b + len(key)
	if a < 6 || string(s[a-6:a]) != "audit(" || h > len(s) || string(s[b:h]) != key {
		return Match{}, false
	}
	e := h
	for e < len(s) && hexVal[s[e]] != 0xff {
		e++
	}
	if e-h < 16 {
		return Match{}, false
	}
	fam := [2]byte{hexVal[s[h]]<<4 | hexVal[s[h+1]], hexVal[s[h+2]]<<4 | hexVal[s[h+3]]}
	var m Match
	switch {
	case fam == [2]byte{2, 0} || fam == [2]byte{0, 2}:
		var v [4]byte
		for j := range v {
			v[j] = hexVal[s[h+8+2*j]]<<4 | hexVal[s[h+9+2*j]]
		}
		m = Match{Addr: netip.AddrFrom4(v), Start: h + 8, End: h + 16}
	case (fam == [2]byte{10, 0} || fam == [2]byte{0, 10}) && e-h >= 48:
		var v [16]byte
		for j := range v {
			v[j] = hexVal[s[h+16+2*j]]<<4 | hexVal[s[h+17+2*j]]
		}
		m = Match{Addr: netip.AddrFrom16(v), Start: h + 16, End: h + 48}
	default:
		return Match{}, false
	}
	sc.i = e
	sc.portEnd, sc.keyAt, sc.cut, sc.form = 0, -1, false, formHex
	return m, true
}

// hyphenQuad reads, where s[a] starts the last of a run of decimal numbers
// joined by '-' that ends a host name's label (a '.' then a letter or digit
// follow it), the last four numbers as an IPv4 address: 203-0-113-9 in
// 203-0-113-9.dyn.example.net or ec2-203-0-113-9.compute-1.amazonaws.com.
// Each number is an octet of one to three digits; the first starts the
// label (after a byte that is not a letter, digit, '.' or ':', or after a
// '.' that ends a label not ending in a digit, as www. in
// www.203-0-113-9.sslip.io) or follows a '-' after a part that is not all
// digits, as a fifth number would be
// (1-2-3-4-5.example.net is not read). A last number that
// starts four or more dotted ones (203-0-113-9.1.2.3) is read as the
// dotted quad it starts instead. On success, the scanner goes on from the
// '.' after the address.
func (sc *scanner) hyphenQuad(a int) (Match, bool) {
	s := sc.s
	e := a
	for e < len(s) && class[s[e]]&cDigit != 0 {
		e++
	}
	// short: no name follows the label, as where syslog writes a host
	// name without its domain (ip-10-0-0-5 sshd[42]:): read only after a
	// word and a '-', and not where the label runs on.
	short := false
	if e+1 >= len(s) || s[e] != '.' || class[s[e+1]]&(cDigit|cHex|cWord) == 0 || s[e+1] == '_' {
		if e < len(s) && (class[s[e]]&(cHex|cWord) != 0 || s[e] == '-') {
			return Match{}, false
		}
		short = true
	} else if startsQuad(s, e) {
		return Match{}, false // the last number starts a dotted quad, read as such
	}
	var v [4]byte
	start := e // where the number being read ends, then where the first starts
	for k := 3; k >= 0; k-- {
		j := start
		for j > 0 && class[s[j-1]]&cDigit != 0 {
			j--
		}
		x, ok := octet(s[j:start])
		if !ok {
			return Match{}, false
		}
		v[k] = x
		start = j
		if k > 0 {
			if j == 0 || s[j-1] != '-' {
				return Match{}, false
			}
			start = j - 1
		}
	}
	if short && (start < 2 || s[start-1] != '-' || class[s[start-2]]&(cDigit|cHex|cWord) == 0 || s[start-2] == '_') {
		return Match{}, false // build 1-2-3-4: no word before it
	}
	if start > 0 {
		switch c := s[start-1]; {
		case c == '-':
			j := start - 1
			for j > 0 && class[s[j-1]]&cDigit != 0 {
				j--
			}
			if j < start-1 && (j == 0 || class[s[j-1]]&(cHex|cWord) == 0) {
				return Match{}, false // a fifth number
			}
		case c == '.' && (start < 2 || class[s[start-2]]&cDigit == 0):
			// A name's earlier label (www.203-0-113-9.sslip.io).
		case class[c]&(cHex|cWord|cDot|cColon) != 0:
			return Match{}, false // run into a word, or the end of other address text
		}
	}
	if dashedMAC(s, start, e) {
		return Match{}, false
	}
	sc.i = e
	sc.portEnd, sc.keyAt, sc.cut, sc.form = 0, -1, false, formHyphen
	return Match{Addr: netip.AddrFrom4(v), Start: start, End: e}, true
}

// dashedMAC reports whether the four numbers s[a:e] joined by '-' end a
// MAC address written with dashes, as Windows (ipconfig, its DHCP
// server's and NPS's logs) and RADIUS's Calling-Station-Id write it
// (C3-CD-79-09-60-68): six groups of two hex digits, the last four all
// decimal, with no letter, digit, '-' or '.' glued to either end.
func dashedMAC(s []byte, a, e int) bool {
	if e-a != 11 || a < 6 || a > 6 && (class[s[a-7]]&(cDigit|cHex|cWord) != 0 || s[a-7] == '-' || s[a-7] == '.') {
		return false
	}
	if e < len(s) && (class[s[e]]&(cDigit|cHex|cWord) != 0 || s[e] == '-') {
		return false
	}
	for i := a - 6; i < e; i += 3 {
		if hexVal[s[i]] == 0xff || hexVal[s[i+1]] == 0xff || i+2 < e && s[i+2] != '-' {
			return false
		}
	}
	return true
}

// hexLabel reads, in the token s[a:b], a host name's label that ends in
// eight hex digits, as ISPs' reverse DNS names (p5dc5a9f2.dip0.t-ipconnect.de,
// ipb21b4c4b.dynamic.kabel-deutschland.de) and nip.io (c633644d.nip.io,
// app-c633644d.nip.io) write an IPv4 address: the eight digits are the
// address. The label must be followed by a '.', a label that starts with
// a letter, a '.' and another label (a file name's one extension is not
// a name), and what comes before the eight digits in it must be nothing,
// one to four letters, or end in '-' ('_' is a label's byte here, so
// _c633644d is not read and a_-c633644d is). A label after a ':', or a
// number and a '.', the end of other text, is not read, nor one in a token
// that holds a ':' (the caller's to check). On success, the
// scanner goes on from the '.' after the label.
func (sc *scanner) hexLabel(a, b int) (Match, bool) {
	s := sc.s
	for p := a; p < b; {
		q := p + bytes.IndexByte(s[p:b], '.')
		if q < p {
			return Match{}, false
		}
		if q-p >= 8 && hexRun(s[p:q]) && namesAfter(s, q) {
			if q-p >= 12 && digits(s[q-12:q]) {
				if m, ok := sc.hexLabelAt(p, q, 12); ok {
					return m, true
				}
			}
			if m, ok := sc.hexLabelAt(p, q, 8); ok {
				return m, true
			}
		}
		p = q + 1
	}
	return Match{}, false
}

// hexLabelAt is hexLabel for the hex digits s[p:q] of one label, whose
// last width (8, or 12 for zero-padded decimal) are the address.
func (sc *scanner) hexLabelAt(p, q, width int) (Match, bool) {
	s := sc.s
	ls := p // the label's start
	for ls > 0 && (isLetter(s[ls-1]) || class[s[ls-1]]&cDigit != 0 || s[ls-1] == '-' || s[ls-1] == '_') {
		ls--
	}
	if ls < sc.end {
		return Match{}, false // a match before it runs into it
	}
	if ls > 0 {
		switch c := s[ls-1]; {
		case c == ':' || c == '.' && ls > 1 && class[s[ls-2]]&cDigit != 0:
			return Match{}, false
		}
	}
	h := q - width
	prefix := s[ls:h]
	ok := len(prefix) == 0 || prefix[len(prefix)-1] == '-'
	if !ok && len(prefix) <= 4 {
		ok = true
		for _, c := range prefix {
			ok = ok && isLetter(c)
		}
	}
	if !ok {
		return Match{}, false
	}
	var v [4]byte
	f := formHex
	for j := range v {
		if width == 12 {
			if v[j], ok = octet(s[h+3*j : h+3*j+3]); !ok {
				return Match{}, false
			}
			f = formPadded
			continue
		}
		v[j] = hexVal[s[h+2*j]]<<4 | hexVal[s[h+2*j+1]]
	}
	sc.i = q
	sc.portEnd, sc.keyAt, sc.cut, sc.form = 0, -1, false, f
	return Match{Addr: netip.AddrFrom4(v), Start: h, End: q}, true
}

// namesAfter reports whether a name follows s[e], a '.': a label that
// starts with a letter, a '.' and another label.
func namesAfter(s []byte, e int) bool {
	j := e + 1
	if j >= len(s) || s[j-1] != '.' || !isLetter(s[j]) {
		return false
	}
	for j < len(s) && (isLetter(s[j]) || class[s[j]]&cDigit != 0 || s[j] == '-') {
		j++
	}
	return j+1 < len(s) && s[j] == '.' && (isLetter(s[j+1]) || class[s[j+1]]&cDigit != 0)
}

// startsQuad reports whether the number that ends at s[e], a '.', and
// three or more numbers after it, each after a '.', are dotted numbers
// that a quad may be read from.
func startsQuad(s []byte, e int) bool {
	numbers := 1
	for x := e; x+1 < len(s) && s[x] == '.' && class[s[x+1]]&cDigit != 0; numbers++ {
		for x++; x < len(s) && class[s[x]]&cDigit != 0; x++ {
		}
	}
	return numbers >= 4
}

// dashed6 reads, where s[a] starts the last group of a run of hex groups
// joined by '-' that ends a host name's label (a '.' then a letter or
// digit follow it), or is the '.' after a "--" that ends it, the run as an
// IPv6 address written with '-' for ':',
// as wildcard DNS services (2001-db8--7.sslip.io) and some reverse DNS
// names (2001-db8-1-2-3-4-5-6.ipv6.example.net) write it: seven dashes or
// a "--", and at most 39 bytes. A first group glued to a word
// (dynamic-2001-db8--7, ip6-2001-db8--7), or one too many for an address,
// is left out of it, as is text before lo; a last group that starts a
// dotted quad (--1.2.3.4) is read as that quad instead, and one among
// the labels before ip6.arpa or in-addr.arpa as a reverse DNS name. On
// success, the scanner goes on from the '.' after the address.
func (sc *scanner) dashed6(lo, a int) (Match, bool) {
	s := sc.s
	e := a
	for e < len(s) && hexVal[s[e]] != 0xff {
		e++
	}
	if e+1 >= len(s) || s[e] != '.' || class[s[e+1]]&(cDigit|cHex|cWord) == 0 || s[e+1] == '_' {
		return Match{}, false
	}
	if e > a && digits(s[a:e]) && startsQuad(s, e) {
		return Match{}, false // the last group starts a dotted quad, read as such
	}
	x := e + 1 // past labels of one to three hex digits, as a reverse DNS name's
	for {
		k := x
		for k < len(s) && k-x < 3 && hexVal[s[k]] != 0xff {
			k++
		}
		if k == x || k >= len(s) || s[k] != '.' {
			break
		}
		x = k + 1
	}
	if hasFold(s[x:], "ip6.arpa") || hasFold(s[x:], "in-addr.arpa") {
		return Match{}, false // the labels of a reverse DNS name (reverseName)
	}
	start := a
	for start > lo && (hexVal[s[start-1]] != 0xff || s[start-1] == '-') {
		start--
	}
	if start > 0 && class[s[start-1]]&cWord != 0 {
		// A word's last hex letters or digits are not a group, and the
		// '-' after it is not part of a "--" (ip6---1 is ip6 and ::1).
		for start < a && s[start] != '-' {
			start++
		}
		start++
	}
	for start < a {
		if m, ok := dashedAddr(s[start:e]); ok {
			sc.i = e
			if e == a {
				sc.dashDot = a // the scan goes on from this '.', not reading the label again
			}
			sc.portEnd, sc.keyAt, sc.cut, sc.form = 0, -1, false, formDash
			return Match{Addr: m, Start: start, End: e}, true
		}
		// Leave out the first group and try again.
		for start < a && s[start] != '-' {
			start++
		}
		start++
	}
	return Match{}, false
}

// dashedAddr parses t, hex groups joined by '-', as an IPv6 address with
// '-' for ':' if it has seven dashes or a "--".
func dashedAddr(t []byte) (netip.Addr, bool) {
	if len(t) > len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") {
		return netip.Addr{}, false
	}
	var buf [39]byte
	b := buf[:len(t)]
	dashes, double := 0, false
	for j, c := range t {
		if c == '-' {
			dashes++
			double = double || j > 0 && t[j-1] == '-'
			c = ':'
		}
		b[j] = c
	}
	if dashes != 7 && !(double && dashes >= 2) {
		return netip.Addr{}, false
	}
	return parse6(b)
}

// reverseName reads the token s[a:b], which ends in a '.' followed by
// s[b:], as the labels of a reverse DNS name: one to four decimal octets
// before "in-addr.arpa", or one to 32 hex nibbles before "ip6.arpa" (case
// aside), the least significant first. The match's Addr is the address,
// or the network the name stands for with its other bits zero, and its
// span the labels, without the '.' after them. A token with more labels,
// or any that is not an octet or nibble, is not such a name.
func (sc *scanner) reverseName(a, b int) (Match, bool) {
	s := sc.s
	var kind form
	end := b
	switch {
	case hasFold(s[b:], "in-addr.arpa"):
		kind, end = formInAddr, b+len("in-addr.arpa")
	case hasFold(s[b:], "ip6.arpa"):
		kind, end = formIP6, b+len("ip6.arpa")
	default:
		return Match{}, false
	}
	if end < len(s) && (class[s[end]]&(cDigit|cHex|cWord) != 0 || s[end] == '-') {
		return Match{}, false // a longer label: not the reverse tree
	}
	if s[a] == '.' {
		a++ // a name's earlier labels, not address text, before it
	}
	if a >= b-1 {
		return Match{}, false // no label
	}
	addr, ok := parseReverse(s[a:b-1], kind)
	if !ok {
		return Match{}, false
	}
	sc.portEnd, sc.keyAt, sc.cut, sc.form = 0, -1, false, kind
	return Match{Addr: addr, Start: a, End: b - 1}, true
}

// parseReverse parses the labels of a reverse DNS name (see reverseName)
// into the address they stand for, the bits they do not give zero.
func parseReverse(t []byte, kind form) (netip.Addr, bool) {
	if len(t) == 0 {
		return netip.Addr{}, false
	}
	if kind == formIP6 {
		n := (len(t) + 1) / 2
		if n > 32 || len(t) != 2*n-1 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for j := range n {
			v := hexVal[t[2*j]]
			if v == 0xff || j > 0 && t[2*j-1] != '.' {
				return netip.Addr{}, false
			}
			k := n - 1 - j // nibble k of the address, from the top
			b[k/2] |= v << (4 * (1 - k%2))
		}
		return netip.AddrFrom16(b), true
	}
	var v [4]byte
	n := 0
	for len(t) > 0 {
		label := t
		if i := bytes.IndexByte(t, '.'); i >= 0 {
			label, t = t[:i], t[i+1:]
			if len(t) == 0 {
				return netip.Addr{}, false
			}
		} else {
			t = nil
		}
		x, ok := octet(label)
		if !ok || n == 4 {
			return netip.Addr{}, false
		}
		v[n] = x
		n++
	}
	var b [4]byte
	for j := range n {
		b[n-1-j] = v[j]
	}
	return netip.AddrFrom4(b), true
}

// octet parses one to three decimal digits worth 255 or less.
func octet(t []byte) (byte, bool) {
	if len(t) == 0 || len(t) > 3 {
		return 0, false
	}
	x := 0
	for _, c := range t {
		if c < '0' || c > '9' {
			return 0, false
		}
		x = x*10 + int(c-'0')
	}
	return byte(x), x <= 255
}

// hasFold reports whether s starts with the lower-case ASCII text p, in
// any case.
func hasFold(s []byte, p string) bool {
	if len(s) < len(p) {
		return false
	}
	for i := range len(p) {
		if c := s[i]; c != p[i] && !('a' <= p[i] && p[i] <= 'z' && c|0x20 == p[i]) {
			return false
		}
	}
	return true
}

// escapeEnd returns, where s[a] is one of the code digits of an escape
// sequence, the end of that escape, and otherwise -1. The escapes are those
// that writers put before an address and whose last digits would run into
// it: a URL's "%HH" ("%20", "%2C", "%5B"), "\xHH" (C, nginx), "\uHHHH"
// (JSON: Gson writes ' and & so, encoding/json &), and three octal digits
// after '#' (rsyslog writes a tab as "#011") or '\' (C).
func escapeEnd(s []byte, a int) int {
	if a == 0 || class[s[a-1]]&cSafe != 0 && s[a-1] != '#' && s[a-1] != '\\' {
		return -1 // the common case: a space, a quote or a bracket before s[a]
	}
	for st := a; st > 0 && st > a-4; st-- { // st: where the code digits start
		var n int
		octal := false
		switch c := s[st-1]; {
		case c == '%':
			n = 2
		case c == '#' || c == '\\':
			n, octal = 3, true
		case (c == 'x' || c == 'u') && st >= 2 && s[st-2] == '\\':
			n = 2
			if c == 'u' {
				n = 4
			}
		default:
			continue
		}
		if st+n <= a || st+n > len(s) {
			continue // s[a] is not among its digits
		}
		ok := true
		for _, d := range s[st : st+n] {
			ok = ok && (octal && '0' <= d && d <= '7' || !octal && hexVal[d] != 0xff)
		}
		if ok {
			return st + n
		}
	}
	return -1
}

// colonToken tries the token s[a:b], which holds a colon, as one address:
// IPv6 (with a zone), or IPv4 or IPv6 followed by a :port. A token that
// starts with the digits of a percent-escape is first read without them:
// "%5B2001:db8::1%5D" is the bracketed address of a URL.
func (sc *scanner) colonToken(a, b int) (Match, bool) {
	if e := escapeEnd(sc.s, a); e > a && e < b {
		if m, ok := sc.colonTokenAt(e, b); ok {
			// Read with the escape's digits, the address may be 6to4
			// or Teredo (#2002:cb00:7109::1), whose embedded IPv4 the
			// reading without them would keep: read so, then.
			end := m.End
			if z := bytes.IndexByte(sc.s[e:end], '%'); z >= 0 {
				end = e + z
			}
			if w, ok := parse6(sc.s[a:end]); ok && m.Start == e && embedsIPv4(w) {
				m.Addr, m.Start = w, a
			}
			return m, true
		}
		sc.portEnd, sc.cut = 0, false
	}
	return sc.colonTokenAt(a, b)
}

// twiceEscaped reports whether s[a:] starts with the digits of a
// percent-escape encoded twice whose code has a letter, written in upper
// case as URL encoders write it ("%255D", "%252C"): "25", then two upper
// case hex digits, one a letter, after a '%'. A token after one is read
// without "25" (as after any escape), not without all four: the reading
// that keeps the other two digits ("%255B::1" as 5b::1) is masked too.
func twiceEscaped(s []byte, a int) bool {
	return a > 0 && a+3 < len(s) && s[a-1] == '%' && s[a] == '2' && s[a+1] == '5' &&
		upperHex(s[a+2]) && upperHex(s[a+3]) && (s[a+2] >= 'A' || s[a+3] >= 'A')
}

// embedsIPv4 reports whether a is a 6to4 (2002::/16) or Teredo
// (2001::/32) address, which hold an IPv4 address past their first group.
func embedsIPv4(a netip.Addr) bool {
	b := a.As16()
	return b[0] == 0x20 && (b[1] == 0x02 || b[1] == 0x01 && b[2] == 0 && b[3] == 0)
}

// colonTokenAt is colonToken without the percent-escape rule. It reads the
// token as an address (readColon) unless a word is glued to its left, and
// then, if that fails, as a key, one colon and an address: "src:2001:db8::1",
// "eth0:fe80::1", "IPv6:2001:db8::1", "(:2001:db8::1". A key that ends in
// hex digits ("source:", "en0:") is part of the token, so where the text
// could be read as one longer address that does not parse or as a key and
// an address, the reading that masks wins. "::" is never a key's colon:
// "std::abs" and "Foo::Bar" are identifiers.
//
// An address can also have run into the text on its left, a word
// ("remote2001:db8::7") or hex digits ("abc2001:db8:1:2:3:4:5:6"): where
// the token's first group is four hex digits glued to a word, or longer
// than four, the address that starts with its last four digits is read
// first (so the key reading cannot leave "2001:" in front of a masked
// address as if it were a key, which would keep a group more than the
// policy); so is the group after a key's colon that is longer than four
// ("src:abc2001:db8::7"). A token glued to a word that reads neither way is read whole
// if it has eight groups, or three groups or more around a "::"
// ("xyab:1:2:3:4:5:6:7"); two groups around a "::" ("std::abs",
// "Vec::new") are an identifier's.
func (sc *scanner) colonTokenAt(a, b int) (Match, bool) {
	s := sc.s
	glued := a > 0 && class[s[a-1]]&cWord != 0
	if !glued {
		if m, ok := sc.readColon(a, b); ok {
			return m, true
		}
		sc.portEnd = 0
	}
	k := bytes.IndexByte(s[a:b], ':')
	if k < 0 {
		return Match{}, false
	}
	k += a
	// The first group ran into what is on its left: its last four hex
	// digits may start the address. Read so first where they hold a
	// decimal digit (remote2001:, abc2001:); "iface:" and "surface:" are
	// keys, read so only if the key reading fails.
	ran := (k-a > 4 || glued && k-a == 4) && hexRun(s[k-4:k])
	if ran && hasDigit(s[k-4:k]) {
		if m, ok := sc.ranInto(k-4, b); ok {
			return m, true
		}
		ran = false
	}
	if k+1 < b && (s[k+1] != ':' || k+2 < b && s[k+2] == ':') { // not "std::abs"; but "IPv6:::ffff:192.0.2.1" is a key
		m, ok := sc.readColon(k+1, b)
		if ok {
			if k > a && !glued {
				sc.keyAt = a
			}
			return m, true
		}
		sc.portEnd = 0
		// The address may have run into hex digits after the key
		// (src:abc2001:db8::1), read as in the token's first group.
		if j := bytes.IndexByte(s[k+1:b], ':'); j > 4 {
			if j += k + 1; hexRun(s[j-4:j]) && hasDigit(s[j-4:j]) {
				if m, ok := sc.ranInto(j-4, b); ok {
					return m, true
				}
			}
		}
	}
	if ran {
		if m, ok := sc.ranInto(k-4, b); ok {
			return m, true
		}
	}
	if !glued && k == a && k+2 < b && s[k+1] == ':' {
		// "::" before an address, as a separator writes it
		// (x ::2001:db8::1): the address after it, if it has three
		// groups or more.
		if m, ok := sc.readColon(k+2, b); ok && manyGroups(s[m.Start:m.End]) {
			return m, true
		}
		sc.portEnd, sc.cut = 0, false
	}
	if glued && k-a < 4 {
		if m, ok := sc.readColon(a, b); ok && manyGroups(s[m.Start:m.End]) {
			return m, true
		}
		sc.portEnd, sc.cut = 0, false
	}
	if !glued && k == a && k+1 < b && s[k+1] != ':' {
		// A lone colon before text that reads only as a key and an
		// address (:2001:0:4136:e378:8000:9c48:9cbd:d37d:db): read
		// what follows it as a token of its own.
		return sc.colonTokenAt(a+1, b)
	}
	return Match{}, false
}

// ranInto reads s[a:b], the end of a token from a group's last four hex
// digits on, as an address run into the text on its left. Two groups
// around a "::", the second without a decimal digit, are an identifier's
// (Sha256::digest, X25519::add, Ed25519::default: a type name ending in
// digits, then a method); clientfe80::1 and x2001:db8:: are addresses.
func (sc *scanner) ranInto(a, b int) (Match, bool) {
	m, ok := sc.readColon(a, b)
	if ok {
		t := sc.s[m.Start:m.End]
		if z := bytes.IndexByte(t, '%'); z >= 0 {
			t = t[:z]
		}
		// Fewer than three groups hold a "::".
		if after := t[bytes.Index(t, []byte("::"))+2:]; manyGroups(t) || len(after) == 0 || hasDigit(after) {
			return m, true
		}
	}
	sc.portEnd, sc.cut = 0, false
	return Match{}, false
}

// hasDigit reports whether s holds a decimal digit.
func hasDigit(s []byte) bool {
	for _, c := range s {
		if c >= '0' && c <= '9' {
			return true
		}
	}
	return false
}

// hexRun reports whether s is all hex digits.
func hexRun(s []byte) bool {
	for _, c := range s {
		if hexVal[c] == 0xff {
			return false
		}
	}
	return true
}

// digits reports whether s is all decimal digits.
func digits(s []byte) bool {
	for _, c := range s {
		if class[c]&cDigit == 0 {
			return false
		}
	}
	return true
}

// manyGroups reports whether the address text t has eight groups, or at
// least three non-empty groups (a dotted tail counting as two): more than
// an identifier's "d::ab".
func manyGroups(t []byte) bool {
	n, in := 0, false
	for _, c := range t {
		switch {
		case c == ':':
			in = false
		case c == '.':
			n++ // a dotted tail is two groups: count one more
		case !in:
			in = true
			n++
		}
	}
	return n >= 3
}

// readColon reads s[a:b], a stretch of a token, as an IPv6 address (with a
// zone), or an IPv4 or IPv6 address followed by a :port, or an IPv6 address
// followed by a .port as tcpdump writes it (2001:db8::1.443). Glued to a
// word on the right, only what comes before its last '.' is read so (a
// file extension: 2001:db8::1.css); failing that, the stretch is read as
// an address run straight into the word (see gluedAddr).
func (sc *scanner) readColon(a, b int) (Match, bool) {
	s := sc.s
	if b < len(s) && class[s[b]]&cWord != 0 {
		if e := a + bytes.LastIndexByte(s[a:b], '.'); e > a {
			if m, ok := sc.readings(a, b, e); ok {
				return m, true
			}
			sc.portEnd = 0
		}
		return sc.gluedAddr(a, b)
	}
	return sc.readings(a, b, b)
}

// maxAddrText is the longest text of an IPv6 address that parse6 reads:
// six groups of four hex digits, six colons and a dotted quad of 15 bytes.
const maxAddrText = 6*4 + 6 + 15

// gluedAddr reads s[a:b], a stretch of a token run straight into a word
// (g-z, G-Z or '_' at s[b]), as an IPv6 address glued to what follows:
// the longest IPv6 address that the stretch starts with, whatever follows
// it in the stretch (2001:db8:1:2::7xyz, fe80::1ghost, 2001:db8::1abcdz
// as 2001:db8::1abc). Hex digits that run on in the address's last group
// (the "d") are marked in sc.portEnd with sc.cut, to be dropped with the
// address where it is masked: left, they would read with the masked text
// as another address. Only IPv6 is read: dotted quads glued to words are
// found as quads.
func (sc *scanner) gluedAddr(a, b int) (Match, bool) {
	s := sc.s
	for e := min(b, a+maxAddrText); e-a >= 2; e-- {
		if hexVal[s[e-1]] == 0xff && s[e-1] != ':' {
			continue // an address ends in a hex digit or in "::"
		}
		if e == a+2 && e < b && s[a] == ':' && s[a+1] == ':' && s[e] == ':' {
			// ":::": the first colon may be a lone colon's, before
			// an address (:::ffff:192.0.2.1.log); one of an
			// identifier's few groups (:::Factory) is not one. The
			// reading tried leaves the scanner as it found it.
			portEnd, cut := sc.portEnd, sc.cut
			if m, ok := sc.gluedAddr(a+1, b); ok && manyGroups(s[m.Start:m.End]) {
				return m, true
			}
			sc.portEnd, sc.cut = portEnd, cut
		}
		addr, ok := parse6(s[a:e])
		if !ok {
			continue
		}
		if e < b && hexVal[s[e]] != 0xff && hexVal[s[e-1]] != 0xff {
			r := e
			for r < b && hexVal[s[r]] != 0xff {
				r++
			}
			sc.portEnd, sc.cut = r, true
		}
		return Match{Addr: addr, Start: a, End: e}, true
	}
	return Match{}, false
}

// readings is readColon's reading of s[a:e], e <= b being where the
// address text may end; a %zone is taken only where e is b, the end of the
// stretch.
func (sc *scanner) readings(a, b, e int) (Match, bool) {
	s := sc.s
	n := len(s)
	for e > a && s[e-1] == '.' {
		e-- // a full stop ending a sentence
	}
	if addr, ok := parse6(s[a:e]); ok {
		end := e
		if e == b && b < n && s[b] == '%' {
			end = zoneEnd(s, b)
		}
		return Match{Addr: addr, Start: a, End: end}, true
	}
	if e-a > 1 && s[e-1] == ':' {
		if addr, ok := parse6(s[a : e-1]); ok {
			return Match{Addr: addr, Start: a, End: e - 1}, true
		}
	}
	// addr:port, the port all digits, maybe with a colon after it, as a
	// message that follows "host:port" writes it
	// ("2001:db8:a:b:0:0:0:2:54321: refused").
	pe := e
	if pe-a > 1 && s[pe-1] == ':' {
		pe--
	}
	if k := portStart(s, a, pe); k < pe && s[k-1] == ':' {
		if addr, ok := parseAddr(s[a : k-1]); ok {
			sc.portEnd = pe
			return Match{Addr: addr, Start: a, End: k - 1}, true
		}
	}
	// IPv6.port, maybe with a colon after it (tcpdump's "> 2001:db8::2.22:").
	k := portStart(s, a, e)
	if e-a > 1 && s[e-1] == ':' {
		e--
		k = portStart(s, a, e)
	}
	if k < e && s[k-1] == '.' && isPort(s[k:e]) {
		if addr, ok := parse6(s[a : k-1]); ok {
			return Match{Addr: addr, Start: a, End: k - 1}, true
		}
	}
	// IPv6, a '.' and a word of hex letters, which is no word glued to
	// the token (2001:db8::1.Added, fe80::1.db): a '.' separates an
	// address from a word after it.
	if d := bytes.LastIndexByte(s[a:e], '.'); d > 0 && a+d+1 < e && !digits(s[a+d+1:e]) && bytes.IndexByte(s[a+d+1:e], ':') < 0 {
		if addr, ok := parse6(s[a : a+d]); ok {
			return Match{Addr: addr, Start: a, End: a + d}, true
		}
	}
	return Match{}, false
}

// portStart returns where the digits that end s[a:e] start (e if there are
// none); it stays above a, so s[k-1] is in the stretch.
func portStart(s []byte, a, e int) int {
	k := e
	for k > a+1 && class[s[k-1]]&cDigit != 0 {
		k--
	}
	return k
}

// zoneEnd returns the end of the %zone starting at s[p] == '%', or p when
// there is none worth taking. A '%' and two upper-case hex digits with a
// letter among them ("%5D", "%2C") is a URL's percent-escape, not a zone:
// interface names are lower case and Windows zones are decimal.
func zoneEnd(s []byte, p int) int {
	if p+2 < len(s) && upperHex(s[p+1]) && upperHex(s[p+2]) && (s[p+1] >= 'A' || s[p+2] >= 'A') {
		return p
	}
	if twiceEscaped(s, p+1) {
		return p // "%252C", "%255D": the same, encoded twice
	}
	e := p + 1
	for e < len(s) && e-p-1 < maxZone && class[s[e]]&cZone != 0 {
		e++
	}
	if e < len(s) && (s[e] == ':' && e+1 < len(s) && class[s[e+1]]&cT != 0 || s[e] == '%' || class[s[e]]&cZone != 0) {
		return p // too long, or running into more address text or a port
	}
	for e > p+1 && s[e-1] == '.' {
		e--
	}
	if e == p+1 {
		return p
	}
	return e
}

// quad returns the next dotted quad in s[sc.i:end], a stretch of one token.
// It looks at maximal runs of digits and dots, split at "..", each trimmed of
// dots at its ends: a piece of exactly four numbers is an address; a piece
// of five whose first four are an address and whose fifth is a port (0 to
// 65535, at most five digits) is an address and a port, as tcpdump writes
// them (192.0.2.1.443), unless a version marker is glued to its left (see
// versionMark); any other piece (1.2.3.4.5.6, 1.2.3.4.70000) is not.
func (sc *scanner) quad(end int) (Match, bool) {
	s := sc.s
	i := sc.i
	for i < end {
		for i < end && class[s[i]]&(cDigit|cDot) == 0 {
			i++
		}
		// A piece: from i to the next non-digit-or-dot or "..".
		for i < end && s[i] == '.' {
			i++
		}
		a := i
		for i < end && (class[s[i]]&cDigit != 0 || (s[i] == '.' && i+1 < end && class[s[i+1]]&cDigit != 0)) {
			i++
		}
		if i == a {
			continue
		}
		if e := escapeEnd(s, a); e > a && e < i {
			// "%20198.51.100.7", "#011203.0.113.9": an escaped space
			// or tab, then an address.
			if m, ok := quadAt(s, e, i, true); ok {
				sc.i = i
				sc.nameQuad(m)
				return m, true
			}
			// "%2520198.51.100.7": a space encoded twice, as a URL
			// carried in another URL's query string writes it.
			if s[a-1] == '%' && s[a] == '2' && s[a+1] == '5' && e+2 < i && hexVal[s[e]] != 0xff && hexVal[s[e+1]] != 0xff {
				if m, ok := quadAt(s, e+2, i, true); ok {
					sc.i = i
					sc.nameQuad(m)
					return m, true
				}
			}
		}
		if m, ok := quadAt(s, a, i, !versionMark(s, a)); ok {
			sc.i = i
			sc.nameQuad(m)
			return m, true
		}
	}
	sc.i = end
	return Match{}, false
}

// nameQuad notes, of a dotted quad m found in a token, whether it is labels
// of a host name: a '.', a label that starts with a letter, a '.' and
// another label follow it (a file name's one extension does not count).
// Reverse DNS names write an address that way in either order
// (203.0.113.9.nip.io, and 9.113.0.203.static.example.net or
// static.9.113.0.203.clients.example.de for 203.0.113.9), so such a quad
// is masked as both readings would be.
func (sc *scanner) nameQuad(m Match) {
	if namesAfter(sc.s, m.End) {
		sc.form = formName
	}
}

// isLetter reports whether c is an ASCII letter.
func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// quadAt reads the piece s[a:i] as a dotted quad or, if port, as a dotted
// quad, a '.' and a port.
func quadAt(s []byte, a, i int, port bool) (Match, bool) {
	if v4, ok := parse4(s[a:i]); ok {
		return Match{Addr: netip.AddrFrom4(v4), Start: a, End: i}, true
	}
	if !port {
		return Match{}, false
	}
	d := bytes.LastIndexByte(s[a:i], '.')
	if d < 0 || !isPort(s[a+d+1:i]) {
		return Match{}, false
	}
	if v4, ok := parse4(s[a : a+d]); ok {
		return Match{Addr: netip.AddrFrom4(v4), Start: a, End: a + d}, true
	}
	return Match{}, false
}

// versionMark reports whether the piece of digits and dots at s[a] follows a
// version marker: a letter, '_', '/' or '-' glued to it (v1.2.3.4.5,
// OpenSSH_9.6.1.2.3, nginx/1.25.3.1.2, foo-1.2.3.4.5). Five such numbers
// are then a version, not an address and a port.
func versionMark(s []byte, a int) bool {
	if a == 0 {
		return false
	}
	c := s[a-1] | 0x20 // ASCII lower case; '_' (0x5f) becomes 0x7f, '/' and '-' stay
	return 'a' <= c && c <= 'z' || s[a-1] == '_' || s[a-1] == '/' || s[a-1] == '-'
}

// upperHex reports whether c is 0-9 or A-F.
func upperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }
