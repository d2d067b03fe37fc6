// Package journey holds black-box tests of issue 8's link tracker (third
// outside review), written from README.md, `go doc ./examples/linktracker`
// and the HTTP API alone. The real binary, built once, is driven over HTTP
// on 127.0.0.1 by generated visitor journeys: visitors whose addresses
// come in every form through a trusted proxy, people and bots, opted out
// or excluded, clicking several links on two instances that share one
// Redis and one PostgreSQL database, and converting with and without the
// link named; every figure of the stats API is compared with what a model
// of the documentation computes, before and after a restart, and every
// dashboard shows the API's figures and no address. It also pins
// the API at its edges (every route with every method, the Allow header,
// the API token in every place, the per-network creation limit over the
// forms of one network and across its window) and a SIGTERM that arrives
// while clicks do.
//
// The package has no code of its own: everything is in its tests, in
// package journey_test, which import only the module's public packages,
// the standard library, testify and the internal test harnesses
// (internal/ltproc, internal/redistest, internal/pgtest).
package journey
