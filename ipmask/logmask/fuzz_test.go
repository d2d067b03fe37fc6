package logmask

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/clickanon/clickanon/ipmask"
)

// seeds are inputs every fuzz target starts from: each tricky form.
var seeds = []string{
	sample,
	"203.0.113.9:8080 [2001:db8::1]:443 fe80::1%eth0 ::ffff:1.2.3.4 2002:c000:2ff::1",
	"2001:0:4136:e378:8000:63bf:3fff:fdd2 64:ff9b::1.2.3.4 64:ff9b:1::1 fe80::5efe:1.2.3.4",
	"1.2.3.4.5 12:30:28 00:1a:2b:3c:4d:5e std::abs 010.001.002.003 1.2.3.4..5 a1.2.3.4",
	"IP 192.0.2.1.43436 > 198.51.100.7.22: IP6 2001:db8::1.443 > 2001:db8::2.22: v1.2.3.4.5 OpenSSH_9.6.1.2.3 nginx/1.25.3.1.2",
	"src:2001:db8:1:2::1 eth0:fe80::1%eth0 [IPv6:2001:DB8::1] v6(en0:2607:f8b0::1) (:2001:db8::1 en0+:2001:db8::1 cafe:1:2:3:4:5:6:7:8",
	`{"ip":"203.0.113.9"} "1.2.3.4, 5.6.7.8" http://203.0.113.9:8080/ addr:2001:db8::1`,
	"1::2:3:4:5:6:7 1:2:3:4:5:6:7:8:80 ::ffff:1.2.3.4:80 ::1.2.3.4 ::ffff:0:1.2.3.4",
	"u=%5B2001%3Adb8%3A1%3A2%3A%3A7%5D%3A443&ip=%20198.51.100.7%2C2001%3adb8%3a%3a1 fe80%3A%3A1%25eth0 %3A%3Affff%3A1.2.3.4",
	"2001:db8:1:2::7xyz 2001:db8::1zone fe80::1ghost 2001%3Adb8%3A1%3A2%3A%3A7xyz [2001:db8::1_x]:80 ::ffff:1.2.3.4q 2001:db8::1abcdz std::io::Error",
	"::1X::10::AX0000 ::%0:X 00000%3A%3A%3A10000%0 0%3A%3A:1:0:0:0:0:1 src:2001:db8:1:2::7xyz 2001:db8:1:2::7:xyz",
	"remote2001:db8:85a3:8d3:1319:8a2e:370:7348 abc2001:db8:1:2:3:4:5:6 x2001:db8:aaaa:bbbb::1 iface:2001:db8:1:2::7 xyab:1:2:3:4:5:6:7 Vec::new",
	"Sha256::digest(b) X25519::add clientfe80::1 x2001:db8:: src:abc2001:db8:1:2::7 eth0:deadbeef2001:db8:aaaa:bbbb::1 203.0.113.9:abc2001:db8::7",
	"9.113.0.203.in-addr.arpa 113.0.203.IN-ADDR.ARPA. 7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa 9.0.1.7.0.0.b.c.2.0.0.2.IP6.ARPA 1.9.113.0.203.in-addr.arpanet",
	`{"m":"\u0027203.0.113.9\u0027 \u00e9198.51.100.7 \x22::ffff:203.0.113.9\x22"} Address:#011203.0.113.9#015 a\011198.51.100.7 %E9203.0.113.9`,
	"session=<ESIzRFVmOTDLAHEJ> imap(a)<42><ESIzRFVmOTAgAQ24AAEAAgAAAAAAAAAH>: x<1><ESIzRFVmOTDLAHEJ> session=<ESIzRFVmOTAAAAAAAAAAAAAA///LAHEJ>",
	"from 203-0-113-9.dyn.example.net[203.0.113.9] ec2-203-0-113-9.compute-1.amazonaws.com ip-10-0-0-5.ec2.internal 1-2-3-4-5.x _203-0-113-9.x 203-0-113-9.1.2.3.4",
	"2001-db8-85a3--7334.sslip.io dynamic-2001-db8-1-2-3-4-5-6.example.net --1.sslip.io 1-2-3-4-5-6-7-8-9.x cafe-2001-db8--1.x",
	"ended.::ffff:cb00:7109 ...:::2 1.2.3.4.::1 12:2001:db8:1:2:3:4:5:6 /2001:db8:a:b:0:0:0:2:8080 src:2001:db8:1:2:3:4:5:6:443",
	`#2002:cb00:7109::1 %2002:cb00:7109::1%eth0 \x2002:cb00:7109::1:443 #2001:0:4136:e378:8000:63bf:3fff:fdd2`,
	"{CB007109:D431_C6336407:01BB_665800A0_0004:1A2B} cb007109:d431_ DEADBEEF:CAFE 0A000005:1_",
	"9.113.0.203.static.example.net static.9.113.0.203.clients.example.de 203.0.113.9.nip.io 10.0.0.5.x.y 203.0.113.9.png 203.0.113.9.a-b.9",
	"rhost=n203000113009.netvigator.example ip-198051100007.static.example.net 203000113256.x.example 1203000113009.x.example",
	"peer => {{203,0,113,9},54321} remote_ip: {198, 51, 100, 7} {8193,3512,1,2,0,0,0,7} {0, 0, 0, 0, 0, 65535, 52224, 29193} {1,2,3} {1,2,3,4,5}",
	"type=SOCKADDR msg=audit(1718092800.123:456): saddr=020001BBCB0071090000000000000000 msg=audit(1.2:3): saddr=0A0001BB0000000020010DB8000100020000000000000007000000 audit(1.2:3): saddr=01002F6465",
	"Jul  1 09:00:55 guest-203-0-113-9 kernel[0]: ip-10-0-0-5:22 (c-198-51-100-7) x-1-2-3-4. build 1-2-3-4 --1-2-3-4 x_-1-2-3-4 a-1-2-3-4-5",
	"?n=%2F%3Fip%3D2001%253Adb8%253A1%253A2%253A%253A7%2526x%3D%255B2001%253adb8%253a%253a1%255D%253A443 %2520203.0.113.9%2522 2001%253Adb8%3A%3A1 C3-CD-79-09-60-68",
}

