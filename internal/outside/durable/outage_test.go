package durable_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/internal/pgtest"
	"github.com/clickanon/clickanon/internal/testlog"
)

// TestOutageAccountsForEveryClick stops PostgreSQL under two instances
// adding from several goroutines with a small buffer bound, and brings it
// back only while the instances are closing. Every Add either returns nil
// or an error wrapping ErrBufferFull (never anything else, never a wait
// on the database); the refused ones are exactly Stats.Dropped and were
// logged; Close keeps trying until the database is back and writes the
// rest; and the database then holds exactly the clicks accepted, as a
// Rollup of those clicks does.
func TestOutageAccountsForEveryClick(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := pgtest.Start(t)
	dsn := srv.DB(t)
	var logs testlog.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	sinks := make([]*sqlsink.Sink, 2)
	for i := range sinks {
		s, err := sqlsink.Open(ctx, dsn, &sqlsink.Options{Now: fixedNow, FlushInterval: 20 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, MaxBufferedCells: 400 + 300*i, Logger: logger})
		require.NoError(t, err)
		sinks[i] = s
	}
	all := clicks(9, 1000)
	want := newRollup(t)
	for i, a := range all[:600] { // written while the database is up
		require.NoError(t, sinks[0].Add(ctx, a.c, a.u))
		require.NoError(t, want.Add(ctx, a.c, a.u))
		if i%20 == 19 {
			require.NoError(t, sinks[0].Flush(ctx))
		}
	}
	require.NoError(t, sinks[0].Flush(ctx))
	srv.Stop(t)

	var (
		mu       sync.Mutex
		refused  [2]uint64
		accepted []added
		wg       sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 600 + w; i < len(all); i += 4 {
				a, k := all[i], i%2
				err := sinks[k].Add(ctx, a.c, a.u)
				mu.Lock()
				switch {
				case err == nil:
					accepted = append(accepted, a)
				case errors.Is(err, sqlsink.ErrBufferFull):
					refused[k]++
				default:
					t.Errorf("an Add while the database is down: %v", err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.NotZero(t, refused[0], "the bound was never reached: the test tests nothing")
	for _, a := range accepted {
		require.NoError(t, want.Add(ctx, a.c, a.u))
	}
	for k, s := range sinks {
		assert.Equal(t, refused[k], s.Stats().Dropped, "instance %d: Stats.Dropped is the refused Adds", k)
	}
	assert.Contains(t, logs.String(), "level=WARN", "the outage and the refusals are logged")

	// Close both while the database is still down; bring it back while
	// they try.
	errs := make(chan error, 2)
	for _, s := range sinks {
		go func() {
			cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			errs <- s.Close(cctx)
		}()
	}
	srv.Resume(t)
	for range sinks {
		assert.NoError(t, <-errs, "Close writes what is left once the database is back")
	}
	for k, s := range sinks {
		st := s.Stats()
		assert.Equal(t, refused[k], st.Dropped, "instance %d: nothing dropped at Close", k)
		assert.Zero(t, st.Buffered)
	}
	check := openSink(t, dsn, nil)
	assertSameReports(t, want, check, []aggregate.Query{
		{Granularity: aggregate.Day, From: now.Add(-72 * time.Hour), To: now.Add(24 * time.Hour), K: 1},
		{Granularity: aggregate.Hour, From: now.Add(-41 * time.Hour), To: now.Add(time.Hour), K: 1},
	})
}
