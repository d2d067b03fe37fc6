// Package signals holds the second outside review of issue 15, "see it
// working without seeing anyone", written from README.md, the package
// documentation and the public API alone. It aims at what the first
// review (internal/outside/observe) left out:
//
//   - the logmask slog Handler under generated chains of With and
//     WithGroup up to ten deep, shared by goroutines that derive more;
//     the log package's output through slog.SetDefault; a wrapped
//     handler's own ReplaceAttr; records built by hand; values of every
//     slog Kind (a time whose zone is named by an address among them);
//     testing/slogtest on composed handlers;
//   - package metrics: one service on two registries gathered while a
//     generated workload runs, parts added while the registry is
//     gathered, part names that spell an address with '-' or '_', and
//     the retention gauges of a Redis store;
//   - burst logging of the tracker's store and sink, a sweeper, a
//     keyring, the Redis store and sink, and the SQL sink's flushes and
//     full buffer, against a model of the documented rule, with failures
//     and successes that alternate at the edges of the interval (on fake
//     clocks and in synctest bubbles).
//
// The package has no code of its own: everything is in its tests, in
// package signals_test, which imports only the module's public packages,
// the standard library, testify, client_golang and go-redis (whose hook
// injects failures), and the module's Redis test harness.
package signals
