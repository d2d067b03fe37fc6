// Package publish holds the second outside review of the aggregates
// (issue 7): black-box tests, from README.md, the documentation of
// clickstore/aggregate and its public API alone, of what the first review
// (internal/outside/stats) left out: that no published report, alone,
// lets a reader compute a suppressed cell (differencing with row and
// column sums, "other", totals and the suppressed summaries, at every
// granularity, dimension and sketch precision); that the aggregatetest
// suite, run as a user runs it on a Backend of their own, fails each way
// such a backend can be wrong with a message that says what is wrong and
// passes a right one; merges across rollups of different options while
// clicks, reports and sweeps run; and the JSON and CSV exports of every
// cell kind with values that need escaping.
//
// The package has no code of its own: everything is in its tests, in
// package publish_test, which imports only the module's public packages,
// the standard library and testify.
package publish
