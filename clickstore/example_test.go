package clickstore_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

func ExampleMemory() {
	ctx := context.Background()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	store, _ := clickstore.NewMemory(&clickstore.MemoryOptions{Now: func() time.Time { return now }})
	defer store.Close()
	ring, _ := retention.NewKeyring(nil)
	b, _ := clickstore.NewBuilder(ipmask.Default, ring, nil)

	addr := netip.MustParseAddr("192.0.2.123")
	c, _ := b.Build(ctx, addr, "Mozilla/5.0", "spring-sale", now)
	fmt.Println(c.Network, c.RawAddr.IsValid())
	fmt.Println(clickstore.UniquenessOf(store.Record(ctx, c)))

	now = now.Add(29 * time.Minute)
	c, _ = b.Build(ctx, addr, "Mozilla/5.0", "spring-sale", now)
	fmt.Println(clickstore.UniquenessOf(store.Record(ctx, c)))

	now = now.Add(time.Minute) // 30 minutes after the first click
	c, _ = b.Build(ctx, addr, "Mozilla/5.0", "spring-sale", now)
	fmt.Println(clickstore.UniquenessOf(store.Record(ctx, c)))
	// Output:
	// 192.0.2.0/24 false
	// unique
	// repeat
	// unique
}

// A service that sees the same user agents again and again hashes each one
// once and builds with its digest.
func ExampleBuilder_BuildDigest() {
	ctx := context.Background()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	ring, _ := retention.NewKeyring(nil)
	b, _ := clickstore.NewBuilder(ipmask.Default, ring, nil)

	ua := "Mozilla/5.0 (X11; Linux x86_64)"
	digest := clickstore.DigestAgent(ua) // keep it with whatever else is cached per agent
	addr := netip.MustParseAddr("2001:db8:1:2::7")
	c1, _ := b.BuildDigest(ctx, addr, digest, "spring-sale", now)
	c2, _ := b.Build(ctx, addr, ua, "spring-sale", now)
	fmt.Println(c1.Network, c1.Visitor == c2.Visitor)
	// Output:
	// 2001:db8:1::/48 true
}

// A Click prints its masked network and attributes, never its pseudonyms
// or raw address, with any address in a text field masked away; errors
// name the field at fault without quoting it.
func ExampleClick_String() {
	ring, _ := retention.NewKeyring(nil)
	b, _ := clickstore.NewBuilder(ipmask.Default, ring, &clickstore.BuilderOptions{KeepRawAddr: true})
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	c, _ := b.Build(context.Background(), netip.MustParseAddr("198.51.100.7"), "Mozilla/5.0", "spring-sale", now)
	c.Referrer = "news.example.com"
	fmt.Println(c)
	fmt.Printf("%#v\n", c)

	c.Link = "go-198.51.100.7"
	fmt.Println(c)
	c.Country = "198.51.100.7"
	fmt.Println(c.Validate())
	// Output:
	// click link="spring-sale" time=2025-01-01T12:00:00Z network=198.51.100.0/24 raw=kept referrer="news.example.com"
	// click link="spring-sale" time=2025-01-01T12:00:00Z network=198.51.100.0/24 raw=kept referrer="news.example.com"
	// click link="go-0.0.0.0" time=2025-01-01T12:00:00Z network=198.51.100.0/24 raw=kept referrer="news.example.com"
	// clickstore: country: invalid click: not two upper-case letters (12 bytes)
}
