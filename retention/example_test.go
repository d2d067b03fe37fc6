package retention_test

import (
	"context"
	"fmt"
	"time"

	"github.com/clickanon/clickanon/retention"
)

func ExampleNewPolicy() {
	_, err := retention.NewPolicy(90*24*time.Hour, nil)
	fmt.Println(err)
	p, _ := retention.NewPolicy(time.Hour, nil)
	fmt.Println(p.Window())
	// Output:
	// retention: window "2160h0m0s" is above the 24h0m0s maximum (set PolicyOptions.AllowLongRetention to keep data that long)
	// 1h0m0s
}

func ExampleKeyring() {
	ctx := context.Background()
	ring, _ := retention.NewKeyring(nil) // 30-minute epochs, keys from crypto/rand
	start := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

	cur, prev, _ := ring.Keys(ctx, start)
	fmt.Println(cur.Epoch, prev.IsZero())

	// Half an hour later a new key is in use; the old one is kept for one
	// more epoch so a lookup just after the boundary still matches.
	cur2, prev2, _ := ring.Keys(ctx, start.Add(30*time.Minute))
	fmt.Println(cur2.Epoch, prev2 == cur, cur2 == cur)
	fmt.Println(cur2) // never the secret
	// Output:
	// 964296 true
	// 964297 true false
	// retention.Key(epoch 964297)
}
