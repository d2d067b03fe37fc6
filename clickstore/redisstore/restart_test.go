package redisstore_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// instance is one machine of a service: its own client, keyring, builder
// and store, sharing the server.
type instance struct {
	store   *redisstore.Store
	builder *clickstore.Builder
	logs    *syncBuffer
}

type syncBuffer = testlog.Buffer

func newInstance(t *testing.T, addr string, now func() time.Time) *instance {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 1})
	t.Cleanup(func() { _ = client.Close() })
	ks, err := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: prefix(t)})
	require.NoError(t, err)
	kr, err := retention.NewKeyring(&retention.KeyringOptions{Store: ks})
	require.NoError(t, err)
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	logs := &syncBuffer{}
	s := newStore(t, client, &redisstore.Options{Prefix: prefix(t), Now: now, Keyring: kr, KeyStore: ks,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	return &instance{store: s, builder: b, logs: logs}
}

// visit records visitor i's click on link through in and reports the
// outcome: first, repeat, or an error.
func (in *instance) visit(t *testing.T, i int, link string, now time.Time) (bool, error) {
	t.Helper()
	addr := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
	c, err := in.builder.Build(context.Background(), addr, "agent", link, now)
	require.NoError(t, err)
	return in.store.Record(context.Background(), c)
}

// After Redis loses its data, an instance that had cached the old epoch
// key and one started after the restart (which creates a new key) must
// converge on one key at once: the same visitors are unique once, not once
// per instance. The instance with the stale key reports ErrKeyChanged for
// its first click after the restart (uniqueness unknown) and logs the
// restart.
func TestRestartInstancesConverge(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Local: true})
	now := time.Now()
	clock := func() time.Time { return now }
	a := newInstance(t, srv.Addr(), clock)
	const visitors = 200
	for i := range visitors {
		first, err := a.visit(t, i, "l", now)
		require.NoError(t, err)
		require.True(t, first)
	}

	srv.Restart() // an empty server: the clicks and the epoch key are gone
	b := newInstance(t, srv.Addr(), clock)
	changed := 0
	firsts := 0
	for i := range visitors {
		for _, in := range []*instance{b, a} { // b first: it creates a new key
			var first bool
			var err error
			for range 20 { // the client reconnects after the restart
				first, err = in.visit(t, i, "l", now)
				if err == nil || errors.Is(err, redisstore.ErrKeyChanged) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if errors.Is(err, redisstore.ErrKeyChanged) {
				changed++
				continue
			}
			require.NoError(t, err)
			if first {
				firsts++
			}
		}
	}
	assert.Equal(t, visitors, firsts, "each visitor is unique once after the restart, whichever instance sees them")
	assert.Equal(t, 1, changed, "one click (the stale instance's first) has unknown uniqueness")
	assert.Contains(t, a.logs.String(), "level=WARN")
	assert.Contains(t, a.logs.String(), "epoch key")
	assert.Empty(t, b.logs.String(), "the new instance had nothing to report")
	assert.Equal(t, uint64(1), a.store.Stats().Restarts, "the stale instance counted the restart")
	assert.Zero(t, b.store.Stats().Restarts)
}

// RecordBatch checks the epoch key too, with one GET in its pipeline: the
// stale instance's batch after a restart has unknown uniqueness, and its
// next batch, built with the shared key, is decided.
func TestRestartDetectedByBatch(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Local: true})
	now := time.Now()
	clock := func() time.Time { return now }
	a := newInstance(t, srv.Addr(), clock)
	_, err := a.visit(t, 1, "l", now)
	require.NoError(t, err)

	srv.Restart()
	b := newInstance(t, srv.Addr(), clock)
	_, err = b.visit(t, 1, "l", now) // a new client: it creates the new key
	require.NoError(t, err)
	batch := func() ([]clickstore.Uniqueness, error) {
		cs := make([]clickstore.Click, 2)
		for i := range cs {
			cs[i], err = a.builder.Build(context.Background(), netip.AddrFrom4([4]byte{198, 51, 0, byte(i + 1)}), "agent", "l", now)
			require.NoError(t, err)
		}
		return a.store.RecordBatch(context.Background(), cs)
	}
	var got []clickstore.Uniqueness
	for range 20 { // a's client reconnects after the restart
		if got, err = batch(); err == nil || errors.Is(err, redisstore.ErrKeyChanged) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.ErrorIs(t, err, redisstore.ErrKeyChanged)
	assert.Equal(t, []clickstore.Uniqueness{clickstore.UniqueUnknown, clickstore.UniqueUnknown}, got)
	assert.Equal(t, uint64(1), a.store.Stats().Restarts)
	got, err = batch()
	require.NoError(t, err)
	assert.Equal(t, []clickstore.Uniqueness{clickstore.Repeat, clickstore.Unique}, got, "visitor 1 was b's first click under the shared key")
}
