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

// ErrLocalKey is wrapped, with the key store's own error, by the error
// [Keyring.Keys] returns when its [KeyStore] fails and it hands out a local
// key instead: a random key made in this process for the epoch, never
// written anywhere, that no other instance knows. The keys Keys returns
// with it are usable, so that a click can still be counted, but
// pseudonyms computed under a local key match no other instance's, nor
// this instance's once the store is back: a caller must treat the
// uniqueness of such a click as unknown and should not record it for
// later lookups. Test for it with errors.Is.
var ErrLocalKey = errors.New("the key store failed; a local key stands in")

// localRetry is how long a Keyring answers with its local key before it
// asks the failing store again: the store is not hammered on every click,
// and the keyring is back on the shared key within this long of the
// store's recovery.
const localRetry = time.Second

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
	// fails (and a local key stands in, see [ErrLocalKey]): the first
	// failure of a run at once, then at most one line a minute with the
	// count of those not logged, and one line when shared keys can be had
	// again. Error text is logged with every address-like run
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
// keyring) fires when the cached epoch ends and zeroes the cache, and the
// default in-memory store destroys each key at the end of its grace epoch
// with a timer of its own (see [MemoryKeyStore]). Nothing runs while no key
// is held. The end of an epoch is counted, from the moment the cache is
// filled, on the runtime's clock (time.Now's monotonic reading), as the
// sooner of the ends by Now and by the caller's time: a wall clock stepped
// back, or a caller's time ahead of Now, cannot keep a key for more than
// what was left of its epoch when it was cached; a clock stepped forward
// makes the cache go at the next call to Keys, Stats or Sweep, or at the
// timer, whichever is first. A key is stored with a ttl that ends with its
// grace epoch by the caller's time or by Now, whichever ends it sooner, so
// that a caller asking with a time behind the clock (a click's time taken
// from a queue or a batch) cannot keep it, in the store or in the cache,
// past its grace. A time whose epoch's grace is already over by Now (a
// replay, or a test's fixed times under the wall clock) gets a key that
// lives what is left of that grace by the caller's time: pseudonyms of
// one such epoch stay consistent, and the key of the epoch as Now knew
// it was destroyed. A key the keyring gave out before (as the current key,
// or to a caller behind the cache) is cached no longer than its grace
// lasted then, on the runtime's clock: a clock that stood still or stepped
// back since cannot keep it, as the previous key of a later epoch, past
// its ttl of real time. (A key the keyring finds in a shared store
// without having given it out, one made by another instance or before a
// restart, is held as the previous key until the current epoch ends by
// the clock: its store destroys its own copy on time.) A store given in [KeyringOptions.Store]
// destroys its keys as its [KeyStore] contract says. Copies of a [Key]
// that callers keep are theirs to drop. [Keyring.Stats] tells how old the oldest key held is and
// how many were destroyed; [Keyring.Sweep] does the timer's work on demand.
//
// When the store fails, Keys does not leave the caller without a key: it
// hands out a local key for the epoch (random, from Rand, held only in
// the keyring's cache, never written to any store) together with an error
// wrapping [ErrLocalKey] and the store's error. The local key is destroyed
// when its epoch ends, like any cached key, or as soon as the store
// answers again: while it stands in, Keys asks the store again at most
// once a second (at the first call a second or more after the last try,
// by the caller's times, or before it: a clock stepped back), and the
// first answer replaces the local key with the shared one, so
// that instances sharing a store converge on one key within a second of
// its recovery. [KeyStats] counts the local keys made and tells whether
// one stands in now.
//
// [Keyring.Close] destroys every key held in process and stops the timers.
//
// A Keyring prints and logs as its window alone (see [Keyring.String]),
// and keeps its keys where fmt reaches no byte of them even when it prints
// a struct that holds the Keyring.
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
	ok     bool      // the cache below is filled
	epoch  int64     // the epoch c.cur belongs to
	lo, hi int64     // its first and past-last Unix nanoseconds
	c      *keyCache // nil until first filled; zeroed in place, never dropped
	closed bool

	// A local key stands in for cur: the store failed (localErr says how,
	// wrapping ErrLocalKey) at tried and is asked again localRetry after
	// it, or at a time before tried (a clock stepped back).
	local     bool
	localErr  error
	tried     time.Time
	localKeys uint64      // local keys made, ever
	timer     *time.Timer // fires when the cache is due to be dropped
	until     time.Time   // when the cache is dropped at the latest, on the runtime's clock

	// When the grace of the keys of the last epochs given from the store
	// ends on the runtime's clock, at the latest (see noteGraceLocked). It
	// bounds the cache that holds such a key as previous.
	graces [4]grace

	// Accounts, under mu: the epochs held at the last look, and how many
	// epochs' keys are gone from the process (each counted once: the
	// latest so counted are in gone, so that a key read again from a
	// shared store within its grace is not counted twice, and an epoch
	// older than those counted before, after a clock stepped back, is).
	seen      []int64
	destroyed uint64
	gone      [8]int64 // a ring of the epochs counted last
	ngone     int      // how many were ever counted
}

