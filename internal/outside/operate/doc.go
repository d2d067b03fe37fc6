// Package operate holds the third outside review of issue 15, "see it
// working without seeing anyone", written from README.md, the package
// documentation and the public API alone. Where internal/outside/observe
// and internal/outside/signals test the parts, this package is the
// operator and the service author:
//
//   - the linktracker binary (built once) under generated traffic from
//     visitors named in every textual form a proxy writes (ports,
//     brackets, IPv4-mapped, upper case, spoofed hops before them),
//     scraped concurrently: every metric the docs list for what it wires
//     is there with its documented type, labels and help, counters never
//     go backwards, the totals agree with the stats API, and no stderr
//     line, /metrics, /healthz or answer holds an address;
//   - the failures an operator meets: PostgreSQL down mid-run and back,
//     Redis down at start, a database, geo file or Redis that cannot be
//     used at start, and a Redis that loses its keys without a restart;
//     each said loudly, once per burst, with recovery said;
//   - slog as services wire it: slog.SetDefault with the logmask Handler
//     around a handler of their own that reads Value.String, Any and
//     Resolve itself, LogValuers that resolve to addresses and to groups
//     built lazily, records with source locations, and log.Printf.
//
// The package has no code of its own: everything is in its tests, in
// package operate_test, which imports only the module's public packages,
// the standard library, testify and the module's test harnesses.
package operate
