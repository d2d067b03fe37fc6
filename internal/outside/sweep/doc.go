// Package sweep holds the fourth outside review of issue 5, on sweeping:
// black-box tests, written from README.md, the package documentation and
// the public API alone, of retention.Sweeper and of every Sweep a user is
// told to wire it to (clickstore.Memory, redisstore.Store on a real
// redis-server, a Keyring, an aggregate Rollup), under a store clock and a
// sweeper clock that stall, jump forward and back by less than, exactly
// and more than the window, or run fast. Each sweep's report (what it
// deleted, what it holds, the age of the oldest entry held) is checked
// exactly against a model of the store; Run and SweepNow are checked for
// cancellation mid-sweep, sweeps that fail, block or panic, closed stores,
// many sweepers on one store, their interval's bounds and goroutines left
// behind (testing/synctest); and the exported functions of retention are
// fed nil, zero, negative, huge and out-of-range values.
//
// The package has no code of its own: everything is in its tests, in
// package sweep_test, which imports only the module's public packages,
// the standard library, testify and the module's test harnesses.
package sweep
