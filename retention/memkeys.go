package retention

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// ErrClosed is wrapped by the errors of a [Keyring] or [MemoryKeyStore]
// used after Close.
var ErrClosed = errors.New("closed")

// MemoryKeyStoreOptions configures [NewMemoryKeyStore]. The zero value (or a
// nil pointer) means the defaults.
type MemoryKeyStoreOptions struct {
	// Now is the clock deadlines are measured with; nil means time.Now.
	Now func() time.Time
}

// MemoryKeyStore is the in-process [KeyStore]: a map from epoch to key.
//
// A key is destroyed (its bytes zeroed, its entry dropped) when its ttl
// has passed, by the store itself: a runtime timer (time.AfterFunc, one per
// store, not one per key) fires at the earliest deadline held, destroys
// what is due and re-arms for the next, so keys die on time whether or not
// anyone calls or sweeps the store, and nothing runs while the store is
// empty. A key's deadline is its ttl after it was stored, by Now and on the
// runtime's clock (time.Now's monotonic reading); it is destroyed at the
// sooner of the two, so a wall clock stepped back (or a Now that stalls)
// cannot keep it past its ttl of real time. While Now moves slower than
// the runtime's clock (a stalled or coarse Now, a fake clock), the timer
// looks at Now once a second, not again and again: a key is then
// destroyed within a second after its deadline by Now (at once by any
// call), and on time on the runtime's clock. A key is also destroyed as
// soon as a caller, after it was stored, asks for an epoch two or more
// epochs later, so a stalled or fake clock cannot keep it alive while time
// moves on for the callers. An epoch older than the newest asked for (a
// clock stepped back, a time far ahead asked for before) gets a key like
// any other. [MemoryKeyStore.Sweep] does the same work on demand and
// reports it.
//
// [MemoryKeyStore.Close] destroys every key and stops the timer.
//
// The zero MemoryKeyStore is ready to use with time.Now as its clock. A
// MemoryKeyStore is safe for concurrent use and must not be copied after
// first use.
type MemoryKeyStore struct {
	now func() time.Time

	mu        sync.Mutex
	keys      map[int64]*memKey
	top       int64  // highest epoch asked for so far
	raises    uint64 // how many times top went up
	destroyed uint64
	closed    bool
	timer     *time.Timer
	armedFor  time.Time // when the timer fires, on the runtime's clock; zero if stopped
	onDestroy func()    // called, without mu, after the timer destroyed keys
}

type memKey struct {
	secret   [32]byte
	deadline time.Time // by Now
	until    time.Time // the same deadline on the runtime's clock
	raises   uint64    // the store's raises when the key was stored
}

// Format implements [fmt.Formatter]: a key prints as nothing of its
// secret, whichever verb reaches it through the store's map.
func (k *memKey) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, "retention.memKey") }

// NewMemoryKeyStore returns an empty MemoryKeyStore. A nil opts is valid.
func NewMemoryKeyStore(opts *MemoryKeyStoreOptions) *MemoryKeyStore {
	s := &MemoryKeyStore{}
	if opts != nil {
		s.now = opts.Now
	}
	return s
}

// String returns "retention.MemoryKeyStore". A MemoryKeyStore prints and
// logs as that alone: fmt would otherwise print its fields, the keys'
// secrets among them.
func (s *MemoryKeyStore) String() string { return "retention.MemoryKeyStore" }

// Format implements [fmt.Formatter]: every verb prints
// [MemoryKeyStore.String].
func (s *MemoryKeyStore) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue implements [slog.LogValuer]: a MemoryKeyStore logs as
// [MemoryKeyStore.String].
func (s *MemoryKeyStore) LogValue() slog.Value { return slog.StringValue(s.String()) }

