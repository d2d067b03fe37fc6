package truncate_test

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
)

// everyPolicy returns every policy New accepts.
func everyPolicy(t *testing.T) []ipmask.Policy {
	var ps []ipmask.Policy
	for v4 := 0; v4 <= 32; v4++ {
		for v6 := 0; v6 <= 128; v6++ {
			p, err := ipmask.New(v4, v6)
			require.NoError(t, err)
			ps = append(ps, p)
		}
	}
	return ps
}

// checkText holds every text function of p to the reference on s, a text
// the documentation accepts as the address a, and reports whether all held.
func checkText(t *testing.T, p ipmask.Policy, s string, a netip.Addr) bool {
	t.Helper()
	want := refMask(p, a).String()
	ok := true
	got, err := ipmask.ParseAddr(s)
	ok = assert.NoError(t, err, "%v ParseAddr(%q)", p, s) && ok
	ok = assert.Equal(t, a.WithZone(""), got, "%v ParseAddr(%q)", p, s) && ok
	m, err := p.MaskString(s)
	ok = assert.NoError(t, err, "%v MaskString(%q)", p, s) && ok
	ok = assert.Equal(t, want, m, "%v MaskString(%q)", p, s) && ok
	// When the masked text is s or its leading part, MaskString returns s
	// or that part of s, not a copy; "::" is a constant.
	if err == nil && strings.HasPrefix(s, m) && m != "::" {
		ok = assert.True(t, unsafe.StringData(m) == unsafe.StringData(s), "%v MaskString(%q) = %q is not s's own bytes", p, s, m) && ok
	}
	// Masking the masked text changes nothing.
	mm, err := p.MaskString(m)
	ok = assert.NoError(t, err, "%v MaskString(MaskString(%q))", p, s) && ok
	ok = assert.Equal(t, m, mm, "%v MaskString(MaskString(%q))", p, s) && ok
	// AppendMask appends the same text after what dst holds, with or
	// without room, and leaves dst's bytes alone.
	for _, dst := range [][]byte{nil, []byte("x,"), make([]byte, 3, 64)} {
		before := string(dst)
		out, err := p.AppendMask(dst, []byte(s))
		ok = assert.NoError(t, err, "%v AppendMask(%q)", p, s) && ok
		ok = assert.Equal(t, before+want, string(out), "%v AppendMask(%q)", p, s) && ok
	}
	return ok
}

// TestEveryPolicyEverySpellingIsTheReference compares Mask, Prefix, Bits
// and the text functions of every policy New accepts with the reference,
// over addresses near every documented form's boundary, in every spelling
// the generator reaches, and checks the documented properties: masking
// twice changes nothing, the prefix contains the address and its own
// masked address, and its length is Bits.
func TestEveryPolicyEverySpellingIsTheReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(99, 3))
	failures := 0
	for _, p := range everyPolicy(t) {
		for range 3 {
			a := genAddr(rng)
			wantP := refPrefix(p, a)
			ok := assert.Equal(t, wantP, p.Prefix(a), "%v Prefix(%v)", p, a)
			ok = assert.Equal(t, wantP.Addr(), p.Mask(a), "%v Mask(%v)", p, a) && ok
			ok = assert.Equal(t, wantP.Bits(), p.Bits(a), "%v Bits(%v)", p, a) && ok
			ok = assert.Equal(t, p.Mask(a), p.Mask(p.Mask(a)), "%v Mask twice %v", p, a) && ok
			ok = assert.True(t, p.Prefix(a).Contains(a.Unmap().WithZone("")), "%v Prefix(%v) contains it", p, a) && ok
			ok = assert.True(t, p.IsMasked(p.Mask(a)), "%v IsMasked(Mask(%v))", p, a) && ok
			sp := spellings(rng, a)
			// Every spelling is one the documentation accepts.
			for _, s := range sp {
				b, accepted := refParse(s)
				require.True(t, accepted, "generator made %q", s)
				require.Equal(t, a, b.WithZone(""), "generator made %q", s)
				ok = checkText(t, p, s, b) && ok
			}
			if !ok {
				failures++
				require.Less(t, failures, 5, "too many failures")
			}
		}
	}
}

// edit returns s with one random edit: a byte inserted, deleted or
// replaced (from the bytes address text is made of, a letter that is no
// hex digit, brackets, a slash, a space, control and non-ASCII bytes),
// or s wrapped in brackets, given a port, a prefix length or a zone.
func edit(rng *rand.Rand, s string) string {
	const alphabet = "0123456789abcdefABCDEF:::...%g[]/ \x00\xff\x80\x7f\x10"
	c := string(alphabet[rng.IntN(len(alphabet))])
	i := rng.IntN(len(s) + 1)
	switch rng.IntN(9) {
	case 0, 1:
		return s[:i] + c + s[i:]
	case 2, 3:
		if i == len(s) {
			i--
		}
		return s[:i] + s[i+1:]
	case 4, 5:
		if i == len(s) {
			i--
		}
		return s[:i] + c + s[i+1:]
	case 6:
		return "[" + s + "]:" + "8080"
	case 7:
		return s + []string{"%", "%eth0", ":80", "/24", "::", ":0", ".1"}[rng.IntN(7)]
	default:
		return s[:i] + s[i:][:rng.IntN(len(s)-i+1)] + s[i:] // a part repeated
	}
}