// grace is when the grace of an epoch's key ends on the runtime's clock.
type grace struct {
	epoch int64
	until time.Time // zero: no record
}

// noteGraceLocked records, for the key of epoch e just given to a caller
// at now, that its grace ends on the runtime's clock when the ttl a key
// of e made now would have (see create) ends, counted from this moment;
// an earlier record for e is kept while its time is not over. The caller
// holds r.mu.
func (r *Keyring) noteGraceLocked(e int64, now time.Time) {
	// The ttl create gives a key of e at now.
	end := r.policy.EpochStart(e + 2)
	ttl := end.Sub(now)
	if left := end.Sub(r.clock()); left > 0 && left < ttl {
		ttl = left
	}
	until := time.Now().Add(max(0, ttl))
	slot := &r.graces[0]
	for i := range r.graces {
		g := &r.graces[i]
		if !g.until.IsZero() && g.epoch == e {
			// A record whose time is over was of a key since destroyed:
			// the key given now is a new one.
			if until.Before(g.until) || !time.Now().Before(g.until) {
				g.until = until
			}
			return
		}
		if g.until.IsZero() || g.epoch < slot.epoch && !slot.until.IsZero() {
			slot = g
		}
	}
	*slot = grace{epoch: e, until: until}
}

// graceLocked returns when the grace of epoch e's key ends on the
// runtime's clock, or the zero Time if the keyring has no record of it.
func (r *Keyring) graceLocked(e int64) time.Time {
	for _, g := range r.graces {
		if !g.until.IsZero() && g.epoch == e {
			return g.until
		}
	}
	return time.Time{}
}

// keyCache holds a Keyring's cached keys behind a pointer: fmt prints a
// pointer inside a struct as its address, so that no verb, even one that
// bypasses [Keyring.Format] (a struct holding a Keyring, printed with %s),
// can print them.
type keyCache struct {
	cur  Key
	prev Key // zero if there was none within its grace
}

// fillLocked caches cur and prev for epoch e.
func (r *Keyring) fillLocked(e int64, cur, prev Key) {
	if r.c == nil {
		r.c = new(keyCache)
	}
	// Assigning overwrites the bytes of the keys cached before in place.
	r.ok, r.epoch, r.c.cur, r.c.prev = true, e, cur, prev
	// Epochs the keyring fills are defined (see Policy.defines): their
	// bounds fit an int64.
	w := int64(r.policy.Window())
	r.lo = e * w
	r.hi = r.lo + w
}

// cachedLocked reports whether the cache answers for epoch e at now: it
// holds e's keys, and they are shared, or local and not yet due for
// another try of the store (localRetry after the last, or a time before
// it: a clock stepped back). The caller holds r.mu.
func (r *Keyring) cachedLocked(e int64, now time.Time) bool {
	return r.ok && r.epoch == e && (!r.local || r.localFresh(now))
}

// localFresh reports whether the local key standing in is not yet due
// for another try of the store at now (see cachedLocked).
func (r *Keyring) localFresh(now time.Time) bool {
	return now.Before(r.tried.Add(localRetry)) && !now.Before(r.tried)
}

// keysLocked returns the cached keys, zero if there are none.
func (r *Keyring) keysLocked() (cur, prev Key) {
	if !r.ok {
		return Key{}, Key{}
	}
	return r.c.cur, r.c.prev
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

// String returns "retention.Keyring(" and the policy's window ")". A
// Keyring prints and logs as that alone: fmt would otherwise print its
// fields, the cached keys' secrets among them.
func (r *Keyring) String() string {
	if r == nil {
		return "retention.Keyring(nil)"
	}
	return "retention.Keyring(" + r.policy.String() + ")"
}

// Format implements [fmt.Formatter]: every verb prints [Keyring.String].
func (r *Keyring) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, r.String()) }

