package aggregate

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
)

// FuzzReport drives a rollup with clicks decoded from the input and checks
// that whatever k, every dimension's cells add up to what was counted, no
// published cell has fewer than k visitors and no network is finer than
// ipmask.Default keeps, though some clicks carry a whole address.
func FuzzReport(f *testing.F) {
	f.Add(uint8(5), []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add(uint8(1), []byte{255, 0, 255, 0})
	f.Add(uint8(0), []byte("clicks from a handful of visitors in a few buckets"))
	f.Fuzz(func(t *testing.T, k uint8, data []byte) {
		ctx := context.Background()
		r, err := New(&Options{MaxValues: 3})
		require.NoError(t, err)
		var want Counts
		for i := 0; i+1 < len(data) && i < 400; i += 2 {
			a, b := data[i], data[i+1]
			c := clickstore.Click{
				Link:    string('a' + rune(a%3)),
				Time:    t0.Add(time.Duration(b%64) * 7 * time.Minute),
				Visitor: visitor(uint64(a >> 2)),
				Network: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, b % 5, 0, 0}), 16),
				Country: []string{"", "DE", "FR", "US", "JP"}[a%5],
				Device:  []string{"", "mobile"}[b%2],
			}
			switch b % 7 { // whole addresses: counted under their /24 or /48
			case 1:
				c.Network = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, b % 5, a % 3, a}), 32)
			case 2:
				c.Network = netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0xd, 0xb8, 0, b % 3, 0, a}), 128)
			}
			if b%11 == 0 {
				c.Bot = "bot"
			}
			if b%13 == 0 {
				c.Kind = clickstore.KindConversion
			}
			u := clickstore.Uniqueness(a % 3)
			require.NoError(t, r.Add(ctx, c, u))
			want = want.Add(CountsOf(&c, u))
		}
		for _, g := range granularities {
			rep, err := r.Report(ctx, Query{Granularity: g, K: int(k % 16), From: t0.Add(-24 * time.Hour), To: t0.Add(24 * time.Hour)})
			require.NoError(t, err)
			for _, d := range []Dimension{Total, Country, Network, Referrer, Device} {
				assert.Equal(t, want, totals(rep.Cells, ScopeBucket, d), "%s %s", g, d)
			}
			assert.Equal(t, want, totals(rep.Cells, ScopeRange, Total), g.String())
			for _, c := range rep.Cells {
				if !c.Suppressed {
					assert.GreaterOrEqual(t, c.Visitors, uint64(rep.Query.K))
				}
				if c.Dimension == Network && c.Value != "" {
					p, err := netip.ParsePrefix(c.Value)
					if assert.NoError(t, err) {
						assert.LessOrEqual(t, p.Bits(), ipmask.Default.Prefix(p.Addr()).Bits(), "network %s finer than the default", c.Value)
					}
				}
			}
		}
	})
}
