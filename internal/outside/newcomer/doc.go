// Package newcomer holds the black-box tests of what a newcomer meets in
// the first ten minutes (issue 16), written from README.md, the package
// documentation and the public API alone: the example linktracker built
// as the quick start builds it and driven over HTTP (the documented keys
// and shapes of the stats API, sparse and zero-filled series, ranges, a
// link with no clicks, unknown links and bad parameters, the dashboard's
// totals against the API's, the suppression it explains), the tracker's
// refusal of Redis servers that persist, evict or refuse CONFIG GET and
// the flags that override each check, the module graph ipmasktest gives
// a user, and the Markdown a user reads for Go code no test compiles.
//
// The package has no code of its own: everything is in its tests, in
// package newcomer_test, which imports only the module's public packages,
// the standard library, testify and the module's test harnesses
// (internal/redistest starts redis-server; internal/readme reads the
// Markdown's code blocks).
package newcomer
