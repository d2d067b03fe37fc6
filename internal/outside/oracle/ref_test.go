package oracle_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
)

// The reference. A line is a list of pieces: literal text, which the
// package documentation says stays byte for byte, and addresses written in
// one of the forms it lists. For each piece the reference says what
// logmask must write, from the documentation alone:
//
//   - an address the policy already masks, with no zone, is kept exactly
//     as written ("An address that the policy already masks is kept
//     exactly as written (an IPv4-mapped one too)");
//   - a zone is always dropped;
//   - otherwise an IPv4 address (also an IPv4-mapped one) becomes the
//     masked IPv4 address in dotted decimal, without leading zeros;
//   - an IPv6 address becomes the masked address, in canonical form where
//     that is no longer than the input; where it is longer, or the input
//     had a dotted tail, the reference only asks for text that parses as
//     the masked address and is no longer than the input;
//   - with SkipPrivate, a private, loopback or link-local address (judged
//     by the reference's own reading of the IPv4 address an IPv6 one
//     embeds) is kept, zone dropped; one that embeds a public IPv4 address,
//     or is public itself, is masked.

// piece is one part of a generated line.
type piece struct {
	text string     // what the input holds
	addr netip.Addr // the address, if this piece is one
	isIP bool
	want string // if not empty, the exact text the address must become
}

func lit(s string) piece { return piece{text: s} }

func ip(text string, a netip.Addr) piece { return piece{text: text, addr: a, isIP: true} }

// line is a generated line and the reference's reading of it.
type line []piece

func (l line) String() string {
	var b strings.Builder
	for _, p := range l {
		b.WriteString(p.text)
	}
	return b.String()
}

// embedded4 returns the IPv4 address an IPv6 address carries, by the
// reference's own reading of DESIGN.md invariant 1 and Options.SkipPrivate:
// IPv4-mapped and -compatible (the last 32 bits), 6to4 (bits 16 to 47),
// Teredo (the last 32 bits, inverted), NAT64 64:ff9b::/96 (the last 32
// bits) and ISATAP (the last 32 bits after 0:5efe or 200:5efe).
func embedded4(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	last := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	zero := func(from, to int) bool {
		for _, x := range b[from:to] {
			if x != 0 {
				return false
			}
		}
		return true
	}
	switch {
	case zero(0, 10) && b[10] == 0xff && b[11] == 0xff:
		return last, true
	case zero(0, 12) && !zero(12, 14): // ::/96, not :: nor ::1
		return last, true
	case b[0] == 0x20 && b[1] == 0x02:
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0:
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), true
	case b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(4, 12):
		return last, true
	case (b[8] == 0 || b[8] == 2) && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe:
		return last, true
	}
	return netip.Addr{}, false
}

func private4(a netip.Addr) bool {
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast()
}

// keepPrivate says whether SkipPrivate must keep a (yes), must mask it
// (no), or the documentation leaves it open (maybe: an IPv6 address with
// a public prefix of its own that embeds a private IPv4 address).
type verdict int

const (
	mustMask verdict = iota
	mustKeep
	either
)

func privateVerdict(a netip.Addr) verdict {
	a = a.WithZone("")
	if a.Is4() || a.Is4In6() {
		if private4(a.Unmap()) {
			return mustKeep
		}
		return mustMask
	}
	b := a.As16()
	if b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1 {
		return mustMask // 64:ff9b:1::/48: "always masked"
	}
	if e, ok := embedded4(a); ok {
		if !private4(e) {
			return mustMask
		}
		if a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || b[0] == 0 && b[1] == 0 {
			return mustKeep
		}
		return either
	}
	if a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
		return mustKeep
	}
	return mustMask
}

// want is the reference's answer for one address piece: exact text, or
// (exact == false) an address the output's text must parse as.
type want struct {
	exact bool
	text  string
	addr  netip.Addr
	keep  bool // either keep (text) or mask (addr) is right
}