// octets parses four numbers of one to three decimal digits, each 255
// or less, as an IPv4 address's octets.
func octets(parts []string) (v [4]byte, ok bool) {
	ok = true
	for k, part := range parts {
		n, err := strconv.Atoi(part)
		ok = ok && err == nil && len(part) <= 3 && n <= 255 && strings.Trim(part, "0123456789") == ""
		v[k] = byte(n)
	}
	return v, ok
}

// plainLeaks is the independent check: written with strings and
// netip.ParseAddr rather than the scanner, it lists the addresses in text
// that p does not mask (skipping private ones if skip), by the rules the
// package documentation states. Percent-encoded colons are not decoded
// here; callers pass the text through decodeColons first, since the
// package reads "%3A" as ':' (so "%3A%3A10%3A1.0.1.0" is one IPv6 address,
// not the IPv4 address 1.0.1.0 after some text).
func plainLeaks(text string, p ipmask.Policy, skip bool) []string {
	var leaks []string
	bad := func(a netip.Addr) bool {
		return !p.IsMasked(a) && !(skip && isPrivate(a))
	}
	isTok := func(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF:.", c) >= 0 }
	isWord := func(c byte) bool {
		return c == '_' || ('g' <= c && c <= 'z') || ('G' <= c && c <= 'Z')
	}
	isHex := func(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 }
	isPortText := func(t string) bool {
		n, err := strconv.Atoi(t)
		return err == nil && len(t) <= 5 && n <= 65535 && strings.Trim(t, "0123456789") == ""
	}
	// readings reads t as IPv6, maybe with a :port or a .port, or as IPv4
	// with a :port.
	readings := func(t string) (netip.Addr, string, bool) {
		t = strings.TrimRight(t, ".")
		cands := []string{t, strings.TrimSuffix(t, ":")}
		// The scanner takes any run of digits after a colon as a port,
		// also with a colon after it (a message follows).
		if u := strings.TrimSuffix(t, ":"); strings.LastIndexByte(u, ':') > 0 && strings.LastIndexByte(u, ':')+1 < len(u) && strings.Trim(u[strings.LastIndexByte(u, ':')+1:], "0123456789") == "" {
			cands = append(cands, u[:strings.LastIndexByte(u, ':')])
		} else {
			cands = append(cands, "")
		}
		// IPv6.port, with or without a colon after it.
		if u := strings.TrimSuffix(t, ":"); strings.LastIndexByte(u, '.') > 0 && isPortText(u[strings.LastIndexByte(u, '.')+1:]) {
			cands = append(cands, u[:strings.LastIndexByte(u, '.')])
		}
		// IPv6, a '.' and a word of hex letters (2001:db8::1.Added).
		if d := strings.LastIndexByte(t, '.'); d > 0 && d+1 < len(t) && strings.Trim(t[d+1:], "0123456789") != "" && !strings.Contains(t[d+1:], ":") {
			cands = append(cands, t[:d])
		}
		// The first reading that parses is the address (a port is read as
		// a group where the whole parses); only one with a :port may be
		// IPv4 (without a port, dotted quads are found as such).
		for k, c := range cands {
			if a, err := netip.ParseAddr(stripLeadingZeros(c)); err == nil && c != "" && (k == 2 || a.Is6()) {
				return a, c, true
			}
		}
		return netip.Addr{}, "", false
	}
	// groups counts the groups of the address text c, a dotted tail as
	// several.
	groups := func(c string) int {
		return len(strings.FieldsFunc(c, func(r rune) bool { return r == ':' || r == '.' }))
	}
	// read reads t, the end of a token, by readings. Glued to a word on
	// the right, only what comes before its last '.' is read so, and
	// failing that, the longest IPv6 address that t starts with is the
	// address, whatever follows it.
	read := func(t string, glued bool) (netip.Addr, string, bool) {
		if !glued {
			return readings(t)
		}
		if d := strings.LastIndexByte(t, '.'); d > 0 {
			if a, c, ok := readings(t[:d]); ok {
				return a, c, true
			}
		}
		for e := len(t); e >= 2; e-- {
			if e == 2 && strings.HasPrefix(t, ":::") {
				// A lone colon, then an address of three groups or
				// more (:::ffff:192.0.2.1.log; not :::Factory).
				for e := len(t); e >= 3; e-- {
					if a, err := netip.ParseAddr(stripLeadingZeros(t[1:e])); err == nil && a.Is6() && groups(t[1:e]) >= 3 {
						return a, t[1:e], true
					}
				}
			}
			if a, err := netip.ParseAddr(stripLeadingZeros(t[:e])); err == nil && a.Is6() {
				return a, t[:e], true
			}
		}
		return netip.Addr{}, "", false
	}
	// ranAddr reports whether c, read from a group's last four digits, is
	// an address rather than an identifier's two groups around a "::", the
	// second without a decimal digit (Sha256::digest).
	ranAddr := func(c string) bool {
		c, _, _ = strings.Cut(c, "%")
		_, after, _ := strings.Cut(c, "::")
		return groups(c) >= 3 || after == "" || strings.ContainsAny(after, "0123456789")
	}
	// v6 reads tok as an address unless a word is glued to its left, and
	// then as a key, one colon (not "::") and an address; an address run
	// into what is on its left (a first group of more than four hex
	// digits, or of four glued to a word) is read from its first group's
	// last four digits, before the key reading if they hold a decimal
	// digit and after it if not, unless it is two groups around a "::",
	// the second with no decimal digit; so is the group after the key, if
	// longer than four, where the key reading fails; a token glued to a
	// word with a shorter
	// first group is read whole, last, if it has three groups or more.
	// It returns where in tok the reading starts.
	var v6 func(tok string, wordBefore, glued bool) (netip.Addr, string, int, bool)
	v6 = func(tok string, wordBefore, glued bool) (netip.Addr, string, int, bool) {
		if !wordBefore {
			if a, c, ok := read(tok, glued); ok {
				return a, c, 0, true
			}
		}
		k := strings.IndexByte(tok, ':')
		if k < 0 {
			return netip.Addr{}, "", 0, false
		}
		ran := (k > 4 || wordBefore && k == 4) && strings.Trim(tok[k-4:k], "0123456789abcdefABCDEF") == ""
		if ran && strings.ContainsAny(tok[k-4:k], "0123456789") {
			if a, c, ok := read(tok[k-4:], glued); ok && ranAddr(c) {
				return a, c, k - 4, true
			}
			ran = false
		}
		if k+1 < len(tok) && (tok[k+1] != ':' || strings.HasPrefix(tok[k+1:], "::")) {
			if a, c, ok := read(tok[k+1:], glued); ok {
				return a, c, k + 1, true
			}
			// After the key, the next group's last four digits, where
			// it is longer than four.
			if j := strings.IndexByte(tok[k+1:], ':'); j > 4 {
				j += k + 1
				if g := tok[j-4 : j]; strings.Trim(g, "0123456789abcdefABCDEF") == "" && strings.ContainsAny(g, "0123456789") {
					if a, c, ok := read(tok[j-4:], glued); ok && ranAddr(c) {
						return a, c, j - 4, true
					}
				}
			}
		}
		if ran {
			if a, c, ok := read(tok[k-4:], glued); ok && ranAddr(c) {
				return a, c, k - 4, true
			}
		}
		// "::" before an address of three groups or more (x ::2001:db8::1).
		if !wordBefore && strings.HasPrefix(tok, "::") && len(tok) > 2 {
			if a, c, ok := read(tok[2:], glued); ok && groups(c) >= 3 {
				return a, c, 2, true
			}
		}
		if wordBefore && k < 4 {
			if a, c, ok := read(tok, glued); ok && groups(c) >= 3 {
				return a, c, 0, true
			}
		}
		// A lone colon before the token's text: what follows it is read
		// as a token of its own (:2001:0:4136:e378:8000:9c48:9cbd:d37d:db).
		if !wordBefore && k == 0 && len(tok) > 1 && tok[1] != ':' {
			if a, c, at, ok := v6(tok[1:], false, glued); ok {
				return a, c, at + 1, true
			}
		}
		return netip.Addr{}, "", 0, false
	}
	// quad reads piece as a dotted quad or, if port, as a dotted quad, a
	// '.' and a port.
	quad := func(piece string, port bool) (netip.Addr, string, bool) {
		parts := strings.Split(piece, ".")
		if len(parts) == 5 && port && isPortText(parts[4]) {
			parts = parts[:4]
			piece = piece[:strings.LastIndexByte(piece, '.')]
		}
		if len(parts) != 4 {
			return netip.Addr{}, "", false
		}
		var v [4]byte
		for k, part := range parts {
			n, err := strconv.Atoi(part)
			if err != nil || len(part) > 3 || n > 255 {
				return netip.Addr{}, "", false
			}
			v[k] = byte(n)
		}
		return netip.AddrFrom4(v), piece, true
	}
	// versioned reports a letter, '_', '/' or '-' at text[i-1].
	versioned := func(i int) bool {
		if i == 0 {
			return false
		}
		c := text[i-1]
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("_/-", c) >= 0
	}
	// reverse reads tok, a token ending in '.' before after, as the labels
	// of a reverse DNS name: up to four decimal octets before
	// in-addr.arpa, up to 32 hex nibbles before ip6.arpa, least
	// significant first, the missing ones zero. Four octets also read
	// forward as a dotted quad.
	reverse := func(tok, after string) ([]netip.Addr, bool) {
		after = strings.ToLower(after)
		var suffix string
		for _, sfx := range []string{"in-addr.arpa", "ip6.arpa"} {
			if strings.HasPrefix(after, sfx) && (len(after) == len(sfx) || !strings.ContainsAny(after[len(sfx):len(sfx)+1], "0123456789abcdefghijklmnopqrstuvwxyz_-")) {
				suffix = sfx
			}
		}
		if suffix == "" || !strings.HasSuffix(tok, ".") {
			return nil, false
		}
		parts := strings.Split(strings.TrimPrefix(strings.TrimSuffix(tok, "."), "."), ".")
		rev := slices.Clone(parts)
		slices.Reverse(rev)
		if suffix == "ip6.arpa" {
			if len(parts) > 32 {
				return nil, false
			}
			hex := ""
			for _, p := range rev {
				if len(p) != 1 || !isHex(p[0]) {
					return nil, false
				}
				hex += p
			}
			hex += strings.Repeat("0", 32-len(hex))
			var groups []string
			for k := 0; k < 32; k += 4 {
				groups = append(groups, hex[k:k+4])
			}
			a, err := netip.ParseAddr(strings.Join(groups, ":"))
			return []netip.Addr{a}, err == nil
		}
		if len(parts) > 4 {
			return nil, false
		}
		for _, p := range parts {
			if n, err := strconv.Atoi(p); err != nil || len(p) > 3 || n > 255 || strings.Trim(p, "0123456789") != "" {
				return nil, false
			}
		}
		var addrs []netip.Addr
		for _, labels := range [][]string{rev, parts} {
			if len(labels) < 4 && len(addrs) > 0 {
				break
			}
			q := append(slices.Clone(labels), "0", "0", "0")[:4]
			a, err := netip.ParseAddr(stripLeadingZeros(strings.Join(q, ".")))
			if err != nil {
				return nil, false
			}
			addrs = append(addrs, a)
		}
		return addrs, true
	}
	for _, span := range sessions(text) {
		if b, err := base64.StdEncoding.DecodeString(text[span[0]:span[1]]); err == nil && len(b) > 8 {
			if a, ok := netip.AddrFromSlice(b[8:]); ok && bad(a) {
				leaks = append(leaks, text[span[0]:span[1]])
			}
		}
	}
	// HAProxy's unique IDs: a token of eight hex digits, a colon and four,
	// then '_': the eight are an IPv4 address.
	for i := 0; i+13 < len(text); i++ {
		if (i > 0 && isTok(text[i-1])) || text[i+8] != ':' || text[i+13] != '_' {
			continue
		}
		if v, err := strconv.ParseUint(text[i:i+8], 16, 32); err == nil && strings.Trim(text[i:i+13], "0123456789abcdefABCDEF:") == "" && strings.Count(text[i:i+13], ":") == 1 {
			if a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}); bad(a) {
				leaks = append(leaks, text[i:i+8])
			}
		}
	}
	// Erlang tuples: four decimal octets or eight 16-bit groups in
	// braces, separated by commas and spaces: {203, 0, 113, 9}.
	for i := strings.IndexByte(text, '{'); i >= 0; {
		body, _, closed := strings.Cut(text[i+1:], "}")
		if closed && !strings.Contains(body, "{") {
			var nums []uint64
			for f := range strings.SplitSeq(body, ",") {
				f = strings.Trim(f, " ")
				n, err := strconv.ParseUint(f, 10, 32)
				if err != nil || f == "" || len(f) > 5 || strings.Trim(f, "0123456789") != "" {
					nums = nil
					break
				}
				nums = append(nums, n)
			}
			var a netip.Addr
			switch {
			case len(nums) == 4 && max(nums[0], nums[1], nums[2], nums[3]) <= 255:
				a = netip.AddrFrom4([4]byte{byte(nums[0]), byte(nums[1]), byte(nums[2]), byte(nums[3])})
			case len(nums) == 8 && slices.Max(nums) <= 0xffff:
				var b [16]byte
				for j, n := range nums {
					b[2*j], b[2*j+1] = byte(n>>8), byte(n)
				}
				a = netip.AddrFrom16(b)
			}
			if a.IsValid() && bad(a) {
				leaks = append(leaks, text[i:i+2+len(body)])
			}
		}
		j := strings.IndexByte(text[i+1:], '{')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	// Linux audit's SOCKADDR records: after "audit(", a timestamp, a
	// serial and "): saddr=", a struct sockaddr in hex whose family
	// (2 or 10, in either byte order) tells where the address is.
	for rest := text; ; {
		k := strings.Index(rest, "): saddr=")
		if k < 0 {
			break
		}
		before, after := rest[:k], rest[k+len("): saddr="):]
		rest = after
		o := strings.LastIndex(before, "audit(")
		ts := ""
		if o >= 0 {
			ts = before[o+len("audit("):]
		}
		sec, serial, _ := strings.Cut(ts, ":")
		whole, frac, _ := strings.Cut(sec, ".")
		if o < 0 || whole == "" || frac == "" || serial == "" || strings.Trim(whole+frac+serial, "0123456789") != "" {
			continue
		}
		h := after[:len(after)-len(strings.TrimLeft(after, "0123456789abcdefABCDEF"))]
		raw, err := hex.DecodeString(h[:len(h)/2*2])
		if err != nil || len(raw) < 2 {
			continue
		}
		switch fam := [2]byte{raw[0], raw[1]}; {
		case (fam == [2]byte{2, 0} || fam == [2]byte{0, 2}) && len(raw) >= 8:
			if a, _ := netip.AddrFromSlice(raw[4:8]); bad(a) {
				leaks = append(leaks, h[8:16])
			}
		case (fam == [2]byte{10, 0} || fam == [2]byte{0, 10}) && len(raw) >= 24:
			if a, _ := netip.AddrFromSlice(raw[8:24]); bad(a) {
				leaks = append(leaks, h[16:48])
			}
		}
	}
	isDigitDot := func(c byte) bool { return '0' <= c && c <= '9' || c == '.' }
	// Host names' labels that end in an IPv6 address with '-' for ':'
	// (seven dashes or a "--"): 2001-db8--7.sslip.io, in any reading
	// that starts at a '-' of the label, or at its start unless a '.' or
	// ':' is before it (the end of other address text, as in
	// "::1-2--.x", may run into it); label ends at text[j], a '.'.
	dashed := func(label string, j int) {
		// Unless the last group is a number that starts four or more
		// dotted ones: that is read as a quad (--1.2.3.4).
		last := label[strings.LastIndexByte(label, '-')+1:]
		for q := j; q < len(text) && isDigitDot(text[q]); q++ {
			last += text[q : q+1]
		}
		if last, _, _ = strings.Cut(last, ".."); strings.Trim(last, "0123456789.") == "" && len(strings.Split(strings.TrimRight(last, "."), ".")) >= 4 {
			return
		}
		// Nor is one among the labels (of one to three hex digits) before
		// ip6.arpa or in-addr.arpa: a reverse DNS name.
		after := strings.ToLower(text[j+1:])
		for {
			k := 0
			for k < len(after) && k < 3 && strings.IndexByte("0123456789abcdef", after[k]) >= 0 {
				k++
			}
			if k == 0 || k >= len(after) || after[k] != '.' {
				break
			}
			after = after[k+1:]
		}
		if strings.HasPrefix(after, "ip6.arpa") || strings.HasPrefix(after, "in-addr.arpa") {
			return
		}
		for k := 0; k < len(label); k++ {
			if k > 0 && label[k-1] != '-' || k == 0 && j > len(label) && strings.IndexByte(".:", text[j-len(label)-1]) >= 0 {
				continue
			}
			run := label[k:]
			if len(run) > 39 || strings.Trim(run, "0123456789abcdefABCDEF-") != "" || (strings.Count(run, "-") != 7 && !strings.Contains(run, "--")) {
				continue
			}
			if a, err := netip.ParseAddr(strings.ReplaceAll(run, "-", ":")); err == nil && bad(a) {
				leaks = append(leaks, run)
			}
		}
	}

	// Host names' labels that end in four numbers joined by '-', after
	// a part that is not all digits: ec2-203-0-113-9.compute-1.amazonaws.com.
	isLabel := func(c byte) bool {
		return c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'z'
	}
	// Host names' labels that end in eight hex digits, before a name (a
	// label that starts with a letter, a '.' and another label), after
	// nothing, one to four letters or a '-': p5dc5a9f2.dip0.t-ipconnect.de,
	// app-c633644d.nip.io; not after a ':', a '_', or a number and a '.'.
	// Twelve decimal digits, three to an octet, in their place are one
	// too (n203000113009.netvigator.example): width is 8 or 12.
	hexLabel := func(label string, j, width int) {
		rest := text[j+1:]
		k := strings.IndexByte(rest, '.')
		if len(label) < width || k < 1 || k+1 >= len(rest) || !isLetter(rest[0]) || !isLabel(rest[k+1]) || rest[k+1] == '-' || rest[k+1] == '_' ||
			strings.Trim(rest[:k], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return
		}
		h, prefix := label[len(label)-width:], label[:len(label)-width]
		digitsOnly := "0123456789abcdefABCDEF"
		if width == 12 {
			digitsOnly = "0123456789"
		}
		if strings.Trim(h, digitsOnly) != "" {
			return
		}
		if prefix != "" && !strings.HasSuffix(prefix, "-") && (len(prefix) > 4 || strings.Trim(prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != "") {
			return
		}
		if start := j - len(label); start > 0 && (text[start-1] == ':' || text[start-1] == '.' && start > 1 && '0' <= text[start-2] && text[start-2] <= '9') {
			return
		}
		// Nor in a run of hex digits, dots and colons that holds a colon:
		// other address text.
		l, r := j-1, j
		for l > 0 && isTok(text[l-1]) {
			l--
		}
		for r < len(text) && isTok(text[r]) {
			r++
		}
		if strings.Contains(text[l:r], ":") {
			return
		}
		if width == 12 {
			if v, ok := octets([]string{h[:3], h[3:6], h[6:9], h[9:]}); ok && bad(netip.AddrFrom4(v)) {
				leaks = append(leaks, label)
			}
			return
		}
		v, _ := strconv.ParseUint(h, 16, 32)
		if a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}); bad(a) {
			leaks = append(leaks, label)
		}
	}
	for i := 0; i < len(text); {
		j := i
		for j < len(text) && isLabel(text[j]) {
			j++
		}
		if j == i {
			i++
			continue
		}
		label := text[i:j]
		i = j
		if start := j - len(label); plainMAC(label) && (start == 0 || text[start-1] != '.') {
			continue // a MAC address written with dashes: C3-CD-79-09-60-68
		}
		if j+1 >= len(text) || text[j] != '.' || !isLabel(text[j+1]) || text[j+1] == '-' || text[j+1] == '_' {
			// No name after it: a host name without its domain, four
			// numbers after a word that ends in a letter or digit
			// (ip-10-0-0-5 sshd[42]:).
			parts := strings.Split(label, "-")
			if len(parts) < 5 {
				continue
			}
			p := parts[len(parts)-5]
			if p == "" || strings.Trim(p, "0123456789") == "" || p[len(p)-1] == '_' {
				continue
			}
			if v, ok := octets(parts[len(parts)-4:]); ok && bad(netip.AddrFrom4(v)) {
				leaks = append(leaks, strings.Join(parts[len(parts)-4:], "-"))
			}
			continue
		}
		dashed(label, j)
		hexLabel(label, j, 8)
		hexLabel(label, j, 12)
		parts := strings.Split(label, "-")
		if len(parts) < 4 {
			continue
		}
		// Unless the last number starts four or more dotted ones.
		run := parts[len(parts)-1]
		for q := j; q < len(text) && isDigitDot(text[q]); q++ {
			run += text[q : q+1]
		}
		if run, _, _ = strings.Cut(run, ".."); len(strings.Split(strings.TrimRight(run, "."), ".")) >= 4 {
			continue
		}
		v, ok := octets(parts[len(parts)-4:])
		if before := parts[:len(parts)-4]; len(before) > 0 {
			if p := before[len(before)-1]; p != "" && strings.Trim(p, "0123456789") == "" {
				ok = false // a fifth number
			}
		} else if start := j - len(label); start > 0 && (text[start-1] == ':' || text[start-1] == '.' && start > 1 && '0' <= text[start-2] && text[start-2] <= '9') {
			ok = false // the end of other address text
		}
		if ok && bad(netip.AddrFrom4(v)) {
			leaks = append(leaks, strings.Join(parts[len(parts)-4:], "-"))
		}
	}
	for i := 0; i < len(text); {
		if !isTok(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && isTok(text[j]) {
			j++
		}
		tok := text[i:j]
		if !strings.Contains(tok, ":") {
			if addrs, ok := reverse(tok, text[j:]); ok {
				for _, a := range addrs {
					if bad(a) {
						leaks = append(leaks, tok)
					}
				}
				i = j
				continue
			}
		}
		// A token that starts with the code digits of an escape is read
		// without them first: a URL's "%20", "%2C" or "%5B", "\x22",
		// "\u0027", rsyslog's "#011" or C's "\011" before an address.
		esc := 0
		switch {
		case i > 0 && text[i-1] == '%':
			esc = 2
		case i > 1 && text[i-2:i] == `\x`:
			esc = 2
		case i > 1 && text[i-2:i] == `\u`:
			esc = 4
		case i > 0 && (text[i-1] == '#' || text[i-1] == '\\'):
			esc = 3
		}
		if len(tok) <= esc {
			esc = 0
		}
		for _, c := range []byte(tok[:esc]) {
			if !isHex(c) || esc == 3 && c > '7' {
				esc = 0
			}
		}
		// IPv6 (and addr:port) where the token is not an identifier.
		quadEnd := j
		if strings.Contains(tok, ":") {
			glued := j < len(text) && isWord(text[j])
			a, c, at, ok := netip.Addr{}, "", 0, false
			// A '.' right before the first colon ends what comes
			// before it (ended.::ffff:cb00:7109), escape digits too.
			if k := strings.IndexByte(tok, ':'); k > 0 && tok[k-1] == '.' {
				a, c, at, ok = v6(tok[k:], false, glued)
				at += k
			} else if esc > 0 && strings.Contains(tok[esc:], ":") {
				a, c, at, ok = v6(tok[esc:], false, glued)
				// Read with the escape's digits, a 6to4 or Teredo
				// address is read so.
				host, zone, _ := strings.Cut(c, "%")
				if w, err := netip.ParseAddr(tok[:esc] + host); ok && at == 0 && err == nil && (netip.MustParsePrefix("2002::/16").Contains(w) || netip.MustParsePrefix("2001::/32").Contains(w)) {
					a, c = w, tok[:esc]+host
					if zone != "" {
						c += "%" + zone
					}
					esc = 0
				}
				at += esc
			}
			if !ok && (at == 0 || tok[at-1] != '.') {
				a, c, at, ok = v6(tok, i > 0 && isWord(text[i-1]), glued)
			}
			if ok && bad(a) {
				leaks = append(leaks, c)
			}
			// An IPv6 address not read after a key also reads as a key
			// of one group and the address after it.
			if k := strings.IndexByte(c, ':'); ok && a.Is6() && k > 0 && k+1 < len(c) && c[k+1] != ':' && (i+at == 0 || text[i+at-1] != ':') && !(skip && isPrivate(a)) {
				host, _, _ := strings.Cut(c[k+1:], "%")
				if b, err := netip.ParseAddr(stripLeadingZeros(host)); err == nil && bad(b) {
					leaks = append(leaks, c[k+1:])
				}
			}
			// An IPv6 address and a :port, not read after a key,
			// also read as a key and an address whose last group the
			// port is (12:2001:db8:1:2:3:4:5 and 6).
			if rest := tok[at+len(c):]; ok && a.Is6() && strings.HasPrefix(rest, ":") && (i+at == 0 || text[i+at-1] != ':') {
				port := rest[1:]
				after := strings.TrimLeft(port, "0123456789")
				port = port[:len(port)-len(after)]
				if after == "" {
					after = text[j:] // the token ends with the digits
				}
				if k := strings.IndexByte(c, ':'); port != "" && (after == "" || !isHex(after[0])) && k > 0 && c[k+1] != ':' {
					if b, err := netip.ParseAddr(c[k+1:] + ":" + port); err == nil && bad(b) {
						leaks = append(leaks, c+":"+port)
					}
				}
			}
			if ok && a.Is6() {
				// Its dotted tail, if any, is part of it; a key before
				// it may hold dotted quads.
				quadEnd = i + max(0, at-1)
			}
		}
		// Dotted quads: digit-and-dot runs, split at "..", trimmed of dots;
		// one that starts among an escape's code digits is read without
		// them first. Five numbers are an address and a port unless a
		// version marker comes right before them.
		for r := i; r < quadEnd; {
			if !isDigitDot(text[r]) {
				r++
				continue
			}
			q := r
			for q < quadEnd && isDigitDot(text[q]) {
				q++
			}
			pos := r
			for _, piece := range strings.Split(text[r:q], "..") {
				at := pos
				pos += len(piece) + 2
				trimmed := strings.TrimLeft(piece, ".")
				at += len(piece) - len(trimmed)
				piece = strings.TrimRight(trimmed, ".")
				if e := i + esc; esc > 0 && at < e && e < at+len(piece) {
					if a, c, ok := quad(text[e:at+len(piece)], true); ok {
						if bad(a) {
							leaks = append(leaks, c)
						}
						continue
					}
					// "%2520": a space encoded twice.
					if e += 2; text[i-1] == '%' && tok[:2] == "25" && e < at+len(piece) && isHex(text[e-2]) && isHex(text[e-1]) {
						if a, c, ok := quad(text[e:at+len(piece)], true); ok {
							if bad(a) {
								leaks = append(leaks, c)
							}
							continue
						}
					}
				}
				if a, c, ok := quad(piece, !versioned(at)); ok && bad(a) {
					leaks = append(leaks, c)
				}
			}
			r = q
		}
		i = j
	}
	return leaks
}

