// Package pgtest starts a throwaway PostgreSQL server for tests, the way
// package redistest starts redis-server.
//
// [DB] gives a test its own empty database (CREATE DATABASE) on a server
// shared by the test binary: started on first use with initdb in a
// temporary directory and postgres on a free loopback port (its unix
// socket in the same directory), without durability (fsync off), and
// stopped and removed by [Main], which the package's TestMain calls.
// [Start] starts a server of the test's own, which it may [Server.Restart]
// to test what clients do when the database goes away.
//
// If the environment variable CLICKANON_POSTGRES_URL holds a server's URL
// (postgres://user:password@host:port/db, a role that may create
// databases), DB creates its databases there instead.
//
// PostgreSQL refuses to run as root. Run as root (as CI is), the harness
// runs initdb and postgres as the unprivileged user "postgres" (the one the
// Debian package creates) and gives it the temporary directory; it says so
// in the failure when that user does not exist.
//
// The binaries are looked up on PATH, then under /usr/lib/postgresql/*/bin.
// When they are missing, a test using the harness fails with a message
// saying how to install them (apt-get install postgresql) if the
// environment variable CI is "true", and is skipped with that message
// otherwise.
package pgtest
