// Package stats holds the outside review of the aggregates (issue 7): the
// black-box tests of what README.md and the documentation of
// clickstore/aggregate and the Redis sink promise about the statistics
// that survive, written from the public API alone, over classes of input:
// exact counts under many goroutines, merges of rollups whatever their
// options, reports whose sums add up and whose published cells all stand
// for at least k visitors for any k, range and granularity, exports in
// the documented schema holding no address and no pseudonym, and a Redis
// sink that answers as a Rollup does for the same clicks and erases a
// link whatever its name.
//
// The package has no code of its own: everything is in its tests, in
// package stats_test, which imports only the module's public packages,
// the standard library, testify, go-redis (the Redis sink takes its
// client) and internal/redistest, which starts redis-server.
package stats