func expect(p ipmask.Policy, skipPrivate bool, prev byte, pc, next piece) want {
	a := pc.addr
	// Five dotted numbers glued to a version marker on their left are a
	// version, left alone.
	if a.Is4() && len(next.text) > 1 && next.text[0] == '.' && strings.Trim(next.text[1:], "0123456789") == "" && (prev == '/' || prev == '_' || prev == '-' || prev|0x20 >= 'a' && prev|0x20 <= 'z') {
		return want{exact: true, text: pc.text}
	}
	noZone := pc.text
	if i := strings.IndexByte(noZone, '%'); i >= 0 {
		noZone = noZone[:i]
	}
	if skipPrivate {
		switch privateVerdict(a) {
		case mustKeep:
			return want{exact: true, text: noZone}
		case either:
			return want{addr: p.Mask(a.WithZone("")), text: noZone, keep: true}
		}
	}
	if p.IsMasked(a.WithZone("")) {
		return want{exact: true, text: noZone}
	}
	m := p.Mask(a.WithZone(""))
	if m.Is4() {
		return want{exact: true, text: m.String()}
	}
	if s := m.String(); len(s) <= len(noZone) && !strings.Contains(noZone, ".") {
		return want{exact: true, text: s}
	}
	return want{addr: m}
}

// addrEnd returns how much of out, which starts with a masked address
// written for the input text in, is that address: hex digits and colons,
// and dots if the input had them.
func addrEnd(out, in string) int {
	dots := strings.Contains(in, ".")
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F', c == ':':
		case c == '.' && dots:
		default:
			return i
		}
	}
	return len(out)
}

// check compares logmask's output for l with the reference, piece by
// piece, and reports the first piece that differs.
func check(t *testing.T, p ipmask.Policy, skipPrivate bool, l line, out string) bool {
	t.Helper()
	in := l.String()
	rest := out
	for i, pc := range l {
		if !pc.isIP {
			if !strings.HasPrefix(rest, pc.text) {
				return assert.Failf(t, "text changed", "%v skip=%v: piece %d %q not kept at %q\n in:  %q\n out: %q", p, skipPrivate, i, pc.text, rest, in, out)
			}
			rest = rest[len(pc.text):]
			continue
		}
		var prev byte
		var next piece
		if i > 0 && l[i-1].text != "" {
			prev = l[i-1].text[len(l[i-1].text)-1]
		}
		if i+1 < len(l) {
			next = l[i+1]
		}
		w := expect(p, skipPrivate, prev, pc, next)
		if pc.want != "" {
			w = want{exact: true, text: pc.want}
		}
		// Exact text: the next piece (or the end) shows it did not run on.
		if w.exact || w.keep && strings.HasPrefix(rest, w.text) && (i+1 == len(l) || strings.HasPrefix(rest[len(w.text):], l[i+1].text)) {
			if !strings.HasPrefix(rest, w.text) {
				return assert.Failf(t, "address written otherwise", "%v skip=%v: %q must become %q, got %q\n in:  %q\n out: %q", p, skipPrivate, pc.text, w.text, rest, in, out)
			}
			rest = rest[len(w.text):]
			continue
		}
		// The longest address text that parses and that the next piece
		// follows.
		n := addrEnd(rest, pc.text)
		for ; n > 0; n-- {
			if _, err := netip.ParseAddr(rest[:n]); err == nil && (i+1 == len(l) || strings.HasPrefix(rest[n:], l[i+1].text)) {
				break
			}
		}
		got, err := netip.ParseAddr(rest[:n])
		if err != nil || got.Unmap() != w.addr.Unmap() || n > len(pc.text) {
			return assert.Failf(t, "address masked otherwise", "%v skip=%v: %q must mask to %v, got %q\n in:  %q\n out: %q", p, skipPrivate, pc.text, w.addr, rest[:n], in, out)
		}
		rest = rest[n:]
	}
	return assert.Empty(t, rest, "trailing output\n in:  %q\n out: %q", in, out)
}

// The generator.

