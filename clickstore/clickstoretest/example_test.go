package clickstoretest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// A backend's test file runs the suite with a constructor that honours the
// suite's clock and capacity.
func ExampleRun() {
	newStore := func(t *testing.T, cfg clickstoretest.Config) clickstore.Store {
		m, err := clickstore.NewMemory(&clickstore.MemoryOptions{
			Policy:   cfg.Policy,
			Capacity: cfg.Capacity,
			Now:      cfg.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// In a test: clickstoretest.Run(t, newStore)
	fmt.Println(newStore != nil)
	// Output: true
}

func TestRunOnMemory(t *testing.T) {
	clickstoretest.Run(t, func(t *testing.T, cfg clickstoretest.Config) clickstore.Store {
		m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Policy: cfg.Policy, Capacity: cfg.Capacity, Now: cfg.Now})
		if err != nil {
			t.Fatal(err)
		}
		return m
	})
}

// A test feeds the canaries to code that reports errors and checks that no
// error carries their addresses.
func ExampleCanaries() {
	leaked := 0
	for _, s := range clickstoretest.Canaries() {
		_, err := clickstore.ParsePseudonym(s)
		if len(ipmasktest.Leaks(ipmask.Policy{}, err.Error())) > 0 {
			leaked++
		}
	}
	fmt.Println("canaries:", len(clickstoretest.Canaries()), "leaked:", leaked)
	fmt.Println(clickstore.ParsePseudonym(clickstoretest.Canaries()[0]))
	// Output:
	// canaries: 150 leaked: 0
	// 00000000000000000000000000000000 clickstore: pseudonym of 11 bytes: want 32 hex digits
}

// Tests and benchmarks make many distinct visitors' clicks with Click.
func ExampleClick() {
	at := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	a, b := clickstoretest.Click(1, "spring-sale", at), clickstoretest.Click(2, "spring-sale", at)
	fmt.Println(a.Validate(), a.Visitor != b.Visitor, a.Visitor == clickstoretest.Visitor(1))
	fmt.Println(a.Network, clickstoretest.Click(1<<16, "x", at).Network)
	// Output:
	// <nil> true true
	// 10.0.0.0/24 10.1.0.0/24
}

func ExampleOutageKeyStore() {
	ctx := context.Background()
	keys := clickstoretest.NewOutageKeyStore(nil)
	defer keys.Close()

	keys.Down(errors.New("connection refused"))
	_, _, err := keys.Load(ctx, 1)
	fmt.Println(err, keys.Failed())

	keys.Up()
	k, _ := keys.LoadOrCreate(ctx, 1, [32]byte{7}, time.Minute)
	fmt.Println(k[0], keys.Failed())
	// Output:
	// connection refused 1
	// 7 1
}

// A test moves a Clock by hand and passes its Now to a store: a click is
// held until its window ends by that clock, and gone after.
func ExampleClock() {
	clock := clickstoretest.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	store, _ := clickstore.NewMemory(&clickstore.MemoryOptions{Now: clock.Now})
	defer store.Close()
	ctx := context.Background()
	c := clickstoretest.Click(1, "spring-sale", clock.Now())
	_, _ = store.Record(ctx, c)

	clock.Advance(29 * time.Minute)
	_, held, _ := store.Latest(ctx, c.Visitor, clickstore.Pseudonym{}, "spring-sale")
	fmt.Println("after 29 minutes, held:", held)
	clock.Advance(time.Minute)
	_, held, _ = store.Latest(ctx, c.Visitor, clickstore.Pseudonym{}, "spring-sale")
	fmt.Println("after 30 minutes, held:", held)
	// Output:
	// after 29 minutes, held: true
	// after 30 minutes, held: false
}
