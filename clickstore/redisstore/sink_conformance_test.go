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
	aggregatetest.Run(t, sinkBackends(func(t *testing.T) redis.UniversalClient {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		t.Cleanup(func() { _ = client.Close() })
		return client
	}))
}

// The contract holds on a real cluster too: a link's keys share its hash
// tag, so Add's script and EraseLink's SCAN on every master find them.
func TestSinkConformanceOnCluster(t *testing.T) {
	_, client := clusterClient(t)
	aggregatetest.Run(t, sinkBackends(func(*testing.T) redis.UniversalClient { return client }))
}

// sinkBackends returns an aggregatetest.NewBackend of sinks on the clients
// newClient returns, each backend with a prefix of its own unless it
// shares another's.
func sinkBackends(newClient func(t *testing.T) redis.UniversalClient) aggregatetest.NewBackend {
	var mu sync.Mutex
	prefixes := map[aggregate.Backend]string{}
	return func(t *testing.T, cfg aggregatetest.Config) aggregate.Backend {
		mu.Lock()
		defer mu.Unlock()
		p, ok := prefixes[cfg.SharedWith]
		if !ok {
			p = fmt.Sprintf("conformance-%d-%s", runSeq.Add(1), t.Name())
		}
		s, err := redisstore.NewSink(newClient(t), &redisstore.SinkOptions{Prefix: p, Now: cfg.Now})
		require.NoError(t, err)
		prefixes[s] = p
		return s
	}
}
