// Package durable holds the outside review of issue 12's durable half:
// black-box tests, written from README.md, the package documentation and
// the public API alone, of what the SQL sink (package
// clickstore/aggregate/sqlsink) and the example linktracker promise about
// the statistics and links that must survive: the same answers as the
// in-memory Rollup over every range, granularity and threshold; exact
// counts across instances and across flushes retried after a lost reply;
// retention and erasure; restarts, outages and the -db forms of the
// linktracker binary.
//
// The package has no code of its own: everything is in its tests, in
// package durable_test, which imports only the module's public packages,
// the standard library, testify and the module's test harnesses
// (internal/pgtest starts PostgreSQL; internal/testlog holds logs).
package durable
