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

// TestSweepAtAnyTime: Sweep takes the time as data, and the store's own
// clock bounds it from below: a time before the store's clock (a minute
// earlier, 1970, 1677 and before, the zero time.Time, year -100000)
// destroys nothing held; a time past a click's deadline (t+W, a year on,
// 2262 and after) destroys it, as Store's contract says ("even past 2262,
// it then destroys every click"). Either way the store's window goes on
// by its own clock: a click held is readable until its t+W-1ns, and one
// recorded after the sweep lives exactly its window. Checked to fail:
// before the fix (F4), a time before 1678 destroyed every click (its
// Unix nanoseconds wrapped), and a time ahead of the store's clock moved
// that clock, so that clicks recorded after lived a year longer (a
// sweep a year ahead) or not at all (past 2262).
func TestSweepAtAnyTime(t *testing.T) {
	ctx := context.Background()
	w := retention.DefaultWindow
	for _, tc := range []struct {
		at      time.Time
		destroy bool
	}{
		{t0.Add(-time.Minute), false},
		{time.Unix(0, 0), false},
		{time.Unix(0, math.MinInt64), false},
		{time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Time{}, false},
		{time.Unix(math.MinInt64/2, 0), false},
		{time.Date(-100000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{t0.Add(time.Minute), false},
		{t0.Add(w - time.Nanosecond), false},
		{t0.Add(w), true},
		{t0.AddDate(1, 0, 0), true},
		{time.Unix(0, math.MaxInt64), true},
		{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Unix(math.MaxInt64/2, 0), true},
	} {
		t.Run(fmt.Sprint(tc.at), func(t *testing.T) {
			clk := clickstoretest.NewClock(t0)
			m := newMemory(t, &clickstore.MemoryOptions{Now: clk.Now})
			for i := range 100 {
				_, err := m.Record(ctx, click(pseudonym(i), "l", t0))
				require.NoError(t, err)
			}
			st, err := m.Sweep(ctx, tc.at)
			require.NoError(t, err)
			if tc.destroy {
				assert.Equal(t, 100, st.Deleted)
				assert.Zero(t, m.Len())
			} else {
				assert.Zero(t, st.Deleted)
				assert.Equal(t, 100, st.Held)
				assert.True(t, visible(t, m, pseudonym(7), "l"), "held after the sweep")
			}
			// The store's window goes on by its own clock, for the
			// clicks held and for those recorded after the sweep.
			clk.Set(t0.Add(w - time.Nanosecond))
			assert.Equal(t, !tc.destroy, visible(t, m, pseudonym(7), "l"), "the window is as it was")
			first, err := m.Record(ctx, click(pseudonym(100), "l", clk.Now()))
			require.NoError(t, err)
			assert.True(t, first)
			clk.Set(t0.Add(w))
			assert.False(t, visible(t, m, pseudonym(7), "l"))
			assert.True(t, visible(t, m, pseudonym(100), "l"), "a click recorded after the sweep is held")
			clk.Set(t0.Add(2*w - 2*time.Nanosecond))
			assert.True(t, visible(t, m, pseudonym(100), "l"), "until its t+W-1ns")
			clk.Set(t0.Add(2*w - time.Nanosecond))
			assert.False(t, visible(t, m, pseudonym(100), "l"), "and not at its t+W")
		})
	}
}
