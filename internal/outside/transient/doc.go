// Package transient holds the outside review of issue 5, the transient
// click buffer and retention: black-box tests, written from README.md, the
// package documentation and the public API alone, of what packages
// clickstore and retention promise about the 30-minute window: the exact
// visibility deadline by the store's clock whatever a click's own time
// says, physical destruction within a second of it even after the clock
// steps forward, one first click per visitor and link under many
// goroutines and across a key epoch boundary, erasure, capacity without
// eviction, Close, the keyed pseudonyms of a Builder, and a Sweeper's
// reports.
//
// The package has no code of its own: everything is in its tests, in
// package transient_test, which imports only the module's public
// packages, the standard library and testify.
package transient
