package aggregatetest_test

import (
	"testing"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/aggregatetest"
)

// A backend's test runs the suite with a function that builds a fresh
// backend for each clause, or a second instance on the same storage when
// the Config says SharedWith. Backends that buffer implement Flusher.
func ExampleRun() {
	var t *testing.T // the *testing.T of a test function
	if t == nil {
		return // this example needs a running test
	}
	aggregatetest.Run(t, func(t *testing.T, cfg aggregatetest.Config) aggregate.Backend {
		if cfg.SharedWith != nil {
			return cfg.SharedWith // a Rollup lives in one process's memory
		}
		r, err := aggregate.New(&aggregate.Options{Now: cfg.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	})
	// Output:
}
