package policy_test

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// TestNewAcceptsExactlyTheRanges: New accepts every count in 0..32 and
// 0..128 and nothing else, whatever the int (negative, just out of range,
// values that wrap to an in-range byte, the extremes); a refusal returns
// the zero Policy and an error starting with the package's name that
// holds no address; an accepted policy reports its counts and writes them
// in String as documented. Checked to fail: a range check on uint8(v4)
// (after the conversion) accepts 256+24.
func TestNewAcceptsExactlyTheRanges(t *testing.T) {
	ints := []int{math.MinInt, math.MinInt32, -256, -129, -33, -1, 0, 1, 31, 32, 33, 127, 128, 129, 255, 256, 256 + 24, 512 + 48, 1<<32 + 16, math.MaxInt32, math.MaxInt}
	for v := -3; v <= 132; v++ {
		ints = append(ints, v)
	}
	for _, v4 := range ints {
		for _, v6 := range ints {
			p, err := ipmask.New(v4, v6)
			if v4 >= 0 && v4 <= 32 && v6 >= 0 && v6 <= 128 {
				if !assert.NoError(t, err, "New(%d, %d)", v4, v6) {
					return
				}
				assert.Equal(t, v4, p.IPv4Bits())
				assert.Equal(t, v6, p.IPv6Bits())
				assert.Equal(t, "ipv4/"+strconv.Itoa(v4)+",ipv6/"+strconv.Itoa(v6), p.String())
				continue
			}
			if !assert.Error(t, err, "New(%d, %d) = %v", v4, v6, p) {
				return
			}
			assert.Equal(t, ipmask.Policy{}, p, "New(%d, %d)", v4, v6)
			assert.True(t, strings.HasPrefix(err.Error(), "ipmask: "), err.Error())
			ipmasktest.AssertNoRawIPError(t, ipmask.Policy{}, err)
		}
	}
}

// TestPolicyIsComparable: a Policy is a small comparable value; two
// policies are equal exactly when their counts are, so every one of the
// 4257 is a distinct map key, New gives the presets' values, and copies
// compare equal. Checked to fail: comparing String()s of a Policy that
// ignored v6 would merge keys (the map would hold 33).
func TestPolicyIsComparable(t *testing.T) {
	keys := map[ipmask.Policy]int{}
	for _, p := range everyPolicy(t) {
		keys[p]++
		q, err := ipmask.New(p.IPv4Bits(), p.IPv6Bits())
		require.NoError(t, err)
		assert.True(t, p == q)
	}
	assert.Len(t, keys, 33*129)
	d, err := ipmask.New(24, 48)
	require.NoError(t, err)
	s, err := ipmask.New(16, 32)
	require.NoError(t, err)
	assert.True(t, d == ipmask.Default, "Default is /24 and /48")
	assert.True(t, s == ipmask.Strict, "Strict is /16 and /32")
	z, err := ipmask.New(0, 0)
	require.NoError(t, err)
	assert.True(t, z == ipmask.Policy{}, "the zero Policy is New(0, 0)")
}

// TestZeroPolicyKeepsNothing: the documented zero value masks every IPv4
// address (and IPv4-mapped one) to 0.0.0.0 and every IPv6 address to ::,
// over every family, in Mask, Prefix (of length 0), Bits and the text
// forms. Checked to fail: a zero Policy meaning Default (a
// "zero means defaults" rule) fails every row.
func TestZeroPolicyKeepsNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 8))
	var p ipmask.Policy
	for _, f := range families() {
		for range 50 {
			a := f.build([2][4]byte{randV4(rng), randV4(rng)}, randRest(rng))
			want := netip.IPv6Unspecified()
			if f.ipv4 {
				want = netip.IPv4Unspecified()
			}
			got, err := p.MaskString(spell(rng, a))
			require.NoError(t, err)
			if !assert.Equal(t, want, p.Mask(a), "%v", a) ||
				!assert.Equal(t, netip.PrefixFrom(want, 0), p.Prefix(a), "%v", a) ||
				!assert.Zero(t, p.Bits(a)) || !assert.Equal(t, want.String(), got) {
				return
			}
		}
	}
}