// LogValue implements [slog.LogValuer]: a Keyring logs as
// [Keyring.String].
func (r *Keyring) LogValue() slog.Value { return slog.StringValue(r.String()) }

// burst returns the logger of the keyring's failures, ready to use.
func (r *Keyring) burst() *burstlog.Logger {
	r.logOnce.Do(func() { r.log.Mask = scrub })
	return &r.log
}

// Policy returns the policy that sets the keyring's epoch length.
func (r *Keyring) Policy() Policy {
	if r == nil {
		return Policy{}
	}
	return r.policy
}

// Keys returns the key of the epoch now falls in, creating it if this is
// the first request for that epoch, and the previous epoch's key if it
// exists (it is then within its grace epoch), or the zero Key.
//
// When the store fails (and ctx is not done), Keys returns a local key as
// current, the zero Key as previous, and an error wrapping both
// [ErrLocalKey] and the store's error (see [Keyring]); a store that gives
// an all-zero key, or the previous epoch's key for the current epoch, or
// panics (the panic is recovered, its value the error), has failed too.
// Other errors come from Rand, or from the store when ctx is done or now
// falls in an epoch older than the one cached; current is then the zero
// Key. A time outside the years 1678 to 2262 (the zero time.Time, say),
// where epochs are not defined, is an error; so is a time whose epoch's
// grace would end after 2262, which only a window of decades can make
// (a Policy with AllowLongRetention; above about 146 years, every time
// since 1970), and so is a nil ctx. After Close, Keys fails with an error
// wrapping [ErrClosed].
//
// Keys does not allocate while the epoch's keys are cached, shared or
// local.
func (r *Keyring) Keys(ctx context.Context, now time.Time) (current, previous Key, err error) {
	if r == nil {
		return Key{}, Key{}, errNilKeyring
	}
	if ctx == nil {
		return Key{}, Key{}, nilContext("keys")
	}
	// The cached epoch is found by its bounds, without the division
	// that finds now's epoch: now is in it if and only if now's epoch
	// is the cached one.
	n := now.UnixNano()
	r.mu.RLock()
	in := r.ok && r.lo <= n && n < r.hi
	if in && (!r.local || r.localFresh(now)) {
		current, previous, err = r.c.cur, r.c.prev, r.localErr
		r.mu.RUnlock()
		return current, previous, err
	}
	local := in && r.local
	r.mu.RUnlock()
	e := r.policy.Epoch(now)
	if local {
		// Time to try the store again, unless another caller is at it:
		// then the local key serves on rather than wait for a store
		// that may be timing out.
		if !r.fill.TryLock() {
			r.mu.RLock()
			current, previous = r.keysLocked()
			err = r.localErr
			ok := r.ok && r.epoch == e
			r.mu.RUnlock()
			if ok {
				return current, previous, err
			}
			r.fill.Lock()
		}
	} else {
		r.fill.Lock()
	}
	cur, prev, asked, err := r.missUnlock(ctx, e, now)
	switch {
	case !asked:
	case err == nil:
		r.burst().OK(ctx, now, "retention: keyring: shared keys can be had again")
	case errors.Is(err, ErrLocalKey):
		r.burst().Fail(ctx, now, "retention: keyring: the key store failed; a local key stands in, and clicks are counted with uniqueness unknown", err,
			slog.Int64("epoch", e))
	case ctx.Err() == nil && !errors.Is(err, ErrClosed):
		r.burst().Fail(ctx, now, "retention: keyring: no key for the epoch; clicks cannot be pseudonymized and are not counted", err,
			slog.Int64("epoch", e))
	}
	return cur, prev, err
}

// missUnlock is miss, then unlocks r.fill, even if miss panics (a Rand
// that panics, say): a lock left held would hang every later call.
func (r *Keyring) missUnlock(ctx context.Context, e int64, now time.Time) (cur, prev Key, asked bool, err error) {
	defer r.fill.Unlock()
	return r.miss(ctx, e, now)
}

