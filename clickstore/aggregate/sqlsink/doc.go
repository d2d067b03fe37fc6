// Package sqlsink keeps the statistics of package aggregate in a SQL
// database, so that they survive restarts and are shared by every
// instance of a service: PostgreSQL for a fleet (through pgx's
// database/sql driver), or an embedded SQLite file by default (through the
// pure-Go modernc.org/sqlite: no cgo, nothing to install).
//
// A [Sink] is an [aggregate.Backend]: the Track middleware hands it every
// click, [aggregate.Publish] reads reports from it with the same
// k-suppression as from the in-memory [aggregate.Rollup].
//
// # The request path never waits on the database
//
// [Sink.Add] only counts the click in an in-memory buffer, a delta of
// counts and HyperLogLog sketches per cell, sharded by link like a Rollup.
// A background loop writes the buffer every [Options].FlushInterval
// (2 seconds by default), and [Sink.Flush] writes it at once. As in a
// Rollup, a cell's buffered sketch turns dense (16 KiB at precision 14)
// once it holds more than 256 visitors, so that a busy link costs a click
// no more than a quiet one; such a cell is written, and then stored, as a
// dense sketch.
//
// # Exact across instances and retries
//
// A flush is one transaction. It first records the batch's random token in
// clickanon_batches; if the token is already there, the batch was written
// before (a retry after a lost reply) and nothing else happens. Otherwise
// it adds the batch's counts with INSERT … ON CONFLICT … DO UPDATE SET n =
// n + excluded.n, which never loses a concurrent increment, and merges the
// batch's sketches into the stored ones. Rows are written in one sorted
// order, so concurrent writers lock them in that order and do not
// deadlock. On PostgreSQL each stored sketch carries a version, a random
// number its writer chose, and each Sink remembers the version and the
// sketch of the cells it wrote last (see below). For such a cell it
// merges the batch's sketch into the remembered one in Go and sends the
// union with the remembered version; the upsert writes it only if the row
// still holds that version, and gives it a new one. A cell that another
// writer (another instance) changed since, or that the Sink does not
// remember, keeps its stored sketch: the upsert returns it, and the Sink
// merges and writes the union a second time, under the row lock the
// upsert took. So a visitor is never lost however many instances write a
// cell at once, and a Sink that writes a cell alone writes its row once.
// A cell that other instances write too (its last check failed) is sent
// only the check, not a union it would most likely send for nothing,
// until a check passes again: a fleet that spreads a link's clicks over
// its instances pays two writes a row, as plain read-merge-write would.
// On SQLite, whose writers take the database in
// turn, the upsert merges in SQL through clickanon_hll_merge, a function
// this package registers with the modernc.org/sqlite driver, called only
// for a sketch that differs from the stored one (a database opened
// through another driver gets the PostgreSQL way). A batch that failed
// before its commit was sent goes back into the buffer. A batch whose
// commit was sent but whose reply was lost may or may not be in the
// database: it is kept, unchanged and with its token, and retried before
// anything new, so an increment is written exactly once however often a
// flush is retried.
//
// # Flushing fast
//
// After the first, a flush has the database parse nothing: its statements
// are prepared once per Sink and reused. On PostgreSQL a batch of up to
// 4,096 rows is one upsert and one round trip: it takes one array per
// column (unnest), or, when the batch's sketches are large (past 256 KB,
// as dense sketches soon are), rows of parameters (INSERT … VALUES (…),
// (…), in statements for a power of two of rows, the rest padded with
// NULLs), because PostgreSQL copies an array parameter whole before it
// inserts the first row. On SQLite, which has no arrays, it takes rows of
// parameters: the sink prepares upserts of 256, 128, 64 … 1 rows and
// writes a batch in chunks of those sizes (480 rows: 256 + 128 + 64 +
// 32). BENCHMARKS.md compares a flush with a bare batched upsert of the
// same rows.
//
// Merging a batch's sketch into a stored one decodes the stored one only
// when its bytes are not among those a Sink keeps from its own merges:
// each Sink holds up to 8 MB of decoded sketches, looked up by their exact
// bytes (so whatever another process wrote, or a rolled-back flush left,
// is simply not found and is decoded), together with the union each was
// last merged into, which cells holding the same visitors share.
//
// On PostgreSQL a Sink also remembers, for up to 16 MB of sketches, the
// version and the sketch of each cell it wrote, from the moment the
// flush's transaction commits (a flush that fails remembers nothing; one
// whose commit reply is lost forgets the cells it wrote). Forgetting a
// cell (past the bound, after an error) only costs its next flush a
// second write of the cell; it can never lose a visitor, because the
// upsert checks the version.
//
// # Durability of a SQLite file
//
// [Open] puts a SQLite file in write-ahead-log mode with
// synchronous=NORMAL, the usual setting for WAL: a commit appends the
// batch to the log in the operating system's file cache and returns
// without waiting for the disk. A flush that returned has therefore
// survived anything that ends the process alone: a crash, a panic, an
// out-of-memory kill, SIGKILL (TestSQLiteSurvivesSIGKILL). A power loss
// or an operating-system crash may undo the flushes made since the log
// was last synced to disk (at its checkpoints), whole batches with their
// tokens, but leaves the file consistent. To wait for the disk on every
// flush instead, open the database yourself with Open's parameters but
// "_pragma=synchronous(FULL)", and pass it to [New].
//
// # Bounded while the database is down
//
// While flushes fail the loop backs off (doubling up to
// [Options].MaxBackoff) and the sink keeps counting in memory, up to
// [Options].MaxBufferedCells cells. Past that bound an Add that needs a new
// cell is refused with [ErrBufferFull]; clicks on cells already held are
// still counted. Refused clicks are counted in [Stats].Dropped and logged
// as a warning once per burst (then at most one line every
// [Options].LogEvery, with the count); nothing is dropped silently.
// A flush that fails closes the database session it ran on, so that
// the next one opens a new session: one the server left unable to write
// for good is not tried again (PostgreSQL keeps the sessions opened while
// a database was made read-only, with ALTER DATABASE … SET
// default_transaction_read_only, read-only once it is writable again).
// After PostgreSQL restarts (or fails over, or ends sessions), each idle
// session in the pool fails the next statement it is given: a report
// ([Sink.Cells]), [Sink.Sweep] and [Sink.EraseLink], which are
// idempotent, then run again on another session (at most once more than
// the pool holds idle sessions, never after ctx is done or an error
// PostgreSQL answered), so the first of them after a restart does not
// fail. Failed flushes are counted in [Stats].FlushErrors and logged the same
// way; the first flush that succeeds after them logs an info line with
// the increments it wrote. Error text in log lines, and in the errors
// returned, has every address cut to no bits, in every fmt verb; an error
// returned unwraps to the driver's for errors.Is and errors.As, which
// reaches it unmasked (it names the database server the caller
// configured, never a visitor): log the returned error. [Sink.Close] writes what is left, and logs as an error what
// it could not.
//
// # Retention
//
// Every click is counted in its minute, hour and day bucket at once, so
// coarse buckets always hold the fine ones' totals. [Sink.Sweep] (a
// [retention.Sweepable]) deletes buckets past their granularity's
// retention (minutes after 48 hours, hours after 90 days, days never, by
// default, as for a Rollup; a bucket is past it when now is at or after
// its end plus the retention, to the nanosecond) and batch tokens older
// than [TokenRetention]. [Sink.EraseLink] destroys a link's statistics.
//
// # Schema
//
// The schema is created and upgraded by the sink itself on start, from
// versioned migrations embedded in the package; clickanon_schema_version
// holds the version. On PostgreSQL the migration holds an advisory lock,
// so instances starting at once apply it once, and the tables go in the
// first schema of the session's search_path (a URL's search_path=
// parameter chooses it). Only a migration creates anything: once a role
// that may create tables has brought the schema up to date, a role with
// no more than SELECT, INSERT, UPDATE and DELETE on the tables can open
// it. Version 2:
//
//	clickanon_cells (link TEXT, granularity SMALLINT, bucket BIGINT,
//	    dimension SMALLINT, other SMALLINT, value TEXT,
//	    clicks, uniq, unknown, bots, conversions BIGINT,
//	    sketch BYTEA,   -- HyperLogLog (axiomhq/hyperloglog, precision 14)
//	    ver BIGINT,     -- the sketch's version (version 2; NULL before)
//	    PRIMARY KEY (link, granularity, bucket, dimension, other, value))
//	clickanon_batches (token TEXT PRIMARY KEY, at BIGINT)
//	-- PostgreSQL: trigger clickanon_cells_unversion (version 2, below)
//
// A version is a random even number chosen by the writer of a sketch and
// never given to other content of its cell (a new one is the old XOR a
// random number, or a fresh random number). Sketches written before
// version 2, and every sketch on SQLite (which merges in SQL and needs
// none), have a NULL version: a PostgreSQL Sink reads and merges those,
// and gives them a version when it writes them.
//
// On PostgreSQL, version 2 also adds a trigger that clears the version of
// a row updated by anything but a Sink's flush (which says so for its
// transaction, through the setting clickanon.versioned): an instance of a
// release before version 2, still running while a fleet is upgraded, or
// a person's UPDATE, changes a sketch without knowing versions, and a
// version kept would claim content the row no longer holds. A Sink then
// reads and merges the sketch, as for one of version 1. (A release before
// version 2 that starts after the upgrade refuses the database, as every
// release refuses a schema newer than its own; those already running go
// on safely.)
//
// granularity and dimension hold the numeric values of aggregate's
// Granularity and Dimension, bucket the bucket's start in Unix seconds,
// value the dimension value as text ("" for totals; a network never finer
// than [Options].NetworkPolicy, ipmask.Default's /24 and /48 by default:
// see aggregate.NetworkOf). A row holds counts and a sketch of pseudonym
// hashes: never an address, never a pseudonym.
// Unlike a Rollup, the sink does not cap the values of a dimension.
package sqlsink
