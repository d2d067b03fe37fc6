package clickstoretest

import (
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/retention"
)

// Config is what the suite asks of each store it creates; a NewStore must
// honour every field. The zero Config asks for the defaults on the
// wall clock.
type Config struct {
	// Now is the store's clock. The store must decide every lifetime with
	// it (and not with time.Now, nor a server's clock).
	Now func() time.Time

	// Policy is the retention window the store must apply; the zero
	// Policy means retention.DefaultWindow.
	Policy retention.Policy

	// Capacity, if positive, is the number of held clicks at which the
	// store must start returning clickstore.ErrFull. Zero means the
	// backend's default.
	Capacity int
}

// NewStore creates an empty store configured by cfg for one subtest. It may
// use t to skip setup failures with t.Fatal and to register cleanups; the
// suite closes the store itself (Close must be idempotent).
type NewStore func(t *testing.T, cfg Config) clickstore.Store

// Run checks the store newStore makes against every clause of the
// clickstore.Store contract, one subtest per clause. Stores must not share
// data between calls of newStore.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	for _, c := range clauses {
		t.Run(c.name, func(t *testing.T) { c.test(t, newStore) })
	}
}

type clause struct {
	name string
	test func(t *testing.T, newStore NewStore)
}

// clauses is filled in suite.go.
var clauses []clause