// miss fills the cache for epoch e, or answers for an epoch older than the
// cached one without touching the cache. When the store fails it falls
// back on a local key (see fallback). asked reports whether the store or
// Rand was called (and so whether the outcome is news for the log). The
// caller holds r.fill, so that one goroutine at a time talks to the store.
func (r *Keyring) miss(ctx context.Context, e int64, now time.Time) (cur, prev Key, asked bool, err error) {
	r.mu.RLock()
	if r.cachedLocked(e, now) { // another goroutine filled it meanwhile
		cur, prev, err = r.c.cur, r.c.prev, r.localErr
		r.mu.RUnlock()
		return cur, prev, false, err
	}
	stale := r.ok && e < r.epoch
	closed := r.closed
	r.mu.RUnlock()
	if closed {
		return Key{}, Key{}, false, fmt.Errorf("retention: keys for epoch %d: keyring %w", e, ErrClosed)
	}
	if !r.policy.defines(now) {
		// Its epoch number would be meaningless and its key's ttl
		// overflow: no key may be made for it, nor kept for centuries.
		return Key{}, Key{}, false, errors.New("retention: keys: the time, or the end of its epoch's grace, is outside the years 1678 to 2262, where epochs are defined")
	}

	store := r.keyStore()
	// An existing key needs no fresh randomness; look first.
	secret, ok, err := load(ctx, store, e)
	if err != nil {
		return r.fallback(ctx, e, now, stale, foreign(fmt.Sprintf("key store: load the key of epoch %d", e), err))
	}
	if !ok || secret == ([32]byte{}) {
		var fromStore bool
		if secret, fromStore, err = r.create(ctx, store, e, now); err != nil {
			if fromStore {
				return r.fallback(ctx, e, now, stale, err)
			}
			return Key{}, Key{}, true, err
		}
	}
	p, ok, err := load(ctx, store, e-1)
	if err != nil {
		clear(secret[:])
		return r.fallback(ctx, e, now, stale, foreign(fmt.Sprintf("key store: load the key of epoch %d", e-1), err))
	}
	if ok && p == secret && p != ([32]byte{}) {
		// A store that answers one key for two epochs (keyed by something
		// else than the epoch) would keep it, and every pseudonym made with
		// it, for as long as it answers: refuse it.
		clear(secret[:])
		clear(p[:])
		return r.fallback(ctx, e, now, stale, fmt.Errorf("retention: key store gave epoch %d the key of epoch %d", e, e-1))
	}
	cur = newKey(e, secret)
	if ok && p != ([32]byte{}) {
		prev = newKey(e-1, p)
	}
	clear(secret[:])
	clear(p[:])
	if stale {
		r.mu.Lock()
		r.noteGraceLocked(e, now)
		r.mu.Unlock()
		return cur, prev, true, nil // a late caller: never move the cache back
	}
	r.mu.Lock()
	if r.closed { // closed while the store was asked
		r.mu.Unlock()
		return Key{}, Key{}, true, fmt.Errorf("retention: keys for epoch %d: keyring %w", e, ErrClosed)
	}
	// A previous key that was this keyring's current one keeps the end
	// of its grace on the runtime's clock: a Now that stood still or
	// stepped back since it was cached cannot move it later.
	// (The cache may have been dropped meanwhile: the end is kept by
	// epoch, without the key.)
	var prevUntil time.Time
	if !prev.IsZero() {
		prevUntil = r.graceLocked(e - 1)
		if !prevUntil.IsZero() && !time.Now().Before(prevUntil) {
			// Its grace is already over: not given, nor cached, so
			// that the cache is not dropped at once and asked again.
			clear(prev.secret[:])
			prev, prevUntil = Key{}, time.Time{}
		}
	}
	r.noteGraceLocked(e, now)
	r.fillLocked(e, cur, prev) // overwrites a local key's bytes in place
	r.local, r.localErr, r.tried = false, nil, time.Time{}
	r.armLocked(now)
	// The current key was maybe given before, to a caller behind the
	// cache (a clock stepped back): its grace ends no later than then.
	if u := r.graceLocked(e); !u.IsZero() && (prevUntil.IsZero() || u.Before(prevUntil)) {
		prevUntil = u
	}
	if !prevUntil.IsZero() && prevUntil.Before(r.until) {
		r.until = prevUntil
		r.resetLocked(max(0, time.Until(prevUntil)))
	}
	r.accountLocked()
	r.mu.Unlock()
	return cur, prev, true, nil
}

