// Package clickstore holds what a click counter must remember about a
// visitor, for 30 minutes and not a nanosecond longer.
//
// A [Click] is a small value: the link, the time, a [Pseudonym] of the
// visitor, the masked network (never the address, unless the caller opts in)
// and a few coarse attributes. A [Builder] makes Clicks from raw request data
// with an [ipmask.Policy] and a [retention.Keyring], so nobody hand-rolls the
// keyed hash.
//
// A [Store] holds clicks for a retention window so that a service can tell a
// unique click from a repeat ([Store.Record]), attribute a conversion to the
// click before it ([Store.Latest]), look at recent traffic
// ([Store.All]) and honour erasure requests ([Store.EraseVisitor],
// [Store.EraseLink]). [Memory] is the in-process Store: sharded, with no
// pointers per click for the garbage collector, expiring clicks in insertion
// order at an exact deadline, zeroing them, and returning [ErrFull] rather
// than evicting when it reaches its capacity. Package
// clickstore/clickstoretest checks any Store against the contract.
//
// A [Sink] receives every click and conversion with its [Uniqueness]; it is
// how aggregates are fed.
//
// # Tracking clicks
//
// Package clickstore/track ties it together for an HTTP service: it finds
// the visitor's address, labels bots, builds the Click, records it in a
// Store and adds it to a Sink, from a net/http handler or middleware.
//
// # Pseudonyms
//
// A visitor's pseudonym is the first 128 bits of
//
//	HMAC-SHA256(key, "clickanon/visitor/v2\x00" || ip || SHA-256(userAgent)[:16])
//
// where key is the 256-bit random key of the current epoch from a
// [retention.Keyring] and ip is the full address in its 16-byte form (an
// IPv4 address and its IPv4-mapped form give the same pseudonym; zones are
// ignored). The link is not part of it, so a conversion on another link can
// be attributed to the click. Pseudonyms change at every epoch boundary, and
// once the keyring destroys an epoch's key its pseudonyms cannot be linked to
// an address by anyone, not even by trying all 2^32 IPv4 addresses. To
// recognise a visitor across a boundary, a Click also carries the pseudonym
// under the previous epoch's key ([Click.PrevVisitor]) while that key is in
// its grace epoch.
//
// The "v2" form takes 128 bits of the agent's digest where v1 took all 256,
// so that the message fits the one SHA-256 block after the key's: a
// pseudonym costs two SHA-256 blocks, not three. The two forms share no value, so
// while instances of both versions share one Redis store during a rolling
// upgrade, a visitor who reaches both may be counted unique once more, in
// that window only.
//
// # Errors and printing
//
// Errors get logged, and a link, a referrer or a label is client input that
// may hold an address: no error of this package quotes its input. It names
// the field or argument, the kind of fault and the length instead, and
// wraps [ErrInvalidClick], [ErrFull] or [ErrClosed] where a caller may
// branch. A [Click] printed with any fmt verb, logged with log/slog or
// written by encoding/json shows its masked network and attributes, never
// its pseudonyms or raw address, and masks any address written in its
// text fields.
package clickstore