// sessions returns the spans of Dovecot session IDs in text: after
// "session=<", or after ")<", digits and "><", 16 or 32 base64 characters
// and a '>'. Bytes 8 on of what they decode to are the client's IPv4 or
// IPv6 address.
func sessions(text string) [][2]int {
	var spans [][2]int
	for k := strings.IndexByte(text, '<'); k >= 0; {
		before := text[:k]
		digits := strings.TrimRight(strings.TrimSuffix(before, ">"), "0123456789")
		if strings.HasSuffix(before, "session=") || strings.HasSuffix(before, ">") && len(digits) < len(before)-1 && strings.HasSuffix(digits, ")<") {
			// Base64's own characters only: the decoder skips line
			// breaks, which no session ID holds.
			if body, _, ok := strings.Cut(text[k+1:], ">"); ok && (len(body) == 16 || len(body) == 32) && strings.Trim(body, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == "" {
				if _, err := base64.StdEncoding.DecodeString(body); err == nil {
					spans = append(spans, [2]int{k + 1, k + 1 + len(body)})
				}
			}
		}
		next := strings.IndexByte(text[k+1:], '<')
		if next < 0 {
			break
		}
		k += 1 + next
	}
	return spans
}

// withoutSessions deletes the Dovecot session IDs from text: their
// base64 is address text, whose '+' and '/' masking may change.
func withoutSessions(text []byte) []byte {
	var out []byte
	last := 0
	for _, span := range sessions(string(text)) {
		out = append(out, text[last:span[0]]...)
		last = span[1]
	}
	return append(out, text[last:]...)
}

// decodeColons decodes the percent-encoded colons in text, also those
// encoded twice.
func decodeColons(text string) string {
	return strings.NewReplacer("%253A", ":", "%253a", ":", "%3A", ":", "%3a", ":").Replace(text)
}

// notAddrBytes deletes every byte that can belong to an address text.
func notAddrBytes(b []byte) []byte {
	return bytes.Map(func(r rune) rune {
		if r < 256 && class[r]&(cZone|cColon) != 0 || r == '%' {
			return -1
		}
		return r
	}, b)
}

// lengthBound is the longest masked free text that the package
// documentation allows for text: as long as the input, under any policy.
func lengthBound(text string) int { return len(text) }

// plainMAC reports whether label is six groups of two hex digits joined
// by '-', a MAC address as Windows writes it.
func plainMAC(label string) bool {
	parts := strings.Split(label, "-")
	if len(parts) != 6 {
		return false
	}
	for _, p := range parts {
		if len(p) != 2 || strings.Trim(p, "0123456789abcdefABCDEF") != "" {
			return false
		}
	}
	return true
}

func FuzzMask(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s), uint8(24), uint8(48), false)
		f.Add([]byte(s), uint8(16), uint8(120), true)
	}
	f.Fuzz(func(t *testing.T, text []byte, v4, v6 uint8, skip bool) {
		p, err := ipmask.New(int(v4%33), int(v6%129))
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewMasker(p, &Options{SkipPrivate: skip})
		if err != nil {
			t.Fatal(err)
		}
		out := m.AppendMask(nil, text)

		// Every address in the output is masked: by our own scanner...
		for match := range Addrs(out) {
			if !p.IsMasked(match.Addr) && !(skip && isPrivate(match.Addr)) {
				t.Fatalf("%q -> %q: %v at %d is not masked under %v", text, out, match.Addr, match.Start, p)
			}
		}
		// ...and by the independent check, on the text as the package
		// reads it: with "%3A" as ':'.
		if leaks := plainLeaks(decodeColons(string(out)), p, skip); len(leaks) > 0 {
			t.Fatalf("%q -> %q: plain check finds %q not masked under %v", text, out, leaks, p)
		}
		// Bytes that are not address text are unchanged.
		if a, b := notAddrBytes(withoutSessions(text)), notAddrBytes(withoutSessions(out)); !bytes.Equal(a, b) {
			t.Fatalf("%q -> %q: other bytes changed: %q vs %q", text, out, a, b)
		}
		// The output length is bounded by the input's.
		if bound := lengthBound(string(text)); len(out) > bound {
			t.Fatalf("%q -> %q: %d bytes, bound %d", text, out, len(out), bound)
		}
		// Idempotent.
		if again := m.AppendMask(nil, out); !bytes.Equal(again, out) {
			t.Fatalf("%q -> %q -> %q: not idempotent", text, out, again)
		}
	})
}

