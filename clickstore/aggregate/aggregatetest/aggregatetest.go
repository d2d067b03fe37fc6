// Package aggregatetest checks that an [aggregate.Backend] keeps the
// contract written on that interface, the way testing/fstest checks a file
// system: call [Run] from a test with a function that builds the backend.
//
// The suite adds clicks with [clickstore.Sink.Add], reads them back with
// [aggregate.Backend.Cells] and checks one clause of the contract per
// subtest: every Add counted exactly once, under concurrency and across
// instances that share storage; the cells of a bucket and of a range;
// uniques over a range, and in an hour or a day, as a union; input refused without counting (links
// and labels holding an address among it); networks finer than
// ipmask.Default (a /32, a 6to4 /48) counted under the network it keeps,
// never stored as given; errors that carry no input (links, labels and networks holding addresses, from
// clickstoretest.Canaries, never appear in an error); and, for backends
// that have them, retention (Sweep: minutes, hours and days each by
// their own default retention) and erasure (EraseLink). Cells may come in
// any order: the suite sorts them before it compares two answers. A
// failure message prints a backend's error with every address masked, as
// the storage packages mask theirs.
//
// Backends that buffer (the SQL sink) implement [Flusher]: the suite
// flushes every instance before it reads.
package aggregatetest

import (
	"context"
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/retention"
)

// Config is what the suite asks of each backend it creates; a NewBackend
// must honour every field. The zero Config asks for a fresh backend on the
// wall clock with the default retentions.
type Config struct {
	// Now is the backend's clock, if it has one. The suite's clicks are
	// a few minutes before it, so no bucket is past its retention.
	Now func() time.Time

	// SharedWith, if not nil, is a backend made by the same NewBackend in
	// the same subtest: the new backend must write to and read from the
	// same storage, as a second instance of a service does (a second Sink
	// on the same database). A backend that lives in one process's memory
	// returns SharedWith itself.
	SharedWith aggregate.Backend
}

// NewBackend creates a backend configured by cfg for one subtest. It may
// use t to fail on setup errors and to register cleanups (closing the
// backend). Backends made without SharedWith must not share data.
type NewBackend func(t *testing.T, cfg Config) aggregate.Backend

// Flusher is implemented by backends that buffer their Adds: Flush writes
// what is buffered so that Cells sees it. The suite calls it on every
// instance before reading, and calls it twice to check that a second flush
// writes nothing again.
type Flusher interface {
	Flush(ctx context.Context) error
}

// LinkEraser is implemented by backends that can erase a link's
// statistics; the suite then checks that nothing of the link is left and
// that other links are untouched.
type LinkEraser interface {
	EraseLink(ctx context.Context, link string) (int, error)
}

// Run checks the backends newBackend makes against every clause of the
// [aggregate.Backend] contract, one subtest per clause. The clauses on
// Sweep and EraseLink run for backends that implement
// [retention.Sweepable] and [LinkEraser].
func Run(t *testing.T, newBackend NewBackend) {
	t.Helper()
	probe := newBackend(t, Config{Now: func() time.Time { return now }})
	if probe == nil {
		t.Fatal("aggregatetest: newBackend returned nil")
	}
	_, sweeps := probe.(retention.Sweepable)
	_, erases := probe.(LinkEraser)
	for _, c := range clauses {
		if (c.needs == needSweep && !sweeps) || (c.needs == needErase && !erases) {
			continue
		}
		t.Run(c.name, func(t *testing.T) { c.test(t, newBackend) })
	}
}

type need uint8

const (
	needNothing need = iota
	needSweep
	needErase
)

type clause struct {
	name  string
	needs need
	test  func(t *testing.T, newBackend NewBackend)
}

// clauses is filled in suite.go.
var clauses []clause
