package redisstore_test

import (
	"context"
	"encoding/hex"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
)

// A typical click's marker value fits the 44 bytes that Redis keeps in one
// allocation (an embedded string), and reads back whole.
func TestTypicalValueIsOneAllocation(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := newClient(t, srv.Addr())
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	s := newStore(t, client, &redisstore.Options{Now: func() time.Time { return now }})
	c := clickstore.Click{
		Link: "promo", Time: now.Add(-40 * time.Microsecond), Visitor: clickstore.Pseudonym{7, 1},
		Network: netip.MustParsePrefix("192.0.2.0/24"), Country: "DE", Device: "mobile",
	}
	first, err := s.Record(context.Background(), c)
	require.NoError(t, err)
	require.True(t, first)

	m := "{" + prefix(t) + "}:c:" + string(c.Visitor[:]) + c.Link
	v, err := client.Get(context.Background(), m).Result()
	require.NoError(t, err)
	assert.LessOrEqual(t, len(v), 44)
	enc, err := client.ObjectEncoding(context.Background(), m).Result()
	require.NoError(t, err)
	assert.Equal(t, "embstr", enc)

	got, ok, err := s.Latest(context.Background(), c.Visitor, clickstore.Pseudonym{}, c.Link)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, c, got)
}

// An upgrade in place finds the markers the version before wrote (version
// 1 values, with a 16-byte token): it reads them, counts their visitor's
// next click as a repeat, and replaces them once the store's clock has
// expired them.
func TestUpgradeReadsVersion1Values(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := newClient(t, srv.Addr())
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	s := newStore(t, client, &redisstore.Options{Now: func() time.Time { return now }})
	ctx := context.Background()

	// A click held by the version before, recorded a minute ago.
	old := redisstore.V1Click
	v1, err := hex.DecodeString(redisstore.V1Value)
	require.NoError(t, err)
	rec := strconv.FormatInt(now.Add(-time.Minute).UnixNano(), 10)
	require.Len(t, rec, 19)
	m := "{" + prefix(t) + "}:c:" + string(old.Visitor[:]) + old.Link
	require.NoError(t, client.Set(ctx, m, rec+"token-of-16bytes"+string(v1), time.Hour).Err())

	got, ok, err := s.Latest(ctx, old.Visitor, clickstore.Pseudonym{}, old.Link)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, old, got)

	again := old
	again.Time = now
	first, err := s.Record(ctx, again)
	require.NoError(t, err)
	assert.False(t, first, "a click held by the version before is live")

	now = now.Add(30 * time.Minute) // the old click's window has passed
	first, err = s.Record(ctx, again)
	require.NoError(t, err)
	assert.True(t, first, "an expired version-1 value is replaced")
	got, ok, err = s.Latest(ctx, old.Visitor, clickstore.Pseudonym{}, old.Link)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, again, got)
}
