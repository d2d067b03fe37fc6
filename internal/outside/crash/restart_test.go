package crash_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/internal/pgtest"
)

// PostgreSQL crashes (an immediate shutdown: every session cut, nothing
// flushed politely) at a random moment of a Flush, and comes back on the
// same data, round after round: the Flush in progress either returned
// nil or an error, and in either case, once the server is back and the
// sink has flushed again, every click added is counted exactly once
// (a flush cut after its commit reached the server is retried with its
// token and not counted twice), and every visitor is there; no error
// names the server's address. Checked to fail: with a failed batch not
// put back into the buffer. (With the batch token ignored it passed three
// runs: no crash landed between a commit and its reply.)
func TestPostgreSQLCrashMidFlush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := pgtest.Start(t)
	dsn := srv.DB(t)
	s, err := sqlsink.Open(ctx, dsn, &sqlsink.Options{Now: fixedNow, FlushInterval: time.Hour, Logger: discard()})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	const links, batch = 20, 200
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var (
		id   uint64
		mean time.Duration
		cut  int
	)
	addBatch := func() {
		for i := range batch {
			require.NoError(t, s.Add(ctx, click(fmt.Sprintf("crash-%02d", i%links), id, day.Add(time.Duration(id%600)*time.Minute)), clickstore.Unique))
			id++
		}
	}
	addBatch() // a first flush, timed
	start := time.Now()
	require.NoError(t, s.Flush(ctx))
	mean = time.Since(start)
	rounds := scaled(3, 2)
	for round := range rounds {
		addBatch()
		done := make(chan error, 1)
		go func() { done <- s.Flush(ctx) }()
		time.Sleep(time.Duration(rng.Int64N(int64(mean/2) + 1))) // the moment of the crash
		srv.Stop(t)
		if err := <-done; err != nil {
			cut++
			assertNoServerAddress(t, err.Error(), "flush error")
		}
		srv.Resume(t)
		flushUntilWritten(t, s)
		// The first report after the restart works: a read that meets a
		// pooled session the crash cut runs again on another.
		cs, err := s.Cells(ctx, dayQuery("", aggregate.Day))
		require.NoError(t, err, "round %d: the first report after a restart", round)
		var clicks uint64
		for _, c := range cs {
			if c.Scope == aggregate.ScopeBucket && c.Dimension == aggregate.Total {
				clicks += c.Clicks
				assert.InDelta(t, float64(c.Clicks), float64(c.Visitors), 1+float64(c.Clicks)/50, "round %d: visitors of %s", round, c.Link)
			}
		}
		assert.Equal(t, id, clicks, "round %d: every click once", round)
	}
	st := s.Stats()
	assert.Equal(t, id, st.Written)
	assert.Zero(t, st.Dropped)
	t.Logf("%d crashes, %d of them cut a flush; %+v", rounds, cut, st)
}
