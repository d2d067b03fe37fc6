package retention_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/retention"
)

var t0 = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

func TestNewPolicy(t *testing.T) {
	tests := []struct {
		name   string
		window time.Duration
		opts   *retention.PolicyOptions
		ok     bool
	}{
		{"default window", retention.DefaultWindow, nil, true},
		{"one minute", time.Minute, nil, true},
		{"at the cap", retention.MaxWindow, nil, true},
		{"above the cap", retention.MaxWindow + 1, nil, false},
		{"above the cap, opted out", 30 * 24 * time.Hour, &retention.PolicyOptions{AllowLongRetention: true}, true},
		{"zero", 0, nil, false},
		{"negative", -time.Second, &retention.PolicyOptions{AllowLongRetention: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := retention.NewPolicy(tt.window, tt.opts)
			if !tt.ok {
				require.Error(t, err)
				assert.True(t, strings.HasPrefix(err.Error(), "retention: "), err.Error())
				assert.Contains(t, err.Error(), "window "+tt.window.String()+" ")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.window, p.Window())
		})
	}
	assert.Equal(t, retention.DefaultWindow, retention.Policy{}.Window(), "zero Policy")
}

func TestEpoch(t *testing.T) {
	p, err := retention.NewPolicy(time.Minute, nil)
	require.NoError(t, err)
	tests := []struct {
		name string
		t    time.Time
		want int64
	}{
		{"unix epoch", time.Unix(0, 0), 0},
		{"last ns of epoch 0", time.Unix(59, 999999999), 0},
		{"start of epoch 1", time.Unix(60, 0), 1},
		{"just before 1970", time.Unix(0, -1), -1},
		{"a minute before 1970", time.Unix(-60, 0), -1},
		{"beyond a minute before 1970", time.Unix(-60, -1), -2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, p.Epoch(tt.t))
			assert.False(t, p.EpochStart(p.Epoch(tt.t)).After(tt.t))
			assert.True(t, p.EpochStart(p.Epoch(tt.t)+1).After(tt.t))
		})
	}
}

func TestKeyNeverPrintsSecret(t *testing.T) {
	r, err := retention.NewKeyring(&retention.KeyringOptions{Rand: bytes.NewReader(bytes.Repeat([]byte{0xab}, 64))})
	require.NoError(t, err)
	k, _, err := r.Keys(context.Background(), t0)
	require.NoError(t, err)
	require.False(t, k.IsZero())
	var buf bytes.Buffer
	noTime := func(_ []string, a slog.Attr) slog.Attr { // a timestamp may hold "171"
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: noTime})).Info("key", "k", k)
	for _, s := range []string{
		fmt.Sprint(k), fmt.Sprintf("%+v %#v %x %X %d %s %q", k, k, k, k, k, k, k), buf.String(),
	} {
		assert.NotContains(t, strings.ToLower(s), "ab ab", s)
		assert.NotContains(t, strings.ToLower(s), "abab", s)
		assert.NotContains(t, s, "171", s)
	}
	assert.Contains(t, fmt.Sprint(k), fmt.Sprint(k.Epoch))
}

func TestKeyringKeys(t *testing.T) {
	ctx := context.Background()
	r, err := retention.NewKeyring(nil)
	require.NoError(t, err)
	p := r.Policy()
	cur, prev, err := r.Keys(ctx, t0)
	require.NoError(t, err)
	assert.False(t, cur.IsZero())
	assert.True(t, prev.IsZero(), "no previous key was ever created")
	assert.Equal(t, p.Epoch(t0), cur.Epoch)

	again, _, err := r.Keys(ctx, t0.Add(time.Second))
	require.NoError(t, err)
	assert.Equal(t, cur, again, "same epoch, same key")

	next := p.EpochStart(cur.Epoch + 1)
	last, _, err := r.Keys(ctx, next.Add(-time.Nanosecond))
	require.NoError(t, err)
	assert.Equal(t, cur, last, "the epoch's last nanosecond has its key")
	cur2, prev2, err := r.Keys(ctx, next)
	require.NoError(t, err)
	assert.NotEqual(t, cur.Secret(), cur2.Secret(), "a new epoch has a new random key")
	assert.Equal(t, cur, prev2, "the previous key is kept for its grace epoch")

	cur3, prev3, err := r.Keys(ctx, p.EpochStart(cur.Epoch+2))
	require.NoError(t, err)
	assert.Equal(t, cur2, prev3)
	assert.NotEqual(t, cur.Secret(), cur3.Secret())

	// Two epochs later the first key is past its grace and gone for good.
	_, prev5, err := r.Keys(ctx, p.EpochStart(cur.Epoch+5))
	require.NoError(t, err)
	assert.True(t, prev5.IsZero(), "a skipped epoch has no key to look up")
}

