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