func FuzzWriter(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s), uint16(7), uint16(256))
		f.Add([]byte(strings.Repeat(s, 5)), uint16(300), uint16(256))
	}
	f.Fuzz(func(t *testing.T, text []byte, step, maxLine uint16) {
		max := 256 + int(maxLine%1024)
		chunk := 1 + int(step%2048)
		var out bytes.Buffer
		w, err := NewWriter(&out, ipmask.Default, &Options{MaxLine: max})
		if err != nil {
			t.Fatal(err)
		}
		for rest := text; len(rest) > 0; {
			k := min(chunk, len(rest))
			if _, err := w.Write(rest[:k]); err != nil {
				t.Fatal(err)
			}
			rest = rest[k:]
			if cap(w.pend) > max {
				t.Fatalf("holds %d bytes, MaxLine %d", cap(w.pend), max)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		long := false
		for _, l := range bytes.SplitAfter(text, []byte("\n")) {
			// MaxLine counts the newline, so a last line without one is
			// long at MaxLine bytes already.
			long = long || len(l) > max || len(l) == max && !bytes.HasSuffix(l, []byte("\n"))
		}
		if !long {
			m, _ := NewMasker(ipmask.Default, nil)
			if want := m.AppendMask(nil, text); !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("%q: Writer %q, AppendMask %q", text, out.Bytes(), want)
			}
		}
		for match := range Addrs(out.Bytes()) {
			if !ipmask.Default.IsMasked(match.Addr) {
				t.Fatalf("%q -> %q: %v at %d not masked", text, out.Bytes(), match.Addr, match.Start)
			}
		}
		if leaks := plainLeaks(decodeColons(out.String()), ipmask.Default, false); len(leaks) > 0 {
			t.Fatalf("%q -> %q: plain check finds %q", text, out.Bytes(), leaks)
		}
	})
}

