package clientip_test

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go4.org/netipx"

	"github.com/clickanon/clickanon/ipmask/clientip"
)

// TestNewTrustedRejects checks every way an entry can be refused, and
// that the error names it by position without quoting it: the entries
// hold canary addresses that must not appear.
func TestNewTrustedRejects(t *testing.T) {
	tests := []struct {
		name, in, why string
	}{
		{name: "garbage", in: "proxy.example", why: "13 bytes that are not an address or CIDR prefix"},
		{name: "empty", in: "", why: "0 bytes that are not an address or CIDR prefix"},
		{name: "host bits", in: "198.51.100.77/8", why: "bits set after the prefix length /8"},
		{name: "zone", in: "fe80::1:2:3:4%eth0", why: "a zone is not allowed"},
		{name: "prefix with a zone", in: "2001:db8:1:2::1%eth0/64", why: "a zone is not allowed"},
		{name: "every IPv4", in: "0.0.0.0/0", why: "a /0 would trust every address"},
		{name: "every IPv6", in: "::/0", why: "a /0 would trust every address"},
		{name: "every IPv4, mapped", in: "::ffff:0.0.0.0/96", why: "a /0 would trust every address"},
		{name: "leading zeros", in: "198.051.100.077", why: "not an address or CIDR prefix"},
		{name: "bad length", in: "198.51.100.77/33", why: "not an address or CIDR prefix"},
		{name: "address with text", in: "198.51.100.77x", why: "not an address or CIDR prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := clientip.NewTrusted("10.0.0.0/8", tt.in)
			require.Error(t, err)
			assert.Nil(t, tr)
			assert.Contains(t, err.Error(), "clientip: trusted proxy 2: ")
			assert.Contains(t, err.Error(), tt.why)
			noLeak(t, err.Error(), tt.in)

			var ok clientip.Trusted
			err = ok.Update(tt.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "clientip: trusted proxy 1: ")
			noLeak(t, err.Error(), tt.in)
		})
	}
	prefixes := []struct {
		name string
		p    netip.Prefix
		why  string
	}{
		{name: "zero", p: netip.Prefix{}, why: "not a valid prefix"},
		{name: "host bits", p: netip.PrefixFrom(netip.MustParseAddr("198.51.100.77"), 24), why: "bits set after the prefix length /24"},
		{name: "every address", p: netip.MustParsePrefix("::/0"), why: "a /0"},
	}
	for _, tt := range prefixes {
		t.Run("prefix "+tt.name, func(t *testing.T) {
			_, err := clientip.NewTrustedPrefixes(netip.MustParsePrefix("10.0.0.0/8"), tt.p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "clientip: trusted proxy 2: "+tt.why)
			noLeak(t, err.Error(), tt.p.String())
		})
	}
}

func TestTrustedContains(t *testing.T) {
	tr, err := clientip.NewTrusted("10.0.0.0/8", "192.0.2.7", "::ffff:198.51.100.0/120", "2001:db8::/32")
	require.NoError(t, err)
	tests := []struct {
		name string
		addr string
		want bool
	}{
		{name: "in a prefix", addr: "10.1.2.3", want: true},
		{name: "single address", addr: "192.0.2.7", want: true},
		{name: "next to the single address", addr: "192.0.2.8", want: false},
		{name: "mapped form of a trusted IPv4", addr: "::ffff:10.1.2.3", want: true},
		{name: "mapped prefix stored as IPv4", addr: "198.51.100.9", want: true},
		{name: "IPv6 with a zone", addr: "2001:db8::1%eth0", want: true},
		{name: "outside", addr: "203.0.113.1", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tr.Contains(netip.MustParseAddr(tt.addr)))
		})
	}
	assert.False(t, tr.Contains(netip.Addr{}), "zero Addr")
	var nilT *clientip.Trusted
	assert.False(t, nilT.Contains(netip.MustParseAddr("10.0.0.1")), "nil trusts nothing")
	var zero clientip.Trusted
	assert.False(t, zero.Contains(netip.MustParseAddr("10.0.0.1")), "zero trusts nothing")
	assert.Empty(t, zero.IPSet().Prefixes())
}

func TestTrustedPrefixes(t *testing.T) {
	tr, err := clientip.NewTrustedPrefixes(netip.MustParsePrefix("10.0.0.0/8"))
	require.NoError(t, err)
	assert.True(t, tr.Contains(netip.MustParseAddr("10.9.9.9")))
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, tr.IPSet().Prefixes())
}

