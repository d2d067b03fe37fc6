package transient_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every form of address a request can carry: IPv4, IPv4-mapped, IPv6 with
// and without a zone, and the IPv6 forms that embed an IPv4 address.
var addrForms = []string{
	"192.0.2.123", "::ffff:192.0.2.123", "198.51.100.7", "2001:db8:1:2::77",
	"fe80::1%eth0", "2002:c000:27b::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
	"64:ff9b::c000:27b", "2001:db8::5efe:192.0.2.123", "::192.0.2.123",
}

// TestBuilderPseudonymsAreKeyed: for every address form and several user
// agents, a Builder's Visitor is the package doc's HMAC-SHA256 under the
// keyring's current key (so nobody without the key can compute it: not
// an unkeyed hash, not a zero key), the same on every link (the link is
// not part of it), the same for an IPv4 address and its mapped form and
// with or without a zone, different under another keyring, and carried as
// PrevVisitor through the next epoch and not after. Network is the
// policy's, RawAddr is set only with KeepRawAddr, and every Click built
// (raw address kept or not) is one a Memory accepts. Checked to fail:
// with the link appended to the HMAC message in the test's formula, and
// with KeepRawAddr expected to change nothing, the test fails.
func TestBuilderPseudonymsAreKeyed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		ring, err := retention.NewKeyring(nil)
		require.NoError(t, err)
		defer ring.Close()
		other, err := retention.NewKeyring(nil)
		require.NoError(t, err)
		defer other.Close()
		plain, err := clickstore.NewBuilder(ipmask.Default, ring, nil)
		require.NoError(t, err)
		raw, err := clickstore.NewBuilder(ipmask.Default, ring, &clickstore.BuilderOptions{KeepRawAddr: true})
		require.NoError(t, err)
		stranger, err := clickstore.NewBuilder(ipmask.Default, other, nil)
		require.NoError(t, err)
		m, err := clickstore.NewMemory(nil)
		require.NoError(t, err)
		defer m.Close()

		now := time.Now()
		key, _, err := ring.Keys(ctx, now)
		require.NoError(t, err)
		secret := key.Secret()
		type built struct {
			addr netip.Addr
			ua   string
			v    clickstore.Pseudonym
		}
		var all []built
		for _, s := range addrForms {
			addr := netip.MustParseAddr(s)
			for _, ua := range []string{"", "Mozilla/5.0 (X11; Linux x86_64)", string(make([]byte, 4096))} {
				name := fmt.Sprintf("%s/%d", s, len(ua))
				c, err := plain.Build(ctx, addr, ua, "a", now)
				require.NoError(t, err, name)

				// The documented formula, under the current key.
				a16 := addr.Unmap().WithZone("").As16()
				uaSum := sha256.Sum256([]byte(ua))
				msg := append([]byte("clickanon/visitor/v2\x00"), a16[:]...)
				msg = append(msg, uaSum[:16]...)
				mac := hmac.New(sha256.New, secret[:])
				mac.Write(msg)
				assert.Equal(t, mac.Sum(nil)[:16], c.Visitor[:], "%s: HMAC-SHA256 under the epoch key", name)
				unkeyed := sha256.Sum256(msg)
				assert.NotEqual(t, unkeyed[:16], c.Visitor[:], name)
				zeroKey := hmac.New(sha256.New, nil)
				zeroKey.Write(msg)
				assert.NotEqual(t, zeroKey.Sum(nil)[:16], c.Visitor[:], name)

				for _, link := range []string{"b", "a-much-longer-link/with/a/path?q=1"} {
					c2, err := plain.Build(ctx, addr, ua, link, now)
					require.NoError(t, err)
					assert.Equal(t, c.Visitor, c2.Visitor, "%s: the link is not part of the pseudonym", name)
				}
				if addr.Is4() {
					c2, err := plain.Build(ctx, netip.AddrFrom16(addr.As16()), ua, "a", now)
					require.NoError(t, err)
					assert.Equal(t, c.Visitor, c2.Visitor, "%s: its mapped form is the same visitor", name)
				}
				if addr.Zone() != "" {
					c2, err := plain.Build(ctx, addr.WithZone(""), ua, "a", now)
					require.NoError(t, err)
					assert.Equal(t, c.Visitor, c2.Visitor, "%s: zones are ignored", name)
				}
				s2, err := stranger.Build(ctx, addr, ua, "a", now)
				require.NoError(t, err)
				assert.NotEqual(t, c.Visitor, s2.Visitor, "%s: another key, another pseudonym", name)

				assert.Equal(t, ipmask.Default.Prefix(addr), c.Network, name)
				assert.False(t, c.RawAddr.IsValid(), "%s: no raw address by default", name)
				r, err := raw.Build(ctx, addr, ua, "a", now)
				require.NoError(t, err)
				assert.Equal(t, addr.Unmap().WithZone(""), r.RawAddr, "%s: kept with KeepRawAddr", name)
				assert.Equal(t, c.Visitor, r.Visitor, name)
				for _, cc := range []clickstore.Click{c, r} {
					_, err := m.Record(ctx, cc)
					assert.NoError(t, err, "%s: a built click is one a store accepts", name)
				}
				all = append(all, built{addr, ua, c.Visitor})
			}
		}

		// Next epoch: the old pseudonym is PrevVisitor; two epochs on, gone.
		w := retention.DefaultWindow
		time.Sleep(w)
		for _, b := range all {
			c, err := plain.Build(ctx, b.addr, b.ua, "a", time.Now())
			require.NoError(t, err)
			assert.Equal(t, b.v, c.PrevVisitor, "%v: PrevVisitor in the grace epoch", b.addr)
			assert.NotEqual(t, b.v, c.Visitor)
		}
		time.Sleep(w)
		for _, b := range all {
			c, err := plain.Build(ctx, b.addr, b.ua, "a", time.Now())
			require.NoError(t, err)
			assert.NotEqual(t, b.v, c.PrevVisitor, "%v: the key is gone", b.addr)
			assert.NotEqual(t, b.v, c.Visitor)
		}
	})
}
