package lifetime_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/retention"
)

// TestKeyTimersDoNotSpinOnAStalledClock: a keyring on a MemoryKeyStore
// whose clock was stepped forward to just before a key's deadline and
// then stands still (a fake clock, as README's clickstoretest.Clock is
// offered for; a coarse or stalled Now) does not make the store's timer
// fire again and again: it reads the clock a few times a second at most,
// and the key still dies on time by real time, and within a second once
// the clock passes its deadline. (Found by TestKeysDieUnderAnySequenceOfSteps,
// which ran for ten minutes: the timer re-armed for the distance to the
// deadline by a clock that did not move, every nanosecond one nanosecond
// before it.) Checked to fail: before the fix in retention/memkeys.go, the
// 1ns case read the clock billions of times (the test was stopped).
func TestKeyTimersDoNotSpinOnAStalledClock(t *testing.T) {
	for _, before := range []time.Duration{time.Nanosecond, time.Millisecond, 300 * time.Millisecond} {
		t.Run(before.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				clk := clickstoretest.NewClock(time.Now())
				var reads atomic.Int64
				now := func() time.Time { reads.Add(1); return clk.Now() }
				store := retention.NewMemoryKeyStore(&retention.MemoryKeyStoreOptions{Now: now})
				defer store.Close()
				keyring, err := retention.NewKeyring(&retention.KeyringOptions{Store: store, Now: now, Logger: slog.New(slog.DiscardHandler)})
				require.NoError(t, err)
				defer keyring.Close()
				w := keyring.Policy().Window()
				start := clk.Now()
				cur, _, err := keyring.Keys(ctx, start)
				require.NoError(t, err)
				e := cur.Epoch
				end := keyring.Policy().EpochStart(e + 2) // the key's deadline

				clk.Set(end.Add(-before))                // stepped forward, then stalled
				_, _, err = keyring.Keys(ctx, clk.Now()) // the store arms its timer for the deadline by the clock
				require.NoError(t, err)
				reads.Store(0)
				time.Sleep(w / 2) // real time passes; the clock stands
				synctest.Wait()
				assert.Less(t, reads.Load(), int64(4*(w/2)/time.Second), "the store's timer reads a stalled clock in a loop")
				_, ok, err := store.Load(ctx, e)
				require.NoError(t, err)
				assert.True(t, ok, "the key dies before its deadline by a stalled clock")

				clk.Set(end) // the clock passes the deadline: gone within a second
				time.Sleep(time.Second)
				synctest.Wait()
				assert.Equal(t, uint64(1), store.Stats().Destroyed, "the key outlives its deadline by the clock by more than a second")
			})
		})
	}
}
