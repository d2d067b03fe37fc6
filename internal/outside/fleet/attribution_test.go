package fleet_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
)

// TestAttributionAcrossInstancesAndEpochs checks conversion attribution
// (Latest, "how a conversion is attributed to the click before it") and
// erasure across a fleet over the epoch boundary, with the README's
// wiring (keyrings on one KeyStore, a Builder per instance): visitors of
// both families click links on instance A at several moments of an
// epoch; the stores' and keyrings' clock then crosses into the next
// epoch, and on instance B the same visitors (new pseudonym, the old one
// as PrevVisitor, as B's Builder makes them) are attributed: Latest on
// each link finds A's click, Latest on any link finds the most recent
// one, a click on a clicked link is a repeat and one on a new link is
// first, through Record and RecordBatch; erasing both pseudonyms on B
// (Builder.Pseudonyms) removes every click, A's included, and A's Latest
// then finds nothing. Once the window of A's clicks is over by the
// stores' clock, nothing is attributed and a click is first again.
//
// Checked to fail: with B's PrevVisitor dropped, the attribution and the
// repeats are reported; with only the new pseudonym erased, the click
// left behind is reported.
func TestAttributionAcrossInstancesAndEpochs(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	const w = 30 * time.Minute
	for _, at := range []time.Duration{time.Minute, 15 * time.Minute, w - time.Second} {
		t.Run(fmt.Sprint("clicked ", at, " into the epoch"), func(t *testing.T) {
			// base is an epoch start for the default 30-minute policy.
			clk := newClock(base.Add(at))
			p := prefix()
			a := join(t, srv.Addr(), p, 0, clk.now, nil)
			b := join(t, srv.Addr(), p, 0, clk.now, nil)
			addrs := []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::77"), netip.MustParseAddr("::ffff:192.0.2.200")}
			links := []string{"x", "y", "z"}
			clicked := map[string]time.Time{}
			for i, addr := range addrs {
				for j, l := range links {
					clk.set(base.Add(at).Add(time.Duration(i*3+j) * time.Millisecond))
					c, err := a.builder.Build(ctx, addr, "ua", l, clk.now())
					require.NoError(t, err)
					first, err := a.store.Record(ctx, c)
					require.NoError(t, err)
					require.True(t, first)
					clicked[fmt.Sprint(i, l)] = c.Time
				}
			}
			// A's index entries reach B's reads about a millisecond
			// after Record (package doc, "Indexes, off the request
			// path"): Flush writes them at once.
			require.NoError(t, a.store.Flush(ctx))
			// Into the next epoch, still within the clicks' window.
			clk.set(base.Add(w + time.Millisecond))
			for i, addr := range addrs {
				cur, prev, err := b.builder.Pseudonyms(ctx, addr, "ua", clk.now())
				require.NoError(t, err)
				require.NotEqual(t, clickstore.Pseudonym{}, prev, "the previous epoch's key lives")
				for _, l := range links {
					got, ok, err := b.store.Latest(ctx, cur, prev, l)
					require.NoError(t, err)
					if assert.True(t, ok, "visitor %d link %s attributed on the other instance", i, l) {
						assert.True(t, got.Time.Equal(clicked[fmt.Sprint(i, l)]), "visitor %d link %s: %v want %v", i, l, got.Time, clicked[fmt.Sprint(i, l)])
					}
				}
				got, ok, err := b.store.Latest(ctx, cur, prev, "")
				require.NoError(t, err)
				if assert.True(t, ok) {
					assert.Equal(t, "z", got.Link, "the most recent click")
				}
				again, err := b.builder.Build(ctx, addr, "ua", "y", clk.now())
				require.NoError(t, err)
				first, err := b.store.Record(ctx, again)
				require.NoError(t, err)
				assert.False(t, first, "visitor %d: a click on a clicked link is a repeat across the boundary", i)
				fresh, err := b.builder.Build(ctx, addr, "ua", "new", clk.now())
				require.NoError(t, err)
				us, err := b.store.RecordBatch(ctx, []clickstore.Click{again, fresh, fresh})
				require.NoError(t, err)
				assert.Equal(t, []clickstore.Uniqueness{clickstore.Repeat, clickstore.Unique, clickstore.Repeat}, us)
			}
			require.NoError(t, b.store.Flush(ctx))
			// Erase visitor 0, both pseudonyms, on B.
			cur, prev, err := b.builder.Pseudonyms(ctx, addrs[0], "ua", clk.now())
			require.NoError(t, err)
			n1, err := b.store.EraseVisitor(ctx, cur)
			require.NoError(t, err)
			n2, err := b.store.EraseVisitor(ctx, prev)
			require.NoError(t, err)
			assert.Equal(t, len(links)+1, n1+n2, "every click of the visitor, both instances'")
			for _, in := range []*member{a, b} {
				_, ok, err := in.store.Latest(ctx, cur, prev, "")
				require.NoError(t, err)
				assert.False(t, ok, "nothing of the erased visitor is left")
			}
			// A's clicks' window ends.
			clk.set(base.Add(at).Add(w + 9*time.Millisecond))
			cur, prev, err = b.builder.Pseudonyms(ctx, addrs[1], "ua", clk.now())
			require.NoError(t, err)
			got, ok, err := b.store.Latest(ctx, cur, prev, "x")
			require.NoError(t, err)
			assert.False(t, ok, "a click past its window is not attributed (got %v)", got)
			c, err := b.builder.Build(ctx, addrs[1], "ua", "x", clk.now())
			require.NoError(t, err)
			first, err := b.store.Record(ctx, c)
			require.NoError(t, err)
			assert.True(t, first, "after the window the visitor is first again")
		})
	}
}
