package retention_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/retention"
)

// steppedClock is a wall clock that an operator (or NTP) can step: it reads
// the runtime's clock (synctest's fake one, in these tests) plus an offset.
// The timers read it too, hence the atomic.
type steppedClock struct{ offset atomic.Int64 }

func (c *steppedClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *steppedClock) step(to time.Duration) { c.offset.Store(int64(to)) }

// A key lives for its epoch and one grace epoch of real time, whatever the
// wall clock does meanwhile: a clock that was hours ahead and is stepped
// back (a wrong hardware clock at boot, corrected by NTP) does not keep
// the key that was made while it was ahead, nor do the caller's times.
// Two windows and a second after the key was made, no copy of it is left:
// the keyring holds none, and asking for its epoch again makes a new key.
func TestKeyDiesOnTimeWhenTheClockStepsBack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ahead time.Duration // how far ahead of real time the clock was
	}{
		{"by one epoch", retention.DefaultWindow},
		{"by three hours", 3 * time.Hour},
		{"by a year", 365 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				clock := &steppedClock{}
				clock.step(tc.ahead)
				r, err := retention.NewKeyring(&retention.KeyringOptions{Now: clock.now})
				require.NoError(t, err)
				defer r.Close()
				then := clock.now()
				k, _, err := r.Keys(ctx, then)
				require.NoError(t, err)

				clock.step(0) // stepped back to the right time
				time.Sleep(2*r.Policy().Window() + time.Second)
				synctest.Wait()

				st := r.Stats()
				assert.Zero(t, st.Held, "no key is held two windows after it was made")
				again, _, err := r.Keys(ctx, then)
				require.NoError(t, err)
				assert.False(t, k.Secret() == again.Secret(), "the key of the clock's old epoch was destroyed, not kept")
			})
		})
	}
}

// A caller that passes a time ahead of the keyring's clock (a click's
// timestamp from a queue, a test's fixed date) gets a key for that time's
// epoch, and that key too lives two windows of real time at most: the
// keyring does not keep it until its clock reaches the epoch.
func TestKeyFromAFutureTimeDiesOnTime(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ahead time.Duration
	}{
		{"an hour ahead", time.Hour},
		{"a century ahead", 100 * 365 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				r, err := retention.NewKeyring(nil)
				require.NoError(t, err)
				defer r.Close()
				future := time.Now().Add(tc.ahead)
				k, _, err := r.Keys(ctx, future)
				require.NoError(t, err)

				time.Sleep(2*r.Policy().Window() + time.Second)
				synctest.Wait()

				assert.Zero(t, r.Stats().Held, "no key is held two windows after it was made")
				again, _, err := r.Keys(ctx, future)
				require.NoError(t, err)
				assert.False(t, k.Secret() == again.Secret(), "the key was destroyed, not kept until its epoch")
			})
		})
	}
}

// A wall clock stepped forward past a key's grace (a VM resumed, its clock
// corrected) leaves the key to the runtime timers, which do not know; the
// first look at the keyring destroys it, so that what Stats reports (and
// the metrics export) is never a key past its time.
func TestKeyGoesAtFirstLookWhenTheClockStepsForward(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		clock := &steppedClock{}
		r, err := retention.NewKeyring(&retention.KeyringOptions{Now: clock.now})
		require.NoError(t, err)
		defer r.Close()
		_, _, err = r.Keys(ctx, clock.now())
		require.NoError(t, err)
		require.Equal(t, 1, r.Stats().Held)

		clock.step(3 * time.Hour)
		st := r.Stats()
		assert.Zero(t, st.Held, "no key is held past its grace by the clock")
		assert.Zero(t, st.OldestAge)
		assert.Equal(t, uint64(1), st.Destroyed)
	})
}

// A time whose epoch is not defined (its Unix nanoseconds, or those of its
// grace epoch's end, overflow an int64) gets no key: the zero time's key
// was kept for 292 years, a time in 3000 fell back on a local key with a
// negative ttl in its error. It is the caller's fault, not the store's:
// nothing is counted as a failure.
func TestKeysRefuseATimeWithoutAnEpoch(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   time.Time
	}{
		{"zero", time.Time{}},
		{"year 1600", time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"last hour of 2262", time.Date(2262, 4, 11, 23, 0, 0, 0, time.UTC)},
		{"year 3000", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2^62 seconds", time.Unix(1<<62, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r, err := retention.NewKeyring(nil)
				require.NoError(t, err)
				defer r.Close()
				cur, prev, err := r.Keys(context.Background(), tc.at)
				require.Error(t, err)
				assert.Contains(t, err.Error(), "outside the years 1678 to 2262")
				assert.True(t, cur.IsZero())
				assert.True(t, prev.IsZero())
				assert.Equal(t, retention.KeyStats{}, r.Stats(), "no key made, no failure counted")
			})
		})
	}
	// The edges that are defined still work.
	r, err := retention.NewKeyring(nil)
	require.NoError(t, err)
	defer r.Close()
	for _, at := range []time.Time{time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)} {
		cur, _, err := r.Keys(context.Background(), at)
		require.NoError(t, err)
		assert.False(t, cur.IsZero())
	}
}

