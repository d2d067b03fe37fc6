package policy_test

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// somePolicies returns the presets, the extremes and a random sample of
// the others: the text checks below are per spelling, not per policy.
func somePolicies(t *testing.T, rng *rand.Rand, n int) []ipmask.Policy {
	t.Helper()
	ps := []ipmask.Policy{ipmask.Default, ipmask.Strict, {}}
	for _, b := range [][2]int{{32, 128}, {0, 128}, {32, 0}, {1, 127}, {31, 1}, {24, 64}, {24, 96}, {8, 72}} {
		p, err := ipmask.New(b[0], b[1])
		require.NoError(t, err)
		ps = append(ps, p)
	}
	for range n {
		p, err := ipmask.New(rng.IntN(33), rng.IntN(129))
		require.NoError(t, err)
		ps = append(ps, p)
	}
	return ps
}

// TestSpellingsAreTheAddress is the precondition of every text test: each
// spelling gen_test.go writes is, for netip, the address it spells.
func TestSpellingsAreTheAddress(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 4))
	seen := map[string]bool{}
	for _, f := range families() {
		for range 200 {
			a := f.build([2][4]byte{randV4(rng), randV4(rng)}, randRest(rng))
			s := spell(rng, a)
			got, err := netip.ParseAddr(s)
			require.NoError(t, err, "%q", s)
			require.Equal(t, a, got.WithZone(""), "%q", s)
			for _, k := range []string{"::", "%", ".", "A", "00"} {
				if strings.Contains(s, k) {
					seen[k] = true
				}
			}
		}
	}
	// Every kind of spelling was written.
	assert.Len(t, seen, 5, "%v", seen)
}

// invalid returns texts built from a valid spelling s of a (without a
// zone) that are not addresses, one per class the issue names: leading
// zeros in IPv4, whitespace, brackets, ports, prefixes, overlong text,
// look-alike characters, numeric forms, misplaced zones and separators.
func invalid(rng *rand.Rand, a netip.Addr, s string) map[string]string {
	out := map[string]string{}
	ws := []string{" ", "\t", "\n", "\r", "\v", "\f", "\x00", "\u00a0", "\u2028", "\u3000", "\ufeff"}
	w := ws[rng.IntN(len(ws))]
	out["space before"] = w + s
	out["space after"] = s + w
	i := 1 + rng.IntN(len(s)-1)
	out["space inside"] = s[:i] + w + s[i:]
	out["brackets"] = "[" + s + "]"
	out["open bracket"] = "[" + s
	out["close bracket"] = s + "]"
	out["bracketed port"] = "[" + s + "]:" + strconv.Itoa(rng.IntN(65536))
	out["prefix length"] = s + "/" + strconv.Itoa(rng.IntN(129))
	out["empty zone"] = s + "%"
	out["second address"] = s + "," + s
	out["doubled"] = s + s
	out["look-alike"] = strings.NewReplacer("1", "\uff11", ":", "\uff1a", ".", "\u3002", "0", "O").Replace(s)
	if out["look-alike"] == s {
		out["look-alike"] = s[:i] + "\u0661" + s[i:] // ARABIC-INDIC DIGIT ONE
	}
	out["overlong"] = strings.Repeat("0", 1<<12) + s
	out["sign"] = "+" + s
	if a.Is4() {
		v := a.As4()
		out["port"] = s + ":" + strconv.Itoa(rng.IntN(65536))
		out["zone on ipv4"] = s + "%eth0"
		out["fifth field"] = s + "." + strconv.Itoa(rng.IntN(256))
		out["three fields"] = s[:strings.LastIndexByte(s, '.')]
		out["trailing dot"] = s + "."
		out["leading dot"] = "." + s
		j := rng.IntN(4)
		f := strings.Split(s, ".")
		f[j] = strings.Repeat("0", 1+rng.IntN(2)) + f[j]
		out["leading zero"] = strings.Join(f, ".")
		out["octal"] = "0" + strconv.FormatUint(uint64(v[0]), 8) + "." + f[1] + "." + f[2] + "." + f[3]
		out["decimal"] = strconv.FormatUint(uint64(v[0])<<24|uint64(v[1])<<16|uint64(v[2])<<8|uint64(v[3]), 10)
		out["hex"] = "0x" + strconv.FormatUint(uint64(v[0])<<24|uint64(v[1])<<16|uint64(v[2])<<8|uint64(v[3]), 16)
		out["field over 255"] = strings.Join(append(append([]string{}, f[:3]...), strconv.Itoa(256+rng.IntN(744))), ".")
		out["dotted before colons"] = s + "::"
		return out
	}
	b := a.As16()
	full := a.StringExpanded()
	out["ninth group"] = full + ":" + strconv.FormatUint(uint64(rng.IntN(0x10000)), 16)
	out["seven groups"] = full[:strings.LastIndexByte(full, ':')]
	out["five digits"] = "0" + full
	out["second ::"] = "::" + strings.Replace(a.String(), "::", ":", 1) + "::"
	if !strings.Contains(a.String(), "::") {
		out["second ::"] = full[:5] + ":" + full[5:15] + ":" + full[15:]
	}
	out["trailing colon"] = full + ":"
	out["leading colon"] = ":" + full
	out["dotted not last"] = netip.AddrFrom4([4]byte(b[12:])).String() + "::" + strconv.FormatUint(uint64(b[0]), 16)
	v4 := netip.AddrFrom4([4]byte(b[12:])).String()
	f := strings.Split(v4, ".")
	j := rng.IntN(4)
	f[j] = "0" + f[j]
	out["dotted leading zero"] = full[:30] + strings.Join(f, ".")
	out["dotted fifth field"] = full[:30] + v4 + ".1"
	out["non-hex letter"] = full[:i%39] + "g" + full[i%39+1:]
	if full[i%39] == ':' {
		out["non-hex letter"] = full[:i%39+1] + "g" + full[i%39+2:]
	}
	return out
}

