package ipmask_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/clickanon/clickanon/ipmask"
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
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := ipmask.Default
		got, err := p.MaskString(s)
		buf, err2 := p.AppendMask([]byte("pre"), []byte(s))
		if (err == nil) != (err2 == nil) {
			t.Fatalf("%q: MaskString err %v, AppendMask err %v", s, err, err2)
		}
		if err != nil {
			if string(buf) != "pre" {
				t.Fatalf("%q: AppendMask changed dst on error: %q", s, buf)
			}
			return
		}
		if string(buf) != "pre"+got {
			t.Fatalf("%q: AppendMask %q, MaskString %q", s, buf, got)
		}
		a, err := ipmask.ParseAddr(s)
		if err != nil {
			t.Fatalf("%q masked but does not parse: %v", s, err)
		}
		checkMask(t, p, a)
		m, err := netip.ParseAddr(got)
		if err != nil || m != p.Mask(a) {
			t.Fatalf("%q: text %q does not round-trip to %v", s, got, p.Mask(a))
		}
		if again, err := p.MaskString(got); err != nil || again != got {
			t.Fatalf("%q: masking %q again gave %q, %v", s, got, again, err)
		}
	})
}