// pub4 returns a random public IPv4 address (not private, loopback,
// link-local, shared, multicast or reserved).
func pub4(r *rand.Rand) netip.Addr {
	for {
		a := netip.AddrFrom4([4]byte{byte(1 + r.IntN(223)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		o := a.As4()
		if !private4(a) && o[0] != 100 && o[0] != 127 && o[0] != 0 {
			return a
		}
	}
}

func priv4(r *rand.Rand) netip.Addr {
	switch r.IntN(5) {
	case 0:
		return netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
	case 1:
		return netip.AddrFrom4([4]byte{172, byte(16 + r.IntN(16)), byte(r.IntN(256)), byte(r.IntN(256))})
	case 2:
		return netip.AddrFrom4([4]byte{192, 168, byte(r.IntN(256)), byte(r.IntN(256))})
	case 3:
		return netip.AddrFrom4([4]byte{127, byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
	default:
		return netip.AddrFrom4([4]byte{169, 254, byte(r.IntN(256)), byte(r.IntN(256))})
	}
}

// groups returns random 16-bit groups, often zero (so that "::" runs of
// every length and place come up) and sometimes small.
func group(r *rand.Rand) uint16 {
	switch r.IntN(4) {
	case 0:
		return 0
	case 1:
		return uint16(r.IntN(16))
	default:
		return uint16(r.IntN(1 << 16))
	}
}

// pub6 returns a random global unicast IPv6 address outside the ranges
// that embed IPv4 (2001::/32, 2002::/16).
func pub6(r *rand.Rand) netip.Addr {
	for {
		var b [16]byte
		b[0] = byte(0x20 + r.IntN(0x20))
		b[1] = byte(r.IntN(256))
		for i := 2; i < 16; i += 2 {
			g := group(r)
			b[i], b[i+1] = byte(g>>8), byte(g)
		}
		if b[0] == 0x20 && (b[1] == 2 || b[1] == 1 && b[2] == 0 && b[3] == 0) {
			continue
		}
		if b[8]&^2 == 0 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe {
			continue
		}
		return netip.AddrFrom16(b)
	}
}

func priv6(r *rand.Rand) netip.Addr {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	switch r.IntN(3) {
	case 0:
		b[0] = 0xfd
	case 1:
		b[0], b[1] = 0xfe, 0x80
		for i := 2; i < 8; i++ {
			b[i] = 0
		}
	default:
		return netip.IPv6Loopback()
	}
	if b[8]&^2 == 0 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe {
		b[10] = 0
	}
	return netip.AddrFrom16(b)
}

func hex4(a netip.Addr) string {
	o := a.As4()
	return fmt.Sprintf("%x:%x", uint16(o[0])<<8|uint16(o[1]), uint16(o[2])<<8|uint16(o[3]))
}

// full writes a in full, eight groups of four digits.
func full(a netip.Addr) string {
	b := a.As16()
	var s []string
	for i := 0; i < 16; i += 2 {
		s = append(s, fmt.Sprintf("%02x%02x", b[i], b[i+1]))
	}
	return strings.Join(s, ":")
}

// nozero writes a's eight groups without "::".
func nozero(a netip.Addr) string {
	b := a.As16()
	var s []string
	for i := 0; i < 16; i += 2 {
		s = append(s, strconv.FormatUint(uint64(b[i])<<8|uint64(b[i+1]), 16))
	}
	return strings.Join(s, ":")
}

func mustParse(t testing.TB, s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	require.NoError(t, err, s)
	return a
}

// form is an address written one way, with the text that goes with it
// before and after (brackets, a port), which must stay.
type form struct {
	name        string
	pre, suffix string
	text        string
	addr        netip.Addr
}

func (f form) pieces() []piece {
	var ps []piece
	if f.pre != "" {
		ps = append(ps, lit(f.pre))
	}
	ps = append(ps, ip(f.text, f.addr))
	if f.suffix != "" {
		ps = append(ps, lit(f.suffix))
	}
	return ps
}

func port(r *rand.Rand) string {
	switch r.IntN(3) {
	case 0:
		return strconv.Itoa(1 + r.IntN(1023))
	default:
		return strconv.Itoa(1024 + r.IntN(64512))
	}
}

// zone returns a zone as the documentation defines it: letters, digits,
// '_', '-' or '.', starting with a letter or a digit.
func zone(r *rand.Rand) string {
	zs := []string{"eth0", "en0", "1", "12", "wlan0", "br-lan", "vlan.100", "enp0s31f6", "utun_3", "Ethernet"}
	return zs[r.IntN(len(zs))]
}

// randForm returns one documented form of a random address of the kind
// the generator picks (public or private, IPv4 or IPv6, plain or
// embedding IPv4).
func randForm(r *rand.Rand) form {
	var a4 netip.Addr
	if r.IntN(3) == 0 {
		a4 = priv4(r)
	} else {
		a4 = pub4(r)
	}
	s4 := a4.String()
	o := a4.As4()
	var a6 netip.Addr
	if r.IntN(4) == 0 {
		a6 = priv6(r)
	} else {
		a6 = pub6(r)
	}
	p := port(r)
	mapped := netip.AddrFrom16(a4.As16())
	switch r.IntN(26) {
	case 0:
		return form{name: "v4", text: s4, addr: a4}
	case 1:
		return form{name: "v4:port", text: s4, suffix: ":" + p, addr: a4}
	case 2:
		return form{name: "v4 leading zeros", text: fmt.Sprintf("%03d.%03d.%03d.%03d", o[0], o[1], o[2], o[3]), addr: a4}
	case 3:
		return form{name: "v4.port", text: s4, suffix: "." + p, addr: a4}
	case 4:
		return form{name: "url v4", pre: "http://", text: s4, suffix: ":" + p + "/index.html?q=1", addr: a4}
	case 5:
		return form{name: "mapped", text: "::ffff:" + s4, addr: mapped}
	case 6:
		return form{name: "mapped upper", text: "::FFFF:" + s4, addr: mapped}
	case 7:
		return form{name: "mapped hex", text: "::ffff:" + hex4(a4), addr: mapped}
	case 8:
		return form{name: "mapped full", text: "0:0:0:0:0:ffff:" + s4, addr: mapped}
	case 9:
		return form{name: "[mapped]:port", pre: "[", text: "::ffff:" + s4, suffix: "]:" + p, addr: mapped}
	case 10:
		return form{name: "v6", text: a6.String(), addr: a6}
	case 11:
		return form{name: "v6 upper", text: strings.ToUpper(a6.String()), addr: a6}
	case 12:
		return form{name: "v6 full", text: full(a6), addr: a6}
	case 13:
		return form{name: "v6 no ::", text: nozero(a6), addr: a6}
	case 14:
		return form{name: "[v6]", pre: "[", text: a6.String(), suffix: "]", addr: a6}
	case 15:
		return form{name: "[v6]:port", pre: "[", text: a6.String(), suffix: "]:" + p, addr: a6}
	case 16:
		z := a6.WithZone(zone(r))
		return form{name: "v6%zone", text: z.String(), addr: z}
	case 17:
		z := a6.WithZone(zone(r))
		return form{name: "[v6%zone]:port", pre: "[", text: z.String(), suffix: "]:" + p, addr: z}
	case 18:
		return form{name: "url v6", pre: "https://[", text: a6.String(), suffix: "]:" + p + "/a/b", addr: a6}
	case 19:
		x := mustParse(nil, fmt.Sprintf("2002:%s:%x::%x", hex4(a4), group(r), 1+r.IntN(0xfffe)))
		return form{name: "6to4", text: x.String(), addr: x}
	case 20:
		b := a4.As4()
		x := mustParse(nil, fmt.Sprintf("2001:0:4136:e378:8000:%x:%x:%x", r.IntN(1<<16), uint16(^b[0])<<8|uint16(^b[1]), uint16(^b[2])<<8|uint16(^b[3])))
		return form{name: "teredo", text: x.String(), addr: x}
	case 21:
		x := mustParse(nil, "64:ff9b::"+s4)
		return form{name: "nat64 dotted", text: "64:ff9b::" + s4, addr: x}
	case 22:
		x := mustParse(nil, "64:ff9b::"+s4)
		return form{name: "nat64", text: x.String(), addr: x}
	case 23:
		pre := pub6(r).As16()
		x := mustParse(nil, fmt.Sprintf("%x:%x:%x:%x:0:5efe:%s", uint16(pre[0])<<8|uint16(pre[1]), uint16(pre[2])<<8|uint16(pre[3]), uint16(pre[4])<<8|uint16(pre[5]), uint16(pre[6])<<8|uint16(pre[7]), s4))
		return form{name: "isatap", text: x.String(), addr: x}
	case 24:
		// An IPv6 address and a port after a '.', as tcpdump writes them.
		return form{name: "v6.port", text: a6.String(), suffix: "." + p, addr: a6}
	default:
		return form{name: "v6 mixed case", text: mixCase(r, full(a6)), addr: a6}
	}
}

func mixCase(r *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' && r.IntN(2) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// seps are text that never touches an address: ASCII punctuation the
// documentation names as such (a space, a quote, a bracket, a comma...)
// and Unicode, whose bytes are none of the ones that touch an address.
var seps = []string{
	" ", "  ", "\t", `"`, "'", ",", ", ", ";", "(", ")", "<", ">", "{", "}", "|", "=", "/", "@", "!", "*", "+", "~", "^", "`", "?", "&", "$",
	"«", "»", "→", "é", "ü", "日本", "\u00a0", "\u200b", "–", "—", "“", "”", "•", "✓", "😀", "Ä", "ß", "\ufeff",
}

// decoys are tokens the documentation promises to leave alone.
var decoys = []string{
	"v2.0.1", "10.1", "1.3.6.1.4.1.311", "12:30:28", "2024:08:00:00", "00:1a:2b:3c:4d:5e", "C3-CD-79-09-60-68",
	"deadbeef", "2024-06-11", "7c9e6679-7425-40de-944b-e07cc4f8e4f5", "std::abs", "Foo::Bar", "std::io::Error",
	"sha256:abcdef", "Sha256::digest", "X25519::add", "Vec::new", "10.0.0.1.70000", "v1.2.3.4.5", "OpenSSH_9.6.1.2.3",
	"nginx/1.25.3.1.2", "pkg-1.2.3.4.5", "3221226219", "0xc0000201", "２０３.０.１１３.９", "GET", "HTTP/1.1", "200",
	"-", "user", "Mozilla/5.0", "abc", "ff", "1234", "0", "a.b.c", "x", "IPv6", "::", "done.",
}

// sep returns one or more separators.
func sep(r *rand.Rand) string {
	s := seps[r.IntN(len(seps))]
	if r.IntN(4) == 0 {
		s += seps[r.IntN(len(seps))]
	}
	return s
}

// genLine returns a random line of up to n addresses and decoys, each
// between separators, sometimes after a key and '=' or ':' or inside a
// JSON member or a comma-separated list.
func genLine(r *rand.Rand, n int) line {
	var l line
	if r.IntN(3) == 0 {
		l = append(l, lit(sep(r)))
	}
	for i := range n {
		if i > 0 {
			l = append(l, lit(sep(r)))
		}
		if r.IntN(4) == 0 {
			l = append(l, lit(decoys[r.IntN(len(decoys))]))
			continue
		}
		f := randForm(r)
		switch r.IntN(7) {
		case 0:
			l = append(l, lit(keys[r.IntN(len(keys))]+"="))
		case 1:
			if f.pre == "" {
				l = append(l, lit(`"`+keys[r.IntN(len(keys))]+`":"`))
				f.suffix += `"`
			}
		case 2:
			// A key with a letter that is no hex digit, and one colon:
			// "an address after a key and one colon, whatever the key
			// ends in".
			l = append(l, lit(colonKeys[r.IntN(len(colonKeys))]+":"))
		case 3:
			// A list, as X-Forwarded-For writes it.
			l = append(l, f.pieces()...)
			l = append(l, lit([]string{",", ", ", " , "}[r.IntN(3)]))
			f = randForm(r)
		case 4:
			// A lone colon: "(:2001:db8::1", "x :::ffff:192.0.2.1".
			// Not before "::" and digits (":::1" reads as well as
			// "::" and the port 1, which the policy masks).
			if t, _, _ := strings.Cut(f.text, "%"); !strings.HasPrefix(t, "::") || strings.Trim(t[2:], "0123456789") != "" {
				l = append(l, lit(":"))
			}
		}
		if f.pre == "" && f.suffix == "" && !strings.Contains(f.text, "%") && r.IntN(4) == 0 {
			// Run into a word: "a '.' separates an address from a
			// word after it", and an address run into a word is
			// the longest address its token starts with.
			f.suffix = []string{".log", ".Done", ":y", ":xyz", ".gif", ".Added", ".db", ".cafe"}[r.IntN(8)]
		}
		l = append(l, f.pieces()...)
	}
	if r.IntN(3) == 0 {
		l = append(l, lit(sep(r)))
	}
	return l
}

var keys = []string{"ip", "client", "remote_addr", "src", "c-ip", "X-Forwarded-For", "remoteIp", "host", "peer", "addr"}

var colonKeys = []string{"src", "node", "source", "iface", "IPv6", "eth0", "en0", "client", "host", "ip", "x", "peer", "Rhost", "to", "from", "v6(en0"}