func TestTrustedUpdate(t *testing.T) {
	tr, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	require.NoError(t, tr.Update("172.16.0.0/12"))
	assert.False(t, tr.Contains(netip.MustParseAddr("10.0.0.1")))
	assert.True(t, tr.Contains(netip.MustParseAddr("172.16.0.1")))

	err = tr.Update("192.0.2.0/24", "nonsense")
	require.Error(t, err)
	assert.True(t, tr.Contains(netip.MustParseAddr("172.16.0.1")), "a failed Update keeps the old set")
	assert.False(t, tr.Contains(netip.MustParseAddr("192.0.2.1")))

	var b netipx.IPSetBuilder
	b.AddPrefix(netip.MustParsePrefix("203.0.113.0/24"))
	s, err := b.IPSet()
	require.NoError(t, err)
	tr.Store(s)
	assert.True(t, tr.Contains(netip.MustParseAddr("203.0.113.5")))
	tr.Store(nil)
	assert.False(t, tr.Contains(netip.MustParseAddr("203.0.113.5")))

	var nilT *clientip.Trusted
	assert.Error(t, nilT.Update("10.0.0.0/8"))
}

// TestTrustedSwapWhileResolving is for the race detector: CDN ranges are
// replaced while requests are resolved.
func TestTrustedSwapWhileResolving(t *testing.T) {
	tr, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	r, err := clientip.New(clientip.RightmostUntrusted(tr))
	require.NoError(t, err)
	h := hdr("X-Forwarded-For", "198.51.100.7")
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 200 {
			if i%2 == 0 {
				assert.NoError(t, tr.Update("10.0.0.0/8"))
			} else {
				assert.NoError(t, tr.Update("10.0.0.0/8", "172.16.0.0/12"))
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 200 {
			got, err := r.Resolve(h, "10.0.0.1:1")
			assert.NoError(t, err)
			assert.Equal(t, netip.MustParseAddr("198.51.100.7"), got)
		}
	}()
	wg.Wait()
}

// TestTrustedSwapNeverMixesSets replaces the trusted set while requests
// are resolved: each answer must be the one the old set alone or the new
// set alone gives, never one that testing some entries against each set
// would give. Under set A the walk stops at 192.0.2.1, under B at
// 203.0.113.1; a walk that read 203.0.113.1 under A and 192.0.2.1 under B
// would answer 198.51.100.1.
func TestTrustedSwapNeverMixesSets(t *testing.T) {
	a := []string{"10.0.0.0/8", "203.0.113.0/24"}
	b := []string{"10.0.0.0/8", "192.0.2.0/24"}
	tr, err := clientip.NewTrusted(a...)
	require.NoError(t, err)
	xff, err := clientip.New(clientip.RightmostUntrusted(tr))
	require.NoError(t, err)
	fwd, err := clientip.New(clientip.Forwarded(tr))
	require.NoError(t, err)
	h := hdr("X-Forwarded-For", "198.51.100.1, 192.0.2.1, 203.0.113.1, 10.0.0.2",
		"Forwarded", "for=198.51.100.1, for=192.0.2.1, for=203.0.113.1, for=10.0.0.2")

	// The only two acceptable answers, each computed from one set alone.
	want := map[netip.Addr]bool{}
	for _, set := range [][]string{a, b} {
		one, err := clientip.NewTrusted(set...)
		require.NoError(t, err)
		for _, s := range []clientip.Strategy{clientip.RightmostUntrusted(one), clientip.Forwarded(one)} {
			r, err := clientip.New(s)
			require.NoError(t, err)
			got, err := r.Resolve(h, "10.0.0.1:1")
			require.NoError(t, err)
			want[got] = true
		}
	}
	require.Len(t, want, 2, "the two sets must give different answers for the test to mean anything")

	stop := make(chan struct{})
	var swapper sync.WaitGroup
	swapper.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			set := a
			if i%2 == 1 {
				set = b
			}
			assert.NoError(t, tr.Update(set...))
		}
	})
	var walkers sync.WaitGroup
	for range 4 {
		walkers.Go(func() {
			for range 2000 {
				for _, r := range []*clientip.Resolver{xff, fwd} {
					got, err := r.Resolve(h, "10.0.0.1:1")
					if !assert.NoError(t, err) || !assert.True(t, want[got], "mixed answer %v", got) {
						return
					}
				}
			}
		})
	}
	walkers.Wait()
	close(stop)
	swapper.Wait()
}
