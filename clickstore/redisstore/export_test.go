package redisstore

import "github.com/clickanon/clickanon/clickstore"

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
