package transient_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/retention"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLongWindowsOptedInto: a window above MaxWindow, which a caller may
// opt into (PolicyOptions.AllowLongRetention), up to the longest Duration,
// keeps a click readable, a repeat a repeat, for the store's whole
// lifetime so far, however long the store has run: the lifetime contract
// holds for every window a Policy can have, not only for short ones.
// Checked to fail: before the fix (F2), a window of math.MaxInt64 made
// every deadline overflow, so no click was ever held and every repeat
// was counted unique; it fails the same way with the store's clamp
// removed.
func TestLongWindowsOptedInto(t *testing.T) {
	ctx := context.Background()
	for _, w := range []time.Duration{retention.MaxWindow + 1, 365 * 24 * time.Hour, 100 * 365 * 24 * time.Hour, math.MaxInt64 / 2, math.MaxInt64} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			pol, err := retention.NewPolicy(w, &retention.PolicyOptions{AllowLongRetention: true})
			require.NoError(t, err)
			clk := clickstoretest.NewClock(t0)
			m := newMemory(t, &clickstore.MemoryOptions{Policy: pol, Now: clk.Now})
			for i, after := range []time.Duration{0, time.Nanosecond, time.Hour, 24 * time.Hour, 10 * 365 * 24 * time.Hour} {
				clk.Set(t0.Add(after))
				v := pseudonym(i)
				first, err := m.Record(ctx, click(v, "l", clk.Now()))
				require.NoError(t, err)
				require.True(t, first)
				for _, later := range []time.Duration{0, time.Second, 24 * time.Hour} {
					if later >= w {
						continue
					}
					clk.Set(t0.Add(after + later))
					assert.True(t, visible(t, m, v, "l"), "recorded at +%v, read %v later", after, later)
					first, err := m.Record(ctx, click(v, "l", clk.Now()))
					require.NoError(t, err)
					assert.False(t, first, "recorded at +%v, repeated %v later", after, later)
				}
			}
		})
	}
}
