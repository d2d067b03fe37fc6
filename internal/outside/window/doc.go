// Package window holds the second outside review of issue 5, the transient
// click buffer: black-box tests, written from README.md, the package
// documentation and the public API alone, of what the first review
// (internal/outside/transient) left out. The conformance suite
// (clickstoretest.Run) is used as a user would use it, on a small map
// store of the test's own and on variants of it each wrong in one way (a
// click kept a nanosecond too long, a repeat that extends a lifetime,
// eviction at capacity, a forgotten PrevVisitor, an erasure that takes too
// little or too much, a lifetime read from the click's own time, an error
// that echoes its input...): each wrong store must fail the suite with a
// message saying what is wrong, the right one must pass. clickstore.Memory
// runs under testing/synctest while its clock is stepped, stalled and
// jumps both ways and many goroutines record, erase, sweep, read All and
// Close it, with its capacity checked exactly under the races. Every
// Click a Builder makes passes Validate, for addresses of every form and
// agents of every shape; a Click's text and JSON forms hold no raw address
// or pseudonym; pseudonyms' text round-trips, and ParsePseudonym refuses
// every malformed text without echoing it.
//
// The package has no code of its own: everything is in its tests, in
// package window_test, which imports only the module's public packages,
// the standard library and testify.
package window