var (
	errTextLen = regexp.MustCompile(`\(text of ([0-9]+) bytes\)$`)
	errAt      = regexp.MustCompile(` at byte ([0-9]+) `)
	addrRun    = regexp.MustCompile(`[0-9A-Za-z.:%]{4,}`)
)

// checkRefused holds the three text functions to the documented refusal
// of s: an error wrapping ErrInvalidAddr that starts with the package's
// name and says the text's length (and the fault's position within it)
// but nothing of the text; no output, and AppendMask's dst returned
// unchanged, with no byte of its spare capacity written.
func checkRefused(t *testing.T, p ipmask.Policy, class, s string) bool {
	t.Helper()
	out, err1 := p.MaskString(s)
	dst := make([]byte, 3, 64)
	copy(dst, "pre")
	spare := dst[:cap(dst)]
	for i := 3; i < len(spare); i++ {
		spare[i] = '#'
	}
	got, err2 := p.AppendMask(dst, []byte(s))
	a, err3 := ipmask.ParseAddr(s)
	runs := addrRun.FindAllString(s, -1)
	ok := assert.Empty(t, out, "%s %q: MaskString passed something through", class, s) &&
		assert.Equal(t, "pre", string(got), "%s %q: AppendMask changed dst", class, s) &&
		assert.Equal(t, strings.Repeat("#", 61), string(spare[3:]), "%s %q: AppendMask wrote past dst", class, s) &&
		assert.False(t, a.IsValid(), "%s %q: ParseAddr gave %v", class, s, a)
	for _, err := range []error{err1, err2, err3} {
		if !assert.Error(t, err, "%s %q", class, s) {
			return false
		}
		msg := err.Error()
		ok = ok && assert.True(t, errors.Is(err, ipmask.ErrInvalidAddr), "%s %q: %v", class, s, err) &&
			assert.True(t, strings.HasPrefix(msg, "ipmask: not an IP address: "), "%s: %q", class, msg) &&
			ipmasktest.AssertNoRawIPError(t, ipmask.Policy{}, err, "%s %q", class, s)
		if m := errTextLen.FindStringSubmatch(msg); assert.NotNil(t, m, "%s: %q says no length", class, msg) {
			ok = ok && assert.Equal(t, strconv.Itoa(len(s)), m[1], "%s %q: %q", class, s, msg)
		}
		if m := errAt.FindStringSubmatch(msg); m != nil {
			pos, _ := strconv.Atoi(m[1])
			ok = ok && assert.LessOrEqual(t, pos, len(s), "%s %q: %q", class, s, msg)
		}
		// Nothing of the text: no run of its address characters of four
		// or more, but the length and position the message gives.
		for _, run := range runs {
			if _, err := strconv.Atoi(run); err == nil && len(run) < 6 {
				continue // a number as short as a length
			}
			ok = ok && assert.NotContains(t, msg, run, "%s %q", class, s)
		}
	}
	return ok
}

