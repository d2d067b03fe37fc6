package survive_test

import (
	"context"
	"fmt"
	"path/filepath"
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
	"github.com/clickanon/clickanon/internal/pgtest"
)

// databases returns a fresh SQLite file and a fresh PostgreSQL database,
// by name.
func databases(t *testing.T) map[string]func(*testing.T) string {
	return map[string]func(*testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "stats.db") },
		"postgres": func(t *testing.T) string { return pgtest.DB(t) },
	}
}

var (
	day     = time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	dayNow  = day.Add(20 * time.Hour)
	allTime = aggregate.Query{Granularity: aggregate.Day, From: day.Add(-400 * 24 * time.Hour), To: day.Add(48 * time.Hour), K: 1}
)

// dayClicks is the total of clicks of link in the day buckets.
func dayClicks(t *testing.T, s *sqlsink.Sink, link string) uint64 {
	t.Helper()
	q := allTime
	q.Link = link
	cells, err := s.Cells(context.Background(), q)
	require.NoError(t, err)
	var n uint64
	for _, c := range cells {
		if c.Dimension == aggregate.Total && c.Scope == aggregate.ScopeBucket {
			n += c.Clicks
		}
	}
	return n
}

// TestEraseWhileFlushing erases a link while the sink is flushing: its
// background loop on a 1 ms interval, other goroutines calling Flush, and
// clicks on other links still being added; some of the erased link's
// clicks already written, the rest buffered. Once EraseLink returns and no
// one adds to the link any more, nothing of it may come back, however
// the flushes and the erase interleave (the issue: "erasing a link erases
// its statistics"; EraseLink's doc: what the buffer holds, what a batch
// waiting to be retried holds, and every row); and no click of any other
// link may be lost or doubled. Several rounds, on SQLite and PostgreSQL.
func TestEraseWhileFlushing(t *testing.T) {
	t.Parallel()
	for name, db := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, err := sqlsink.Open(ctx, db(t), &sqlsink.Options{Now: func() time.Time { return dayNow }, FlushInterval: time.Millisecond, Logger: discard()})
			require.NoError(t, err)
			defer s.Close(ctx)
			kept := map[string]uint64{}
			for round := range 10 {
				gone := fmt.Sprintf("gone-%d", round)
				// Some of the link's clicks written, the rest buffered.
				for i := range 200 {
					require.NoError(t, s.Add(ctx, click(gone, uint64(i), day.Add(time.Duration(i)*time.Minute)), clickstore.Unique))
					if i == 100 {
						require.NoError(t, s.Flush(ctx))
					}
				}
				const perAdder = 600
				var (
					wg       sync.WaitGroup
					adders   sync.WaitGroup
					progress atomic.Int64 // clicks added by the adders
					done     atomic.Bool
				)
				for w := range 3 {
					adders.Go(func() { // clicks on other links go on
						link := fmt.Sprintf("kept-%d", w)
						for i := range uint64(perAdder) {
							require.NoError(t, s.Add(ctx, click(link, i+uint64(round)*perAdder, day.Add(time.Duration(i%600)*time.Minute)), clickstore.Unique))
							progress.Add(1)
							if i%50 == 0 {
								runtime.Gosched()
							}
						}
					})
				}
				for range 2 {
					wg.Go(func() {
						for !done.Load() {
							assert.NoError(t, s.Flush(ctx))
						}
					})
				}
				// The erase lands at a different point of the adds each round.
				for progress.Load() < int64(round)*170 {
					runtime.Gosched()
				}
				n, err := s.EraseLink(ctx, gone)
				require.NoError(t, err)
				assert.Positive(t, n, "round %d: the written rows deleted", round)
				adders.Wait()
				done.Store(true)
				wg.Wait()
				for w := range 3 {
					kept[fmt.Sprintf("kept-%d", w)] += perAdder
				}
				require.NoError(t, s.Flush(ctx))
				assert.Zero(t, dayClicks(t, s, gone), "round %d: the erased link's clicks came back", round)
				q := allTime
				q.Link = gone
				cells, err := s.Cells(ctx, q)
				require.NoError(t, err)
				assert.Empty(t, cells, "round %d: cells of the erased link", round)
				for link, n := range kept {
					assert.Equal(t, n, dayClicks(t, s, link), "round %d: %s", round, link)
				}
			}
			require.NoError(t, s.Close(ctx))
			st := s.Stats()
			assert.Zero(t, st.Dropped)
		})
	}
}
