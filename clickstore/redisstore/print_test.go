package redisstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/internal/testkit"
)

// A Store, Sink and KeyStore print and log as their names, with every
// verb, also while clicks are recorded: fmt walking a Store's fields read
// the index writer's queue while Record and the writer changed it.
func TestPrintsAsItsName(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := newClient(t, srv.Addr())
	s := newStore(t, client, &redisstore.Options{Now: func() time.Time { return t0 }})
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 200 {
			_, _ = s.Record(ctx, click(byte(i), fmt.Sprint("l", i%5)))
		}
	})
	for range 50 {
		_ = fmt.Sprintf("%+v", s)
	}
	wg.Wait()
	testkit.CheckPrintsAs(t, s, "redisstore.Store(window 30m0s)")
	var nilStore *redisstore.Store
	testkit.CheckPrintsAs(t, nilStore, "redisstore.Store(nil)")

	sink, err := redisstore.NewSink(client, &redisstore.SinkOptions{Prefix: prefix(t)})
	require.NoError(t, err)
	testkit.CheckPrintsAs(t, sink, "redisstore.Sink")
	var nilSink *redisstore.Sink
	testkit.CheckPrintsAs(t, nilSink, "redisstore.Sink(nil)")

	keys, err := redisstore.NewKeyStore(client, nil)
	require.NoError(t, err)
	testkit.CheckPrintsAs(t, keys, "redisstore.KeyStore")
	var nilKeys *redisstore.KeyStore
	testkit.CheckPrintsAs(t, nilKeys, "redisstore.KeyStore(nil)")
}
