package retention

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"sync"
	"time"
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
}

// Keyring hands out the epoch keys visitor pseudonyms are computed with.
// The key of an epoch is created lazily, from Rand, the first time a caller
// asks for that epoch; it is used for its epoch and looked up for one more
// (the grace epoch), then destroyed by its [KeyStore]. Keys are never derived
// from the date or from another secret.
//
// A Keyring caches the current epoch's keys so that [Keyring.Keys] costs a
// read lock on the hot path; the cache serves only the epoch it was filled
// for, and [Keyring.Sweep] zeroes it once that epoch is over, so a cached key
// never outlives its grace.
//
// The zero Keyring is ready to use with the defaults of [KeyringOptions]. A
// Keyring is safe for concurrent use and must not be copied after first use.
type Keyring struct {
	policy Policy
	store  KeyStore
	rand   io.Reader
	mem    MemoryKeyStore // the store when store is nil

	fill sync.Mutex // serialises cache misses, so one goroutine talks to the store

	mu    sync.RWMutex
	ok    bool  // the cache below is filled
	epoch int64 // the epoch cur belongs to
	cur   Key
	prev  Key // zero if there was none within its grace
}

// NewKeyring returns a Keyring configured by opts. A nil opts is valid.
func NewKeyring(opts *KeyringOptions) (*Keyring, error) {
	r := &Keyring{}
	if opts != nil {
		r.policy = opts.Policy
		r.store = opts.Store
		r.rand = opts.Rand
	}
	return r, nil
}

// Policy returns the policy that sets the keyring's epoch length.
func (r *Keyring) Policy() Policy { return r.policy }

// Keys returns the key of the epoch now falls in, creating it if this is
// the first request for that epoch, and the previous epoch's key if it
// exists (it is then within its grace epoch), or the zero Key.
//
// Errors come from the store or from Rand; current is then the zero Key.
func (r *Keyring) Keys(ctx context.Context, now time.Time) (current, previous Key, err error) {
	e := r.policy.Epoch(now)
	r.mu.RLock()
	if r.ok && r.epoch == e {
		current, previous = r.cur, r.prev
		r.mu.RUnlock()
		return current, previous, nil
	}
	r.mu.RUnlock()
	return r.miss(ctx, e, now)
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
	r.mu.RUnlock()

	store := r.keyStore()
	// An existing key needs no fresh randomness; look first.
	secret, ok, err := store.Load(ctx, e)
	if err != nil {
		return Key{}, Key{}, err
	}
	if !ok || secret == ([32]byte{}) {
		if secret, err = r.create(ctx, store, e, now); err != nil {
			return Key{}, Key{}, err
		}
	}
	cur := Key{Epoch: e, secret: secret}
	var prev Key
	if p, ok, err := store.Load(ctx, e-1); err != nil {
		return Key{}, Key{}, err
	} else if ok && p != ([32]byte{}) {
		prev = Key{Epoch: e - 1, secret: p}
	}
	if stale {
		return cur, prev, nil // a late caller: never move the cache back
	}
	r.mu.Lock()
	r.ok, r.epoch, r.cur, r.prev = true, e, cur, prev
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
		return [32]byte{}, fmt.Errorf("retention: new key for epoch %d: %w", e, err)
	}
	if candidate == ([32]byte{}) {
		return [32]byte{}, fmt.Errorf("retention: new key for epoch %d: random source gave all zero bytes", e)
	}
	// The key must die at the end of the grace epoch, e+1.
	ttl := r.policy.EpochStart(e + 2).Sub(now)
	secret, err := store.LoadOrCreate(ctx, e, candidate, ttl)
	clear(candidate[:])
	if err != nil {
		return [32]byte{}, err
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
	return &r.mem
}

// Sweep zeroes the cached keys if the epoch they were cached for is over at
// now, and sweeps the default in-memory store (a store given in
// [KeyringOptions.Store] is the caller's to sweep). Deleted counts the keys
// destroyed, Held the keys still cached, Oldest the age of the oldest held
// key since the start of its epoch. Sweep makes a Keyring [Sweepable].
func (r *Keyring) Sweep(ctx context.Context, now time.Time) (SweepStats, error) {
	if err := ctx.Err(); err != nil {
		return SweepStats{}, fmt.Errorf("retention: sweep: %w", err)
	}
	e := r.policy.Epoch(now)
	var st SweepStats
	r.mu.Lock()
	if r.ok && r.epoch < e {
		for _, k := range [...]*Key{&r.cur, &r.prev} {
			if !k.IsZero() {
				st.Deleted++
			}
			*k = Key{}
		}
		r.ok = false
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
	return st, nil
}
