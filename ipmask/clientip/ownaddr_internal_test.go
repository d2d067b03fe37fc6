package clientip

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/clickanon/clickanon/ipmask"
)

// FuzzMaskOwn checks the middleware's search for the client's own address
// in text: on any text it never panics, is idempotent, leaves text without
// the address as it was and leaves no occurrence of it; and the address
// written in each form the middleware promises to find, between spaces
// and any text, is replaced by the masked address in the same form; in a
// URL's userinfo, it is masked as in text.
func FuzzMaskOwn(f *testing.F) {
	f.Add("ip=", "; country=DE", []byte{198, 51, 100, 77})
	f.Add("src:", " dst:10.0.0.1", []byte("\x20\x01\x0d\xb8\x00\x01\x00\x02\x00\x03\x00\x04\x00\x05\x00\x06"))
	f.Add("q=%20", "%2C%3A%3A1", []byte("\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01"))
	f.Add("1.1 [", "]:3128 (squid/5.7)", []byte{127, 0, 0, 1})
	f.Fuzz(func(t *testing.T, pre, post string, b []byte) {
		var a netip.Addr
		switch len(b) {
		case 4:
			a = netip.AddrFrom4([4]byte(b))
		case 16:
			a = netip.AddrFrom16([16]byte(b)).Unmap()
		default:
			return
		}
		var o ownAddr
		(&middleware{p: ipmask.Default}).own(a, &o)
		if a.Is4() {
			if got := string(o.text[:o.min]); got != a.String() {
				t.Fatalf("putDotted wrote %q for %v", got, a)
			}
		}
		m := ipmask.Default.Mask(a)
		for _, s := range []string{pre + post, pre + a.String() + post} {
			out, ok := o.mask(s)
			if !ok && out != s {
				t.Fatalf("%q without the address changed to %q", s, out)
			}
			if again, _ := o.mask(out); again != out {
				t.Fatalf("masking %q twice: %q, then %q", s, out, again)
			}
			if o.hasIn(out) && m != a {
				t.Fatalf("%q masked to %q still holds %v", s, out, a)
			}
		}
		// In a URL's userinfo, split at its first colon as net/url splits
		// it, the address is masked as in the text joined again.
		text := pre + " " + a.String() + " " + post
		ui := url.User(text)
		if name, pass, ok := strings.Cut(text, ":"); ok {
			ui = url.UserPassword(name, pass)
		}
		mu, _ := o.maskUser(ui)
		joined := mu.Username()
		if pass, ok := mu.Password(); ok {
			joined += ":" + pass
		}
		if want, _ := o.mask(text); joined != want {
			t.Fatalf("userinfo %q masked to %q, want %q", text, joined, want)
		}
		enc := func(s string) string { return strings.ReplaceAll(s, ":", "%3A") }
		type form struct{ in, want string }
		forms := []form{{a.String(), m.String()}, {"[" + a.String() + "]:443", "[" + m.String() + "]:443"}}
		if a.Is4() {
			forms = append(forms, form{"::ffff:" + a.String(), "::ffff:" + m.String()}, form{a.String() + ":80", m.String() + ":80"})
		} else {
			forms = append(forms,
				form{a.StringExpanded(), m.String()},
				form{strings.ToUpper(a.StringExpanded()), m.String()},
				form{strings.ToUpper(a.String()), m.String()},
				form{a.String() + "%eth0", m.String() + "%eth0"},
				form{enc(a.String()), enc(m.String())},
				form{strings.ToLower(enc(a.StringExpanded())), enc(m.String())},
				form{"%5B" + enc(a.String()) + "%5D%3A443", "%5B" + enc(m.String()) + "%5D%3A443"},
			)
		}
		if a.Is4() && m != a {
			esc := strings.ReplaceAll(a.String(), ".", "%2E")
			out, ok := o.maskEscaped(pre + "=" + esc + "&" + strings.ToLower(esc) + "/" + post)
			if !ok || strings.Contains(out, "="+esc+"&") || strings.Contains(out, "&"+strings.ToLower(esc)+"/") {
				t.Fatalf("%q with escaped dots: %q, %v", a, out, ok)
			}
		}
		for _, fm := range forms {
			s := pre + " " + fm.in + " " + post
			out, _ := o.mask(s)
			if m != a && strings.Contains(out, " "+fm.in+" ") {
				t.Fatalf("%q: %v written %q left in %q", s, a, fm.in, out)
			}
			if out2, _ := o.mask(" " + fm.in + " "); out2 != " "+fm.want+" " {
				t.Fatalf("%q masked to %q, want %q", " "+fm.in+" ", out2, " "+fm.want+" ")
			}
		}
	})
}

// FuzzParseIPv6 holds parseIPv6 to net/netip: it accepts exactly the
// zoneless IPv6 text ParseAddr accepts, with the same address, and besides
// only a dotted IPv4 tail with leading zeros.
func FuzzParseIPv6(f *testing.F) {
	for _, s := range []string{"2001:db8::1", "::", "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7",
		"1:2:3:4:5:6:1.2.3.4", "1::2::3", "2001:DB8:0:0:0:0:0:1", "1:2:3:4:5:6:7:8:9", ":1::", "::ffff:01.2.3.4", "12345::", "1:2:3:4:5:6:7:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseIPv6([]byte(s))
		want, err := netip.ParseAddr(s)
		wantOK := err == nil && want.Is6() && want.Zone() == ""
		switch {
		case wantOK && (!ok || got != want.As16()):
			t.Fatalf("%q: got %v %v, netip %v", s, netip.AddrFrom16(got), ok, want)
		case ok && !wantOK && !strings.Contains(s, "."):
			t.Fatalf("%q: parsed as %v, netip refuses it: %v", s, netip.AddrFrom16(got), err)
		}
	})
}