// FuzzParse checks the scanner's parser against net/netip: it accepts
// exactly what netip.ParseAddr accepts (zones aside), plus leading zeros in
// dotted octets, read as decimal.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "::", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "01.2.3.4", "::1.2.3.04", "1::", "fe80::1%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseAddr([]byte(s))
		want, err := netip.ParseAddr(s)
		if err == nil && want.Zone() == "" {
			if !ok || got != want {
				t.Fatalf("%q: parseAddr %v %v, netip %v", s, got, ok, want)
			}
			return
		}
		if !ok {
			return
		}
		// Accepted where netip refuses: only for leading zeros, which
		// must then be the only difference.
		stripped := stripLeadingZeros(s)
		if stripped == s {
			t.Fatalf("%q: parseAddr accepts %v, netip refuses: %v", s, got, err)
		}
		if w, err := netip.ParseAddr(stripped); err != nil || w != got {
			t.Fatalf("%q: parseAddr %v, netip(%q) %v %v", s, got, stripped, w, err)
		}
	})
}

// stripLeadingZeros removes leading zeros from the dotted part of s.
func stripLeadingZeros(s string) string {
	k := strings.LastIndexByte(s, ':') + 1
	parts := strings.Split(s[k:], ".")
	if len(parts) != 4 {
		return s
	}
	for i, p := range parts {
		if t := strings.TrimLeft(p, "0"); t != p && len(p) <= 3 {
			if t == "" {
				t = "0"
			}
			parts[i] = t
		}
	}
	return s[:k] + strings.Join(parts, ".")
}

