// Package crash holds the second outside review of issue 12's durable
// half: black-box tests, written from README.md, the package documentation
// and the public API alone, of what the SQL sink (package
// clickstore/aggregate/sqlsink) promises when things go wrong below it:
// processes killed with SIGKILL at random moments of a flush, many times
// over one SQLite file and one PostgreSQL database; several processes
// flushing the same cells of one SQLite file or one PostgreSQL database
// at once; PostgreSQL crashing mid-flush and coming back, its sessions
// terminated mid-flush, flushes held up by a lock until a statement
// timeout or a deadline, and a database turned read-only and back; and
// bucket times in zones with
// daylight saving, on leap days and at the ends of the years a Click
// takes, read back the same from SQLite, PostgreSQL and a Rollup, and
// swept by age the same.
//
// The package has no code of its own: everything is in its tests, in
// package crash_test, which imports only the module's public packages,
// the standard library, testify and the module's test harness
// internal/pgtest (which starts PostgreSQL). The test binary is its own
// child process: TestMain runs a child's part when the environment says
// so (see children_test.go), so that a crash is a real process's.
package crash
