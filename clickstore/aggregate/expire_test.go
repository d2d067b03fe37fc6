package aggregate

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
)

func bucketCount(r *Rollup) map[Granularity]int {
	n := map[Granularity]int{}
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for k := range s.buckets {
			n[k.g]++
		}
		s.mu.Unlock()
	}
	return n
}

// A Rollup drops its buckets when their retention runs out, with nobody
// calling Sweep, and nothing runs once nothing can expire.
func TestRollupExpiresOnItsOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		start := time.Now() // the bubble's clock: 2000-01-01 00:00 UTC
		r, err := New(&Options{MinuteRetention: time.Hour, HourRetention: 2 * time.Hour, DayRetention: KeepForever, Now: time.Now})
		require.NoError(t, err)
		defer r.Close()
		require.NoError(t, r.Add(ctx, click("a", start, 1), clickstore.Unique))
		require.NoError(t, r.Add(ctx, click("a", start.Add(30*time.Second), 2), clickstore.Unique))
		require.NoError(t, r.Add(ctx, click("b", start.Add(10*time.Minute), 3), clickstore.Unique))

		for _, tc := range []struct {
			at   time.Duration
			want map[Granularity]int
		}{
			{time.Minute + time.Hour - time.Second, map[Granularity]int{Minute: 2, Hour: 2, Day: 2}},
			{time.Minute + time.Hour, map[Granularity]int{Minute: 1, Hour: 2, Day: 2}},
			{11*time.Minute + time.Hour, map[Granularity]int{Hour: 2, Day: 2}},
			{3 * time.Hour, map[Granularity]int{Day: 2}},
		} {
			time.Sleep(tc.at - time.Since(start))
			synctest.Wait()
			assert.Equal(t, tc.want, bucketCount(r), "at %s", tc.at)
		}
		assert.Zero(t, r.next.Load(), "not armed: only day buckets, kept for ever")
	})
}

// A late click, whose bucket runs out before the armed deadline, brings
// the timer forward.
func TestRollupLateClickRearms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		start := time.Now()
		r, err := New(&Options{MinuteRetention: time.Hour, NoHour: true, NoDay: true, Now: time.Now})
		require.NoError(t, err)
		defer r.Close()
		require.NoError(t, r.Add(ctx, click("a", start, 1), clickstore.Unique))
		require.NoError(t, r.Add(ctx, click("a", start.Add(-59*time.Minute), 2), clickstore.Unique))
		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		assert.Equal(t, map[Granularity]int{Minute: 1}, bucketCount(r), "the late click's minute is gone")
		// A click already past its retention goes at once.
		require.NoError(t, r.Add(ctx, click("a", start.Add(-5*time.Hour), 3), clickstore.Unique))
		synctest.Wait()
		assert.Equal(t, map[Granularity]int{Minute: 1}, bucketCount(r))
	})
}

// After Close nothing expires on its own; Sweep still works.
func TestRollupClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r, err := New(&Options{MinuteRetention: time.Minute, NoHour: true, NoDay: true, Now: time.Now})
		require.NoError(t, err)
		require.NoError(t, r.Add(ctx, click("a", time.Now(), 1), clickstore.Unique))
		require.NoError(t, r.Close())
		require.NoError(t, r.Close())
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Equal(t, map[Granularity]int{Minute: 1}, bucketCount(r), "closed: not expired on its own")
		require.NoError(t, r.Add(ctx, click("a", time.Now(), 2), clickstore.Unique))
		st, err := r.Sweep(ctx, time.Now().Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, 2, st.Deleted)
	})
}
