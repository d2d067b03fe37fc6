package redisstore_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/aggregatetest"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
)

// TestSinkConformance holds the Redis sink to the same contract as the
// in-memory Rollup and the SQL sink. Instances that share counts share a
// key prefix; every other backend gets a prefix of its own.
func TestSinkConformance(t *testing.T) {
	srv := redistest.Start(t, nil)
	var mu sync.Mutex
	prefixes := map[aggregate.Backend]string{}
	n := 0
	aggregatetest.Run(t, func(t *testing.T, cfg aggregatetest.Config) aggregate.Backend {
		mu.Lock()
		defer mu.Unlock()
		p, ok := prefixes[cfg.SharedWith]
		if !ok {
			n++
			p = fmt.Sprintf("conformance-%d", n)
		}
		client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		t.Cleanup(func() { _ = client.Close() })
		s, err := redisstore.NewSink(client, &redisstore.SinkOptions{Prefix: p, Now: cfg.Now})
		require.NoError(t, err)
		prefixes[s] = p
		return s
	})
}
