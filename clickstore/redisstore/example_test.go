package redisstore_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// Several instances of a service share first-click detection and epoch keys
// through one Redis server (with persistence off). This example needs a
// server on localhost:6379, so it is compiled but not run.
func Example() {
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer client.Close()

	keys, err := redisstore.NewKeyStore(client, nil)
	if err != nil {
		panic(err)
	}
	keyring, err := retention.NewKeyring(&retention.KeyringOptions{Store: keys})
	if err != nil {
		panic(err)
	}
	store, err := redisstore.New(ctx, client, &redisstore.Options{Keyring: keyring})
	if err != nil {
		fmt.Println(err) // e.g. the server saves snapshots
		return
	}
	defer store.Close()

	builder, err := clickstore.NewBuilder(ipmask.Default, keyring, nil)
	if err != nil {
		panic(err)
	}
	c, err := builder.Build(ctx, netip.MustParseAddr("198.51.100.7"), "Mozilla/5.0", "spring-sale", time.Now())
	if err != nil {
		panic(err)
	}
	first, err := store.Record(ctx, c)
	fmt.Println(clickstore.UniquenessOf(first, err)) // unique, or unknown if Redis failed
}
