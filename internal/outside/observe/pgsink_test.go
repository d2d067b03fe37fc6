package observe_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/internal/pgtest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/retention"
)

// TestDatabaseOutageLoggedOncePerBurst buffers canary clicks in a
// PostgreSQL sink, stops the server (abruptly, as a crash), flushes five
// times within a minute of fake time, starts it again and flushes: the
// failures are one warning that says the increments stay buffered (what
// is at stake), counted five times in Stats.FlushErrors; the reconnect is
// one line saying the held increments were written; nothing buffered is
// lost (Written is what was buffered); and no line holds an address,
// though the driver's errors name the server. Checked to fail: the lines
// and counts are compared by value (five flush lines would fail it).
func TestDatabaseOutageLoggedOncePerBurst(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()
	clock := t0
	now := func() time.Time { return clock }
	var buf lockedBuf
	sink, err := sqlsink.Open(ctx, srv.DB(t), &sqlsink.Options{
		Now: now, FlushInterval: time.Hour, MaxBackoff: time.Hour, Logger: slog.New(slog.NewJSONHandler(&buf, nil)),
	})
	require.NoError(t, err)
	defer func() {
		// Bounded: a test that fails while the server is down must not
		// wait on it.
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = sink.Close(cctx)
	}()
	kr, err := retention.NewKeyring(&retention.KeyringOptions{Now: now, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer kr.Close()
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	for i, c := range ipmasktest.Cases() {
		click, err := b.Build(ctx, c.Addr, browserUA, fmt.Sprintf("l%d", i%3), clock)
		require.NoError(t, err)
		require.NoError(t, sink.Add(ctx, click, clickstore.Unique))
	}
	buffered := sink.Stats().Buffered
	require.Positive(t, buffered)

	srv.Stop(t)
	for range 5 {
		clock = clock.Add(5 * time.Second)
		fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		assert.Error(t, sink.Flush(fctx), "the database is down")
		cancel()
	}
	recs := buf.records(t)
	require.Len(t, recs, 1, "one line for five failed flushes:\n%s", buf.String())
	assert.Equal(t, "WARN", recs[0]["level"])
	assert.Contains(t, recs[0]["msg"], "buffered", "the line says the increments are kept")
	assert.Equal(t, uint64(5), sink.Stats().FlushErrors)
	assert.Equal(t, buffered, sink.Stats().Buffered, "nothing dropped")

	srv.Resume(t)
	clock = clock.Add(5 * time.Second)
	require.NoError(t, sink.Flush(ctx))
	recs = buf.records(t)
	require.Len(t, recs, 2, "one reconnect line:\n%s", buf.String())
	assert.Equal(t, "INFO", recs[1]["level"])
	assert.True(t, strings.Contains(recs[1]["msg"].(string), "again"), recs[1]["msg"])
	assert.Equal(t, buffered, sink.Stats().Written, "what was buffered is written")
	assert.Zero(t, sink.Stats().Buffered)
	ipmasktest.AssertNoRawIP(t, ipmask.Default, buf.String())
}