// Before 1970 epochs are negative, and a cached epoch ends where the
// next begins, as after it.
func TestKeyringKeysBefore1970(t *testing.T) {
	ctx := context.Background()
	r, err := retention.NewKeyring(nil)
	require.NoError(t, err)
	defer r.Close()
	p := r.Policy()
	at := time.Date(1969, 12, 31, 23, 45, 0, 0, time.UTC)
	cur, _, err := r.Keys(ctx, at)
	require.NoError(t, err)
	assert.Equal(t, int64(-1), cur.Epoch)
	for _, tt := range []struct {
		name string
		t    time.Time
		same bool
	}{
		{"the epoch's first nanosecond", p.EpochStart(-1), true},
		{"its last", p.EpochStart(0).Add(-time.Nanosecond), true},
		{"the next epoch's first", p.EpochStart(0), false},
	} {
		k, _, err := r.Keys(ctx, tt.t)
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.same, k == cur, tt.name)
		if !tt.same {
			assert.Equal(t, int64(0), k.Epoch, tt.name)
		}
	}
}

func TestKeyringSharedStoreAgrees(t *testing.T) {
	ctx := context.Background()
	store := retention.NewMemoryKeyStore(nil)
	a, err := retention.NewKeyring(&retention.KeyringOptions{Store: store})
	require.NoError(t, err)
	b, err := retention.NewKeyring(&retention.KeyringOptions{Store: store})
	require.NoError(t, err)
	var wg sync.WaitGroup
	keys := make([]retention.Key, 16)
	for i := range keys {
		wg.Go(func() {
			r := a
			if i%2 == 1 {
				r = b
			}
			k, _, err := r.Keys(ctx, t0)
			assert.NoError(t, err)
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys {
		assert.Equal(t, keys[0], k, "every keyring sharing a store must get the same key")
	}
}

func TestKeyringErrors(t *testing.T) {
	r, err := retention.NewKeyring(&retention.KeyringOptions{Rand: bytes.NewReader(nil)})
	require.NoError(t, err)
	cur, _, err := r.Keys(context.Background(), t0)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "retention: "))
	assert.True(t, cur.IsZero())

	zero, err := retention.NewKeyring(&retention.KeyringOptions{Rand: bytes.NewReader(make([]byte, 32))})
	require.NoError(t, err)
	_, _, err = zero.Keys(context.Background(), t0)
	assert.Error(t, err, "an all-zero key must be refused")
}

func TestMemoryKeyStoreDestroysKeys(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := retention.NewMemoryKeyStore(&retention.MemoryKeyStoreOptions{Now: func() time.Time { return now }})
	secret := [32]byte{1}
	got, err := s.LoadOrCreate(ctx, 7, secret, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, secret, got)
	got, err = s.LoadOrCreate(ctx, 7, [32]byte{2}, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, secret, got, "the first key stored wins")

	now = t0.Add(time.Minute - 1)
	_, ok, err := s.Load(ctx, 7)
	require.NoError(t, err)
	assert.True(t, ok, "key readable before its ttl")
	now = t0.Add(time.Minute)
	_, ok, err = s.Load(ctx, 7)
	require.NoError(t, err)
	assert.False(t, ok, "key destroyed at its ttl")

	_, err = s.LoadOrCreate(ctx, 7, [32]byte{}, time.Minute)
	assert.Error(t, err, "zero candidate")
	_, err = s.LoadOrCreate(ctx, 7, secret, 0)
	assert.Error(t, err, "zero ttl")

	// Asking for an epoch destroys the keys stored before it for epochs two
	// or more older, whatever their ttl.
	_, err = s.LoadOrCreate(ctx, 18, secret, time.Hour)
	require.NoError(t, err)
	_, err = s.LoadOrCreate(ctx, 20, [32]byte{3}, time.Hour)
	require.NoError(t, err)
	_, ok, err = s.Load(ctx, 18)
	require.NoError(t, err)
	assert.False(t, ok, "epoch 18 is past its grace once 20 was asked for")
	// An epoch asked for after a newer one (a clock stepped back) gets a
	// key of its own, which lives its ttl until a newer epoch still is
	// asked for.
	got, err = s.LoadOrCreate(ctx, 18, [32]byte{4}, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, [32]byte{4}, got)
	st, err := s.Sweep(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, 2, st.Held)
	_, err = s.LoadOrCreate(ctx, 21, [32]byte{5}, time.Hour)
	require.NoError(t, err)
	_, ok, err = s.Load(ctx, 18)
	require.NoError(t, err)
	assert.False(t, ok, "a newer epoch asked for destroys it")
}

func TestKeyringSweepZeroesCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r, err := retention.NewKeyring(nil)
		require.NoError(t, err)
		now := time.Now()
		cur, _, err := r.Keys(ctx, now)
		require.NoError(t, err)
		st, err := r.Sweep(ctx, now)
		require.NoError(t, err)
		assert.Equal(t, 1, st.Held)
		assert.Equal(t, 0, st.Deleted)
		// Two epochs on, nothing may be held: a sweep at that instant
		// finds the cached key and the stored one before the timers do.
		later := r.Policy().EpochStart(cur.Epoch + 2)
		st, err = r.Sweep(ctx, later)
		require.NoError(t, err)
		assert.Equal(t, 0, st.Held)
		assert.Equal(t, 2, st.Deleted, "the cached key and the stored one")
		assert.Equal(t, retention.KeyStats{Destroyed: 1}, r.Stats(), "one key, in two places")
	})
}

