// Package redisstore is a [clickstore.Store] on Redis (or Valkey), for a
// service that runs on several machines: a visitor's repeat click is
// recognised whichever instance it lands on, and every instance forgets it
// at the same instant.
//
// It uses go-redis v9 through [redis.UniversalClient], so a single server,
// Sentinel and Cluster all work.
//
//	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	keys, _ := redisstore.NewKeyStore(client, nil)
//	keyring, _ := retention.NewKeyring(&retention.KeyringOptions{Store: keys})
//	store, err := redisstore.New(ctx, client, &redisstore.Options{Keyring: keyring, KeyStore: keys})
//	if err != nil {
//		return err // e.g. the server persists: see below
//	}
//	first, err := store.Record(ctx, click)
//	u := clickstore.UniquenessOf(first, err) // UniqueUnknown if Redis failed
//
// # Lifetime
//
// Whether a click is visible is decided by the store's clock
// (Options.Now), never by Redis's: the recorded time is stored with the
// click, and every read compares it with now-W, so a click recorded at t is
// invisible from t+W exactly even if Redis has not deleted it yet. Redis
// deletes it physically with a relative TTL (PX, W plus 2 s of slack for
// clock rates; never an absolute time from the client's clock) that is set
// when the click is held and never extended, so a click is gone from Redis
// by t+W+2s whether or not anything else runs. [Store.Sweep] deletes
// expired clicks and their index entries to the millisecond; it is
// idempotent and safe to run on every instance (use a [retention.Sweeper]).
// The indexes (which hold pseudonyms and links, never a click) have TTLs
// refreshed by new clicks, so every write of index entries also trims the
// time index of the entries whose clicks Redis has expired, and the
// indexes of the visitors it writes to of their entries expired for more
// than the slack (see Instances' clocks); without a
// Sweep an index entry therefore outlives its click by the slack and the
// next index writes at most under traffic, and by W plus the slack when
// traffic stops. The store's clock never goes back, so a clock jump cannot
// bring a click back.
//
// Instances' clocks: each instance decides by its own clock, so the
// clocks of a fleet must agree (NTP keeps them within milliseconds). An
// instance whose clock runs d ahead of another's sees the other's clicks
// end d early: its Record counts their visitors first again, and its
// Sweep deletes them, up to d before the other instance stops showing
// them. The indexes keep an entry for the 2 s slack past its window, so
// with clocks within 2 s of each other an instance's Latest on any link
// and EraseVisitor find every click it still shows, whichever instance
// wrote last to the indexes.
//
// # First clicks: one command, atomic and safe to retry
//
// [Store.Record] decides a click with one command, one round trip and no
// script: SET marker value NX GET PX (Redis 7.0 or later; New tries it,
// and on an older server every Record runs the record script described
// below, with a warning). Redis sets the marker only if it is absent and
// answers with what was there: nothing (the click is first, and held) or a
// held click (a repeat, which writes nothing). Two instances racing the
// same first click get exactly one "first".
//
// go-redis resends a command whose reply was lost (a dropped connection).
// A bare SET NX would then report the click as a repeat of itself. Each
// Record call therefore carries a request token (a random instance id and
// a counter) in the value it sets; a resent SET NX GET that finds its own
// token reports "first" again.
//
// Visibility is decided by the store's clock while Redis keeps a marker
// for W plus the slack: a SET NX GET that finds a click the store's clock
// has expired (in the slack, or when the store's clock runs ahead of
// Redis's) replaces it with a small script that first checks the marker
// still holds that click; only that rare case costs a second round trip.
//
// A click that carries a previous-epoch pseudonym (Click.PrevVisitor, set
// by a [clickstore.Builder] while the previous key lives) must be a repeat
// if a click of that pseudonym is held: a check over two keys that no one
// command makes atomically. Such a Record runs a small script (EVALSHA,
// falling back to EVAL when the server has lost it) that reads the
// previous pseudonym's marker and then does the same SET NX GET, still in
// one round trip. With Options.Capacity set, every Record runs the record
// script instead, which counts the held clicks atomically with the
// decision and writes the indexes itself: one MGET of both markers, one
// SET PX and one ZADD into each index. BENCHMARKS.md gives what each path
// costs.
//
// [Store.RecordBatch] records many clicks in one pipeline: one SET NX GET
// per click, except that each run of up to 128 consecutive clicks with a
// previous pseudonym is one script run (one record script run per 128
// clicks with Capacity); clicks of the same visitor and link are decided
// in order.
//
// # Indexes, off the request path
//
// The index entries of a first click (the time index and the visitor's
// index, below) are not written by the command that decides it: Record
// queues them in memory, and the store's index writer, a goroutine
// started by New and stopped by [Store.Close], writes what has queued in
// one pipeline after letting entries gather for at most a millisecond:
// one script run per 256 entries, to which the writer hands every key,
// score and member ready-made, so that the script does no string work of
// its own: per entry, its part of one variadic ZADD into the time index,
// a ZADD into the visitor's index and a PEXPIRE of it (one entry in 16
// also trims that index of its expired entries). A run is atomic, so a
// reader sees an entry in both indexes or in neither. The server still
// does that work: a first click of a batch costs it about four times the
// CPU of a bare SET NX PX, two thirds of it the indexes (BENCHMARKS.md).
// The decision itself is a SET of a value of at most 44 bytes for a
// typical click (see Key layout), which Redis holds in one allocation.
// In memory the two entries of a click cost about 300 bytes plus twice
// its link (measured on Redis 7.0 with a 5-byte link: 306 bytes); its
// marker, about 196 bytes with a value of 44 bytes or less (242 with the
// 83-to-95-byte values of the version before). What that changes in the contract:
//
//   - The reads of an instance that start from an index (Latest on any
//     link, All, Sweep, EraseVisitor, EraseLink, Clear) write its own
//     queue first, so they see every click it recorded. A first click
//     recorded on another instance reaches them about a millisecond (and
//     a round trip) after its Record returned, so an erasure meant to
//     cover clicks recorded while it runs should be repeated a moment
//     later. [Store.Flush] writes an instance's queue at once. The
//     uniqueness decision and Latest on a given link (one MGET of the
//     markers) never depend on the indexes.
//   - A write of index entries that fails (Redis down) drops them: their
//     clicks are held and counted, but Latest on any link, All, Sweep and
//     the erasures miss them until Redis deletes them at t+W plus the
//     slack. Failed writes and dropped entries (also those beyond a queue
//     of 65,536) are logged and counted (Stats.IndexErrors,
//     Stats.IndexDropped).
//   - A Store that is never closed keeps its goroutine.
//
// The writer writes the same entries, in the same keys, as the versions
// before it (and as the record script does), so instances of either
// version can share a prefix: upgrading in place changes nothing that a
// reader sees.
//
// # Key layout
//
// With prefix P (Options.Prefix, default "clickanon"), every key carries the
// hash tag {P}, so all of a store's keys are in one Cluster slot: a click
// with a previous pseudonym checks two markers atomically, the capacity is
// a count over the whole store, a batch is one pipeline to one node, and
// an index write is one script run over many visitors' indexes, which all
// need one slot. Times are 19-digit decimal Unix nanoseconds of the store's
// clock (compared as strings by the scripts), v is a 16-byte pseudonym:
//
//	{P}:c:<v><link>  string, the marker: recorded time, request token
//	                 (8 bytes), the click (binary, below); PX W+2s, never
//	                 extended
//	{P}:i            sorted set, the time index: <last 6 digits of the
//	                 recorded time><v><link> scored by the recorded
//	                 millisecond (Sweep, All, Capacity, EraseLink)
//	{P}:v:<v>        sorted set, the visitor's index: <6 digits><link>
//	                 scored likewise (Latest on any link, EraseVisitor)
//	{P}:k:<epoch>    an epoch key of the [KeyStore]
//	{P}:d:<token>    string, a done erasing script run: what it destroyed,
//	                 for a resent run to report (below); PX W+2s
//
// A marker's value repeats nothing its key holds: after the recorded time
// and the token, the click (version 2 of its binary form) has a header
// byte of flags, the click's time as an offset from the recorded time
// (none when they are equal), the masked network as one byte of prefix
// length and family and only the bytes the prefix covers, then the
// country, bot label, referrer and device class that are set; the visitor
// and link are read back from the key. A typical click (an IPv4 /24, a
// country, the device class "mobile", no referrer) is 14 bytes, its whole
// value 41. Its time, taken when the request arrived, is usually a little
// before the store's clock when Record reads it: the offset adds 2 bytes
// up to 8 µs and 3 up to about a millisecond, 44 bytes in all, so that
// Redis keeps the value in one allocation (an embedded string, at most 44
// bytes) instead of two. A device class a byte longer ("desktop") fits
// only within 8 µs, and a click more than about a millisecond old when
// recorded does not fit. A sealed raw address adds 35 bytes for IPv4 and
// 47 for IPv6, and a byte or two for a large epoch number.
//
// A rolling upgrade: this version reads the values of the version before
// it (version 1, 83 to 95 bytes for the click above), so an upgrade in
// place finds them for one window and reads them as before. Instances of
// the version before it cannot read this version's values: while both run
// on one prefix, their Latest and All return an error (corrupt click
// value) for clicks the new instances held, for at most one window; their
// uniqueness decisions are right whichever version held the click (the
// recorded time, which decides them, is where it was, and a resent
// command still recognises only its own token).
//
// Every script is given every key it reads or writes. Reads that start
// from an index (Latest on any link, All, Sweep, EraseVisitor, EraseLink)
// read the index first and then name the listed keys to MGET or to a
// script that checks every entry again, so that a Cluster slot migration
// gives a redirect, a TRYAGAIN retry or an error, never a silent wrong
// answer. EraseLink and All page through the time index with ZSCAN (MATCH
// on the link for EraseLink): their cost grows with the clicks held, which
// suits erasures and exports, not request paths.
//
// The erasures (EraseVisitor, EraseLink, Clear) report how many clicks
// they destroyed, and go-redis resends a script run whose reply was lost:
// the resent run would find nothing left and report 0. Each of their
// script runs therefore carries a request token and, as it ends, sets a
// key {P}:d:<token> to its reply (a few bytes, living as long as a
// marker); a resent run that finds that key answers what the first run
// did and changes nothing. In a migrating slot that key is not there yet,
// so while the store's slot moves these runs get a TRYAGAIN retry (or an
// error) rather than an answer. Sweep's counts are statistics, and its
// runs carry no token.
//
// One slot means one shard holds a store's data in a Cluster; services that
// outgrow a shard use several prefixes (for example one per group of
// links). Now that most clicks touch one key, markers could instead get
// slots of their own, which would spread a store over the shards; that
// would make a click with a previous pseudonym, an index write and a batch
// span slots, so it is not done yet.
//
// No plaintext IP address is ever written. A click holds the masked
// network; if Click.RawAddr is set (the keep-raw option), it is sealed with
// AES-256-GCM under a key derived (HMAC-SHA256) from the current epoch key
// of Options.Keyring, bound to the visitor and link, so it cannot be opened
// once the keyring has destroyed that key. Recording a raw address without a
// keyring is an error.
//
// # Aggregates and epoch keys
//
// [Sink] is the [aggregate.Backend] every instance adds to: per link,
// granularity and UTC bucket, one hash of exact counters and one Redis
// HyperLogLog per cell, written by one token-guarded script per click so a
// go-redis retry cannot count a click twice. Its keys are
//
//	P:a:<len>:{<link>}:<m|h|d>:<start>                   hash: the bucket's counters
//	P:a:<len>:{<link>}:<m|h|d>:<start>:v:<dim>:<value>   HyperLogLog of visitors
//	P:a:<len>:{<link>}:r:<token>                         a done Add call, for two minutes
//
// with the link as hash tag (its hex form after "#" when it holds a brace),
// each with a relative TTL from its granularity's retention. As every key
// of a link starts with the same text, [Sink.EraseLink] finds them with
// SCAN MATCH and deletes them, on whichever node holds the link's slot. [KeyStore] is
// the [retention.KeyStore] that lets every instance use the same epoch key
// ({P}:k:<epoch> above): the first instance to need a key creates it, and it
// expires with its epoch plus the grace epoch.
//
// # Persistence must be off
//
// Redis snapshots (RDB, the save setting) and append-only files (AOF) write
// clicks to disk, and a snapshot keeps a key that expired after it was taken
// for as long as the file exists, in backups too; replicas keep expired keys
// until the primary's DEL reaches them. A click counter that promises to
// forget a visitor after 30 minutes cannot keep them in last week's dump.
// [New] therefore reads save and appendonly with CONFIG GET and returns an
// error wrapping [ErrPersistence] if either is on, unless
// Options.AllowPersistence says the operator accepts it. It also refuses a
// maxmemory-policy that evicts keys (an evicted marker would count a
// visitor as unique twice), with [ErrEviction], unless
// Options.AllowEviction is set. A server that refuses CONFIG GET (managed
// services often do) is refused likewise, each check under its own
// override, and the error names the option to set. On a
// [redis.ClusterClient] every node is checked, masters and replicas
// (go-redis alone would ask one node), and on a [redis.Ring] every shard;
// the error names the node. A setting accepted because of an override is
// logged as a warning (Options.Logger) naming the node. With a Sentinel
// (failover) client only the current master is checked.
//
// # Redis Cluster
//
// All of a store's keys are in one slot (see Key layout), so a store lives
// on one shard: its master and that master's replicas. What the store
// does and what it survives, measured on a local cluster of three masters
// with one replica each (redis 7.0, cluster-node-timeout 1 s, go-redis
// ClusterClient with ContextTimeoutEnabled, Options.Timeout 200 ms; see
// TestClusterFailover and TestClusterSlotMigration):
//
//   - Slot migration (resharding): every script and MGET names every key it
//     touches, and the scripts read before they write, so while the slot
//     moves a call either answers right or fails (TRYAGAIN, or ASK/MOVED
//     once go-redis's redirects are spent): in about 150 calls during a
//     migration, 3 or 4 errors and no wrong answer (no held click
//     reported missing, no repeat reported first, erasures counted
//     exactly).
//   - Coordinated failover (CLUSTER FAILOVER on a replica): nothing is
//     lost; 0 of about 1,300 Records failed.
//   - A master dies and its replica takes over: Records fail until the
//     replica is elected (about cluster-node-timeout plus an election: 3 s
//     here), each failure bounded by Options.Timeout (17 of about 2,000
//     Records failed, none slower than the Timeout). On a connection
//     error, CLUSTERDOWN or MOVED the store asks go-redis to reload the
//     topology at once (at most every 100 ms) rather than at its periodic
//     reload (every 60 s unless ClusterOptions.ClusterStateReloadInterval
//     says otherwise), so clients stop dialling the dead master.
//   - A master dies without a replica: with the default
//     cluster-require-full-coverage the whole cluster refuses commands
//     (CLUSTERDOWN) until the node returns; every call fails, after
//     Options.Timeout at most (about 200 ms each here; without a Timeout,
//     go-redis's retries take about 100 ms). The store loses the clicks of
//     that shard.
//   - Replication is asynchronous: a first click the master confirmed can
//     be missing on the replica that takes over (on loopback none was
//     lost; across a network, clicks of the last moments before the crash
//     are), so a visitor can be counted first twice and a held click can
//     be forgotten. Options.WaitReplicas makes Record wait (WAIT, same
//     round trip) until that many replicas have a first click and report
//     it with [ErrNotReplicated] (uniqueness unknown) if they do not
//     within Options.WaitTimeout; see BENCHMARKS.md for its cost while
//     the replicas keep up. While a master has fewer replicas than asked
//     (one is down or resyncing), every Record on it, repeats included,
//     waits the WaitTimeout, or about 100 ms if that is shorter (Redis
//     ends a WAIT on its timer, ten times a second by default).
//     Alternatively set min-replicas-to-write on the masters so that an
//     isolated master refuses writes.
//
// # Redis restarts
//
// Redis with persistence off loses everything when it restarts: the held
// clicks (by design: they are one window of per-visitor data) and the
// epoch keys. A [retention.Keyring] caches its key, so an instance started
// before the restart would keep computing pseudonyms with the lost key
// while one started after it creates a new key, and every visitor would
// count once per instance. Give the store the keyring and its [KeyStore]
// (Options.Keyring, Options.KeyStore, with the store's prefix): every
// Record then checks, in the same round trip (a GET of the epoch key
// pipelined with its SET NX GET, one per RecordBatch; inside the record
// script with Capacity), that the instance's epoch key is the one in
// Redis (by its SHA-1). If it is gone or another, Record
// returns an error wrapping [ErrKeyChanged] (the click's uniqueness is
// unknown), logs a warning through Options.Logger saying what was lost,
// and makes the keyring load the shared key again (creating it if still
// missing, atomically), so instances agree again from their next click.
// Outside the record script the check is not atomic with the decision: a
// click decided as the key changes may be held under its pseudonym of the
// old key (indexed, so erasures find it) until it expires.
//
// # Failures
//
// A Redis error is returned, wrapped, never swallowed, and nothing is
// buffered locally. Its text has every address cut to no bits, as in the
// log (go-redis's dial errors name the server), in every fmt verb (%+v
// and %#v too), and it unwraps to go-redis's error for errors.Is and
// errors.As, which reaches that error unmasked: it names a server the
// caller configured, never a visitor; log the returned error, not what
// errors.As finds. An error whose text holds no address is returned as
// it is. The one exception is New's refusal of
// a Cluster node that persists or evicts ([ErrPersistence],
// [ErrEviction]), which names the node so that an operator can find it. go-redis also logs a failed dial
// itself, server address included, through its own logger: give it one
// that masks (redis.SetLogger) if that matters. A caller should count the click with uniqueness unknown
// ([clickstore.UniquenessOf] does that; the Track middleware does it for
// you) and carry on; go-redis reconnects by itself when the server is back.
//
// A call whose context ends while it waits for Redis returns an error
// wrapping the context's Err (context.DeadlineExceeded or
// context.Canceled) as well as go-redis's, which reports a deadline that
// cut a read short as a network timeout.
//
// A Record cut short by its deadline (the caller's context, or
// Options.Timeout) after its command reached the server may have held the
// click all the same: it returns an error, and the visitor's next click on
// the link within the window is a repeat, so that visitor is counted with
// uniqueness unknown rather than unique. The store queues the index
// entries of such a click as of a first one, so that Latest on any link,
// All and the erasures find it; an entry whose marker does not hold its
// click (the command did not run, or found a click held) is skipped by
// every reader and swept.
//
// Failures are never silent. Each operation of a Store (Record and
// RecordBatch, Latest, Sweep) and of a Sink (Add, Cells, EraseLink) logs
// one warning through its Logger when it starts failing, saying what the
// failure costs, then at most one a minute with the count, and one info
// line when it works again; error text in those lines has every address
// cut to no bits. [Store.Stats] and [Sink.Stats] count the failures by
// operation, the restarts detected and the clicks refused as full, for
// metrics. Errors that are the caller's (an invalid click, a bad query, a
// canceled context, a closed store) are returned but neither counted nor
// logged.
package redisstore
