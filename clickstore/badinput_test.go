package clickstore_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/testkit"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// A nil context, a nil *Memory or *Builder and a Builder not made by
// NewBuilder are errors that say so, not nil dereferences.
func TestBadReceiverOrContext(t *testing.T) {
	ctx := context.Background()
	var nilCtx context.Context
	c := testClick(1, "l")
	addr := netip.MustParseAddr("192.0.2.7")
	var m clickstore.Memory
	defer m.Close()
	var nm *clickstore.Memory
	kr, err := retention.NewKeyring(nil)
	require.NoError(t, err)
	defer kr.Close()
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	var nb *clickstore.Builder
	testkit.CheckBadCalls(t, "clickstore", []testkit.BadCall{
		{Name: "Memory.Record nil context", Call: func() error { _, err := m.Record(nilCtx, c); return err }, Want: "record: nil context"},
		{Name: "Memory.Latest nil context", Call: func() error { _, _, err := m.Latest(nilCtx, c.Visitor, c.PrevVisitor, ""); return err }, Want: "latest: nil context"},
		{Name: "Memory.All nil context", Call: func() error { return firstErr(m.All(nilCtx)) }, Want: "all: nil context"},
		{Name: "Memory.EraseVisitor nil context", Call: func() error { _, err := m.EraseVisitor(nilCtx, c.Visitor); return err }, Want: "erase visitor: nil context"},
		{Name: "Memory.EraseLink nil context", Call: func() error { _, err := m.EraseLink(nilCtx, "l"); return err }, Want: "erase link: nil context"},
		{Name: "Memory.Sweep nil context", Call: func() error { _, err := m.Sweep(nilCtx, t0); return err }, Want: "sweep: nil context"},
		{Name: "nil Memory.Record", Call: func() error { _, err := nm.Record(ctx, c); return err }, Want: "nil *Memory"},
		{Name: "nil Memory.Latest", Call: func() error { _, _, err := nm.Latest(ctx, c.Visitor, c.PrevVisitor, ""); return err }, Want: "nil *Memory"},
		{Name: "nil Memory.All", Call: func() error { return firstErr(nm.All(ctx)) }, Want: "nil *Memory"},
		{Name: "nil Memory.EraseVisitor", Call: func() error { _, err := nm.EraseVisitor(ctx, c.Visitor); return err }, Want: "nil *Memory"},
		{Name: "nil Memory.EraseLink", Call: func() error { _, err := nm.EraseLink(ctx, "l"); return err }, Want: "nil *Memory"},
		{Name: "nil Memory.Sweep", Call: func() error { _, err := nm.Sweep(ctx, t0); return err }, Want: "nil *Memory"},
		{Name: "nil Memory.Close", Call: nm.Close, Want: "nil *Memory"},
		{Name: "Builder.Build nil context", Call: func() error { _, err := b.Build(nilCtx, addr, "ua", "l", t0); return err }, Want: "nil context"},
		{Name: "Builder.Pseudonyms nil context", Call: func() error { _, _, err := b.Pseudonyms(nilCtx, addr, "ua", t0); return err }, Want: "nil context"},
		{Name: "nil Builder.Build", Call: func() error { _, err := nb.Build(ctx, addr, "ua", "l", t0); return err }, Want: "nil *Builder"},
		{Name: "nil Builder.BuildDigest", Call: func() error {
			_, err := nb.BuildDigest(ctx, addr, clickstore.DigestAgent("ua"), "l", t0)
			return err
		}, Want: "nil *Builder"},
		{Name: "nil Builder.Pseudonyms", Call: func() error { _, _, err := nb.Pseudonyms(ctx, addr, "ua", t0); return err }, Want: "nil *Builder"},
		{Name: "zero Builder.Build", Call: func() error { _, err := new(clickstore.Builder).Build(ctx, addr, "ua", "l", t0); return err }, Want: "not made by NewBuilder"},
		{Name: "zero Builder.Pseudonyms", Call: func() error {
			_, _, err := new(clickstore.Builder).Pseudonyms(ctx, addr, "ua", t0)
			return err
		}, Want: "not made by NewBuilder"},
		{Name: "nil Pseudonym.UnmarshalText", Call: func() error {
			return (*clickstore.Pseudonym)(nil).UnmarshalText([]byte(c.Visitor.String()))
		}, Want: "nil *Pseudonym"},
	})
	assert.NotPanics(t, func() {
		assert.Zero(t, nm.Len())
		assert.Equal(t, ipmask.Policy{}, nb.Policy())
	})
	// The keyring is not left locked by the calls above.
	_, err = b.Build(ctx, addr, "ua", "l", t0)
	assert.NoError(t, err)
}