func (s *MemoryKeyStore) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// LoadOrCreate implements [KeyStore].
func (s *MemoryKeyStore) LoadOrCreate(ctx context.Context, epoch int64, candidate [32]byte, ttl time.Duration) ([32]byte, error) {
	if s == nil {
		return [32]byte{}, errNilKeyStore
	}
	if ctx == nil {
		return [32]byte{}, nilContext("key store")
	}
	if err := ctx.Err(); err != nil {
		return [32]byte{}, fmt.Errorf("retention: key for epoch %d: %w", epoch, err)
	}
	if ttl <= 0 {
		return [32]byte{}, fmt.Errorf("retention: key for epoch %d: ttl %v must be positive", epoch, ttl)
	}
	if candidate == ([32]byte{}) {
		return [32]byte{}, fmt.Errorf("retention: key for epoch %d: candidate is all zero", epoch)
	}
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return [32]byte{}, fmt.Errorf("retention: key for epoch %d: key store %w", epoch, ErrClosed)
	}
	s.observe(epoch)
	s.sweepLocked(now)
	if k, ok := s.keys[epoch]; ok {
		return k.secret, nil
	}
	if s.keys == nil {
		s.keys = make(map[int64]*memKey)
	}
	// A key asked for after a newer epoch (a clock stepped back, a time
	// ahead of the others before) is made: it lives its ttl, and only a
	// newer epoch asked for after it destroys it early.
	k := &memKey{secret: candidate, deadline: now.Add(ttl), until: time.Now().Add(ttl), raises: s.raises}
	s.keys[epoch] = k
	s.armLocked(now, 0)
	return candidate, nil
}

// Load implements [KeyStore].
func (s *MemoryKeyStore) Load(ctx context.Context, epoch int64) ([32]byte, bool, error) {
	if s == nil {
		return [32]byte{}, false, errNilKeyStore
	}
	if ctx == nil {
		return [32]byte{}, false, nilContext("key store")
	}
	if err := ctx.Err(); err != nil {
		return [32]byte{}, false, fmt.Errorf("retention: key for epoch %d: %w", epoch, err)
	}
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return [32]byte{}, false, fmt.Errorf("retention: key for epoch %d: key store %w", epoch, ErrClosed)
	}
	s.sweepLocked(now)
	k, ok := s.keys[epoch]
	if !ok {
		return [32]byte{}, false, nil
	}
	return k.secret, true, nil
}

// Sweep destroys every key whose ttl has passed at now, or whose epoch is
// two or more epochs older than the newest epoch asked for since it was
// stored, and reports
// what it destroyed and what it still holds. Oldest is 0: the store does
// not know epoch lengths, so it cannot tell a key's age ([Keyring.Sweep]
// and [Keyring.Stats] do). Sweep makes MemoryKeyStore [Sweepable]; the
// store's own timer makes sweeping it optional.
func (s *MemoryKeyStore) Sweep(ctx context.Context, now time.Time) (SweepStats, error) {
	if s == nil {
		return SweepStats{}, errNilKeyStore
	}
	if ctx == nil {
		return SweepStats{}, nilContext("sweep")
	}
	if err := ctx.Err(); err != nil {
		return SweepStats{}, fmt.Errorf("retention: sweep: %w", err)
	}
	s.mu.Lock()
	n := s.sweepLocked(now)
	st := SweepStats{Deleted: n, Held: len(s.keys)}
	if !s.closed {
		s.armLocked(s.clock(), 0)
	}
	hook := s.onDestroy
	s.mu.Unlock()
	if n > 0 && hook != nil {
		hook()
	}
	return st, nil
}

