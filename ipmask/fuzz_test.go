package ipmask_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// refOffsets is the independent reference for the embedded-IPv4 rule: it
// lists, written plainly with prefix containment, the bit offset of every
// IPv4 address that a non-mapped IPv6 address carries.
func refOffsets(a netip.Addr) []int {
	a = a.WithZone("")
	in := func(p string) bool { return netip.MustParsePrefix(p).Contains(a) }
	var offs []int
	if in("2002::/16") { // 6to4
		offs = append(offs, 16)
	}
	if in("2001::/32") { // Teredo client address
		offs = append(offs, 96)
	}
	if in("64:ff9b::/96") { // NAT64 well-known prefix
		offs = append(offs, 96)
	} else if in("64:ff9b::/32") { // NAT64 local use and the rest: earliest position
		offs = append(offs, 48)
	}
	if in("::/96") || in("::ffff:0:0:0/96") { // compatible, SIIT
		offs = append(offs, 96)
	}
	b := a.As16()
	if b[8]&0xfc == 0 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe { // ISATAP
		offs = append(offs, 96)
	}
	return offs
}

// checkMask asserts every property of masking a under p.
func checkMask(t *testing.T, p ipmask.Policy, a netip.Addr) {
	t.Helper()
	got := p.Mask(a)
	n := p.Bits(a)
	if !a.IsValid() {
		if got.IsValid() || n != 0 || p.Prefix(a).IsValid() {
			t.Fatalf("zero Addr masked to %v/%d", got, n)
		}
		return
	}
	plain := a.Unmap().WithZone("")
	want := n
	if plain.Is4() {
		want = p.IPv4Bits()
	} else {
		want = p.IPv6Bits()
		for _, o := range refOffsets(plain) {
			want = min(want, o+p.IPv4Bits())
		}
	}
	if n != want {
		t.Fatalf("%v under %v: kept %d bits, the reference keeps %d", a, p, n, want)
	}
	if ref := netip.PrefixFrom(plain, n).Masked().Addr(); got != ref {
		t.Fatalf("%v under %v: Mask = %v, want %v", a, p, got, ref)
	}
	if again := p.Mask(got); again != got {
		t.Fatalf("%v under %v: Mask not idempotent: %v then %v", a, p, got, again)
	}
	if pre := p.Prefix(a); !pre.Contains(plain) || pre.Addr() != got || pre.Bits() != n {
		t.Fatalf("%v under %v: Prefix = %v", a, p, pre)
	}
	if got.Zone() != "" || !p.IsMasked(got) {
		t.Fatalf("%v under %v: %v is not a masked address", a, p, got)
	}
	checkEmbedded(t, a)
}

