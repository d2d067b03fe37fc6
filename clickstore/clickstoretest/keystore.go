package clickstoretest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/clickanon/clickanon/retention"
)

// OutageKeyStore is a [retention.KeyStore] that can be taken down, for
// testing what code does when the store of its epoch keys fails (a Redis
// outage). While up, it keeps keys like a [retention.MemoryKeyStore]; while
// down, every call fails with the error given to [OutageKeyStore.Down] and
// is counted.
//
// The zero OutageKeyStore is not usable; make one with [NewOutageKeyStore].
// An OutageKeyStore is safe for concurrent use.
type OutageKeyStore struct {
	mem *retention.MemoryKeyStore

	mu     sync.Mutex
	err    error
	failed int
}

// NewOutageKeyStore returns an OutageKeyStore that is up, keeping its keys
// by the clock now (nil means time.Now).
func NewOutageKeyStore(now func() time.Time) *OutageKeyStore {
	return &OutageKeyStore{mem: retention.NewMemoryKeyStore(&retention.MemoryKeyStoreOptions{Now: now})}
}

// Down makes every later call fail with err; a nil err is an error of the
// store's own ("clickstoretest: key store is down").
func (s *OutageKeyStore) Down(err error) {
	if err == nil {
		err = errors.New("clickstoretest: key store is down")
	}
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// Up ends the outage: the keys stored before it are still there, unless
// their time ran out.
func (s *OutageKeyStore) Up() {
	s.mu.Lock()
	s.err = nil
	s.mu.Unlock()
}

// Failed returns how many calls failed because the store was down.
func (s *OutageKeyStore) Failed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

func (s *OutageKeyStore) down() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		s.failed++
	}
	return s.err
}

// Load implements [retention.KeyStore].
func (s *OutageKeyStore) Load(ctx context.Context, epoch int64) ([32]byte, bool, error) {
	if err := s.down(); err != nil {
		return [32]byte{}, false, err
	}
	return s.mem.Load(ctx, epoch)
}

// LoadOrCreate implements [retention.KeyStore].
func (s *OutageKeyStore) LoadOrCreate(ctx context.Context, epoch int64, candidate [32]byte, ttl time.Duration) ([32]byte, error) {
	if err := s.down(); err != nil {
		return [32]byte{}, err
	}
	return s.mem.LoadOrCreate(ctx, epoch, candidate, ttl)
}

// Close destroys the keys held and stops the store's timer.
func (s *OutageKeyStore) Close() error { return s.mem.Close() }