// tokens returns text shaped like an address, valid or not: a run of
// hex groups of zero to five digits (four-digit ones often, which texts
// written in full are made of), single and double colons and dotted
// quads, some with leading zeros or fields above 255.
func tokens(rng *rand.Rand) string {
	var sb strings.Builder
	for range rng.IntN(12) {
		switch rng.IntN(6) {
		case 0, 1:
			sb.WriteString(hex4(uint16(rng.Uint32()))[:1+rng.IntN(4)])
			sb.WriteByte(':')
		case 2:
			sb.WriteString(hex4(uint16(rng.Uint32())))
			sb.WriteByte(':')
		case 3:
			sb.WriteString([]string{":", "::", "", "0", "00000:", "fFfF:"}[rng.IntN(6)])
		case 4:
			q := []string{"1.2.3.4", "255.255.255.255", "0.0.0.0", "01.2.3.4", "256.1.1.1", "1.2.3", "1.2.3.4.5", "192.0.2.1"}
			sb.WriteString(q[rng.IntN(len(q))])
		default:
			sb.WriteString(hex4(uint16(rng.Uint32())))
		}
	}
	s := strings.TrimSuffix(sb.String(), ":")
	if rng.IntN(2) == 0 && strings.HasSuffix(s, ":") {
		s = s[:len(s)-1]
	}
	return s
}

// quotesInput reports whether msg holds s, or a run of four bytes of s
// that are not all digits (the error's own position and length are), or
// a run of three with a ':' or '.' among address bytes: an error holding
// one of them quotes part of the input.
func quotesInput(msg, s string) bool {
	if len(s) >= 4 && strings.Contains(msg, s) {
		return true
	}
	for i := 0; i+4 <= len(s); i++ {
		w := s[i : i+4]
		if strings.Trim(w, "0123456789") == "" || strings.ContainsAny(w, " %[]/") {
			continue // digits alone are the error's own positions and length
		}
		if strings.Contains(msg, w) {
			return true
		}
	}
	for i := 0; i+3 <= len(s); i++ {
		w := s[i : i+3]
		if strings.ContainsAny(w, ":.") && strings.Trim(w, ":.") != "" && !strings.ContainsAny(w, " %[]/'") && strings.Contains(msg, w) {
			return true
		}
	}
	return false
}

// TestEditedTextIsJudgedAsDocumented edits valid spellings at random and
// holds every text function to the documented rule: what the
// documentation accepts (netip.ParseAddr's text, no zone on IPv4) is
// masked as the reference masks it, and everything else is refused by
// ParseAddr, MaskString and AppendMask alike with an error that wraps
// ErrInvalidAddr, starts with the package's name and quotes no part of
// the text, AppendMask returning dst unchanged.
func TestEditedTextIsJudgedAsDocumented(t *testing.T) {
	rng := rand.New(rand.NewPCG(77, 8))
	policies := everyPolicy(t)
	accepted, refused, failures := 0, 0, 0
	for range 20000 {
		var s string
		if rng.IntN(3) == 0 {
			s = tokens(rng)
		} else {
			a := genAddr(rng)
			sp := spellings(rng, a)
			s = sp[rng.IntN(len(sp))]
			for range 1 + rng.IntN(3) {
				s = edit(rng, s)
			}
		}
		p := policies[rng.IntN(len(policies))]
		ok := true
		if b, good := refParse(s); good {
			accepted++
			ok = checkText(t, p, s, b)
		} else {
			refused++
			_, err := ipmask.ParseAddr(s)
			m, err2 := p.MaskString(s)
			dst := []byte("keep")
			out, err3 := p.AppendMask(dst, []byte(s))
			for _, e := range []error{err, err2, err3} {
				ok = assert.Error(t, e, "%v refusing %q", p, s) && ok
				if e == nil {
					continue
				}
				ok = assert.True(t, errors.Is(e, ipmask.ErrInvalidAddr), "%q: %v", s, e) && ok
				ok = assert.True(t, strings.HasPrefix(e.Error(), "ipmask: "), "%q: %v", s, e) && ok
				ok = assert.False(t, quotesInput(e.Error(), s), "error for %q quotes it: %v", s, e) && ok
			}
			ok = assert.Empty(t, m, "%q", s) && ok
			ok = assert.Equal(t, "keep", string(out), "%q", s) && ok
		}
		if !ok {
			failures++
			require.Less(t, failures, 5, "too many failures")
		}
	}
	t.Logf("edited texts: %d accepted, %d refused", accepted, refused)
	require.Greater(t, accepted, 500)
	require.Greater(t, refused, 2000)
}

// TestEmbeddedIPv4IsTheRecognitionMaskUses holds EmbeddedIPv4 to the
// reference over addresses near every form's boundary, and every
// policy's Bits to what the documentation derives from it: Mask keeps at
// most Offset plus the IPv4 bits of each address found, the IPv6 bits
// otherwise, and the IPv4 bits of an IPv4 or IPv4-mapped address.
func TestEmbeddedIPv4IsTheRecognitionMaskUses(t *testing.T) {
	rng := rand.New(rand.NewPCG(34, 55))
	policies := everyPolicy(t)
	for range 20000 {
		a := genAddr(rng)
		if rng.IntN(4) == 0 && a.Is6() {
			a = a.WithZone("eth0")
		}
		e, n := ipmask.EmbeddedIPv4(a)
		want := refEmbedded(a)
		require.Equal(t, len(want), n, "EmbeddedIPv4(%v)", a)
		if n > 0 {
			require.Equal(t, want, e[:n], "EmbeddedIPv4(%v)", a)
		}
		p := policies[rng.IntN(len(policies))]
		bits := p.IPv6Bits()
		if a.Is4() || a.Is4In6() {
			bits = p.IPv4Bits()
		} else {
			for _, x := range e[:n] {
				bits = min(bits, x.Offset+p.IPv4Bits())
			}
		}
		require.Equal(t, bits, p.Bits(a), "%v Bits(%v), found %v", p, a, e[:n])
	}
}
