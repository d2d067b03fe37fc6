// Package observe holds the black-box tests of issue 15, "see it working
// without seeing anyone", written the way an outside tester writes them:
// from README.md, the package documentation and the public API alone, over
// classes of input rather than examples. They cover the logmask slog
// Handler and ReplaceAttr (every place a record carries an address, every
// order of WithAttrs and WithGroup, sizes, concurrency, allocations,
// testing/slogtest), package metrics (every metric listed, how each moves,
// no address, network, pseudonym or link in any label, registration) and
// the failure logging of the stores, sinks, keyrings and sweepers (once
// per burst, masked, counted, recovery logged).
//
// The package has no code of its own: everything is in its tests, in
// package observe_test, which imports only the module's public packages,
// the standard library, testify and the module's test harnesses.
package observe
