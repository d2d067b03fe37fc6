package redisstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
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
