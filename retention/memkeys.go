package retention

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// MemoryKeyStoreOptions configures [NewMemoryKeyStore]. The zero value (or a
// nil pointer) means the defaults.
type MemoryKeyStoreOptions struct {
	// Now is the clock deadlines are measured with; nil means time.Now.
	Now func() time.Time
}

// MemoryKeyStore is the in-process [KeyStore]: a map from epoch to key.
// A key is destroyed (its bytes zeroed, its entry dropped) once its ttl has
// passed by the store's clock, and also as soon as a caller asks for an
// epoch two or more epochs later (so a stalled or fake clock cannot keep it
// alive while time moves on for the callers). Destruction happens during
// calls to its methods; run a [Sweeper] on it, or use it through a
// [Keyring] that is swept, to destroy keys on time while the store is idle.
//
// The zero MemoryKeyStore is ready to use with time.Now as its clock. A
// MemoryKeyStore is safe for concurrent use and must not be copied after
// first use.
type MemoryKeyStore struct {
	now func() time.Time

	mu   sync.Mutex
	keys map[int64]*memKey
	top  int64 // highest epoch asked for so far
}

type memKey struct {
	secret   [32]byte
	deadline time.Time // keeps a monotonic reading when the clock gives one
}

// NewMemoryKeyStore returns an empty MemoryKeyStore. A nil opts is valid.
func NewMemoryKeyStore(opts *MemoryKeyStoreOptions) *MemoryKeyStore {
	s := &MemoryKeyStore{}
	if opts != nil {
		s.now = opts.Now
	}
	return s
}

func (s *MemoryKeyStore) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// LoadOrCreate implements [KeyStore].
func (s *MemoryKeyStore) LoadOrCreate(ctx context.Context, epoch int64, candidate [32]byte, ttl time.Duration) ([32]byte, error) {
	if err := ctx.Err(); err != nil {
		return [32]byte{}, fmt.Errorf("retention: key for epoch %d: %w", epoch, err)
	}
	if ttl <= 0 {
		return [32]byte{}, fmt.Errorf("retention: key for epoch %d: ttl %q must be positive", epoch, ttl)
	}
	if candidate == ([32]byte{}) {
		return [32]byte{}, fmt.Errorf("retention: key for epoch %d: candidate is all zero", epoch)
	}
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observe(epoch)
	s.sweepLocked(now)
	if k, ok := s.keys[epoch]; ok {
		return k.secret, nil
	}
	if epoch < s.top-1 {
		return [32]byte{}, fmt.Errorf("retention: key for epoch %d: epoch %d is already past its grace", epoch, epoch)
	}
	if s.keys == nil {
		s.keys = make(map[int64]*memKey)
	}
	s.keys[epoch] = &memKey{secret: candidate, deadline: now.Add(ttl)}
	return candidate, nil
}

// Load implements [KeyStore].
func (s *MemoryKeyStore) Load(ctx context.Context, epoch int64) ([32]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return [32]byte{}, false, fmt.Errorf("retention: key for epoch %d: %w", epoch, err)
	}
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	k, ok := s.keys[epoch]
	if !ok {
		return [32]byte{}, false, nil
	}
	return k.secret, true, nil
}

// Sweep destroys every key whose ttl has passed at now, or whose epoch is
// two or more epochs older than the newest epoch asked for, and reports
// what it destroyed and what it still holds. Oldest is the age of the
// oldest key held, measured from its creation. Sweep makes MemoryKeyStore
// [Sweepable].
func (s *MemoryKeyStore) Sweep(ctx context.Context, now time.Time) (SweepStats, error) {
	if err := ctx.Err(); err != nil {
		return SweepStats{}, fmt.Errorf("retention: sweep: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SweepStats{Deleted: s.sweepLocked(now), Held: len(s.keys)}
	return st, nil
}

// observe records that a caller asked for epoch.
func (s *MemoryKeyStore) observe(epoch int64) {
	if len(s.keys) == 0 || epoch > s.top {
		s.top = epoch
	}
}

// sweepLocked destroys expired keys and returns how many.
func (s *MemoryKeyStore) sweepLocked(now time.Time) int {
	n := 0
	for e, k := range s.keys {
		if !now.Before(k.deadline) || e < s.top-1 {
			k.secret = [32]byte{}
			delete(s.keys, e)
			n++
		}
	}
	if len(s.keys) == 0 {
		s.keys = nil // let the map's memory go
	}
	return n
}

// advance tells the store that callers have reached epoch, so that keys two
// or more epochs older are past their grace whatever the store's clock says.
func (s *MemoryKeyStore) advance(epoch int64) {
	s.mu.Lock()
	s.top = max(s.top, epoch)
	s.mu.Unlock()
}
