package redisstore

// StopIndexWriter stops s's index writer goroutine, for tests that count
// the request path's allocations alone: entries then queue until Flush.
func StopIndexWriter(s *Store) { s.idx.close() }