// fallback answers for epoch e after the store failed with cause: with the
// local key already standing in for e, or a new one, and an error wrapping
// ErrLocalKey and cause. A caller whose context is done, or a late caller
// for an older epoch than the cached one, gets cause alone.
func (r *Keyring) fallback(ctx context.Context, e int64, now time.Time, stale bool, cause error) (Key, Key, bool, error) {
	if stale || ctx.Err() != nil {
		return Key{}, Key{}, true, cause
	}
	lerr := fmt.Errorf("retention: keys for epoch %d: %w: %w", e, ErrLocalKey, cause)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return Key{}, Key{}, true, fmt.Errorf("retention: keys for epoch %d: keyring %w", e, ErrClosed)
	case r.ok && r.epoch == e && r.local:
		r.localErr, r.tried = lerr, now
		return r.c.cur, r.c.prev, true, lerr
	}
	secret, err := r.draw(e)
	if err != nil {
		return Key{}, Key{}, true, err
	}
	if r.ok {
		r.dropCacheLocked()
	}
	r.fillLocked(e, newKey(e, secret), Key{})
	clear(secret[:])
	r.local, r.localErr, r.tried = true, lerr, now
	r.localKeys++
	r.armLocked(now)
	r.accountLocked()
	return r.c.cur, r.c.prev, true, lerr
}

// draw returns a new random key for epoch e from Rand.
func (r *Keyring) draw(e int64) ([32]byte, error) {
	var k [32]byte
	src := r.rand
	if src == nil {
		src = rand.Reader
	}
	if _, err := io.ReadFull(src, k[:]); err != nil {
		return [32]byte{}, foreign(fmt.Sprintf("new key for epoch %d: random source", e), err)
	}
	if k == ([32]byte{}) {
		return [32]byte{}, fmt.Errorf("retention: new key for epoch %d: random source gave all zero bytes", e)
	}
	return k, nil
}

// create draws a candidate key for epoch e and stores it unless another
// caller got there first; it returns the winner. fromStore reports that
// the error, if any, is the store's.
func (r *Keyring) create(ctx context.Context, store KeyStore, e int64, now time.Time) (secret [32]byte, fromStore bool, err error) {
	candidate, err := r.draw(e)
	if err != nil {
		return [32]byte{}, false, err
	}
	// The key must die at the end of the grace epoch, e+1, by the
	// caller's time and by the keyring's clock, whichever ends it sooner:
	// a caller behind the clock (a click's time from a queue) must not
	// keep the key past its grace. A caller whose epoch's grace is over
	// by the clock gets a new key that lives what is left by its time.
	end := r.policy.EpochStart(e + 2)
	ttl := end.Sub(now)
	if left := end.Sub(r.clock()); left > 0 && left < ttl {
		ttl = left
	}
	secret, err = loadOrCreate(ctx, store, e, candidate, ttl)
	clear(candidate[:])
	if err != nil {
		return [32]byte{}, true, foreign(fmt.Sprintf("key store: create the key of epoch %d", e), err)
	}
	if secret == ([32]byte{}) {
		return [32]byte{}, true, fmt.Errorf("retention: key store gave an all-zero key for epoch %d", e)
	}
	return secret, false, nil
}

// load is store.Load with a panic turned into an error: a store that
// panics has failed, and the panic must not unwind through the caller's
// request with the keyring's lock held.
func load(ctx context.Context, store KeyStore, e int64) (secret [32]byte, ok bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			secret, ok, err = [32]byte{}, false, panicked(v)
		}
	}()
	return store.Load(ctx, e)
}

// loadOrCreate is store.LoadOrCreate with a panic turned into an error,
// as load.
func loadOrCreate(ctx context.Context, store KeyStore, e int64, candidate [32]byte, ttl time.Duration) (secret [32]byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			secret, err = [32]byte{}, panicked(v)
		}
	}()
	return store.LoadOrCreate(ctx, e, candidate, ttl)
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

// armLocked sets when the cache, just filled for a caller at now, is
// dropped: when its epoch ends by the keyring's clock or by now, whichever
// comes first, counted from this moment on the runtime's clock (time.Now's
// monotonic reading). A time ahead of the clock (a clock stepped back
// later, or a caller's date in the future) cannot keep the cache for more
// than what was left of its epoch when it was filled.
func (r *Keyring) armLocked(now time.Time) {
	end := r.policy.EpochStart(r.epoch + 1)
	d := max(0, min(end.Sub(r.clock()), end.Sub(now)))
	r.until = time.Now().Add(d)
	r.resetLocked(d)
}

func (r *Keyring) resetLocked(d time.Duration) {
	if r.timer == nil {
		r.timer = time.AfterFunc(d, r.fire)
	} else {
		r.timer.Reset(d)
	}
}