// One time far ahead of the others (a click's timestamp from a broken
// client or queue, a clock ahead and then stepped back) must not stop the
// keyring from giving keys for the present: the default store took the
// future epoch for the newest and refused every key for the present as
// "past its grace", so that for an hour clicks were not counted, then
// counted under local keys.
func TestKeysForThePresentAfterATimeAhead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ahead time.Duration
		step  bool // the keyring's own clock was ahead and is stepped back
	}{
		{name: "a time three hours ahead", ahead: 3 * time.Hour},
		{name: "a time a year ahead", ahead: 365 * 24 * time.Hour},
		{name: "the clock stepped back by three hours", ahead: 3 * time.Hour, step: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				clock := &steppedClock{}
				if tc.step {
					clock.step(tc.ahead)
				}
				r, err := retention.NewKeyring(&retention.KeyringOptions{Now: clock.now})
				require.NoError(t, err)
				defer r.Close()
				_, _, err = r.Keys(ctx, time.Now().Add(tc.ahead))
				require.NoError(t, err)
				clock.step(0)

				for i := range 12 { // an hour, every five minutes
					now := clock.now()
					cur, _, err := r.Keys(ctx, now)
					require.NoError(t, err, "at %d min", 5*i)
					assert.Equal(t, r.Policy().Epoch(now), cur.Epoch)
					again, _, err := r.Keys(ctx, now)
					require.NoError(t, err)
					assert.True(t, cur == again, "one key for the epoch")
					time.Sleep(5 * time.Minute)
				}
				assert.Zero(t, r.Stats().LocalKeys)
			})
		})
	}
}

// Keys destroyed after the clock stepped back are counted like the others:
// the count of destroyed keys must not stall (for as long as the step) on
// the newest epoch counted before the step.
func TestDestroyedKeysCountedAfterTheClockStepsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		clock := &steppedClock{}
		clock.step(3 * time.Hour)
		r, err := retention.NewKeyring(&retention.KeyringOptions{Now: clock.now})
		require.NoError(t, err)
		defer r.Close()
		_, _, err = r.Keys(ctx, clock.now())
		require.NoError(t, err)
		clock.step(0)
		w := r.Policy().Window()
		time.Sleep(2*w + time.Second)
		synctest.Wait()
		require.Equal(t, uint64(1), r.Stats().Destroyed, "the key made while the clock was ahead")

		for i := range 4 { // clicks through four epochs, then silence
			_, _, err = r.Keys(ctx, clock.now())
			require.NoError(t, err, "epoch %d", i)
			time.Sleep(w)
		}
		time.Sleep(2 * w)
		synctest.Wait()
		st := r.Stats()
		assert.Zero(t, st.Held)
		assert.Equal(t, uint64(5), st.Destroyed, "each epoch's key counted once")
	})
}

// A caller behind the keyring's clock (a click's time taken from a queue)
// that is the first to ask for its epoch's key, late in the epoch, gets a
// key that dies with its grace by the clock: the default store held it
// for two windows from the caller's time, up to a window past its grace,
// and a store that keeps it (Redis) was given that ttl.
func TestLateCallerKeyLivesNoLongerThanItsGrace(t *testing.T) {
	for _, lag := range []time.Duration{time.Second, 10 * time.Minute, 29 * time.Minute} {
		t.Run(lag.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				store := &ttlStore{}
				r, err := retention.NewKeyring(&retention.KeyringOptions{Store: store})
				require.NoError(t, err)
				defer r.Close()
				w := r.Policy().Window()
				start := time.Now() // the bubble starts on an epoch boundary
				time.Sleep(w - time.Second/2)
				cur, _, err := r.Keys(ctx, time.Now().Add(-lag))
				require.NoError(t, err)
				require.Equal(t, r.Policy().Epoch(start), cur.Epoch)
				assert.LessOrEqual(t, store.ttl, start.Add(2*w).Sub(time.Now()), "the ttl ends with the grace by the clock")

				// The same with the default store: at the end of the grace,
				// no key is left, and the epoch's key is a new one.
				m, err := retention.NewKeyring(nil)
				require.NoError(t, err)
				defer m.Close()
				old, _, err := m.Keys(ctx, time.Now().Add(-lag))
				require.NoError(t, err)
				time.Sleep(start.Add(2 * w).Sub(time.Now()))
				synctest.Wait()
				assert.Zero(t, m.Stats().Held)
				again, _, err := m.Keys(ctx, start)
				require.NoError(t, err)
				assert.NotEqual(t, old, again, "the key of an epoch past its grace came back")
			})
		})
	}
}

// ttlStore is a MemoryKeyStore that records the last ttl it was given.
type ttlStore struct {
	retention.MemoryKeyStore
	ttl time.Duration
}

func (s *ttlStore) LoadOrCreate(ctx context.Context, e int64, c [32]byte, ttl time.Duration) ([32]byte, error) {
	s.ttl = ttl
	return s.MemoryKeyStore.LoadOrCreate(ctx, e, c, ttl)
}
