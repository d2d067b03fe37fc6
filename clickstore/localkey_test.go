package clickstore_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/retention"
)

// With the key store down, Build still makes the whole click, under a
// local key, and says so; once the store is back, the shared key is used.
func TestBuildUnderLocalKey(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	clock := func() time.Time { return now }
	keys := clickstoretest.NewOutageKeyStore(clock)
	defer keys.Close()
	ring, err := retention.NewKeyring(&retention.KeyringOptions{Store: keys, Now: clock, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer ring.Close()
	b, err := clickstore.NewBuilder(ipmask.Default, ring, &clickstore.BuilderOptions{KeepRawAddr: true})
	require.NoError(t, err)
	addr := netip.MustParseAddr("198.51.100.23")

	keys.Down(errors.New("dial tcp 192.0.2.1:6379: i/o timeout"))
	c, err := b.Build(ctx, addr, "UA", "promo", now)
	require.ErrorIs(t, err, retention.ErrLocalKey)
	ipmasktest.AssertNoRawIPError(t, ipmask.Default, err)
	assert.NoError(t, c.Validate(), "the click is complete")
	assert.NotZero(t, c.Visitor)
	assert.Zero(t, c.PrevVisitor)
	assert.Equal(t, "promo", c.Link)
	assert.Equal(t, netip.MustParsePrefix("198.51.100.0/24"), c.Network)
	assert.Equal(t, addr, c.RawAddr)
	cur, _, err := b.Pseudonyms(ctx, addr, "UA", now)
	require.ErrorIs(t, err, retention.ErrLocalKey)
	assert.Equal(t, c.Visitor, cur, "one local key for the epoch")

	keys.Up()
	now = now.Add(time.Second)
	shared, err := b.Build(ctx, addr, "UA", "promo", now)
	require.NoError(t, err)
	assert.NotEqual(t, c.Visitor, shared.Visitor, "the local key's pseudonym matches nothing shared")

	// Any other failure gives the zero Click.
	keys.Down(nil)
	late, err := b.Build(ctx, addr, "UA", "promo", now.Add(-time.Hour)) // an older epoch: no local key
	require.Error(t, err)
	assert.NotErrorIs(t, err, retention.ErrLocalKey)
	assert.Zero(t, late)
}
