// Package aggregate keeps the statistics that outlive the transient click
// buffer: exact counts per link and UTC time bucket, mergeable estimates of
// distinct visitors, coarse breakdowns, and reports that are safe to
// publish because small cells are suppressed.
//
// # What is counted
//
// A [Rollup] is a [clickstore.Sink]: the Track middleware hands it every
// click (with whether the store found it unique) and every attributed
// conversion. For each link and each minute, hour and day bucket it keeps
// [Counts]: clicks, unique clicks, clicks whose uniqueness the store could
// not tell (so a failing store is visible instead of silently lowering
// uniques), bot-labelled clicks (bots are never unique) and conversions;
// the same counts broken down by country, masked network
// ([netip.Prefix]), referrer host and device class. A network is never
// kept finer than [Options].NetworkPolicy, ipmask.Default's /24 and /48
// unless coarser: a click whose Network is finer (a /32 from a Click built
// by hand or by a Builder whose policy keeps every bit, a 6to4 /48 that
// holds a whole IPv4 address) is counted under the network the policy
// keeps for it ([NetworkOf]), as in every backend. A dimension can be
// turned off, and each keeps at most [Options].MaxValues distinct values
// per bucket; clicks with further values are counted in an "other" cell,
// never dropped.
//
// # Uniques over any range
//
// Unique clicks are per window: a visitor who comes back after the store's
// 30-minute window is unique again, so summing them over a week overcounts
// visitors. Each cell therefore also holds a HyperLogLog sketch
// (github.com/axiomhq/hyperloglog) of its distinct human visitors' 16-byte
// pseudonyms, and the visitors of a range are estimated from the union of
// its buckets' sketches, never from a sum. At the default precision of 14
// the relative standard error is 1.04/sqrt(2^14) ≈ 0.81%; tests check that
// estimates of 1e5 and 1e6 visitors stay within three standard errors
// (2.4%). A cell's sketch is sparse and near-exact up to 2^p/64 distinct
// visitors (256 at p = 14), then dense (2^p bytes, 16 KiB at p = 14), so
// that a click costs one register update in every busy cell; sketches
// stay axiomhq's own, in its binary format, and merge with any other.
// Pseudonyms die with
// their epoch key, and a sketch keeps only a few bits of their hashes, so
// nothing in a Rollup leads back to a visitor.
//
// # Merging and compaction
//
// [Rollup.Merge] adds one rollup into another (two instances, or two time
// ranges): counts add and sketches unite, so the result equals what one
// rollup would hold had it seen every click; merge is commutative and
// associative. Every click lands in its minute, hour and day bucket at
// once, so coarse buckets are always the exact compaction of the fine ones
// and expiry only drops buckets past their retention: minutes after 48
// hours, hours after 90 days, days never, by default. A Rollup does so on
// its own, on a timer armed for the next bucket to run out, whether or not
// a retention.Sweeper also calls [Rollup.Sweep] (a [retention.Sweepable]).
//
// # Publishing
//
// [Publish] (and [Rollup.Report]) answers a [Query] with [Cell]s and
// suppresses every cell with fewer than K distinct visitors ([DefaultK] is
// 5): a suppressed cell is marked, its counts are moved to a visible
// suppressed cell, and for every dimension the cells still add up to the
// total. Within one report no published cell stands for fewer than K
// visitors and no subtraction isolates a suppressed value; reports of
// different granularities or overlapping ranges, compared, can give a
// suppressed cell away (see [Publish] for what is and is not
// guaranteed). [WriteJSON] and [WriteCSV] export a report in the stable
// schema [SchemaVersion] documented at [CSVHeader]. Reports hold counts,
// masked networks (never finer than ipmask.Default's) and estimates only:
// never an address, never a pseudonym.
//
// Where rollups live is a [Backend]: a Rollup in memory, the SQL sink in
// package clickstore/aggregate/sqlsink (PostgreSQL, or an embedded SQLite
// file) that survives restarts, or the Redis sink in package
// clickstore/redisstore, which every instance of a service adds to.
// Package clickstore/aggregate/aggregatetest checks a Backend against the
// contract written on the interface.
package aggregate