// TestTextThatIsNotAnAddressIsRefused drives every class of text that is
// not an address, built from random addresses of every family in random
// valid spellings, through MaskString, AppendMask and ParseAddr under a
// sample of policies. Checked to fail: accepting surrounding whitespace
// (strings.TrimSpace(s) in front of the package's scan) fails the space
// rows, and returning dst[:0] on error fails every row.
func TestTextThatIsNotAnAddressIsRefused(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 5))
	ps := somePolicies(t, rng, 20)
	classes := map[string]bool{}
	for _, f := range families() {
		for range 12 {
			a := f.build([2][4]byte{randV4(rng), randV4(rng)}, randRest(rng))
			s := spell(rng, a)
			if i := strings.IndexByte(s, '%'); i >= 0 {
				s = s[:i] // text after a zone is the zone's
			}
			for class, bad := range invalid(rng, a, s) {
				if _, err := netip.ParseAddr(bad); err == nil {
					continue // not every class is refused for every address
				}
				classes[class] = true
				if !checkRefused(t, ps[rng.IntN(len(ps))], class, bad) {
					return
				}
			}
		}
	}
	assert.Greater(t, len(classes), 35)
}

// TestZonesOfAnyContentAreDropped: a zone is everything after the first
// '%' of IPv6 text and may hold anything, an address included; the text
// functions drop it and mask what is before it, as Mask does the zoned
// address, and a zone on IPv4 text is refused (as netip refuses it).
// Checked to fail: a MaskString that keeps the zone fails every row.
func TestZonesOfAnyContentAreDropped(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 6))
	ps := somePolicies(t, rng, 20)
	for _, f := range families() {
		for _, zone := range oddZones {
			a := f.build([2][4]byte{randV4(rng), randV4(rng)}, randRest(rng))
			s := spell(rng, a)
			if i := strings.IndexByte(s, '%'); i >= 0 {
				s = s[:i]
			}
			p := ps[rng.IntN(len(ps))]
			s += "%" + zone
			if a.Is4() {
				if !checkRefused(t, p, "zone on ipv4", s) {
					return
				}
				continue
			}
			want := p.Mask(a.WithZone(zone)).String()
			got, err := p.MaskString(s)
			require.NoError(t, err, "%q", s)
			buf, err := p.AppendMask(nil, []byte(s))
			require.NoError(t, err, "%q", s)
			parsed, err := ipmask.ParseAddr(s)
			require.NoError(t, err, "%q", s)
			if !assert.Equal(t, want, got, "%v: %q", p, s) || !assert.Equal(t, want, string(buf), "%v: %q", p, s) ||
				!assert.Equal(t, a, parsed, "ParseAddr(%q) drops the zone", s) {
				return
			}
		}
	}
}

// TestTextAllocations: AppendMask into a buffer with room, ParseAddr of
// an address, and Mask, Prefix, Bits and EmbeddedIPv4 allocate nothing,
// for every family, every kind of spelling and zone, and policies that
// keep more and fewer than 64 bits (which take different paths); and
// MaskString allocates at most once per call, its result included. The
// issue's "zero allocations where promised", over classes. Checked to
// fail: a fmt.Sprint in place of the AppendMask call (allocating).
func TestTextAllocations(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 7))
	ps := somePolicies(t, rng, 6)
	buf := make([]byte, 0, 64)
	var sinkA netip.Addr
	var sinkP netip.Prefix
	var sinkN int
	var sinkS string
	for _, f := range families() {
		for range 4 {
			a := f.build([2][4]byte{randV4(rng), randV4(rng)}, randRest(rng))
			s := spell(rng, a)
			if len(s) > 64 {
				s = s[:strings.IndexByte(s, '%')+2] // a long zone is still an address
			}
			b := []byte(s)
			if zone := oddZones[rng.IntN(len(oddZones))]; a.Is6() && len(zone) < 20 {
				a = a.WithZone(zone)
			}
			p := ps[rng.IntN(len(ps))]
			assert.Zero(t, testing.AllocsPerRun(50, func() {
				buf, _ = p.AppendMask(buf[:0], b)
			}), "AppendMask(%q) under %v", s, p)
			assert.Zero(t, testing.AllocsPerRun(50, func() {
				sinkA, _ = ipmask.ParseAddr(s)
			}), "ParseAddr(%q)", s)
			assert.Zero(t, testing.AllocsPerRun(50, func() {
				sinkA = p.Mask(a)
				sinkP = p.Prefix(a)
				sinkN = p.Bits(a)
				_, sinkN = ipmask.EmbeddedIPv4(a)
			}), "Mask, Prefix, Bits, EmbeddedIPv4 of %v under %v", a, p)
			assert.LessOrEqual(t, testing.AllocsPerRun(50, func() {
				sinkS, _ = p.MaskString(s)
			}), 1.0, "MaskString(%q) under %v", s, p)
		}
	}
	_, _, _, _ = sinkA, sinkP, sinkN, sinkS
}
