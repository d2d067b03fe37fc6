// Package firstrun holds the second outside review of issue 16 (what a
// newcomer meets in the first ten minutes), aimed at what package newcomer
// does not test: README.md read top to bottom (every link to a file or a
// section resolves, every public package is in its package table with a
// package doc, every test it tells you to run exists, every metric it
// names is served and /healthz has every key it lists), the package docs
// read with go/doc (every exported type says what its zero value does,
// and whether it is safe for concurrent use when it has state; one
// package comment each; every Go example in a package doc compiles, and
// one that shows its output prints it), the
// example programs run as a newcomer runs them (-h, bad flags, a port
// already taken, twice in a row in one directory, a directory the tracker
// cannot write), and make test's targets and the tools they need.
//
// The package has no code of its own: everything is in its tests, in
// package firstrun_test, which imports only the module's public packages,
// the standard library, testify and the module's test harnesses.
package firstrun
