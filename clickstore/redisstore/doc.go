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
//	store, err := redisstore.New(ctx, client, &redisstore.Options{Keyring: keyring})
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
// clock rates; never an absolute time from the client's clock), and
// [Store.Sweep] deletes expired clicks and their index entries to the
// millisecond; it is idempotent and safe to run on every instance (use a
// [retention.Sweeper]). Every Record also destroys up to 8 expired clicks on
// its way, so under traffic nothing waits for a Sweep (the indexes' TTLs
// are refreshed by each new click, so they alone would not do). The store's clock never goes back, so a clock jump
// cannot bring a click back.
//
// # First clicks, atomically and safe to retry
//
// [Store.Record] is one Lua script run (EVALSHA, falling back to EVAL when
// the server has lost the script), one round trip. On the server it checks
// the visitor's marker and the previous-epoch pseudonym's marker for the
// link and holds the click only if neither is live: two instances racing
// the same first click get exactly one "first".
//
// go-redis resends a command whose reply was lost (a dropped connection).
// A bare SET NX would then report the click as a repeat of itself. Each
// Record call therefore carries a request token (a random instance id and a
// counter) stored with the click it holds; a resent script that finds its
// own token reports "first" again. A Lua script was chosen over SET NX GET
// because the check spans two markers and the indexes, and must compare
// recorded times with the store's clock.
//
// [Store.RecordBatch] records many clicks in one pipeline.
//
// # Key layout
//
// With prefix P (Options.Prefix, default "clickanon"), every key carries the
// hash tag {P}, so all of a store's keys are in one Cluster slot and every
// script is atomic over them:
//
//	{P}:c:<visitor hex><link>  hash: t, n (recorded time, s and ns),
//	                           k (request token), c (the click, binary)
//	{P}:i                      sorted set: <visitor hex><link> by recorded ms
//	                           (for Sweep, All and Capacity)
//	{P}:x                      sorted set, lexical: v:<visitor hex>:<link>
//	                           and l:<len><link><visitor hex> (for Latest on
//	                           any link, EraseVisitor, EraseLink)
//	{P}:k:<epoch>              an epoch key of the [KeyStore]
//
// Every key has a TTL of at most W plus the slack, refreshed only when a new
// click is held. One slot means one shard holds a store's data in a
// Cluster; services that outgrow a shard use several prefixes (for example
// one per group of links).
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
// each with a relative TTL from its granularity's retention. [KeyStore] is
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
// error if either is on, unless Options.AllowPersistence says the operator
// accepts it (managed servers that refuse CONFIG GET need the same
// option). It also refuses a maxmemory-policy that evicts keys (an evicted
// marker would count a visitor as unique twice) unless
// Options.AllowEviction is set.
//
// # Failures
//
// A Redis error is returned, wrapped, never swallowed, and nothing is
// buffered locally. A caller should count the click with uniqueness unknown
// ([clickstore.UniquenessOf] does that; the Track middleware does it for
// you) and carry on; go-redis reconnects by itself when the server is back.
package redisstore
