package clickstoretest_test

import (
	"fmt"
	"testing"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
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
