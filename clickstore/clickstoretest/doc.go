// Package clickstoretest is the conformance suite for [clickstore.Store]
// implementations, in the manner of testing/fstest and testing/slogtest:
// every backend calls [Run] from its tests, and the suite checks each clause
// of the Store contract in a subtest of its own.
//
// The suite drives the store's clock: a backend must read time only from
// the Now function the suite gives it, so that the window's exact end
// (visible at t+W-1ns, gone at t+W) can be tested without waiting.
//
// The suite also holds a store's errors to the rule that no address leaves
// the request: given links and labels that hold addresses ([Canaries]), no
// error may carry one; and its own failure messages print a store's
// errors with every address masked, as the storage packages mask theirs.
// [Visitor] and [Click] make the many distinct
// visitors' clicks that a backend's own tests and benchmarks need.
// [OutageKeyStore] is a key store that can be taken down, to test what
// code does when the store of its epoch keys fails. [Clock] is a fake
// clock for the Now options of stores, keyrings and trackers, safe for the
// concurrent reads their timers make.
package clickstoretest
