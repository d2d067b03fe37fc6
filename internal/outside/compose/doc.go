// Package compose holds a second outside review of issue 11 ("No raw
// address on any path"), written from README.md, the package documentation
// and the public API alone, aimed at what the black-box tests of
// internal/outside and internal/outside/clientaddr do not cover yet: every
// exported function of every public package, listed with go/doc so that a
// new one without a driver fails, driven into its error paths with a
// canary address in every textual form (hex and decimal integers too);
// whole deployments behind every CDN's and platform's documented headers,
// through real proxy processes (httputil.ReverseProxy chains) in front of
// a service built as the README builds it, with users' logging middleware
// on both sides and the tracker and the masking middleware in both orders,
// served over HTTP/1.1 and HTTP/2; and the README's key recipe on Redis,
// across a restart and clock jumps.
//
// The package has no code of its own: everything is in its tests, in
// package compose_test, which imports only the module's public packages,
// the standard library, testify, go-redis (the README's Redis recipe) and
// the module's test harness internal/redistest.
package compose
