package sqlsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/pgtest"
	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// waitFor polls cond, yielding, until it holds or a minute has passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // polling a real server, not timing the code under test
	}
}

// flushUntilWritten flushes until a flush succeeds with nothing left.
func flushUntilWritten(t *testing.T, s *Sink) {
	t.Helper()
	waitFor(t, "a flush to succeed", func() bool {
		return s.Flush(context.Background()) == nil && s.Stats().Buffered == 0
	})
}

// PostgreSQL goes down in the middle of a load run, connections drop
// mid-transaction, and comes back: every click whose Add returned nil is
// in the database exactly once.
func TestPostgreSQLRestartUnderLoad(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.DB(t)
	s := open(t, dsn, &Options{FlushInterval: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	const workers, per, links = 4, 4000, 8
	var accepted [links]atomic.Uint64
	var total atomic.Uint64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				link := (w + i) % links
				c := click(fmt.Sprintf("load-%d", link), w*per+i)
				if err := s.Add(ctx, c, clickstore.Unique); err != nil {
					t.Errorf("add %d: %v", i, err)
					return
				}
				accepted[link].Add(1)
				total.Add(1)
				if i%64 == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	waitFor(t, "a third of the load and a flush", func() bool {
		return total.Load() >= workers*per/3 && s.Stats().Flushes > 0
	})
	srv.Stop(t)
	before := s.Stats().FlushErrors
	waitFor(t, "flushes to fail", func() bool { return s.Stats().FlushErrors > before })
	srv.Resume(t)
	wg.Wait()
	flushUntilWritten(t, s)

	st := s.Stats()
	assert.Positive(t, st.FlushErrors, "flushes failed while the server was down")
	assert.Zero(t, st.Dropped)
	assert.Equal(t, uint64(workers*per), st.Written)
	for l := range links {
		assert.Equal(t, accepted[l].Load(), clicks(t, s, fmt.Sprintf("load-%d", l)), "link %d", l)
	}
	t.Logf("%d clicks, %d flushes, %d failed flushes while PostgreSQL restarted", workers*per, st.Flushes, st.FlushErrors)
}

// While the database is down the buffer takes what its bound allows:
// clicks on held cells always, clicks needing new cells until the bound,
// and refuses (and counts) the rest. Once the database is back, what was
// taken is written, exactly.
func TestBufferBoundWhileDown(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.DB(t)
	const held = 10 // links whose cells fit: 15 cells each
	s := open(t, dsn, &Options{MaxBufferedCells: held * 15, Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	srv.Stop(t)
	var refused, taken int
	for round := range 3 {
		for l := range 2 * held {
			err := s.Add(ctx, click(fmt.Sprintf("down-%d", l), round), clickstore.Unique)
			switch {
			case err == nil:
				taken++
			case errors.Is(err, ErrBufferFull):
				refused++
			default:
				require.NoError(t, err)
			}
		}
		if round == 0 {
			assert.Error(t, s.Flush(ctx), "the database is down")
		}
	}
	assert.Equal(t, 3*held, taken, "every click on the first links' cells")
	assert.Equal(t, 3*held, refused, "every click needing cells past the bound")
	assert.Equal(t, Stats{FlushErrors: 1, Buffered: uint64(taken), BufferedCells: held * 15, Dropped: uint64(refused)}, s.Stats())
	srv.Resume(t)
	flushUntilWritten(t, s)
	for l := range 2 * held {
		want := uint64(0)
		if l < held {
			want = 3
		}
		assert.Equal(t, want, clicks(t, s, fmt.Sprintf("down-%d", l)), "link %d", l)
	}
}

type lockedBuffer = testlog.Buffer

// noTime drops the time of log records, so that the lines hold nothing
// but what the sink logged.
func noTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// PostgreSQL stops: every failed flush is counted, one warning is logged
// for the burst, naming what stays buffered, and none carries an address
// (the dial error's server address is masked); clicks refused for the
// full buffer get one warning with the count. When the server is back,
// one info line says how many increments were written after the outage.
func TestPostgreSQLOutageLogged(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.DB(t)
	var logs lockedBuffer
	s := open(t, dsn, &Options{
		FlushInterval: time.Hour, MaxBufferedCells: 15, Now: clock,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{ReplaceAttr: noTime})),
	})
	ctx := context.Background()
	srv.Stop(t)
	const tries = 5
	for i := range 3 {
		require.NoError(t, s.Add(ctx, click("outage", i), clickstore.Unique))
	}
	for range tries {
		require.Error(t, s.Flush(ctx), "the database is down")
	}
	for i := range 4 {
		require.ErrorIs(t, s.Add(ctx, click(fmt.Sprintf("refused-%d", i), i), clickstore.Unique), ErrBufferFull)
	}
	st := s.Stats()
	assert.Equal(t, uint64(tries), st.FlushErrors, "every failed flush counted")
	assert.Equal(t, uint64(4), st.Dropped, "every refused click counted")
	out := logs.String()
	assert.Equal(t, 1, strings.Count(out, "flush failed"), "one warning for the burst of failed flushes:\n%s", out)
	assert.Equal(t, 1, strings.Count(out, "click dropped"), "one warning for the burst of refused clicks:\n%s", out)
	assert.Contains(t, out, `"buffered_increments":3`)
	ipmasktest.AssertNoRawIP(t, ipmask.Policy{}, out, "log lines during the outage")

	srv.Resume(t)
	flushUntilWritten(t, s)
	require.NoError(t, s.Add(ctx, click("outage", 9), clickstore.Unique))
	out = logs.String()
	assert.Equal(t, 1, strings.Count(out, "database reachable again"), "one recovery line:\n%s", out)
	assert.Contains(t, out, `"retried_increments":3`)
	assert.Equal(t, 1, strings.Count(out, "buffer takes clicks again"), "one line when the buffer takes clicks again:\n%s", out)
	assert.Equal(t, uint64(3), clicks(t, s, "outage"), "the held clicks were written once")
	ipmasktest.AssertNoRawIP(t, ipmask.Policy{}, out, "log lines")
}

// After PostgreSQL restarts, the pool's idle sessions are dead until
// used: the first report, sweep and erasure each meet one. Being
// idempotent, they run again on another session instead of failing
// ("unexpected EOF") the first call after every restart.
func TestFirstCallsAfterRestart(t *testing.T) {
	srv := pgtest.Start(t)
	s := open(t, srv.DB(t), &Options{Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	for i := range 10 {
		require.NoError(t, s.Add(ctx, click("after", i), clickstore.Unique))
	}
	require.NoError(t, s.Flush(ctx))
	day := aggregate.Query{Link: "after", From: aggregate.Day.Start(t0), To: aggregate.Day.Start(t0).Add(24 * time.Hour)}
	calls := []struct {
		name string
		call func() error
	}{
		{"cells", func() error { _, err := s.Cells(ctx, day); return err }},
		{"sweep", func() error { _, err := s.Sweep(ctx, t0); return err }},
		{"erase link", func() error { _, err := s.EraseLink(ctx, "none"); return err }},
	}
	for _, c := range calls {
		// Fill the pool with idle sessions: reads at once each take one.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { _, _ = s.Cells(ctx, day) })
		}
		wg.Wait()
		require.Positive(t, s.db.Stats().Idle, "idle sessions before the restart")
		srv.Restart(t, 0)
		assert.NoError(t, c.call(), "the first %s after a restart", c.name)
	}
	assert.Equal(t, uint64(10), clicks(t, s, "after"))
}