// A keyring on a shared store holds only its cache, drops it when the
// epoch ends, and counts each epoch's key once although it reads it again
// from the store during its grace.
func TestKeyringStatsSharedStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := retention.NewMemoryKeyStore(nil)
		r, err := retention.NewKeyring(&retention.KeyringOptions{Store: store})
		require.NoError(t, err)
		w := r.Policy().Window()
		start := r.Policy().EpochStart(r.Policy().Epoch(time.Now()) + 1)
		time.Sleep(time.Until(start))

		cur, _, err := r.Keys(ctx, time.Now())
		require.NoError(t, err)
		st := r.Stats()
		assert.Equal(t, retention.KeyStats{Held: 1, OldestEpoch: cur.Epoch}, st)

		time.Sleep(w / 2)
		synctest.Wait()
		assert.Equal(t, w/2, r.Stats().OldestAge)

		time.Sleep(w / 2) // the epoch ends: the cache is dropped
		synctest.Wait()
		assert.Equal(t, retention.KeyStats{Destroyed: 1}, r.Stats())
		assert.Equal(t, 1, store.Stats().Held, "the store keeps it through its grace")

		_, prev, err := r.Keys(ctx, time.Now()) // reads it back as the previous key
		require.NoError(t, err)
		assert.Equal(t, cur, prev)
		time.Sleep(w)
		synctest.Wait()
		assert.Equal(t, retention.KeyStats{Destroyed: 2}, r.Stats(), "the re-read key is not counted again")
		assert.Equal(t, retention.KeyStats{Held: 1, OldestEpoch: cur.Epoch + 1, Destroyed: 1}, store.Stats())
		time.Sleep(w)
		synctest.Wait()
		assert.Equal(t, retention.KeyStats{Destroyed: 2}, store.Stats())
		require.NoError(t, r.Close())
		require.NoError(t, store.Close())
		_, _, err = store.Load(ctx, 1)
		assert.ErrorIs(t, err, retention.ErrClosed)
	})
}

type countSweeper struct {
	mu    sync.Mutex
	calls []time.Time
}