// FuzzFields checks field mode: columns not chosen pass through byte for
// byte, and a chosen column comes out as the placeholder or as addresses
// all masked.
func FuzzFields(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s), uint8(0), false)
	}
	f.Add([]byte("203.0.113.9 x \"198.51.100.7, [2001:db8::1]:443\"\nhost y\n"), uint8(2), true)
	f.Fuzz(func(t *testing.T, text []byte, col uint8, skip bool) {
		field := 1 + int(col%4)
		m, err := NewMasker(ipmask.Default, &Options{Fields: []int{field}, SkipPrivate: skip})
		if err != nil {
			t.Fatal(err)
		}
		out := m.AppendMask(nil, text)
		inLines := bytes.Split(text, []byte("\n"))
		outLines := bytes.Split(out, []byte("\n"))
		if len(inLines) != len(outLines) {
			t.Fatalf("%q -> %q: %d lines became %d", text, out, len(inLines), len(outLines))
		}
		for i := range inLines {
			// A CRLF line ending is kept, outside the columns.
			inCR, outCR := bytes.HasSuffix(inLines[i], []byte("\r")), bytes.HasSuffix(outLines[i], []byte("\r"))
			if inCR != outCR {
				t.Fatalf("%q -> %q: line %d's CR changed", text, out, i)
			}
			inLines[i], outLines[i] = bytes.TrimSuffix(inLines[i], []byte("\r")), bytes.TrimSuffix(outLines[i], []byte("\r"))
			if len(inLines[i]) == 0 {
				if len(outLines[i]) != 0 {
					t.Fatalf("%q -> %q: empty line %d filled", text, out, i)
				}
				continue
			}
			in := bytes.Split(inLines[i], []byte(" "))
			got := bytes.Split(outLines[i], []byte(" "))
			if len(in) != len(got) {
				t.Fatalf("%q -> %q: columns %d became %d", inLines[i], outLines[i], len(in), len(got))
			}
			for k := range in {
				if k != field-1 {
					if !bytes.Equal(in[k], got[k]) {
						t.Fatalf("%q -> %q: column %d changed", inLines[i], outLines[i], k+1)
					}
					continue
				}
				if string(got[k]) == "-" {
					continue
				}
				n := 0
				for match := range Addrs(got[k]) {
					n++
					if !ipmask.Default.IsMasked(match.Addr) && !(skip && isPrivate(match.Addr)) {
						t.Fatalf("%q -> %q: %v not masked", inLines[i], outLines[i], match.Addr)
					}
				}
				if n == 0 {
					t.Fatalf("%q -> %q: column %d kept with no address", inLines[i], outLines[i], field)
				}
				if leaks := plainLeaks(string(got[k]), ipmask.Default, skip); len(leaks) > 0 {
					t.Fatalf("%q -> %q: plain check finds %q", inLines[i], outLines[i], leaks)
				}
			}
		}
	})
}

