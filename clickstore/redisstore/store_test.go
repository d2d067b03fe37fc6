package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/retention"
)

// newClient returns a client of addr, closed when the test ends.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// prefix returns a key prefix unique to the test.
func prefix(t testing.TB) string {
	return strings.NewReplacer("{", "(", "}", ")").Replace(t.Name())
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := newClient(t, srv.Addr())
	clickstoretest.Run(t, func(t *testing.T, cfg clickstoretest.Config) clickstore.Store {
		ks, err := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: prefix(t), Policy: cfg.Policy})
		require.NoError(t, err)
		kr, err := retention.NewKeyring(&retention.KeyringOptions{Policy: cfg.Policy, Store: ks})
		require.NoError(t, err)
		s, err := redisstore.New(context.Background(), client, &redisstore.Options{
			Prefix:   prefix(t),
			Policy:   cfg.Policy,
			Now:      cfg.Now,
			Capacity: cfg.Capacity,
			Keyring:  kr,
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// Under traffic, expired clicks are destroyed by the Records that follow,
// with their index entries, even when no Sweep runs: the indexes' TTLs are
// refreshed by every new click, so without this they would keep expired
// pseudonyms for as long as traffic lasts.
func TestRecordDestroysExpiredWithoutSweep(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := newClient(t, srv.Addr())
	now := t0
	s := newStore(t, client, &redisstore.Options{Prefix: prefix(t), Now: func() time.Time { return now }})
	ctx := context.Background()
	for v := range byte(5) {
		_, err := s.Record(ctx, click(v+1, "a"))
		require.NoError(t, err)
	}
	keys := func(pattern string) int {
		ks, err := client.Keys(ctx, "{"+prefix(t)+"}"+pattern).Result()
		require.NoError(t, err)
		return len(ks)
	}
	require.Equal(t, 5, keys(":c:*"))

	now = now.Add(retention.DefaultWindow + time.Millisecond)
	_, err := s.Record(ctx, click(9, "b"))
	require.NoError(t, err)
	assert.Equal(t, 1, keys(":c:*"), "the expired markers were deleted")
	n, err := client.ZCard(ctx, "{"+prefix(t)+"}:i").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "the time index holds only the new click")
	n, err = client.ZCard(ctx, "{"+prefix(t)+"}:x").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(2), n, "the name index holds only the new click's two names")
}