func (c *countSweeper) Sweep(ctx context.Context, now time.Time) (retention.SweepStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, now)
	return retention.SweepStats{Held: len(c.calls), Oldest: time.Minute}, nil
}

func TestSweeperRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		target := &countSweeper{}
		var reports []retention.SweepStats
		s, err := retention.NewSweeper(target, &retention.SweeperOptions{
			Interval: time.Second,
			OnSweep:  func(st retention.SweepStats, err error) { reports = append(reports, st) },
		})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(3*time.Second + time.Millisecond) // fake time inside the bubble
		synctest.Wait()
		cancel()
		err = <-done
		assert.True(t, errors.Is(err, context.Canceled))
		assert.Len(t, reports, 4, "once at start and once per second")
		assert.Equal(t, time.Minute, reports[0].Oldest)
		// synctest.Test fails if Run left a goroutine behind.
	})
}

func TestGroup(t *testing.T) {
	ctx := context.Background()
	a := &countSweeper{}
	b := &statSweeper{st: retention.SweepStats{Deleted: 3, Held: 5, Oldest: time.Hour}}
	failing := &statSweeper{st: retention.SweepStats{Deleted: 1}, err: errors.New("boom at 203.0.113.9:6379")}
	st, err := retention.Group{a, b, failing}.Sweep(ctx, t0)
	assert.Equal(t, retention.SweepStats{Deleted: 4, Held: 6, Oldest: time.Hour}, st)
	require.Error(t, err)
	assert.ErrorIs(t, err, failing.err, "members' errors are wrapped, not replaced")
	assert.Equal(t, "retention: sweep member 2 of the group: boom at 0.0.0.0:6379", err.Error())
	assert.Equal(t, []time.Time{t0}, a.calls)

	st, err = retention.Group(nil).Sweep(ctx, t0)
	assert.NoError(t, err)
	assert.Zero(t, st)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = retention.Group{a}.Sweep(cctx, t0)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Len(t, a.calls, 1, "a done context stops the group")
}

type statSweeper struct {
	st  retention.SweepStats
	err error
}

func (s *statSweeper) Sweep(context.Context, time.Time) (retention.SweepStats, error) {
	return s.st, s.err
}

func TestNewSweeperErrors(t *testing.T) {
	_, err := retention.NewSweeper(nil, nil)
	assert.Error(t, err)
	_, err = retention.NewSweeper(retention.Group{}, nil)
	assert.EqualError(t, err, "retention: NewSweeper: empty Group")
	_, err = retention.NewSweeper(retention.Group{&countSweeper{}, nil}, nil)
	assert.EqualError(t, err, "retention: NewSweeper: member 1 of the Group is nil")
	_, err = retention.NewSweeper(&countSweeper{}, &retention.SweeperOptions{Interval: -time.Second})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "interval -1s ")
}

// Callers, the keyring's timers and Stats race across epoch boundaries;
// every caller gets the key of its epoch, and the race detector watches.
func TestKeyringConcurrentAcrossEpochs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r, err := retention.NewKeyring(nil)
		require.NoError(t, err)
		w := r.Policy().Window()
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 40 {
					now := time.Now()
					cur, _, err := r.Keys(ctx, now)
					if assert.NoError(t, err) {
						assert.Equal(t, r.Policy().Epoch(now), cur.Epoch)
					}
					if g == 0 {
						assert.Less(t, r.Stats().OldestAge, 2*w)
					}
					time.Sleep(w / 7 * time.Duration(1+i%3))
				}
			})
		}
		wg.Wait()
		require.NoError(t, r.Close())
		assert.Zero(t, r.Stats().Held)
	})
}

