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

func TestNewTrustedRejects(t *testing.T) {
	tests := []struct {
		name, in, why string
	}{
		{name: "garbage", in: "proxy.example", why: "not an address or CIDR prefix"},
		{name: "empty", in: "", why: "not an address or CIDR prefix"},
		{name: "host bits", in: "10.0.0.1/8", why: `did you mean "10.0.0.0/8"`},
		{name: "zone", in: "fe80::1%eth0", why: "zone"},
		{name: "every IPv4", in: "0.0.0.0/0", why: "every address"},
		{name: "every IPv6", in: "::/0", why: "every address"},
		{name: "every IPv4, mapped", in: "::ffff:0.0.0.0/96", why: "every address"},
		{name: "leading zeros", in: "010.0.0.0/8", why: "not an address"},
		{name: "bad length", in: "10.0.0.0/33", why: "not an address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := clientip.NewTrusted(tt.in)
			require.Error(t, err)
			assert.Nil(t, tr)
			assert.Contains(t, err.Error(), `clientip: trusted proxy "`+tt.in+`"`)
			assert.Contains(t, err.Error(), tt.why)
		})
	}
	_, err := clientip.NewTrustedPrefixes(netip.Prefix{})
	assert.Error(t, err)
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
