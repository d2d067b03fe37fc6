package retention

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/clickanon/clickanon/internal/burstlog"
)

// KeyringOptions configures [NewKeyring]. The zero value (or a nil pointer)
// means the defaults.
type KeyringOptions struct {
	// Policy sets the epoch length; the zero Policy means DefaultWindow.
	// Pseudonyms then change every window, and a key lives for two.
	Policy Policy

	// Store keeps the keys; nil means a fresh in-process MemoryKeyStore.
	// Share a store (e.g. on Redis) between machines that must compute the
	// same pseudonyms.
	Store KeyStore

	// Rand is the source of new keys; nil means crypto/rand.Reader. Only
	// tests should set it.
	Rand io.Reader
	// Now is the clock the keyring destroys keys by (and the default
	// store's); nil means time.Now.
	Now func() time.Time

	// Logger receives a warning when the key store or the random source
	// fails: the first failure of a run at once, then at most one line a
	// minute with the count of those not logged, and one line when keys
	// can be had again. Error text is logged with every address-like run
	// replaced. Nil means slog.Default(). Failures are also counted in
	// [KeyStats].Failures.
	Logger *slog.Logger
}

// Keyring hands out the epoch keys visitor pseudonyms are computed with.
// The key of an epoch is created lazily, from Rand, the first time a caller
// asks for that epoch; it is used for its epoch and looked up for one more
// (the grace epoch), then destroyed. Keys are never derived from the date or
// from another secret.
//
// A Keyring caches the current epoch's keys so that [Keyring.Keys] costs a
// read lock on the hot path. It destroys its keys on its own, on time,
// whether or not anyone sweeps it: a runtime timer (time.AfterFunc, one per
// keyring) fires when the cached epoch ends, by Now, and zeroes the cache,
// and the default in-memory store destroys each key at the end of its grace
// epoch with a timer of its own (see [MemoryKeyStore]). Nothing runs while
// no key is held. A store given in [KeyringOptions.Store] destroys its keys
// as its [KeyStore] contract says. Copies of a [Key] that callers keep are
// theirs to drop. [Keyring.Stats] tells how old the oldest key held is and
// how many were destroyed; [Keyring.Sweep] does the timer's work on demand.
//
// [Keyring.Close] destroys every key held in process and stops the timers.
//
// The zero Keyring is ready to use with the defaults of [KeyringOptions]. A
// Keyring is safe for concurrent use and must not be copied after first use.
type Keyring struct {
	policy Policy
	store  KeyStore
	rand   io.Reader
	now    func() time.Time
	mem    MemoryKeyStore // the store when store is nil
	hook   sync.Once      // connects mem's destruction to the accounts

	fill sync.Mutex // serialises cache misses, so one goroutine talks to the store

	logOnce sync.Once
	log     burstlog.Logger // failures of the store and of Rand; see burst

	mu     sync.RWMutex
	ok     bool  // the cache below is filled
	epoch  int64 // the epoch cur belongs to
	cur    Key
	prev   Key // zero if there was none within its grace
	closed bool
	timer  *time.Timer // fires when the cached epoch ends

	// Accounts, under mu: the epochs held at the last look, and how many
	// epochs' keys are gone from the process (each counted once: the
	// newest so counted is in last, so that a key read again from a shared
	// store is not counted twice).
	seen      []int64
	destroyed uint64
	last      int64
	counted   bool
}

// NewKeyring returns a Keyring configured by opts. A nil opts is valid.
func NewKeyring(opts *KeyringOptions) (*Keyring, error) {
	r := &Keyring{}
	if opts != nil {
		r.policy = opts.Policy
		r.store = opts.Store
		r.rand = opts.Rand
		r.now = opts.Now
		r.mem.now = opts.Now
		r.log.Logger = opts.Logger
	}
	return r, nil
}

// burst returns the logger of the keyring's failures, ready to use.
func (r *Keyring) burst() *burstlog.Logger {
	r.logOnce.Do(func() { r.log.Mask = scrub })
	return &r.log
}

// Policy returns the policy that sets the keyring's epoch length.
func (r *Keyring) Policy() Policy { return r.policy }

// Keys returns the key of the epoch now falls in, creating it if this is
// the first request for that epoch, and the previous epoch's key if it
// exists (it is then within its grace epoch), or the zero Key.
//
// Errors come from the store or from Rand; current is then the zero Key.
// After Close, Keys fails with an error wrapping [ErrClosed].
func (r *Keyring) Keys(ctx context.Context, now time.Time) (current, previous Key, err error) {
	e := r.policy.Epoch(now)
	r.mu.RLock()
	if r.ok && r.epoch == e {
		current, previous = r.cur, r.prev
		r.mu.RUnlock()
		return current, previous, nil
	}
	r.mu.RUnlock()
	cur, prev, err := r.miss(ctx, e, now)
	switch {
	case err == nil:
		r.burst().OK(ctx, now, "retention: keyring: keys can be had again")
	case ctx.Err() == nil && !errors.Is(err, ErrClosed):
		r.burst().Fail(ctx, now, "retention: keyring: no key for the epoch; clicks cannot be pseudonymized and are not counted", err,
			slog.Int64("epoch", e))
	}
	return cur, prev, err
}

