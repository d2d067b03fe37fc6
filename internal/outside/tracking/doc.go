// Package tracking holds the outside review of issue 13 (the tracker as a
// package of its own): black-box tests of what README.md and the
// documentation of packages clickstore/track and clickstore/geo promise
// about routes, made-up links, the clientip middleware's order, per-network
// quotas, country lookups and bot labels, written from the public API alone
// over classes of input rather than examples.
//
// The package has no code of its own: everything is in its tests, in
// package tracking_test, which imports only the module's public packages,
// the standard library, testify, chi and mmdbwriter (which the module's own
// tests use: chi as the documented router, mmdbwriter to build test
// databases, so no database file is committed).
package tracking
