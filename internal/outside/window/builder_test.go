package window_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/retention"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 123, time.UTC)

func newKeyring(t *testing.T) *retention.Keyring {
	t.Helper()
	ring, err := retention.NewKeyring(nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ring.Close() })
	return ring
}

// addrs are addresses of every form a client can arrive from: the tricky
// embedded forms of ipmasktest, zoned, mapped, the unspecified and edge
// addresses of both families.
func addrs() []netip.Addr {
	var out []netip.Addr
	for _, c := range ipmasktest.Cases() {
		out = append(out, c.Addr)
		if c.Addr.Is6() {
			out = append(out, c.Addr.WithZone("eth0"))
		} else {
			out = append(out, netip.AddrFrom16(c.Addr.As16()))
		}
	}
	for _, s := range []string{"0.0.0.0", "255.255.255.255", "127.0.0.1", "::", "::1", "fe80::1%en0",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:0.0.0.0", "::ffff:255.255.255.255", "10.1.2.3", "fd00::1"} {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// agents are user agents of every shape: empty, ordinary, long, not
// UTF-8, with NUL bytes, and holding an address.
func agents() []string {
	return []string{"", "Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", strings.Repeat("A", 1<<16),
		"\xff\xfe\x00bot", "203.0.113.9", "Mozilla/5.0 [2001:db8::7]", "\x00"}
}

func policies(t *testing.T) []ipmask.Policy {
	var out []ipmask.Policy
	for _, b := range [][2]int{{24, 48}, {0, 0}, {32, 128}, {8, 16}, {31, 63}, {32, 64}, {1, 1}} {
		p, err := ipmask.New(b[0], b[1])
		require.NoError(t, err)
		out = append(out, p)
	}
	return append(out, ipmask.Default)
}

// Every Click a Builder makes passes Validate, for any address, agent,
// policy and KeepRawAddr: a Record of it cannot fail for its form. Its
// network holds the address, its raw address is kept exactly when asked
// (without zone, unmapped), and its text and JSON show neither the raw
// address beyond the policy nor a pseudonym.
func TestEveryBuiltClickIsValid(t *testing.T) {
	ctx := context.Background()
	ring := newKeyring(t)
	for _, p := range policies(t) {
		for _, keep := range []bool{false, true} {
			b, err := clickstore.NewBuilder(p, ring, &clickstore.BuilderOptions{KeepRawAddr: keep})
			require.NoError(t, err)
			for _, a := range addrs() {
				for _, ua := range agents() {
					for _, link := range []string{"a", "spring-sale", strings.Repeat("l", clickstore.MaxLinkLen), "ü/ß", "go/203.0.113.0"} {
						name := fmt.Sprintf("policy %v keep %v addr %v agent of %d bytes link %q", p, keep, a, len(ua), link)
						c, err := b.Build(ctx, a, ua, link, t0)
						require.NoError(t, err, name)
						if !assert.NoError(t, c.Validate(), name) {
							continue
						}
						assert.Equal(t, clickstore.KindClick, c.Kind, name)
						assert.False(t, c.Visitor.IsZero(), name)
						assert.True(t, c.Network.Contains(a.Unmap().WithZone("")), "%s: network %v", name, c.Network)
						if keep {
							assert.Equal(t, a.Unmap().WithZone(""), c.RawAddr, name)
						} else {
							assert.False(t, c.RawAddr.IsValid(), name)
						}
						text, err := json.Marshal(c)
						require.NoError(t, err)
						for _, s := range []string{c.String(), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), string(text)} {
							assert.Empty(t, ipmasktest.Leaks(p, s), "%s: %s", name, s)
							assert.NotContains(t, s, c.Visitor.String(), name)
						}
					}
				}
			}
		}
	}
}

// What Build does not check, as documented: a link that is not text or
// holds an address comes back in a Click that Validate and a store refuse
// with ErrInvalidClick, and a time outside the years 1678 to 2262 is the
// keyring's error; no such error echoes the link or the address.
func TestBuildLeavesTheRestToValidate(t *testing.T) {
	ctx := context.Background()
	b, err := clickstore.NewBuilder(ipmask.Default, newKeyring(t), nil)
	require.NoError(t, err)
	m, err := clickstore.NewMemory(nil)
	require.NoError(t, err)
	defer m.Close()
	addr := netip.MustParseAddr("198.51.100.7")
	noEcho := func(name string, err error) {
		assert.True(t, strings.HasPrefix(err.Error(), "clickstore: "), "%s: %v", name, err)
		assert.Empty(t, ipmasktest.Leaks(ipmask.Policy{}, err.Error()), "%s: %v", name, err)
		assert.NotContains(t, err.Error(), "go/", name)
	}
	for _, tt := range []struct{ name, link string }{
		{"link not UTF-8", "go/\xff\xfe"},
		{"link with a NUL", "go/\x00x"},
		{"link holding an address", "go/198.51.100.7"},
		{"link holding an IPv6 address", "go/2001:db8:1:2::7"},
		{"link holding an address percent-encoded", "go/198%2E51%2E100%2E7"},
	} {
		c, err := b.Build(ctx, addr, "ua", tt.link, t0)
		if err != nil {
			assert.ErrorIs(t, err, clickstore.ErrInvalidClick, tt.name)
			noEcho(tt.name, err)
			continue
		}
		err = c.Validate()
		require.ErrorIs(t, err, clickstore.ErrInvalidClick, "%s: Build and Validate both took it", tt.name)
		noEcho(tt.name, err)
		_, err = m.Record(ctx, c)
		require.ErrorIs(t, err, clickstore.ErrInvalidClick, tt.name)
		noEcho(tt.name, err)
	}
	assert.Zero(t, m.Len())
	for _, at := range []time.Time{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)} {
		c, err := b.Build(ctx, addr, "ua", "ok", at)
		require.Error(t, err, "time %v", at)
		assert.Equal(t, clickstore.Click{}, c)
		noEcho(fmt.Sprint("time ", at), err)
	}
}
