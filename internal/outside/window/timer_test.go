package window_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A store whose clock stands still just before a deadline (a fake clock
// in a test, a coarse or stalled Now) does not make its timer fire again
// and again: it reads the clock a few times a second at most, and still
// destroys the click within a second once the clock passes the deadline.
// (Before the fix, the timer re-armed for the distance to the deadline by
// a clock that did not move: every millisecond here, every nanosecond one
// nanosecond before the deadline, a busy loop.)
func TestTimerDoesNotSpinOnAStalledClock(t *testing.T) {
	for _, before := range []time.Duration{time.Millisecond, 10 * time.Millisecond, 300 * time.Millisecond} {
		t.Run(before.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				clk := clickstoretest.NewClock(time.Now())
				start := clk.Now()
				var reads atomic.Int64
				m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: func() time.Time {
					reads.Add(1)
					return clk.Now()
				}})
				require.NoError(t, err)
				defer m.Close()
				_, err = m.Record(ctx, clickstoretest.Click(1, "l", start))
				require.NoError(t, err)

				clk.Set(start.Add(window - before))
				reads.Store(0)
				time.Sleep(5 * time.Second)
				synctest.Wait()
				assert.LessOrEqual(t, reads.Load(), int64(12), "the store read its stalled clock %d times in 5 s", reads.Load())
				assert.Equal(t, 1, m.Len(), "destroyed before its deadline")

				clk.Set(start.Add(window))
				time.Sleep(time.Second)
				synctest.Wait()
				assert.Zero(t, m.Len(), "not destroyed within a second of its deadline")
			})
		})
	}
}
