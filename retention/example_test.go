package retention_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/clickanon/clickanon/retention"
)

func ExampleNewPolicy() {
	_, err := retention.NewPolicy(90*24*time.Hour, nil)
	fmt.Println(err)
	p, _ := retention.NewPolicy(time.Hour, nil)
	fmt.Println(p.Window())
	// Output:
	// retention: window 2160h0m0s is above the 24h0m0s maximum (set PolicyOptions.AllowLongRetention to keep data that long)
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

// Stats tells how old the oldest key held is and how many keys were
// destroyed: the figures that prove guarantee 5 on a dashboard.
func ExampleKeyring_Stats() {
	ctx := context.Background()
	clock := time.Date(2025, 1, 1, 12, 10, 0, 0, time.UTC)
	ring, _ := retention.NewKeyring(&retention.KeyringOptions{Now: func() time.Time { return clock }})
	defer ring.Close() // destroys what is left and stops the timers

	_, _, _ = ring.Keys(ctx, clock)
	st := ring.Stats()
	fmt.Println(st.Held, st.OldestAge)

	// An hour later the key's epoch and its grace are over. The keyring's
	// timers destroy it at that moment on their own; a sweep does the same
	// work on demand.
	clock = clock.Add(time.Hour)
	_, _ = ring.Sweep(ctx, clock)
	st = ring.Stats()
	fmt.Println(st.Held, st.Destroyed)
	// Output:
	// 1 10m0s
	// 0 1
}

// A Group lets one Sweeper sweep everything that holds transient data and
// report it as one.
func ExampleGroup() {
	ctx := context.Background()
	clock := time.Date(2025, 1, 1, 12, 10, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	ring, _ := retention.NewKeyring(&retention.KeyringOptions{Now: now})
	defer ring.Close()
	clicks := retention.NewMemoryKeyStore(&retention.MemoryKeyStoreOptions{Now: now}) // stands for a click store
	sweeper, _ := retention.NewSweeper(retention.Group{clicks, ring}, &retention.SweeperOptions{Now: now})

	_, _, _ = ring.Keys(ctx, clock)
	st, err := sweeper.SweepNow(ctx)
	fmt.Println(st.Held, st.Deleted, err)
	clock = clock.Add(time.Hour)
	st, err = sweeper.SweepNow(ctx)
	fmt.Println(st.Held, st.Deleted, err)
	// Output:
	// 1 0 <nil>
	// 0 2 <nil>
}

// Last tells a health check when the store was last swept and whether it
// worked; failures are also logged, once per run of failures.
func ExampleSweeper_Last() {
	clock := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	store := retention.NewMemoryKeyStore(nil) // stands for a click store
	sweeper, _ := retention.NewSweeper(store, &retention.SweeperOptions{
		Now:    func() time.Time { return clock },
		Logger: slog.New(slog.DiscardHandler),
	})
	at, _, _ := sweeper.Last()
	fmt.Println(at.IsZero())
	_, _ = sweeper.SweepNow(context.Background())
	at, st, err := sweeper.Last()
	fmt.Println(at.Format(time.TimeOnly), st.Held, err, sweeper.Failures())
	// Output:
	// true
	// 12:00:00 0 <nil> 0
}

// downStore is a KeyStore whose server is unreachable.
type downStore struct{}

func (downStore) Load(context.Context, int64) ([32]byte, bool, error) {
	return [32]byte{}, false, errors.New("connection refused")
}

func (downStore) LoadOrCreate(context.Context, int64, [32]byte, time.Duration) ([32]byte, error) {
	return [32]byte{}, errors.New("connection refused")
}

func ExampleErrLocalKey() {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	ring, _ := retention.NewKeyring(&retention.KeyringOptions{
		Store:  downStore{},
		Logger: slog.New(slog.DiscardHandler),
		Now:    func() time.Time { return now },
	})
	defer ring.Close()

	// The store is down: a local key stands in, so the click can still be
	// counted, with its uniqueness unknown.
	cur, _, err := ring.Keys(context.Background(), now)
	fmt.Println(errors.Is(err, retention.ErrLocalKey), cur.IsZero())
	fmt.Println(err)
	st := ring.Stats()
	fmt.Println(st.Local, st.LocalKeys, st.Failures)
	// Output:
	// true false
	// retention: keys for epoch 964296: the key store failed; a local key stands in: retention: key store: load the key of epoch 964296: connection refused
	// true 1 1
}

func ExampleKey_MAC() {
	ring, _ := retention.NewKeyring(nil)
	defer ring.Close()
	cur, _, _ := ring.Keys(context.Background(), time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))

	msg := []byte("clickanon/example\x00" + "what to pseudonymize")
	mac := cur.MAC(msg) // from the key's precomputed states, no allocation

	secret := cur.Secret()
	h := hmac.New(sha256.New, secret[:])
	h.Write(msg)
	fmt.Println(hmac.Equal(mac[:], h.Sum(nil)))
	// Output:
	// true
}

// A keyring, printed or logged whole while it holds a key, shows its
// window and nothing of the key, whatever the verb or handler; so does a
// MemoryKeyStore.
func ExampleKeyring_String() {
	ctx := context.Background()
	keyring, _ := retention.NewKeyring(nil)
	defer keyring.Close()
	_, _, _ = keyring.Keys(ctx, time.Now())
	store := retention.NewMemoryKeyStore(nil)
	defer store.Close()
	_, _ = store.LoadOrCreate(ctx, 1, [32]byte{1}, time.Hour)

	fmt.Println(keyring)
	fmt.Printf("%+v %s\n", keyring, store)
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}))
	logger.Info("debug", "keyring", keyring, "store", store)
	// Output:
	// retention.Keyring(retention 30m0s)
	// retention.Keyring(retention 30m0s) retention.MemoryKeyStore
	// level=INFO msg=debug keyring="retention.Keyring(retention 30m0s)" store=retention.MemoryKeyStore
}