// TestZeroAddrAndOddValues: every function that takes a netip.Addr takes
// any, without panicking: the zero Addr masks to the zero Addr and the
// zero Prefix, keeps 0 bits, is not masked and carries nothing, under
// every policy; and every Form value, named or not, has a distinct name.
// Checked to fail: a Prefix that returns netip.PrefixFrom(m, n) for the
// zero Addr still passes (it is the zero Prefix too), so the check is on
// IsValid; a Mask that returns netip.IPv4Unspecified() for it fails.
func TestZeroAddrAndOddValues(t *testing.T) {
	for _, p := range everyPolicy(t) {
		var zero netip.Addr
		if p.Mask(zero).IsValid() || p.Prefix(zero).IsValid() || p.Bits(zero) != 0 || p.IsMasked(zero) {
			assert.Failf(t, "zero Addr", "%v: Mask %v, Prefix %v, Bits %d, IsMasked %v", p, p.Mask(zero), p.Prefix(zero), p.Bits(zero), p.IsMasked(zero))
			return
		}
	}
	names := map[string]bool{}
	for f := range 256 {
		s := ipmask.Form(f).String()
		assert.NotEmpty(t, s)
		assert.False(t, names[s], "two forms named %q", s)
		names[s] = true
	}
}

// TestMaskStringConcurrentEveryPolicy: MaskString is documented safe for
// concurrent use, each result written once and never changed. Goroutines
// mask under different policies at once, then every result they kept is
// checked again against Mask: a region handed to two callers, or written
// after it was returned, would show as a wrong text. Checked to fail:
// with the results collected as []byte views reused between calls the
// check sees the later texts.
func TestMaskStringConcurrentEveryPolicy(t *testing.T) {
	type kept struct {
		p    ipmask.Policy
		a    netip.Addr
		text string
	}
	const workers = 8
	results := make([][]kept, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(2, uint64(100+w)))
			fams := families()
			for range 1500 {
				p, err := ipmask.New(rng.IntN(33), rng.IntN(129))
				if err != nil {
					panic(err)
				}
				f := fams[rng.IntN(len(fams))]
				a := f.build([2][4]byte{randV4(rng), randV4(rng)}, randRest(rng))
				s, err := p.MaskString(spell(rng, a))
				if err != nil {
					panic(err)
				}
				results[w] = append(results[w], kept{p, a, s})
				if rng.IntN(64) == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	wg.Wait()
	for _, rs := range results {
		for _, r := range rs {
			if want := r.p.Mask(r.a).String(); r.text != want {
				assert.Equal(t, want, r.text, "%v under %v", r.a, r.p)
				return
			}
		}
	}
}

// TestMaskStringAllocatesAboutOnceInTwenty: the documentation says
// MaskString carves its results out of shared 256-byte blocks, "about
// twenty IPv4 results" each, "so that about one call in twenty
// allocates", and that longer results take more of a block. Over many
// distinct IPv4 addresses under several IPv4 counts the average is at most
// one allocation in ten calls; over IPv6 results of up to 39 bytes, at
// most one in four. Checked to fail: a strings.Clone of the result (one
// allocation a call).
func TestMaskStringAllocatesAboutOnceInTwenty(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 9))
	measure := func(p ipmask.Policy, texts []string) float64 {
		var sink string
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for _, s := range texts {
			sink, _ = p.MaskString(s)
		}
		runtime.ReadMemStats(&after)
		_ = sink
		return float64(after.Mallocs-before.Mallocs) / float64(len(texts))
	}
	var v4, v6 []string
	for range 4000 {
		v4 = append(v4, netip.AddrFrom4(randV4(rng)).String())
		r := randRest(rng)
		r[0] |= 0x10 // long groups, no embedded form
		r[0] &^= 0x20
		v6 = append(v6, netip.AddrFrom16(r).String())
	}
	for _, bits := range []int{8, 16, 24, 31} {
		p, err := ipmask.New(bits, 128)
		require.NoError(t, err)
		assert.LessOrEqual(t, measure(p, v4), 0.1, "%v on IPv4", p)
	}
	for _, bits := range []int{112, 127} {
		p, err := ipmask.New(32, bits)
		require.NoError(t, err)
		assert.LessOrEqual(t, measure(p, v6), 0.25, "%v on IPv6", p)
	}
}