// miss fills the cache for epoch e, or answers for an epoch older than the
// cached one without touching the cache.
func (r *Keyring) miss(ctx context.Context, e int64, now time.Time) (Key, Key, error) {
	r.fill.Lock()
	defer r.fill.Unlock()
	r.mu.RLock()
	if r.ok && r.epoch == e { // another goroutine filled it meanwhile
		cur, prev := r.cur, r.prev
		r.mu.RUnlock()
		return cur, prev, nil
	}
	stale := r.ok && e < r.epoch
	closed := r.closed
	r.mu.RUnlock()
	if closed {
		return Key{}, Key{}, fmt.Errorf("retention: keys for epoch %d: keyring %w", e, ErrClosed)
	}

	store := r.keyStore()
	// An existing key needs no fresh randomness; look first.
	secret, ok, err := store.Load(ctx, e)
	if err != nil {
		return Key{}, Key{}, foreign(fmt.Sprintf("key store: load the key of epoch %d", e), err)
	}
	if !ok || secret == ([32]byte{}) {
		if secret, err = r.create(ctx, store, e, now); err != nil {
			return Key{}, Key{}, err
		}
	}
	cur := Key{Epoch: e, secret: secret}
	var prev Key
	if p, ok, err := store.Load(ctx, e-1); err != nil {
		return Key{}, Key{}, foreign(fmt.Sprintf("key store: load the key of epoch %d", e-1), err)
	} else if ok && p != ([32]byte{}) {
		prev = Key{Epoch: e - 1, secret: p}
	}
	if stale {
		return cur, prev, nil // a late caller: never move the cache back
	}
	r.mu.Lock()
	if r.closed { // closed while the store was asked
		r.mu.Unlock()
		return Key{}, Key{}, fmt.Errorf("retention: keys for epoch %d: keyring %w", e, ErrClosed)
	}
	r.ok, r.epoch, r.cur, r.prev = true, e, cur, prev
	r.armLocked()
	r.accountLocked()
	r.mu.Unlock()
	return cur, prev, nil
}

// create draws a candidate key for epoch e and stores it unless another
// caller got there first; it returns the winner.
func (r *Keyring) create(ctx context.Context, store KeyStore, e int64, now time.Time) ([32]byte, error) {
	var candidate [32]byte
	src := r.rand
	if src == nil {
		src = rand.Reader
	}
	if _, err := io.ReadFull(src, candidate[:]); err != nil {
		return [32]byte{}, foreign(fmt.Sprintf("new key for epoch %d: random source", e), err)
	}
	if candidate == ([32]byte{}) {
		return [32]byte{}, fmt.Errorf("retention: new key for epoch %d: random source gave all zero bytes", e)
	}
	// The key must die at the end of the grace epoch, e+1.
	ttl := r.policy.EpochStart(e + 2).Sub(now)
	secret, err := store.LoadOrCreate(ctx, e, candidate, ttl)
	clear(candidate[:])
	if err != nil {
		return [32]byte{}, foreign(fmt.Sprintf("key store: create the key of epoch %d", e), err)
	}
	if secret == ([32]byte{}) {
		return [32]byte{}, fmt.Errorf("retention: key store gave an all-zero key for epoch %d", e)
	}
	return secret, nil
}

func (r *Keyring) keyStore() KeyStore {
	if r.store != nil {
		return r.store
	}
	r.hook.Do(func() { r.mem.setHook(r.account) })
	return &r.mem
}

func (r *Keyring) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// armLocked sets the timer for the end of the cached epoch.
func (r *Keyring) armLocked() {
	d := max(0, r.policy.EpochStart(r.epoch+1).Sub(r.clock()))
	if r.timer == nil {
		r.timer = time.AfterFunc(d, r.fire)
	} else {
		r.timer.Reset(d)
	}
}

// fire runs on the timer: it zeroes the cache once its epoch is over by
// the keyring's clock, and otherwise (the runtime's clock ran ahead of Now)
// waits for the rest.
func (r *Keyring) fire() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ok || r.closed {
		return
	}
	if r.epoch < r.policy.Epoch(r.clock()) {
		r.dropCacheLocked()
		r.accountLocked()
		return
	}
	r.armLocked()
}

// dropCacheLocked zeroes the cached keys and returns how many there were.
func (r *Keyring) dropCacheLocked() int {
	n := 0
	for _, k := range [...]*Key{&r.cur, &r.prev} {
		if !k.IsZero() {
			n++
		}
		clear(k.secret[:])
		*k = Key{}
	}
	r.ok = false
	if r.timer != nil {
		r.timer.Stop()
	}
	return n
}

