package clickstore

import (
	"context"
	"iter"
	"time"

	"github.com/clickanon/clickanon/retention"
)

// Store holds clicks for a retention window W (30 minutes by default) and
// forgets them, for certain, when it ends. Implementations must be safe for
// concurrent use, and must pass clickstoretest.Run.
//
// The contract, for every implementation:
//
//   - Lifetime. A click recorded when the store's clock reads t is readable
//     until t+W-1ns and not at or after t+W, whatever Click.Time says; the
//     store's clock is the one it was configured with (a Now function), not
//     another machine's. Clock jumps must not extend a lifetime. Expired
//     clicks are physically destroyed within the store's documented
//     granularity.
//   - Uniqueness. Record reports first = true for exactly one click per
//     visitor and link while that click is held, however many goroutines or
//     processes record at once. A click held under c.Visitor or under
//     c.PrevVisitor counts as the same visitor's.
//   - Repeats are counted, not held. A repeat (first = false) is not
//     stored and does not extend the held click's lifetime: a visitor's
//     first click on a link at t makes their clicks until t+W repeats, and
//     their next click at or after t+W is first again. At most one click
//     per visitor pseudonym and link is held.
//   - Capacity. A store that holds as many clicks as it may returns an
//     error wrapping ErrFull from Record and holds nothing new; it never
//     evicts a held click early.
//   - Closing. After Close, every method returns an error wrapping
//     ErrClosed and nothing recorded before can be read back through the
//     store. A store that is the only holder of its clicks (Memory)
//     destroys them; one shared by several instances (redisstore) leaves
//     them to the other instances and to their expiry, which still comes
//     at t+W.
//   - Input. Clicks that fail Click.Validate, or whose Kind is not
//     KindClick, are rejected with an error wrapping ErrInvalidClick. A
//     nil context is an error, never a panic, and leaves the store
//     working; so is Sweep at any time, even past 2262 (it then destroys
//     every click). A done context ends any method with an error wrapping
//     its Err, and a Record called with one holds nothing. A context that
//     ends while a Record's command is on its way to a shared backend
//     cannot take back what the backend did: the click may be held (the
//     visitor's next click is then a repeat), and the backend's docs say
//     how it keeps such a click erasable.
//   - Errors describe, never echo. An error says which field or argument
//     was wrong, what kind of fault and its length, and never holds a
//     link, a label or an address: errors get logged, and a link may hold
//     a visitor's address.
//
// Clicks read back are equal to those recorded except that PrevVisitor is
// zero and Time is the same instant (Time.Equal) without location or
// monotonic reading.
type Store interface {
	// Record holds c unless a click of the same visitor (c.Visitor or
	// c.PrevVisitor) on c.Link is held, and reports whether c is that
	// visitor's first on the link within the window. A repeat is reported
	// (first = false) but not held.
	Record(ctx context.Context, c Click) (first bool, err error)

	// Latest returns the most recently recorded click held for visitor
	// or prev (either may be zero) on link, or on any link if link is "",
	// and true; or false if there is none. It is how a conversion is
	// attributed to the click before it.
	Latest(ctx context.Context, visitor, prev Pseudonym, link string) (Click, bool, error)

	// All iterates over the clicks held when each is read, in no
	// particular order. A click recorded or erased during the iteration
	// may or may not be seen. An error ends the iteration; it is yielded
	// with a zero Click.
	All(ctx context.Context) iter.Seq2[Click, error]

	// EraseVisitor destroys every held click whose Visitor is v, and
	// reports how many. A data-subject request should erase both of the
	// person's current pseudonyms (see Builder.Pseudonyms).
	EraseVisitor(ctx context.Context, v Pseudonym) (int, error)

	// EraseLink destroys every held click on link, and reports how many.
	EraseLink(ctx context.Context, link string) (int, error)

	// Sweep destroys every click expired at now (or at the store's own
	// clock, if that is later) and reports what it did: Deleted the clicks
	// it destroyed (a backend that also destroys them otherwise, on its
	// own, says what it counts), Held those it still holds, Oldest the age
	// of the oldest of them at that same instant, exactly. It makes a
	// Store retention.Sweepable.
	Sweep(ctx context.Context, now time.Time) (retention.SweepStats, error)

	// Close releases the store's resources and, for a store that is the
	// only holder of its clicks, destroys them. It is idempotent: later
	// calls return nil.
	Close() error
}

// Sink receives every click and every attributed conversion, with whether
// the click was unique, for counting. Package clickstore/track writes to a Sink;
// package clickstore/aggregate implements one.
//
// For a click, c.Kind is KindClick and u comes from [Store.Record]
// (UniqueUnknown if the store failed). For a conversion, c.Kind is
// KindConversion, c.Link is the link of the click it is attributed to (from
// [Store.Latest]; unattributed conversions are not sent) and u says whether
// it is the visitor's first conversion on that link within the window, or
// UniqueUnknown.
//
// Implementations must be safe for concurrent use and count each Add exactly
// once.
type Sink interface {
	Add(ctx context.Context, c Click, u Uniqueness) error
}
