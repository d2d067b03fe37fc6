// Package routing holds the second outside review of issue 13 (the tracker
// as a package of its own): black-box tests of what README.md and the
// documentation of packages clickstore/track and clickstore/geo promise,
// aimed at what the first review (internal/outside/tracking) and the
// packages' own tests leave out: ServeMux patterns reached through
// http.StripPrefix and nested muxes, method and host patterns, the status
// a wrapped handler answers in every way net/http lets it (1xx first,
// superfluous WriteHeader, Flush, ReadFrom, a reverse proxy, a file
// server) against what the client saw on the wire, the Middleware form
// behind chi and a plain func router, the clientip masking middleware in
// front of each, made-up links of every form; the context the Store and
// the Sink get, which must stay the request's after the call; many
// goroutines clicking, converting and erasing at once on one tracker and
// on several sharing a store; floods spread over many networks (a /16's
// /24s, an IPv6 /32's /48s) up to the store's capacity; user agents of
// every shape; and databases of every documented vendor layout reloaded
// under concurrent lookups.
//
// The package has no code of its own: everything is in its tests, in
// package routing_test, which imports only the module's public packages,
// the standard library, testify, chi and mmdbwriter (which the module's own
// tests use: chi as the documented router, mmdbwriter to build test
// databases, so no database file is committed).
package routing
