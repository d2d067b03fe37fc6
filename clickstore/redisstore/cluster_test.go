package redisstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/retention"
)

func TestMain(m *testing.M) {
	code := m.Run()
	redistest.StopShared()
	os.Exit(code)
}

// clusterClient returns a go-redis cluster client of the test binary's
// shared cluster (three masters, three replicas).
func clusterClient(t testing.TB) (*redistest.Cluster, *redis.ClusterClient) {
	t.Helper()
	c := redistest.SharedCluster(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = client.Close() })
	require.NoError(t, client.ForEachShard(context.Background(), func(ctx context.Context, n *redis.Client) error {
		return n.Ping(ctx).Err()
	}))
	return c, client
}

// The whole contract holds on a real cluster through a ClusterClient,
// with the epoch keys on it too: every script is given every key it
// touches, all in the store's slot.
func TestConformanceOnCluster(t *testing.T) {
	_, client := clusterClient(t)
	clickstoretest.Run(t, conformanceStore(client))
}

// The persistence and eviction settings are read on every node, masters
// and replicas: a setting on one node only is refused, naming that node,
// or accepted with the override and a warning naming it.
func TestNewChecksEveryClusterNode(t *testing.T) {
	c, client := clusterClient(t)
	ctx := context.Background()
	settings := []struct {
		name, bad, good, option string
		sentinel                error
		allow                   redisstore.Options
	}{
		{"save", "3600 1", "", "AllowPersistence", redisstore.ErrPersistence, redisstore.Options{AllowPersistence: true}},
		{"appendonly", "yes", "no", "AllowPersistence", redisstore.ErrPersistence, redisstore.Options{AllowPersistence: true}},
		{"maxmemory-policy", "allkeys-lru", "noeviction", "AllowEviction", redisstore.ErrEviction, redisstore.Options{AllowEviction: true}},
	}
	for _, node := range c.Addrs() {
		for _, st := range settings {
			t.Run(st.name+" on "+node, func(t *testing.T) {
				_, err := redistest.Do(node, "CONFIG", "SET", st.name, st.bad)
				require.NoError(t, err)
				t.Cleanup(func() { _, _ = redistest.Do(node, "CONFIG", "SET", st.name, st.good) })

				_, err = redisstore.New(ctx, client, &redisstore.Options{Prefix: prefix(t)})
				require.Error(t, err)
				assert.ErrorIs(t, err, st.sentinel)
				assert.ErrorContains(t, err, node)
				assert.ErrorContains(t, err, st.option)

				var logs bytes.Buffer
				o := st.allow
				o.Prefix = prefix(t)
				o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				_, err = redisstore.New(ctx, client, &o)
				require.NoError(t, err)
				assert.Contains(t, logs.String(), "level=WARN")
				assert.Contains(t, logs.String(), node)
				assert.Contains(t, logs.String(), st.option)
			})
		}
	}
}

// The key store and the sink work on the cluster too.
func TestKeyStoreAndSinkOnCluster(t *testing.T) {
	_, client := clusterClient(t)
	ctx := context.Background()
	ks, err := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: prefix(t)})
	require.NoError(t, err)
	a, err := retention.NewKeyring(&retention.KeyringOptions{Store: ks})
	require.NoError(t, err)
	b, err := retention.NewKeyring(&retention.KeyringOptions{Store: ks})
	require.NoError(t, err)
	ka, _, err := a.Keys(ctx, t0)
	require.NoError(t, err)
	kb, _, err := b.Keys(ctx, t0)
	require.NoError(t, err)
	assert.Equal(t, ka.Secret(), kb.Secret(), "two keyrings on one cluster agree")

	sink := newSink(t, client, sinkT0)
	for i := range 3 {
		c := click(byte(i+1), "sale")
		c.Time = sinkT0
		require.NoError(t, sink.Add(ctx, c, clickstore.Unique))
	}
	got := sinkTotal(t, sink, "sale", sinkGranularities[0])
	assert.Equal(t, uint64(3), got.Counts.Clicks)
}
