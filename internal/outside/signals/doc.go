// Package signals holds the second outside review of issue 15, "see it
// working without seeing anyone", written from README.md, the package
// documentation and the public API alone. It aims at what the first
// review (internal/outside/observe) left out: the logmask slog Handler
// under generated compositions of With and WithGroup ten deep, records
// built by hand, the log package's output through slog.SetDefault, a
// wrapped handler's own ReplaceAttr, values of every slog Kind (a time
// whose zone is named by an address among them) and testing/slogtest on
// composed handlers; package metrics gathered on two registries at once
// while a generated workload runs; and burst logging whose failures and
// successes alternate at the edges of the interval, under synctest time.
//
// The package has no code of its own: everything is in its tests, in
// package signals_test.
package signals
