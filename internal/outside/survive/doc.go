// Package survive holds the third outside review of issue 12 ("what
// survives must survive"): black-box tests, written from README.md, the
// package documentation and the public API alone, of what the earlier
// reviews (internal/outside/durable, internal/outside/crash) left out:
// several linktracker processes started at once on one new SQLite file;
// a links database made by an older schema version opened by the current
// binary (migrated once, nothing lost); PostgreSQL under a non-default
// schema, a database name with odd characters and a role that may not
// create tables; SQLite on a read-only file system and on a full disk;
// and the statistics' erasure and retention racing a flush, on SQLite and
// PostgreSQL.
//
// The package has no code of its own: everything is in its tests, in
// package survive_test, which imports only the module's public packages,
// the standard library, testify and the module's test harness
// internal/pgtest (it starts PostgreSQL).
package survive
