package lifetime_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// TestPreviousKeyGoesByRealTimeAfterAStall: a key made when the keyring's
// clock reads the start of its epoch lives two windows of real time ("the
// timers count real time"), also when the clock stood still for a while
// after it was made, so that the next epoch, whose cache holds it as the
// previous key, begins late by the clock: two windows of real time after
// it was made, neither Keys nor a Builder's PrevVisitor gives it, though
// the clock is still in its grace epoch. Stalls of 1ns to a window less
// 1ns; the default store and a MemoryKeyStore on the same clock. Checked
// to fail: before the fix in Keyring.miss (the grace of a key cached as
// current bounds the cache that holds it as previous), the previous key
// was given until the clock ended the grace epoch, up to the stall later.
func TestPreviousKeyGoesByRealTimeAfterAStall(t *testing.T) {
	for _, shared := range []bool{false, true} {
		for _, frac := range []time.Duration{0, 1, 2, 3} { // 1ns, a quarter and a half of a window, a window less 1ns
			t.Run(fmt.Sprintf("shared=%v/stall=%d", shared, frac), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					ctx := context.Background()
					clk := clickstoretest.NewClock(time.Now())
					var store retention.KeyStore
					if shared {
						s := retention.NewMemoryKeyStore(&retention.MemoryKeyStoreOptions{Now: clk.Now})
						defer s.Close()
						store = s
					}
					keyring, err := retention.NewKeyring(&retention.KeyringOptions{Store: store, Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
					require.NoError(t, err)
					defer keyring.Close()
					b, err := clickstore.NewBuilder(ipmask.Default, keyring, nil)
					require.NoError(t, err)
					policy := keyring.Policy()
					w := policy.Window()
					stall := frac * w / 4
					if frac == 0 {
						stall = time.Nanosecond
					} else if frac == 3 {
						stall = w - time.Nanosecond
					}
					rt0 := time.Now()
					k0, _, err := keyring.Keys(ctx, clk.Now()) // the synctest bubble starts on an epoch boundary
					require.NoError(t, err)
					c0, err := b.Build(ctx, visitor, agent, "l", clk.Now())
					require.NoError(t, err)

					time.Sleep(stall) // the clock stands still
					synctest.Wait()
					time.Sleep(w) // then goes on with real time, stall behind, into the next epoch
					clk.Advance(w)
					synctest.Wait()
					_, prev, err := keyring.Keys(ctx, clk.Now())
					require.NoError(t, err)
					require.Equal(t, k0.Secret(), prev.Secret(), "the key of the epoch before, in its grace")

					d := rt0.Add(2 * w).Sub(time.Now()) // to two windows of real time since k0 was made
					time.Sleep(d)
					clk.Advance(d)
					synctest.Wait()
					require.Less(t, clk.Now(), policy.EpochStart(k0.Epoch+2), "the clock is still in the grace epoch")
					cur, prev, err := keyring.Keys(ctx, clk.Now())
					require.NoError(t, err)
					assert.NotEqual(t, k0.Secret(), prev.Secret(), "stall %v: the previous key is given past its ttl of real time", stall)
					assert.NotEqual(t, k0.Secret(), cur.Secret())
					c, err := b.Build(ctx, visitor, agent, "l", clk.Now())
					require.NoError(t, err)
					assert.NotEqual(t, c0.Visitor, c.PrevVisitor, "stall %v: a pseudonym under a key past its ttl of real time", stall)
				})
			})
		}
	}
}
