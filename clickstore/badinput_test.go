package clickstore_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// badCall is one call of the public API with a bad argument or receiver:
// it must return an error that names the package and what was wrong,
// never panic.
type badCall struct {
	name string
	call func() error
	want string // in the error's text
}

func checkBadCalls(t *testing.T, calls []badCall) {
	t.Helper()
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = c.call() })
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "clickstore: "), "%q does not name the package", err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

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
	checkBadCalls(t, []badCall{
		{"Memory.Record nil context", func() error { _, err := m.Record(nilCtx, c); return err }, "record: nil context"},
		{"Memory.Latest nil context", func() error { _, _, err := m.Latest(nilCtx, c.Visitor, c.PrevVisitor, ""); return err }, "latest: nil context"},
		{"Memory.All nil context", func() error { return firstErr(m.All(nilCtx)) }, "all: nil context"},
		{"Memory.EraseVisitor nil context", func() error { _, err := m.EraseVisitor(nilCtx, c.Visitor); return err }, "erase visitor: nil context"},
		{"Memory.EraseLink nil context", func() error { _, err := m.EraseLink(nilCtx, "l"); return err }, "erase link: nil context"},
		{"Memory.Sweep nil context", func() error { _, err := m.Sweep(nilCtx, t0); return err }, "sweep: nil context"},
		{"nil Memory.Record", func() error { _, err := nm.Record(ctx, c); return err }, "nil *Memory"},
		{"nil Memory.Latest", func() error { _, _, err := nm.Latest(ctx, c.Visitor, c.PrevVisitor, ""); return err }, "nil *Memory"},
		{"nil Memory.All", func() error { return firstErr(nm.All(ctx)) }, "nil *Memory"},
		{"nil Memory.EraseVisitor", func() error { _, err := nm.EraseVisitor(ctx, c.Visitor); return err }, "nil *Memory"},
		{"nil Memory.EraseLink", func() error { _, err := nm.EraseLink(ctx, "l"); return err }, "nil *Memory"},
		{"nil Memory.Sweep", func() error { _, err := nm.Sweep(ctx, t0); return err }, "nil *Memory"},
		{"nil Memory.Close", nm.Close, "nil *Memory"},
		{"Builder.Build nil context", func() error { _, err := b.Build(nilCtx, addr, "ua", "l", t0); return err }, "nil context"},
		{"Builder.Pseudonyms nil context", func() error { _, _, err := b.Pseudonyms(nilCtx, addr, "ua", t0); return err }, "nil context"},
		{"nil Builder.Build", func() error { _, err := nb.Build(ctx, addr, "ua", "l", t0); return err }, "nil *Builder"},
		{"nil Builder.BuildDigest", func() error {
			_, err := nb.BuildDigest(ctx, addr, clickstore.DigestAgent("ua"), "l", t0)
			return err
		}, "nil *Builder"},
		{"nil Builder.Pseudonyms", func() error { _, _, err := nb.Pseudonyms(ctx, addr, "ua", t0); return err }, "nil *Builder"},
		{"zero Builder.Build", func() error { _, err := new(clickstore.Builder).Build(ctx, addr, "ua", "l", t0); return err }, "not made by NewBuilder"},
		{"zero Builder.Pseudonyms", func() error {
			_, _, err := new(clickstore.Builder).Pseudonyms(ctx, addr, "ua", t0)
			return err
		}, "not made by NewBuilder"},
		{"nil Pseudonym.UnmarshalText", func() error {
			return (*clickstore.Pseudonym)(nil).UnmarshalText([]byte(c.Visitor.String()))
		}, "nil *Pseudonym"},
	})
	assert.NotPanics(t, func() {
		assert.Zero(t, nm.Len())
		assert.Equal(t, ipmask.Policy{}, nb.Policy())
	})
	// The keyring is not left locked by the calls above.
	_, err = b.Build(ctx, addr, "ua", "l", t0)
	assert.NoError(t, err)
}
