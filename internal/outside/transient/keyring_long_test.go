package transient_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clickanon/clickanon/retention"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeyringLongWindows: a keyring whose Policy has a window above
// MaxWindow (opted into) hands out one key per epoch, the same each time
// it is asked within the epoch, and holds at most the current and the
// previous epoch's; where the grace of the epoch would end after 2262
// (windows of about 146 years and more), Keys refuses with an error that
// says so (the epochs' grace, not the time, is out of range), never a
// panic nor a key kept for centuries. Checked to fail: with the keyring's
// old error text ("the time is outside the years..."), the last rows fail;
// expecting Held to stay 1 fails on the row whose epoch changes.
func TestKeyringLongWindows(t *testing.T) {
	for _, w := range []time.Duration{retention.MaxWindow + 1, 100 * 365 * 24 * time.Hour, math.MaxInt64 / 2, math.MaxInt64} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				pol, err := retention.NewPolicy(w, &retention.PolicyOptions{AllowLongRetention: true})
				require.NoError(t, err)
				r, err := retention.NewKeyring(&retention.KeyringOptions{Policy: pol})
				require.NoError(t, err)
				defer r.Close()
				graceEnd := pol.EpochStart(pol.Epoch(time.Now()) + 2)
				cur, _, err := r.Keys(ctx, time.Now())
				if w > math.MaxInt64/2 { // epoch 0 since 1970: its grace ends at 2w
					require.Error(t, err)
					assert.Contains(t, err.Error(), "retention: keys: the time, or the end of its epoch's grace, is outside the years 1678 to 2262")
					assert.Zero(t, r.Stats().Held, "no key made")
					return
				}
				require.NoError(t, err)
				require.True(t, graceEnd.After(time.Now()))
				require.False(t, cur.IsZero())
				time.Sleep(time.Hour)
				again, prev, err := r.Keys(ctx, time.Now())
				require.NoError(t, err)
				if pol.Epoch(time.Now()) == cur.Epoch {
					assert.Equal(t, cur, again, "the same key within its epoch")
					assert.Equal(t, 1, r.Stats().Held)
				} else {
					assert.Equal(t, cur, prev, "the previous epoch's key within its grace")
					assert.Equal(t, 2, r.Stats().Held)
				}
			})
		})
	}
}
