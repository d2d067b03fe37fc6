package aggregate

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
)

func TestNetworkPolicy(t *testing.T) {
	finer := func(v4, v6 int) ipmask.Policy {
		p, err := ipmask.New(v4, v6)
		require.NoError(t, err)
		return p
	}
	tests := []struct {
		name string
		p    ipmask.Policy
		want ipmask.Policy
		err  bool
	}{
		{"zero means the default", ipmask.Policy{}, ipmask.Default, false},
		{"the default", ipmask.Default, ipmask.Default, false},
		{"coarser", ipmask.Strict, ipmask.Strict, false},
		{"every bit", finer(32, 128), ipmask.Policy{}, true},
		{"finer IPv4", finer(25, 48), ipmask.Policy{}, true},
		{"finer IPv6", finer(24, 64), ipmask.Policy{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NetworkPolicy(tt.p)
			if tt.err {
				require.Error(t, err)
				assert.True(t, strings.HasPrefix(err.Error(), "aggregate: "), "error %q names the package", err)
				_, err = New(&Options{NetworkPolicy: tt.p})
				assert.ErrorContains(t, err, "aggregate: network policy ", "New refuses it")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNetworkOfAllocs(t *testing.T) {
	n := netip.MustParsePrefix("2002:c633:6407::/48")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = NetworkOf(n, ipmask.Default) }))
}

// A Rollup under a coarser policy counts every network under it, its own
// clicks and those merged from a Rollup under the default policy.
func TestRollupNetworkPolicy(t *testing.T) {
	ctx := context.Background()
	strict, err := New(&Options{NetworkPolicy: ipmask.Strict})
	require.NoError(t, err)
	def, err := New(nil)
	require.NoError(t, err)
	c := click("strict", t0, 1)
	c.Network = netip.MustParsePrefix("198.51.100.7/32")
	require.NoError(t, strict.Add(ctx, c, clickstore.Unique))
	c.Visitor, c.Network = visitor(2), netip.MustParsePrefix("2001:db8:1:2::/64")
	require.NoError(t, def.Add(ctx, c, clickstore.Unique))
	c.Visitor, c.Network = visitor(3), netip.MustParsePrefix("198.51.7.0/24")
	require.NoError(t, def.Add(ctx, c, clickstore.Unique))
	require.NoError(t, strict.Merge(def))

	cs, err := strict.Cells(ctx, Query{Link: "strict", Granularity: Hour, From: t0, To: t0.Add(time.Hour), K: 1})
	require.NoError(t, err)
	got := map[string]uint64{}
	for _, c := range cs {
		if c.Dimension == Network {
			got[c.Value] += c.Visitors
		}
	}
	assert.Equal(t, map[string]uint64{"198.51.0.0/16": 2, "2001:db8::/32": 1}, got)
}

// cellsBackend is a Backend whose Cells are given: what a database written
// before NetworkOf, or a backend that keeps networks as given, returns.
type cellsBackend struct{ cells []Cell }

func (b *cellsBackend) Add(context.Context, clickstore.Click, clickstore.Uniqueness) error {
	return nil
}

func (b *cellsBackend) Cells(context.Context, Query) ([]Cell, error) {
	return append([]Cell(nil), b.cells...), nil
}

// Publish cuts every network a backend returns to ipmask.Default's, merging
// the cells that then share a value, before it suppresses: three visitors
// at each of two addresses of one /24 are six in the /24, and published.
func TestPublishCoarsensNetworks(t *testing.T) {
	base := Cell{Link: "old", Granularity: Hour, Start: t0, End: t0.Add(time.Hour)}
	cell := func(d Dimension, v string, visitors uint64) Cell {
		c := base
		c.Dimension, c.Value, c.Visitors = d, v, visitors
		c.Clicks = visitors
		return c
	}
	b := &cellsBackend{cells: []Cell{
		cell(Total, "", 10),
		cell(Network, "198.51.100.7/32", 3),
		cell(Network, "198.51.100.0/24", 1),
		cell(Network, "198.51.100.9", 2),
		cell(Network, "2001:db8:1:2::7/128", 4),
	}}
	rep, err := Publish(context.Background(), b, Query{Link: "old", Granularity: Hour, From: t0, To: t0.Add(time.Hour)})
	require.NoError(t, err)
	var published []string
	var suppressed uint64
	for _, c := range rep.Cells {
		if c.Dimension != Network {
			continue
		}
		if c.Suppressed {
			suppressed += c.Clicks
			continue
		}
		published = append(published, c.Value)
		assert.Equal(t, uint64(6), c.Visitors, c.Value)
		assert.Equal(t, uint64(6), c.Clicks, c.Value)
	}
	assert.Equal(t, []string{"198.51.100.0/24"}, published)
	assert.Equal(t, uint64(4), suppressed, "2001:db8:1::/48, with 4 visitors")
}