// Stats reports the keys the store holds and has destroyed. OldestAge is
// 0: the store does not know epoch lengths (see [Keyring.Stats]).
func (s *MemoryKeyStore) Stats() KeyStats {
	if s == nil {
		return KeyStats{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := KeyStats{Held: len(s.keys), Destroyed: s.destroyed}
	first := true
	for e := range s.keys {
		if first || e < st.OldestEpoch {
			st.OldestEpoch, first = e, false
		}
	}
	return st
}

// Close destroys every key the store holds and stops its timer. Later
// calls to LoadOrCreate and Load fail with an error wrapping [ErrClosed].
// Close is idempotent and returns nil.
func (s *MemoryKeyStore) Close() error {
	if s == nil {
		return errNilKeyStore
	}
	s.mu.Lock()
	s.closed = true
	n := s.destroyLocked(func(int64, *memKey) bool { return true })
	if s.timer != nil {
		s.timer.Stop()
		s.armedFor = time.Time{}
	}
	hook := s.onDestroy
	s.mu.Unlock()
	if n > 0 && hook != nil {
		hook()
	}
	return nil
}

// observe records that a caller asked for epoch.
func (s *MemoryKeyStore) observe(epoch int64) {
	if len(s.keys) == 0 || epoch > s.top {
		s.raise(epoch)
	}
}

// raise makes epoch the newest asked for.
func (s *MemoryKeyStore) raise(epoch int64) {
	if epoch != s.top {
		s.top = epoch
		s.raises++
	}
}

// sweepLocked destroys the keys expired at now, by their deadline or on
// the runtime's clock, and returns how many.
func (s *MemoryKeyStore) sweepLocked(now time.Time) int {
	rt := time.Now()
	return s.destroyLocked(func(e int64, k *memKey) bool {
		return !now.Before(k.deadline) || !rt.Before(k.until) || e < s.top-1 && k.raises < s.raises
	})
}

// destroyLocked zeroes and drops every key for which due is true and
// returns how many.
func (s *MemoryKeyStore) destroyLocked(due func(int64, *memKey) bool) int {
	n := 0
	for e, k := range s.keys {
		if due(e, k) {
			clear(k.secret[:])
			delete(s.keys, e)
			n++
		}
	}
	if len(s.keys) == 0 {
		s.keys = nil // let the map's memory go
	}
	s.destroyed += uint64(n)
	return n
}

// armLocked sets the timer for the earliest deadline held, by now or on
// the runtime's clock, or stops it when nothing is held. A deadline by now
// is waited for floor at least (see fire); one on the runtime's clock is not.
func (s *MemoryKeyStore) armLocked(now time.Time, floor time.Duration) {
	if len(s.keys) == 0 {
		if s.timer != nil {
			s.timer.Stop()
		}
		s.armedFor = time.Time{}
		return
	}
	rt := time.Now()
	next := time.Time{}
	for _, k := range s.keys {
		due := min(k.until.Sub(rt), max(k.deadline.Sub(now), floor))
		if at := rt.Add(max(0, due)); next.IsZero() || at.Before(next) {
			next = at
		}
	}
	if !s.armedFor.IsZero() && next.Equal(s.armedFor) {
		return
	}
	d := next.Sub(rt)
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.fire)
	} else {
		s.timer.Reset(d)
	}
	s.armedFor = next
}

// fire runs on the timer: it destroys what is due and re-arms.
func (s *MemoryKeyStore) fire() {
	now := s.clock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	n := s.sweepLocked(now)
	s.armedFor = time.Time{} // the timer has fired: arm afresh
	floor := time.Duration(0)
	if n == 0 {
		// Nothing was due although the timer was set for a deadline by
		// Now: Now moves slower than the runtime's clock (stalled, coarse,
		// a fake clock). Waiting again for the distance by a clock that
		// does not move would fire again and again, a busy loop: look at
		// it again in a tick, or at the deadline on the runtime's clock.
		floor = keyTick
	}
	s.armLocked(now, floor)
	hook := s.onDestroy
	s.mu.Unlock()
	if n > 0 && hook != nil {
		hook()
	}
}

// keyTick is the longest a MemoryKeyStore's timer waits, after a firing
// that found nothing due, before it looks at Now again: the granularity
// of destruction by a Now that moves slower than the runtime's clock.
const keyTick = time.Second

// advance tells the store that callers have reached epoch, so that keys two
// or more epochs older are past their grace whatever the store's clock says.
func (s *MemoryKeyStore) advance(epoch int64) {
	s.mu.Lock()
	if epoch > s.top {
		s.raise(epoch)
	}
	s.mu.Unlock()
}

// epochs appends the epochs of the keys held to dst.
func (s *MemoryKeyStore) epochs(dst []int64) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := range s.keys {
		dst = append(dst, e)
	}
	return dst
}

// setHook sets the function called after the timer destroys keys.
func (s *MemoryKeyStore) setHook(f func()) {
	s.mu.Lock()
	s.onDestroy = f
	s.mu.Unlock()
}
