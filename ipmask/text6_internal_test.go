package ipmask

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// checkParse6 holds parse6 of s to netip.ParseAddr: the same IPv6 text
// accepted (a zone, which parse6 leaves to scan, aside), the same address,
// and a "::" where parse6 says it is, with as many groups before it.
func checkParse6(t *testing.T, s string) {
	t.Helper()
	r, ok := parse6(s)
	ref, err := netip.ParseAddr(s)
	want := err == nil && ref.Is6() && !strings.Contains(s, "%")
	if ok != want {
		t.Fatalf("%q: parse6 accepts it: %v; netip: %v, %v", s, ok, ref, err)
	}
	if !ok {
		return
	}
	b := ref.As16()
	if hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]); r.hi != hi || r.lo != lo {
		t.Fatalf("%q: parse6 %016x:%016x, netip %v", s, r.hi, r.lo, ref)
	}
	switch {
	case r.ell < 0:
		if strings.Contains(s, "::") {
			t.Fatalf("%q: the \"::\" not reported", s)
		}
	case r.ellAt+2 > len(s) || s[r.ellAt:r.ellAt+2] != "::":
		t.Fatalf("%q: \"::\" reported at byte %d", s, r.ellAt)
	case r.ell == 0 && r.ellAt != 0, r.ell > 0 && strings.Count(s[:r.ellAt], ":")+1 != r.ell:
		t.Fatalf("%q: %d groups reported before the \"::\"", s, r.ell)
	}
	checkHiText(t, r.hi)
}

// checkHiText holds the text putHi writes for hi:0, and its length, to
// netip's.
func checkHiText(t *testing.T, hi uint64) {
	t.Helper()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	want := netip.AddrFrom16(b).String()
	n := hiLen(hi)
	if n != len(want) {
		t.Fatalf("%016x: hiLen %d, netip writes %q", hi, n, want)
	}
	// Written into the middle of a buffer, putHi leaves the bytes around
	// its region alone (it writes into shared chunks).
	buf := []byte(strings.Repeat("#", n+2))
	putHi(buf[1:1+n:1+n], hi)
	if got := string(buf); got != "#"+want+"#" {
		t.Fatalf("%016x: putHi wrote %q, netip %q", hi, got, want)
	}
}

// parse6Cases are IPv6 texts in every shape parse6 takes, and text that
// netip refuses, each close to a shape it takes.
var parse6Cases = []string{
	"::", "::1", "1::", "::ffff:1.2.3.4", "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1::6:1.2.3.4", "1:2:3:4:5:6:7::",
	"::2:3:4:5:6:7:8", "2001:db8::1", "2001:DB8:0:1::7", "abcd:ef01:2345:6789:abcd:ef01:2345:6789",
	"0:0:0:0:0:0:0:0", "0000:0000:0000:0000:0000:0000:0000:0001", "2001:db8:1::", "fe80::1%eth0",
	"1:2:3:4:5:6:abcd:ef01", "abcd:ef01::", "abcd:ef01::1234:5678", "::abcd:ef01:1234:5678", "abcd:ef01:2:3:4:5:6:7",
	"abcd:ef01:abcd:ef01:abcd:ef01::", "abcd:ef01:abcd:ef01:abcd::ef01", "abcd:ef01:abcd:ef01:abcd:ef01:1.2.3.4",
	// refused
	"", ":", ":::", "1:::2", "1::2::3", ":1::", "1:", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::",
	"1:2:3:4:5:6:7::8", "12345::", "::12345", "1:2:3:4:5:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.04",
	"::1.2.3", "::1.2.3.4.5", "::256.1.1.1", "::ffff:1.2.3.4%x", "::g", "[::1]", "::1 ", "1.2.3.4", "1::6:7:1.2.3.4.",
	"1::2:3:4:5:6:7:1.2.3.4", "::1234.1.1.1", "::a.1.1.1",
	"abcd:ef01:abcd:ef01:abcd:ef01:abcd:ef01:1", "abcd:ef01:abcd:ef01:abcd:ef01:abcd:ef01::", "1:abcd:ef01:abcd:ef01:abcd:ef01:abcd:ef01",
	"abcd:ef01:", "abcd:ef01:abcd:ef01:abcd:ef01:abcd:", "abcd:ef01:abcd:ef01:abcd:ef01:abcd", "abcd:ef01:::", "abcd:ef012:3::",
	"abcd:ef0g:1::", "abcd:ef01:abcd:ef01:abcd:ef01:abcd:ef01:abcd:ef01", "1::abcd:ef01:abcd:ef01:abcd:ef01:abcd",
	"abcd:ef01:abcd:ef01:abcd:ef01:abcd:ef01%", "::abcd:ef01:abcd:ef01:abcd:ef01:abcd:ef01",
}

func TestParse6(t *testing.T) {
	for _, s := range parse6Cases {
		t.Run(s, func(t *testing.T) { checkParse6(t, s) })
	}
}

// The text of an address whose last four groups are zero, written
// straight into place, is netip's: no zero group, runs of zeros before
// the last non-zero group, and none at all.
func TestHiText(t *testing.T) {
	tests := []struct {
		name string
		hi   uint64
		want string
	}{
		{name: "zero", hi: 0, want: "::"},
		{name: "first group", hi: 0x2001 << 48, want: "2001::"},
		{name: "fourth group", hi: 1, want: "0:0:0:1::"},
		{name: "all four", hi: 0x2001_0db8_0001_0002, want: "2001:db8:1:2::"},
		{name: "zero inside", hi: 0x2001_0000_0000_abcd, want: "2001:0:0:abcd::"},
		{name: "digits of every length", hi: 0x000f_00ff_0fff_ffff, want: "f:ff:fff:ffff::"},
		{name: "every hex digit", hi: 0x0123_4567_89ab_cdef, want: "123:4567:89ab:cdef::"},
		{name: "longest", hi: ^uint64(0), want: "ffff:ffff:ffff:ffff::"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := make([]byte, hiLen(tt.hi))
			putHi(buf, tt.hi)
			assert.Equal(t, tt.want, string(buf))
			checkHiText(t, tt.hi)
		})
	}
}

// FuzzParse6 compares parse6, the one-pass reader of the text forms, with
// netip.ParseAddr on what both accept and refuse, and the text written for
// the leading half of what it read with netip's.
func FuzzParse6(f *testing.F) {
	for _, s := range parse6Cases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkParse6(t, s)
	})
}
