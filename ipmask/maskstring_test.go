package ipmask_test

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
)

// MaskString writes IPv4 text straight into its block from a length it
// works out first; every IPv4 bit count, on octets of one, two and three
// digits, gives netip's text, as AppendMask does.
func TestMaskStringEveryIPv4Policy(t *testing.T) {
	addrs := []string{"0.0.0.0", "1.2.3.4", "9.99.199.250", "10.20.30.40", "100.200.255.9", "192.0.2.123", "255.255.255.255", "::ffff:172.16.254.3"}
	for bits := range 33 {
		p := mustPolicy(t, bits, 64)
		for _, s := range addrs {
			want := p.Mask(netip.MustParseAddr(s)).String()
			got, err := p.MaskString(s)
			require.NoError(t, err)
			assert.Equal(t, want, got, "%s under %v", s, p)
			buf, err := p.AppendMask(nil, []byte(s))
			require.NoError(t, err)
			assert.Equal(t, want, string(buf), "%s under %v", s, p)
		}
	}
}

// When the masked text is the input or its leading part, MaskString
// returns it as it is: no allocation, no block.
func TestMaskStringReturnsInput(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "masked ipv4", in: "203.0.113.0", want: "203.0.113.0"},
		{name: "masked ipv6", in: "2001:db8:1::", want: "2001:db8:1::"},
		{name: "ipv6 cut after the ellipsis", in: "2001:db8:1::7", want: "2001:db8:1::"},
		{name: "zone dropped", in: "2001:db8:1::%eth0", want: "2001:db8:1::"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			allocs := testing.AllocsPerRun(100, func() {
				got, _ = ipmask.Default.MaskString(tt.in)
			})
			assert.Zero(t, allocs)
			assert.Equal(t, tt.want, got)
		})
	}
}

// distinctIPv4 returns n different IPv4 texts whose last octet is not 0,
// so that every one of them is masked to new text under Default.
func distinctIPv4(n int) []string {
	r := rand.New(rand.NewPCG(3, 4))
	out := make([]string, n)
	for i := range out {
		b := [4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(1 + r.IntN(255))}
		out[i] = netip.AddrFrom4(b).String()
	}
	return out
}

// The results of MaskString share blocks: a thousand IPv4 results take
// about fifty allocations, and a thousand IPv6 ones about seventy, not a
// thousand. (testing.AllocsPerRun of one call would round this down to
// 0, which is why the calls are counted in bulk.)
func TestMaskStringAllocationsAmortised(t *testing.T) {
	tests := []struct {
		name  string
		texts []string
	}{
		{name: "ipv4", texts: distinctIPv4(1000)},
		{name: "ipv6", texts: distinctIPv6(1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(10, func() {
				for _, s := range tt.texts {
					_, _ = ipmask.Default.MaskString(s)
				}
			})
			assert.LessOrEqual(t, allocs, float64(len(tt.texts))/10, "allocations per %d calls", len(tt.texts))
			assert.Positive(t, allocs, "new text takes memory from somewhere")
		})
	}
}

// distinctIPv6 returns n different IPv6 texts, with groups of one to four
// digits, whose masked text under Default is new text of many lengths.
func distinctIPv6(n int) []string {
	r := rand.New(rand.NewPCG(5, 6))
	out := make([]string, n)
	for i := range out {
		var b [16]byte
		for j := range b {
			b[j] = byte(r.Uint32() >> (r.IntN(4) * 8)) // many short groups
		}
		b[0] |= 0x10 // a first group of four digits, so never "::"
		out[i] = netip.AddrFrom16(b).String()
	}
	return out
}

// Many goroutines masking at once, more of them than there are blocks to
// spread over, each get their own text: every result, checked after all
// are done and after a collection, is the masked text of its own input.
// (With -race, two callers writing one byte is also a reported race, and
// so is a write past the end of a caller's region.)
func TestMaskStringConcurrent(t *testing.T) {
	const goroutines = 40
	texts := append(distinctIPv4(20000), distinctIPv6(5000)...)
	texts = append(texts, "2001:db8:abcd:12:34::1", "2002:c000:2ff::1", "::ffff:192.0.2.9")
	results := make([][]string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := g; i < len(texts); i += goroutines {
				s, err := ipmask.Default.MaskString(texts[i])
				if err != nil {
					s = "error: " + err.Error()
				}
				results[g] = append(results[g], s)
			}
		})
	}
	wg.Wait()
	runtime.GC()
	for g := range goroutines {
		for j, got := range results[g] {
			in := texts[g+j*goroutines]
			want := ipmask.Default.Mask(netip.MustParseAddr(in)).String()
			if got != want {
				t.Fatalf("goroutine %d, input %d: got %q, want %q", g, g+j*goroutines, got, want)
			}
		}
	}
}
