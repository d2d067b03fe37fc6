package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/retention"
)

func TestNewRejectsBadInput(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := newClient(t, srv.Addr())
	ctx := context.Background()
	tests := []struct {
		name string
		opts *redisstore.Options
		want string
	}{
		{"brace in prefix", &redisstore.Options{Prefix: "a{b"}, "prefix of 3 bytes"},
		{"negative capacity", &redisstore.Options{Capacity: -1}, "capacity -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := redisstore.New(ctx, client, tt.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "redisstore")
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := redisstore.New(ctx, nil, nil)
	assert.ErrorContains(t, err, "redisstore")
	_, err = redisstore.NewKeyStore(nil, nil)
	assert.ErrorContains(t, err, "redisstore")
}

func TestNewChecksServer(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Local: true})
	client := newClient(t, srv.Addr())
	ctx := context.Background()

	opts := &redisstore.Options{Prefix: prefix(t)}
	_, err := redisstore.New(ctx, client, opts)
	require.NoError(t, err, "a server without persistence is accepted")

	_, err = redistest.Do(srv.Addr(), "CONFIG", "SET", "appendonly", "yes")
	require.NoError(t, err)
	_, err = redisstore.New(ctx, client, opts)
	assert.ErrorContains(t, err, "appendonly")
	assert.ErrorIs(t, err, redisstore.ErrPersistence)
	_, err = redisstore.New(ctx, client, &redisstore.Options{Prefix: prefix(t), AllowPersistence: true})
	assert.NoError(t, err)
	assert.Equal(t, prefix(t), opts.Prefix, "the caller's options are not modified")
	_, err = redistest.Do(srv.Addr(), "CONFIG", "SET", "appendonly", "no")
	require.NoError(t, err)

	_, err = redistest.Do(srv.Addr(), "CONFIG", "SET", "maxmemory-policy", "volatile-lru")
	require.NoError(t, err)
	_, err = redisstore.New(ctx, client, opts)
	assert.ErrorContains(t, err, "volatile-lru")
	assert.ErrorIs(t, err, redisstore.ErrEviction)
	_, err = redisstore.New(ctx, client, &redisstore.Options{Prefix: prefix(t), AllowEviction: true})
	assert.NoError(t, err)
}

// A managed server that refuses CONFIG GET might persist: New says so
// unless told to accept it. A server that cannot be reached is a plain
// error, not a persistence one.
func TestNewServerRefusesConfig(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Args: []string{"--rename-command", "CONFIG", ""}})
	client := newClient(t, srv.Addr())
	ctx := context.Background()
	_, err := redisstore.New(ctx, client, &redisstore.Options{Prefix: prefix(t)})
	require.Error(t, err)
	assert.ErrorIs(t, err, redisstore.ErrPersistence)
	assert.ErrorContains(t, err, "AllowPersistence")
	_, err = redisstore.New(ctx, client, &redisstore.Options{Prefix: prefix(t), AllowPersistence: true})
	assert.ErrorIs(t, err, redisstore.ErrEviction)
	var logs bytes.Buffer
	_, err = redisstore.New(ctx, client, &redisstore.Options{Prefix: prefix(t), AllowPersistence: true, AllowEviction: true,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	assert.NoError(t, err)
	for _, setting := range []string{"save", "appendonly", "maxmemory-policy"} {
		assert.Contains(t, logs.String(), "refused CONFIG GET "+setting, "each accepted refusal is logged as a warning")
	}

	srv.Kill()
	_, err = redisstore.New(ctx, client, &redisstore.Options{Prefix: prefix(t)})
	require.Error(t, err)
	assert.NotErrorIs(t, err, redisstore.ErrPersistence)
}

func TestRawAddrNeedsKeyring(t *testing.T) {
	srv := redistest.Start(t, nil)
	s := newStore(t, newClient(t, srv.Addr()), nil)
	c := click(1, "a")
	c.RawAddr = netip.MustParseAddr("192.0.2.9")
	_, err := s.Record(context.Background(), c)
	require.Error(t, err)
	assert.ErrorContains(t, err, "Options.Keyring")
	assert.NotContains(t, err.Error(), "192.0.2.9", "the address is not echoed")
}

func TestRecordBatch(t *testing.T) {
	srv := redistest.Start(t, nil)
	s := newStore(t, newClient(t, srv.Addr()), nil)
	bad := click(3, "a")
	bad.Link = ""
	got, err := s.RecordBatch(context.Background(), []clickstore.Click{click(1, "a"), click(1, "a"), click(2, "a"), bad})
	require.Error(t, err)
	assert.True(t, errors.Is(err, clickstore.ErrInvalidClick))
	assert.Equal(t, []clickstore.Uniqueness{clickstore.Unique, clickstore.Repeat, clickstore.Unique, clickstore.UniqueUnknown}, got)

	// Clicks with a previous pseudonym are decided by script runs between
	// the others' SET NX GETs, in the batch's order all the same.
	withPrev := func(v, prev byte, link string) clickstore.Click {
		c := click(v, link)
		c.PrevVisitor = clickstore.Pseudonym{prev, 1}
		return c
	}
	got, err = s.RecordBatch(context.Background(), []clickstore.Click{
		click(5, "b"),       // first
		withPrev(6, 5, "b"), // its previous pseudonym holds b: repeat
		withPrev(6, 9, "c"), // first
		click(6, "c"),       // held just before: repeat
		withPrev(7, 6, "c"), // repeat
		withPrev(7, 6, "d"), // first
		withPrev(7, 6, "d"), // repeat of the click before
	})
	require.NoError(t, err)
	assert.Equal(t, []clickstore.Uniqueness{clickstore.Unique, clickstore.Repeat, clickstore.Unique, clickstore.Repeat, clickstore.Repeat, clickstore.Unique, clickstore.Repeat}, got)
}

func TestKeyStore(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := newClient(t, srv.Addr())
	ctx := context.Background()
	a, err := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: prefix(t)})
	require.NoError(t, err)
	b, err := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: prefix(t)})
	require.NoError(t, err)
	w := retention.DefaultWindow

	_, ok, err := a.Load(ctx, 7)
	require.NoError(t, err)
	assert.False(t, ok)
	ka, err := a.LoadOrCreate(ctx, 7, [32]byte{1}, w)
	require.NoError(t, err)
	kb, err := b.LoadOrCreate(ctx, 7, [32]byte{2}, w)
	require.NoError(t, err)
	assert.Equal(t, [32]byte{1}, ka, "the first candidate wins")
	assert.Equal(t, ka, kb, "every instance gets the same key")
	got, ok, err := b.Load(ctx, 7)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, ka, got)

	_, err = a.LoadOrCreate(ctx, 8, [32]byte{1}, 3*w)
	assert.ErrorContains(t, err, "ttl", "no key may be kept beyond its epoch and grace")
	_, err = a.LoadOrCreate(ctx, 8, [32]byte{}, w)
	assert.ErrorContains(t, err, "zero")
}