// checkEmbedded asserts that EmbeddedIPv4 finds what the reference finds,
// at the same offsets, and reads each IPv4 address from its offset.
func checkEmbedded(t *testing.T, a netip.Addr) {
	t.Helper()
	e, n := ipmask.EmbeddedIPv4(a)
	plain := a.Unmap().WithZone("")
	var want []int
	switch {
	case a.Is4In6():
		want = []int{96}
	case plain.Is6():
		want = refOffsets(plain)
	}
	var got []int
	for _, x := range e[:n] {
		got = append(got, x.Offset)
		if !x.IPv4.IsValid() {
			if x.Form != ipmask.NAT64 || x.Offset != 48 {
				t.Fatalf("%v: %v has no address", a, x)
			}
			continue
		}
		b := a.As16()
		var v [4]byte
		for i := range v {
			bit := x.Offset + 8*i
			v[i] = b[bit/8]
		}
		if x.Form == ipmask.Teredo {
			v = [4]byte{^v[0], ^v[1], ^v[2], ^v[3]}
		}
		if x.IPv4 != netip.AddrFrom4(v) {
			t.Fatalf("%v: %v, but bits %d.. hold %v", a, x, x.Offset, netip.AddrFrom4(v))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%v: EmbeddedIPv4 offsets %v, reference %v", a, got, want)
	}
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{
		"192.0.2.123", "2001:db8::1", "::ffff:192.0.2.1", "2002:c000:2ff::1",
		"2001:0:4136:e378:8000:63bf:3fff:fdd2", "64:ff9b::c000:221", "64:ff9b:1:c000:2:2100::",
		"::192.0.2.1", "::ffff:0:c000:201", "fe80::200:5efe:c000:201", "2002:c000:201::5efe:c000:201",
	} {
		a := netip.MustParseAddr(s)
		f.Add(a.AsSlice(), uint8(24), uint8(48))
		f.Add(a.AsSlice(), uint8(32), uint8(128))
	}
	f.Fuzz(func(t *testing.T, b []byte, v4, v6 uint8) {
		p, err := ipmask.New(int(v4%33), int(v6%129))
		if err != nil {
			t.Fatal(err)
		}
		a, _ := netip.AddrFromSlice(b) // not 4 or 16 bytes: the zero Addr, also checked
		checkMask(t, p, a)
		if a.Is6() {
			checkMask(t, p, a.WithZone("eth0"))
		}
	})
}

func FuzzMaskString(f *testing.F) {
	for _, s := range []string{
		"192.0.2.123", "2001:DB8::1", "fe80::1%eth0", "::ffff:192.0.2.1", "2002:c000:2ff::1",
		"192.000.002.001", "1.2.3.4.5", "[::1]:80", "", "%", "::%", "1.2.3.4%x", "64:ff9b::192.0.2.33",
		"2001:db8:1::7", "2001:db8:1::%eth0", "abcd:ef01:2345:6789:abcd:ef01:2345:67890", "1:2%:3::", "255.255.255.2555",
	} {
		f.Add(s)
	}
	policies := []ipmask.Policy{ipmask.Default, ipmask.Strict, mustPolicy(f, 32, 128), mustPolicy(f, 0, 0), mustPolicy(f, 7, 61)}
	f.Fuzz(func(t *testing.T, s string) {
		ref, refErr := refParse(s)
		for _, p := range policies {
			checkMaskString(t, p, s, ref, refErr)
		}
	})
}

// refParse is the slow reference for the text forms: the zone (from the
// first '%') must follow IPv6 text and not be empty, and the rest is what
// netip.ParseAddr accepts.
func refParse(s string) (netip.Addr, error) {
	if i := strings.IndexByte(s, '%'); i >= 0 {
		if i == len(s)-1 || strings.IndexByte(s[:i], ':') < 0 {
			return netip.Addr{}, errors.New("bad zone")
		}
		s = s[:i]
	}
	return netip.ParseAddr(s)
}

// checkMaskString holds MaskString, AppendMask and ParseAddr of s under p
// to the reference: netip's parse, Policy.Mask and netip's String, or an
// error that says nothing of s.
func checkMaskString(t *testing.T, p ipmask.Policy, s string, ref netip.Addr, refErr error) {
	t.Helper()
	got, err := p.MaskString(s)
	buf, err2 := p.AppendMask([]byte("pre"), []byte(s))
	a, err3 := ipmask.ParseAddr(s)
	if refErr != nil {
		for _, e := range []error{err, err2, err3} {
			if e == nil {
				t.Fatalf("%q: accepted, but netip refuses it: %v", s, refErr)
			}
			if !errors.Is(e, ipmask.ErrInvalidAddr) || !strings.HasPrefix(e.Error(), "ipmask: ") {
				t.Fatalf("%q: error %q", s, e)
			}
			ipmasktest.AssertNoRawIPError(t, ipmask.Default, e, "input %q", s)
			if len(s) >= 4 && strings.Contains(e.Error(), s) {
				t.Fatalf("%q: the error quotes the input: %q", s, e)
			}
		}
		if got != "" || string(buf) != "pre" {
			t.Fatalf("%q: output on error: %q, %q", s, got, buf)
		}
		return
	}
	for _, e := range []error{err, err2, err3} {
		if e != nil {
			t.Fatalf("%q: refused, but netip parses it as %v: %v", s, ref, e)
		}
	}
	if a != ref.WithZone("") {
		t.Fatalf("%q: ParseAddr %v, netip %v", s, a, ref)
	}
	want := p.Mask(ref).String()
	if got != want || string(buf) != "pre"+want {
		t.Fatalf("%q under %v: MaskString %q, AppendMask %q, reference %q", s, p, got, buf, want)
	}
	checkMask(t, p, a)
	if again, err := p.MaskString(got); err != nil || again != got {
		t.Fatalf("%q: masking %q again gave %q, %v", s, got, again, err)
	}
}