// account brings the accounts up to date.
func (r *Keyring) account() {
	r.mu.Lock()
	r.accountLocked()
	r.mu.Unlock()
}

// accountLocked looks at which epochs have a key in the process (in the
// cache, or in the default store) and counts those gone since the last look.
// An epoch is counted once, even if its key is read again from a shared
// store within its grace and dropped again.
func (r *Keyring) accountLocked() {
	var buf [4]int64
	live := buf[:0]
	if r.ok {
		live = append(live, r.cur.Epoch)
		if !r.prev.IsZero() {
			live = append(live, r.prev.Epoch)
		}
	}
	if r.store == nil {
		live = r.mem.epochs(live)
	}
	last, counted := r.last, r.counted
	for _, e := range r.seen {
		if slices.Contains(live, e) || (counted && e <= last) {
			continue
		}
		r.destroyed++
		if !r.counted || e > r.last {
			r.last, r.counted = e, true
		}
	}
	r.seen = r.seen[:0]
	for _, e := range live {
		if !slices.Contains(r.seen, e) {
			r.seen = append(r.seen, e)
		}
	}
}

// KeyStats describes the keys held in process memory. It is a small
// comparable value; the zero KeyStats describes an empty keyring.
type KeyStats struct {
	// Held is how many epochs have a key in process memory.
	Held int
	// OldestEpoch is the epoch of the oldest key held; 0 if none is.
	OldestEpoch int64
	// OldestAge is how long ago the oldest key's epoch began, by the
	// keyring's clock; 0 if no key is held, and 0 from a MemoryKeyStore,
	// which does not know epoch lengths. A key lives for its epoch and one
	// more, so it stays below twice the window.
	OldestAge time.Duration
	// Destroyed is how many epochs' keys have been destroyed (zeroed and
	// dropped from process memory) since the keyring or store was made.
	Destroyed uint64
	// Failures is how many times the keyring could not give a key because
	// its store or random source failed (not counting calls whose context
	// was done, or after Close); always 0 from a MemoryKeyStore.
	Failures uint64
}

// Stats reports the keys held in process memory (cached, and in the
// default in-memory store) and how many have been destroyed. It is meant
// for metrics ("age of the oldest live key", "keys destroyed") and for
// tests that prove keys die on time.
func (r *Keyring) Stats() KeyStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.accountLocked()
	st := KeyStats{Held: len(r.seen), Destroyed: r.destroyed, Failures: r.burst().Failures()}
	for i, e := range r.seen {
		if i == 0 || e < st.OldestEpoch {
			st.OldestEpoch = e
		}
	}
	if st.Held > 0 {
		st.OldestAge = max(0, r.clock().Sub(r.policy.EpochStart(st.OldestEpoch)))
	}
	return st
}

// Close destroys every key the keyring holds in process memory (its cache
// and its default in-memory store; a store given in [KeyringOptions.Store]
// is the caller's to close) and stops its timers. Later calls to Keys fail
// with an error wrapping [ErrClosed]. Close is idempotent and returns nil.
func (r *Keyring) Close() error {
	r.mu.Lock()
	r.closed = true
	r.dropCacheLocked()
	r.mu.Unlock()
	if r.store == nil {
		_ = r.mem.Close() // calls r.account through the hook, if set
	}
	r.account()
	return nil
}

// Sweep does on demand, at now, what the keyring's timers do on their own:
// it zeroes the cached keys if the epoch they were cached for is over, and
// sweeps the default in-memory store (a store given in
// [KeyringOptions.Store] is the caller's to sweep). Deleted counts the key
// copies destroyed (a key cached and stored counts twice), Held the keys
// still cached, Oldest the age of the oldest cached key since the start of
// its epoch. Sweep makes a Keyring [Sweepable], for a [Group]; see
// [Keyring.Stats] for figures that count each key once.
func (r *Keyring) Sweep(ctx context.Context, now time.Time) (SweepStats, error) {
	if err := ctx.Err(); err != nil {
		return SweepStats{}, fmt.Errorf("retention: sweep: %w", err)
	}
	e := r.policy.Epoch(now)
	var st SweepStats
	r.mu.Lock()
	if r.ok && r.epoch < e {
		st.Deleted += r.dropCacheLocked()
	}
	if r.ok {
		oldest := r.cur
		if !r.prev.IsZero() {
			oldest = r.prev
		}
		st.Held = 1
		if !r.prev.IsZero() {
			st.Held = 2
		}
		st.Oldest = max(0, now.Sub(r.policy.EpochStart(oldest.Epoch)))
	}
	r.mu.Unlock()
	if r.store == nil {
		r.mem.advance(e)
		ms, err := r.mem.Sweep(ctx, now)
		if err != nil {
			return st, err
		}
		st.Deleted += ms.Deleted
	}
	r.account()
	return st, nil
}
