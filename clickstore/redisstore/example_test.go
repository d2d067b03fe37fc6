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
	store, err := redisstore.New(ctx, client, &redisstore.Options{Keyring: keyring, KeyStore: keys, Timeout: 200 * time.Millisecond})
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

// New validates its options before it talks to the server, and its errors
// name the faulty setting without echoing values.
func ExampleNew_errors() {
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled here
	defer client.Close()

	_, err := redisstore.New(ctx, client, &redisstore.Options{Prefix: "a{b}"})
	fmt.Println(err)
	_, err = redisstore.New(ctx, client, &redisstore.Options{Timeout: -time.Second})
	fmt.Println(err)
	keys, _ := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: "other"})
	_, err = redisstore.New(ctx, client, &redisstore.Options{KeyStore: keys})
	fmt.Println(err)
	// Output:
	// redisstore: prefix of 4 bytes: must not contain '{' or '}'
	// redisstore: New: Timeout, WaitReplicas and WaitTimeout must not be negative
	// redisstore: New: Options.KeyStore is set without the Options.Keyring it serves
}

// A first click's index entries are written off the request path, a
// moment after Record returns. An instance that hands a visitor over to
// another (say, a conversion it redirects to another region) can write
// them at once; Close writes them too. This example needs a server on
// localhost:6379, so it is compiled but not run.
func ExampleStore_Flush() {
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer client.Close()
	store, err := redisstore.New(ctx, client, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close() // writes what is still queued and stops the index writer

	c := clickstore.Click{
		Link:    "spring-sale",
		Time:    time.Now(),
		Visitor: clickstore.Pseudonym{1},
		Network: netip.MustParsePrefix("198.51.100.0/24"),
	}
	if _, err := store.Record(ctx, c); err != nil {
		fmt.Println(err)
		return
	}
	if err := store.Flush(ctx); err != nil {
		fmt.Println(err) // the click is held; Latest on any link may miss it
	}
	st := store.Stats()
	fmt.Println(st.IndexErrors, st.IndexDropped)
}
