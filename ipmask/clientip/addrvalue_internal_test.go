package clientip

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzListsAddr holds the middleware's test for a header that carries an
// address, listsAddr, to net/netip: it finds every address netip parses
// (with or without a port, a zone, brackets or quotes) that is a value or
// its list's first or last element, and any address written any way a
// proxy writes it, with a port, expanded, quoted, alone or at either end
// of a list.
func FuzzListsAddr(f *testing.F) {
	f.Add("198.51.100.77", []byte{198, 51, 100, 77}, uint16(443))
	f.Add("unknown, [2001:db8::1]:443", []byte("\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"), uint16(0))
	f.Add(`"fe80::1%eth0"`, []byte{10, 0, 0, 1}, uint16(80))
	f.Add("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)", []byte{}, uint16(1))
	f.Add("00:1a:2b:3c:4d:5e, 1.2.3, 12:30:00, 300.1.1.1", []byte{0, 0, 0, 0}, uint16(65535))
	f.Fuzz(func(t *testing.T, v string, b []byte, port uint16) {
		if !listsAddr([]string{v}) {
			elems := strings.Split(v, ",")
			ends := elems[:1]
			if last := elems[len(elems)-1]; !strings.Contains(last, "%") {
				ends = append(ends, last) // a zone ending a list is not looked for
			}
			for _, e := range ends {
				if len(e) > maxRawEntry {
					continue
				}
				e = trimOWS(e)
				if len(e) >= 2 && e[0] == '"' && e[len(e)-1] == '"' {
					e = e[1 : len(e)-1]
				}
				if _, err := netip.ParseAddr(e); err == nil {
					t.Fatalf("element %q of %q is an address, not found", e, v)
				}
				if _, err := netip.ParseAddrPort(e); err == nil {
					t.Fatalf("element %q of %q is an address with a port, not found", e, v)
				}
			}
		}
		var a netip.Addr
		switch len(b) {
		case 4:
			a = netip.AddrFrom4([4]byte(b))
		case 16:
			a = netip.AddrFrom16([16]byte(b))
		default:
			return
		}
		forms := []string{a.String(), a.StringExpanded(), netip.AddrPortFrom(a, port).String(), `"` + a.String() + `"`}
		if a.Is6() {
			forms = append(forms, "["+a.String()+"]", "["+a.WithZone("lo").String()+"]:80")
		}
		lists := func(s string) []string {
			return []string{s, "unknown, " + s, s + ",10.0.0.1", s + " , y", "x ," + s}
		}
		for _, s := range forms {
			for _, list := range lists(s) {
				if !listsAddr([]string{"text", list}) {
					t.Fatalf("%q holds %v, not found", list, a)
				}
			}
		}
		if a.Is6() { // a bare zone ends in any letter: found at the start
			for _, list := range []string{a.WithZone("lo").String(), a.WithZone("lo").String() + ", x"} {
				if !listsAddr([]string{list}) {
					t.Fatalf("%q holds %v, not found", list, a)
				}
			}
		}
	})
}