// TestIsMaskedIsTheDocumentedDefinition: IsMasked(a) holds exactly when a
// is valid and Mask changes nothing of it but its zone or its IPv4-mapped
// form, for every family under a sample of policies, for a, Mask(a), the
// mapped form of an IPv4 result and any zone; and the text of Mask(a),
// which is what the documentation says to keep, never holds the zone
// (here an address). Checked to fail: an IsMasked comparing with a itself
// (no Unmap) fails the mapped rows.
func TestIsMaskedIsTheDocumentedDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 10))
	ps := somePolicies(t, rng, 30)
	for _, f := range families() {
		for range 100 {
			p := ps[rng.IntN(len(ps))]
			a := f.build([2][4]byte{randV4(rng), randV4(rng)}, randRest(rng))
			m := p.Mask(a)
			cands := []netip.Addr{a, m, netip.AddrFrom16(m.As16())}
			if a.Is6() {
				cands = append(cands, a.WithZone("203.0.113.9"), netip.AddrFrom16(m.As16()).WithZone("203.0.113.9"))
			}
			for _, c := range cands {
				want := c.IsValid() && p.Mask(c) == c.Unmap().WithZone("")
				if p.IsMasked(c) != want {
					assert.Equal(t, want, p.IsMasked(c), "%v under %v", c, p)
					return
				}
				if strings.Contains(p.Mask(c).String(), "203.0.113.9") {
					assert.Fail(t, "the zone is kept", "%v under %v", c, p)
					return
				}
			}
			if !assert.True(t, p.IsMasked(m), "%v under %v", a, p) {
				return
			}
		}
	}
}

// TestTeredoServerKeptAsFarAsTheIPv6RuleReaches pins what the package
// documentation says of the Teredo server's address (bits 32 to 63), a
// public relay's rather than the visitor's: the IPv6 rule decides how
// much of it is kept, within the client rule's min(v6, 96+v4). Under
// Default its first 16 bits tell Teredo visitors apart and its last 16 do
// not; under New(8, 64) the whole server address is kept (64 bits).
// Checked to fail: a mask treating the server as a visitor's IPv4 (Teredo
// at offset 32) keeps 32+8 = 40 bits under New(8, 64) and fails its rows
// (under Default it changes nothing, 32+24 being over 48).
func TestTeredoServerKeptAsFarAsTheIPv6RuleReaches(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 11))
	p864, err := ipmask.New(8, 64)
	require.NoError(t, err)
	teredo := func(server [4]byte, r [16]byte) netip.Addr {
		r[0], r[1], r[2], r[3] = 0x20, 0x01, 0, 0
		copy(r[4:], server[:])
		if r[10] == 0x5e {
			r[10] = 0
		}
		return netip.AddrFrom16(r)
	}
	for range 500 {
		r := randRest(rng)
		s := randV4(rng)
		low := s
		low[2], low[3] = ^s[2], ^s[3]
		high := s
		high[0] ^= 0x80
		assert.Equal(t, ipmask.Default.Mask(teredo(s, r)), ipmask.Default.Mask(teredo(low, r)))
		assert.NotEqual(t, ipmask.Default.Mask(teredo(s, r)), ipmask.Default.Mask(teredo(high, r)))
		other := s
		other[3] ^= 1
		assert.NotEqual(t, p864.Mask(teredo(s, r)), p864.Mask(teredo(other, r)), "New(8, 64) keeps the whole server address")
		assert.Equal(t, 64, p864.Bits(teredo(s, r)))
	}
}
