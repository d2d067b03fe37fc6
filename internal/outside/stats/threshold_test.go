package stats_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/redistest"
)

// The threshold counts contributors, not clicks, on every backend: a
// bucket or a network of exactly k distinct human visitors is published
// and one of k-1 is suppressed, however many times each clicks, however
// many bots click with them (bots contribute no one) and whatever k (0
// meaning DefaultK, 5). Checked to fail: with the threshold applied to
// clicks (Clicks < K; the test's own oracle swapped), and with DefaultK
// read as 4 (the k-1 = 4 case at K 0 is then published).
func TestThresholdCountsVisitorsNotClicks(t *testing.T) {
	ctx := context.Background()
	assert.Equal(t, 5, aggregate.DefaultK, "the package doc and README promise 5")
	srv := redistest.Start(t, nil)
	backends := map[string]aggregate.Backend{
		"rollup": newRollup(t, nil),
		"redis":  newSinkOn(t, srv.Addr(), t0),
	}
	for name, b := range backends {
		for _, k := range []int{0, 1, 2, 3, 5, 7, 12} {
			want := k
			if k == 0 {
				want = 5 // the documented default
			}
			for _, n := range []int{want - 1, want} {
				if n < 0 {
					continue
				}
				link := fmt.Sprintf("k%d-n%d", k, n)
				start := t0.Add(time.Duration(k) * time.Hour)
				net := netip.MustParsePrefix("198.51.100.0/24")
				for i := range n {
					for rep := range 1 + i%3 {
						c := clickstore.Click{Link: link, Time: start.Add(time.Duration(rep) * time.Second), Visitor: visitor(1000*k + i), Network: net}
						require.NoError(t, b.Add(ctx, c, clickstore.Unique))
					}
				}
				for i := range 2 * want { // bots, each a different visitor
					c := clickstore.Click{Link: link, Time: start, Visitor: visitor(5000 + i), Network: net, Bot: "crawler"}
					require.NoError(t, b.Add(ctx, c, clickstore.Repeat))
				}
				rep, err := aggregate.Publish(ctx, b, aggregate.Query{Link: link, Granularity: aggregate.Hour, From: start.Add(-time.Hour), To: start.Add(time.Hour), K: k})
				require.NoError(t, err)
				published := n >= want
				msg := fmt.Sprintf("%s: k %d, %d visitors", name, k, n)
				var sawNet, sawTotal bool
				for _, c := range rep.Cells {
					if c.Scope != aggregate.ScopeBucket || c.Link == "" {
						continue
					}
					switch c.Dimension {
					case aggregate.Total:
						sawTotal = true
						assert.Equal(t, !published, c.Suppressed, msg)
						if published {
							assert.EqualValues(t, n, c.Visitors, msg)
						}
					case aggregate.Network:
						if c.Value == net.String() {
							sawNet = true
							assert.EqualValues(t, n, c.Visitors, msg)
						}
					}
				}
				assert.True(t, sawTotal, msg)
				assert.Equal(t, published, sawNet, "%s: network published", msg)
			}
		}
	}
}
