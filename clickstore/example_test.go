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
