// Package serve holds the third outside review of issue 13 (the tracker as
// a package of its own): black-box tests of what README.md and the
// documentation of packages clickstore/track and clickstore/geo promise,
// aimed at what the first two reviews (internal/outside/tracking and
// internal/outside/routing) and the packages' own tests leave out: the
// HTTP semantics around a click served over a real connection (every
// 3xx code, 1xx interim answers before the final one, conditional and
// Range requests answered by http.ServeContent, Expect: 100-continue with
// a body, a handler aborted with http.ErrAbortHandler, a client that hangs
// up, CORS preflights in front of a click or a conversion); link names as
// ServeMux sees them (dot segments, double slashes, percent-encoded
// slashes, case, trailing slashes, Unicode normalization forms), each real
// link counted once under one name and no made-up one counted; the window
// and a restart of the tracker on the same store, in a testing/synctest
// bubble on the default clocks; and country codes outside ISO 3166-1
// (MaxMind's EU and AP, user-assigned ZZ) and records without a country.
//
// The package has no code of its own: everything is in its tests, in
// package serve_test, which imports only the module's public packages, the
// standard library, testify and mmdbwriter (which the module's own tests
// use to build test databases, so no database file is committed).
package serve