// dueLocked returns how long the cache may still be held: until the
// runtime's clock reaches r.until, and no longer than its epoch by the
// keyring's clock; zero or less means now.
func (r *Keyring) dueLocked() time.Duration {
	return min(time.Until(r.until), r.policy.EpochStart(r.epoch+1).Sub(r.clock()))
}

// fire runs on the timer: it zeroes the cache once it is due (see
// dueLocked), and otherwise (a timer set before the cache was filled
// again) waits for the rest.
func (r *Keyring) fire() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ok || r.closed {
		return
	}
	if d := r.dueLocked(); d > 0 {
		r.resetLocked(d)
		return
	}
	r.dropCacheLocked()
	r.accountLocked()
}

// dropCacheLocked zeroes the cached keys and returns how many there were.
func (r *Keyring) dropCacheLocked() int {
	n := 0
	if r.c != nil {
		for _, k := range [...]*Key{&r.c.cur, &r.c.prev} {
			if !k.IsZero() {
				n++
			}
			clear(k.secret[:])
			*k = Key{}
		}
	}
	r.ok = false
	r.local, r.localErr, r.tried = false, nil, time.Time{}
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
	if cur, prev := r.keysLocked(); r.ok {
		live = append(live, cur.Epoch)
		if !prev.IsZero() {
			live = append(live, prev.Epoch)
		}
	}
	if r.store == nil {
		live = r.mem.epochs(live)
	}
	for _, e := range r.seen {
		if slices.Contains(live, e) || slices.Contains(r.gone[:min(r.ngone, len(r.gone))], e) {
			continue
		}
		r.destroyed++
		r.gone[r.ngone%len(r.gone)] = e
		r.ngone++
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
	// more, so it stays below twice the window while Keys is asked for
	// the keyring's own time, as the tracker and a Builder fed time.Now
	// ask. Keys takes the time as data, though: a key asked for a time
	// whose epoch (and grace) ended earlier is made when asked, a new
	// random key that matches no pseudonym made before, and destroyed at
	// most two windows after that; while it is held, OldestAge counts
	// from its epoch's start, long ago, and so exceeds twice the window.
	OldestAge time.Duration
	// Destroyed is how many epochs' keys have been destroyed (zeroed and
	// dropped from process memory) since the keyring or store was made.
	Destroyed uint64
	// Failures is how many times the keyring's store or random source
	// failed when asked (not counting calls whose context was done, or
	// after Close; while a local key stands in, the store is asked at most
	// once a second); always 0 from a MemoryKeyStore.
	Failures uint64
	// LocalKeys is how many local keys the keyring made because its store
	// failed (see [ErrLocalKey]); Local is whether one stands in now.
	LocalKeys uint64
	Local     bool
}

// Stats reports the keys held in process memory (cached, and in the
// default in-memory store) and how many have been destroyed. It is meant
// for metrics ("age of the oldest live key", "keys destroyed") and for
// tests that prove keys die on time.
//
// Keys whose time is up by the keyring's clock (a clock stepped forward
// since their timers were set) are destroyed before they are counted.
func (r *Keyring) Stats() KeyStats {
	if r == nil {
		return KeyStats{}
	}
	if r.store == nil {
		_, _ = r.mem.Sweep(context.Background(), r.clock())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ok && !r.closed && r.dueLocked() <= 0 {
		r.dropCacheLocked()
	}
	r.accountLocked()
	st := KeyStats{Held: len(r.seen), Destroyed: r.destroyed, Failures: r.burst().Failures(),
		LocalKeys: r.localKeys, Local: r.ok && r.local}
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
	if r == nil {
		return errNilKeyring
	}
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
// its epoch. A now after 2262 ends every epoch; one before 1678 ends
// none. Sweep makes a Keyring [Sweepable], for a [Group]; see
// [Keyring.Stats] for figures that count each key once.
func (r *Keyring) Sweep(ctx context.Context, now time.Time) (SweepStats, error) {
	if r == nil {
		return SweepStats{}, errNilKeyring
	}
	if ctx == nil {
		return SweepStats{}, nilContext("sweep")
	}
	if err := ctx.Err(); err != nil {
		return SweepStats{}, fmt.Errorf("retention: sweep: %w", err)
	}
	e := r.policy.sweepEpoch(now)
	var st SweepStats
	r.mu.Lock()
	if r.ok && r.epoch < e {
		st.Deleted += r.dropCacheLocked()
	}
	if r.ok {
		oldest, prev := r.keysLocked()
		if !prev.IsZero() {
			oldest = prev
		}
		st.Held = 1
		if !prev.IsZero() {
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
