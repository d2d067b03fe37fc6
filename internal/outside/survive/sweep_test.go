package survive_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
)

// TestSweepWhileFlushing sweeps the statistics by age while flushes run,
// clicks are added and the clock moves on 90 minutes, on SQLite and
// PostgreSQL, with minutes kept one hour: part of the clicks fall over
// the whole day (most of their minutes past retention when written),
// part in the last 80 minutes of the moving clock (written in time, run
// out while the test goes on). However sweeps and flushes interleave,
// once they are done and swept once more at the end: no minute past
// retention is held, every minute within retention holds all its clicks,
// and the day buckets hold every click (minutes roll up into days:
// deleting minutes loses nothing of the day).
func TestSweepWhileFlushing(t *testing.T) {
	t.Parallel()
	const minutes = time.Hour
	for name, db := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var clock atomic.Int64 // the sink's and the sweeps' clock, moving from 90 minutes before dayNow to dayNow
			clock.Store(dayNow.Add(-90 * time.Minute).UnixNano())
			now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
			s, err := sqlsink.Open(ctx, db(t), &sqlsink.Options{Now: now, FlushInterval: time.Millisecond, MinuteRetention: minutes, Logger: discard()})
			require.NoError(t, err)
			defer s.Close(ctx)

			const adders, perAdder = 3, 800
			perMinute := map[time.Time]uint64{}
			var (
				mu       sync.Mutex
				wg       sync.WaitGroup
				adding   sync.WaitGroup
				done     atomic.Bool
				sweeps   atomic.Int64
				deletedN atomic.Int64
			)
			for w := range adders {
				adding.Go(func() {
					for i := range uint64(perAdder) {
						// Spread over the day up to now, the last 80 minutes often.
						at := day.Add(time.Duration((i*7919+uint64(w)*104729)%(18*60)) * time.Minute)
						if i%3 != 0 {
							at = now().Add(-time.Duration(i%80) * time.Minute)
						}
						if w == 0 && i%9 == 0 && now().Before(dayNow) {
							clock.Add(int64(time.Minute))
						}
						require.NoError(t, s.Add(ctx, click(fmt.Sprintf("l%d", i%4), i+uint64(w)*perAdder, at), clickstore.Unique))
						mu.Lock()
						perMinute[at.Truncate(time.Minute)]++
						mu.Unlock()
						if i%40 == 0 {
							runtime.Gosched()
						}
					}
				})
			}
			wg.Go(func() {
				for !done.Load() {
					assert.NoError(t, s.Flush(ctx))
				}
			})
			wg.Go(func() {
				for !done.Load() {
					st, err := s.Sweep(ctx, now())
					assert.NoError(t, err)
					deletedN.Add(int64(st.Deleted))
					sweeps.Add(1)
				}
			})
			adding.Wait()
			clock.Store(dayNow.UnixNano())
			for sweeps.Load() < 3 {
				runtime.Gosched()
			}
			done.Store(true)
			wg.Wait()
			// A flush that read the clock before a sweep and wrote after it
			// may have written a minute the sweep had found past retention:
			// the next sweep deletes it (a sweeper sweeps again and again).
			require.NoError(t, s.Flush(ctx))
			_, err = s.Sweep(ctx, dayNow)
			require.NoError(t, err)
			t.Logf("the concurrent sweeps deleted %d cells", deletedN.Load())

			minuteCells, err := s.Cells(ctx, aggregate.Query{Granularity: aggregate.Minute, From: day.Add(-time.Hour), To: dayNow.Add(time.Hour), K: 1})
			require.NoError(t, err)
			held := map[time.Time]uint64{}
			for _, c := range minuteCells {
				if c.Dimension != aggregate.Total || c.Scope != aggregate.ScopeBucket {
					continue
				}
				held[c.Start.UTC()] += c.Clicks
			}
			var total uint64
			for m, n := range perMinute {
				total += n
				if !dayNow.Before(m.Add(time.Minute + minutes)) { // past retention
					assert.Zero(t, held[m], "minute %v past retention is held", m)
				} else {
					assert.Equal(t, n, held[m], "minute %v within retention", m)
				}
			}
			var days uint64
			for l := range 4 {
				days += dayClicks(t, s, fmt.Sprintf("l%d", l))
			}
			assert.Equal(t, uint64(adders*perAdder), total)
			assert.Equal(t, total, days, "every click in its day")
		})
	}
}
