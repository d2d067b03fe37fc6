// Package tally holds the third outside review of the aggregates (issue 7):
// black-box tests, from README.md, the documentation of
// clickstore/aggregate and its public API alone, of what the earlier
// reviews (internal/outside/stats and internal/outside/publish) left
// untested: a model of the documented bucketing compared with a Rollup at
// every bucket edge (the last nanosecond of a minute, an hour, a day; in
// any time zone; before 1970; clicks out of order), queries whose ranges
// start and end inside buckets, every granularity's retention at its exact
// deadline, EraseLink while Adds run, merges of rollups that saw the same
// visitors, and every exported function given bad input.
//
// The package has no code of its own: everything is in its tests, in
// package tally_test, which imports only the module's public packages, the
// standard library and testify.
package tally