// A Keyring or MemoryKeyStore printed or logged whole (a debugging %+v,
// slog.Any), or a struct holding one, shows no key: fmt printed their
// structs, and with them the cached and stored keys' secrets and hash
// states as lists of bytes.
func TestKeyringNeverPrintsKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r, err := retention.NewKeyring(&retention.KeyringOptions{Rand: bytes.NewReader(bytes.Repeat([]byte{0xab}, 64))})
		require.NoError(t, err)
		defer r.Close()
		_, _, err = r.Keys(ctx, time.Now()) // cached until the epoch ends
		require.NoError(t, err)
		store := retention.NewMemoryKeyStore(nil)
		defer store.Close()
		_, err = store.LoadOrCreate(ctx, 1, [32]byte{0xab, 0xab, 0xab, 0xab}, time.Hour)
		require.NoError(t, err)

		for _, tc := range []struct {
			name string
			v    any
			want string
		}{
			{"keyring", r, "retention.Keyring(retention 30m0s)"},
			{"memory key store", store, "retention.MemoryKeyStore"},
			// A service's struct (a Builder, a Tracker) holding the keyring in
			// an unexported field: fmt calls no method of it, and %s printed
			// its fields.
			{"struct holding the keyring", &struct{ ring *retention.Keyring }{r}, ""},
		} {
			var text, js bytes.Buffer
			slog.New(slog.NewTextHandler(&text, nil)).Info("ring", "v", tc.v)
			slog.New(slog.NewJSONHandler(&js, nil)).Info("ring", "v", tc.v)
			for i, s := range []string{
				fmt.Sprint(tc.v), fmt.Sprintf("%v|%+v|%#v|%s|%x|%X|%d|%q", tc.v, tc.v, tc.v, tc.v, tc.v, tc.v, tc.v, tc.v),
				text.String(), js.String(),
			} {
				// A key is 0xab bytes: a run of them in hex, or as Go
				// syntax, is looked for in the whole text; shorter forms
				// once the pointers fmt prints are taken out (the
				// keyring's address in the verb's base, and those of its
				// fields, which %s of the struct prints), since an
				// address's digits may hold "171" or "abab" by chance.
				low := strings.ToLower(s)
				leak := strings.Contains(low, "abababab") || strings.Contains(low, "0xab, 0xab")
				low = pointers.ReplaceAllString(withoutAddress(low, r), "0x")
				leak = leak || strings.Contains(low, "ab ab") || strings.Contains(low, "abab") || strings.Contains(low, "171") || strings.Contains(low, "secret")
				assert.False(t, leak, "%s, form %d, shows a key (%d bytes of text)", tc.name, i, len(s))
			}
			if tc.want != "" {
				assert.Equal(t, tc.want, fmt.Sprint(tc.v))
			}
		}
	})
}

// Keys takes the time as data: asked for a time whose epoch and grace
// ended long ago, after that epoch's key was destroyed, it makes a new
// random key (no pseudonym made under the destroyed one can be made
// again), and that key is destroyed at most two windows after it was
// made, by the keyring's timers and its store's, whatever time it was
// asked for.
func TestKeyForALongPastTimeIsNewAndShortLived(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r, err := retention.NewKeyring(nil)
		require.NoError(t, err)
		defer r.Close()
		w := r.Policy().Window()
		t0 := time.Now()
		old, _, err := r.Keys(ctx, t0)
		require.NoError(t, err)
		before := old.MAC([]byte("visitor"))

		time.Sleep(3 * w) // the key of t0's epoch is destroyed
		synctest.Wait()
		require.Zero(t, r.Stats().Held)
		again, _, err := r.Keys(ctx, t0)
		require.NoError(t, err)
		assert.Equal(t, old.Epoch, again.Epoch)
		assert.NotEqual(t, before, again.MAC([]byte("visitor")), "a new key, not the destroyed one")
		assert.Greater(t, r.Stats().OldestAge, 2*w, "counted from its epoch's start, as documented")

		time.Sleep(2 * w)
		synctest.Wait()
		assert.Zero(t, r.Stats().Held, "destroyed within two windows of being made")
	})
}

// pointers matches what fmt prints a pointer as.
var pointers = regexp.MustCompile(`0x[0-9a-f]+`)

// withoutAddress returns s, in lower case, without the address of p in
// the bases fmt prints a pointer in with %d and %x.
func withoutAddress(s string, p *retention.Keyring) string {
	a := uint64(reflect.ValueOf(p).Pointer())
	s = strings.ReplaceAll(s, strconv.FormatUint(a, 16), "")
	return strings.ReplaceAll(s, strconv.FormatUint(a, 10), "")
}