// FuzzHandler logs fuzzed text through a Handler as the message, a key, a
// string, an error, a *string and a group member, and checks every value
// of the JSON record, decoded, with the scanner and with the independent
// check; and as group names and keys through a text handler, which joins
// them with dots, whose output the scanner checks.
func FuzzHandler(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var buf bytes.Buffer
		h, err := NewHandler(slog.NewJSONHandler(&buf, nil), ipmask.Default, nil)
		if err != nil {
			t.Fatal(err)
		}
		slog.New(h).With("with", text).WithGroup("g").Info(text,
			slog.String("s", text), slog.Int(text, 1), slog.Any("err", errors.New(text)),
			slog.Any("p", &text), slog.Group("in", slog.String("s", text)))
		var joined bytes.Buffer
		th, err := NewHandler(slog.NewTextHandler(&joined, nil), ipmask.Default, nil)
		if err != nil {
			t.Fatal(err)
		}
		half := text[:len(text)/2]
		slog.New(th).WithGroup(half).WithGroup(text[len(half):]).Info("m", slog.Group(half, slog.Int(text[len(half):], 1)))
		for match := range Addrs(joined.Bytes()) {
			if !ipmask.Default.IsMasked(match.Addr) {
				t.Fatalf("%q: text handler wrote %q, holding %v", text, joined.String(), match.Addr)
			}
		}
		var rec map[string]any
		if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		var check func(v any)
		check = func(v any) {
			switch v := v.(type) {
			case string:
				for match := range Addrs([]byte(v)) {
					if !ipmask.Default.IsMasked(match.Addr) {
						t.Fatalf("%q: %q holds %v", text, v, match.Addr)
					}
				}
				if leaks := plainLeaks(decodeColons(v), ipmask.Default, false); len(leaks) > 0 {
					t.Fatalf("%q: %q: plain check finds %q", text, v, leaks)
				}
			case map[string]any:
				for k, x := range v {
					check(k)
					check(x)
				}
			}
		}
		check(rec)
	})
}
