package metrics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/metrics"
	"github.com/clickanon/clickanon/retention"
)

// While the key store is down a local key stands in: the gauge says so and
// the counter counts it; once the store answers again the gauge drops.
func TestKeyringLocalKey(t *testing.T) {
	clock := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	keys := clickstoretest.NewOutageKeyStore(now)
	t.Cleanup(func() { _ = keys.Close() })
	ring, err := retention.NewKeyring(&retention.KeyringOptions{Store: keys, Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ring.Close() })

	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, &metrics.Options{Now: now})
	require.NoError(t, err)
	require.NoError(t, m.Keyring("shared", ring))

	keys.Down(errors.New("connection refused"))
	_, _, err = ring.Keys(context.Background(), clock)
	require.ErrorIs(t, err, retention.ErrLocalKey)
	got := scrape(t, reg)
	assert.Equal(t, float64(1), got[`clickanon_keyring_local{keyring="shared"}`])
	assert.Equal(t, float64(1), got[`clickanon_keyring_local_keys_total{keyring="shared"}`])

	keys.Up()
	clock = clock.Add(2 * time.Second) // past the keyring's one-second retry pause
	_, _, err = ring.Keys(context.Background(), clock)
	require.NoError(t, err)
	got = scrape(t, reg)
	assert.Equal(t, float64(0), got[`clickanon_keyring_local{keyring="shared"}`])
	assert.Equal(t, float64(1), got[`clickanon_keyring_local_keys_total{keyring="shared"}`])
}

// A shared store's failure figures are read at scrape time under its name.
func TestStoreFailures(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, nil)
	require.NoError(t, err)
	st := metrics.StoreStats{RecordErrors: 3, LatestErrors: 2, SweepErrors: 1, Restarts: 1, Full: 7, IndexErrors: 4, IndexDropped: 9}
	require.NoError(t, m.Store("redis", func() metrics.StoreStats { return st }))
	require.Error(t, m.Store("redis", func() metrics.StoreStats { return st }), "a name twice")
	require.Error(t, m.Store("redis-2", nil))
	require.Error(t, m.Store("203.0.113.9", func() metrics.StoreStats { return st }), "no address as a label")

	got := scrape(t, reg)
	assert.Equal(t, float64(3), got[`clickanon_store_errors_total{op="record",store="redis"}`])
	assert.Equal(t, float64(2), got[`clickanon_store_errors_total{op="latest",store="redis"}`])
	assert.Equal(t, float64(1), got[`clickanon_store_errors_total{op="sweep",store="redis"}`])
	assert.Equal(t, float64(1), got[`clickanon_store_restarts_total{store="redis"}`])
	assert.Equal(t, float64(7), got[`clickanon_store_refused_full_total{store="redis"}`])
	assert.Equal(t, float64(4), got[`clickanon_store_errors_total{op="index",store="redis"}`])
	assert.Equal(t, float64(9), got[`clickanon_store_index_dropped_total{store="redis"}`])

	st.Restarts = 2 // read again at the next scrape
	assert.Equal(t, float64(2), scrape(t, reg)[`clickanon_store_restarts_total{store="redis"}`])
}
