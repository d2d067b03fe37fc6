package redisstore

import (
	"net/netip"
	"time"

	"github.com/clickanon/clickanon/clickstore"
)

// StopIndexWriter stops s's index writer goroutine, for tests that count
// the request path's allocations alone: entries then queue until Flush.
func StopIndexWriter(s *Store) { s.idx.halt() }

// QueueIndexEntry queues an index entry as a Record that raced Close
// would, after Close.
func QueueIndexEntry(s *Store, c clickstore.Click, rec int64) { s.idx.add(c.Visitor, c.Link, rec) }

// DropQueuedIndexEntries forgets the index entries s has queued, for a
// benchmark that measures the request path without the index writes.
func DropQueuedIndexEntries(s *Store) {
	s.idx.mu.Lock()
	clear(s.idx.q)
	s.idx.q = s.idx.q[:0]
	s.idx.mu.Unlock()
}

// V1Click is a click as the version before this one held it: V1Value is
// the click part of its marker's value (version 1 of the binary form,
// hex), which follows the recorded stamp and a 16-byte token.
var V1Click = clickstore.Click{
	Link: "promo", Time: time.Unix(1700000000, 5).UTC(), Visitor: clickstore.Pseudonym{1, 2, 3},
	Network: netip.MustParsePrefix("2001:db8::/48"), Country: "DE", Bot: "b", Referrer: "r.example", Device: "mobile",
}

const V1Value = "01000000006553f100000000050001020300000000000000000000000000300620010db800000000000000000000000000000570726f6d6f024445016209722e6578616d706c65066d6f62696c65"
