package redisstore_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// noTime drops the time of log records, so that the lines hold nothing
// but what the store logged.
func noTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// Redis is killed: every failed Record, Latest, Sweep, Add, Cells and
// EraseLink is counted, each operation logs one warning for the burst,
// and no line carries an address (the server's, in the dial error, is
// masked). Once Redis is back, each operation that works again logs one
// recovery line with the burst's count.
func TestOutageLoggedOncePerBurstAndCounted(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Local: true})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{ReplaceAttr: noTime}))
	clock := func() time.Time { return t0 }
	s := newStore(t, client, &redisstore.Options{Now: clock, Logger: logger})
	sink, err := redisstore.NewSink(client, &redisstore.SinkOptions{Prefix: prefix(t), Now: clock, Logger: logger})
	require.NoError(t, err)
	ctx := context.Background()
	link := "go/203.0.113.0"
	_, err = s.Record(ctx, click(1, link))
	require.NoError(t, err)
	require.NoError(t, s.Flush(ctx), "the click's index entries are written before the outage")

	srv.Kill()
	const records, latests, sweeps, adds = 5, 3, 2, 4
	for i := range records {
		_, err := s.Record(ctx, click(byte(10+i), link))
		require.Error(t, err)
	}
	for range latests {
		_, _, err := s.Latest(ctx, clickstore.Pseudonym{1, 1}, clickstore.Pseudonym{}, link)
		require.Error(t, err)
	}
	for range sweeps {
		_, err := s.Sweep(ctx, t0)
		require.Error(t, err)
	}
	for i := range adds {
		require.Error(t, sink.Add(ctx, click(byte(i), link), clickstore.Unique))
	}
	_, err = sink.Cells(ctx, aggregate.Query{Link: link, Granularity: aggregate.Hour, From: t0.Truncate(time.Hour), To: t0.Add(2 * time.Hour)})
	require.Error(t, err)
	_, err = sink.EraseLink(ctx, link)
	require.Error(t, err)
	// The caller's errors are neither counted nor logged.
	_, err = s.Record(ctx, clickstore.Click{Link: link})
	require.ErrorIs(t, err, clickstore.ErrInvalidClick)
	require.ErrorIs(t, sink.Add(ctx, click(1, link), 9), clickstore.ErrInvalidClick)
	_, err = sink.Cells(ctx, aggregate.Query{From: t0, To: t0.Add(time.Hour)})
	require.Error(t, err, "a query without a link")

	assert.Equal(t, redisstore.Stats{RecordErrors: records, LatestErrors: latests, SweepErrors: sweeps}, s.Stats())
	assert.Equal(t, redisstore.SinkStats{AddErrors: adds, CellsErrors: 1, EraseErrors: 1}, sink.Stats())
	out := logs.String()
	for _, op := range []string{"record", "latest", "sweep", "add click", "cells", "erase link"} {
		assert.Equal(t, 1, strings.Count(out, `"msg":"redisstore: `+op+` failed`), "one warning for the burst of %s failures:\n%s", op, out)
	}
	assert.NotContains(t, out, link)
	ipmasktest.AssertNoRawIP(t, ipmask.Policy{}, out, "log lines during the outage")

	srv.Restart()
	var first bool
	for range 50 { // the client reconnects
		if first, err = s.Record(ctx, click(30, link)); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling a real server, not timing the code
	}
	require.NoError(t, err)
	assert.True(t, first, "the restarted server holds nothing")
	_, _, err = s.Latest(ctx, clickstore.Pseudonym{30, 1}, clickstore.Pseudonym{}, link)
	require.NoError(t, err)
	require.NoError(t, sink.Add(ctx, click(1, link), clickstore.Unique))
	out = logs.String()
	for _, op := range []string{"record", "latest", "add click"} {
		assert.Equal(t, 1, strings.Count(out, `"msg":"redisstore: `+op+` works again"`), "one recovery line for %s:\n%s", op, out)
	}
	assert.Contains(t, out, `"msg":"redisstore: record works again","failures":`)
	assert.Zero(t, strings.Count(out, "sweep works again"), "sweep has not run since")
	ipmasktest.AssertNoRawIP(t, ipmask.Policy{}, out, "log lines")
}

// A full store refuses clicks, counts each refusal as full and as a
// failed Record, and logs the burst once.
func TestFullCountedAndLogged(t *testing.T) {
	srv := redistest.Start(t, nil)
	logs := &syncBuffer{}
	s := newStore(t, newClient(t, srv.Addr()), &redisstore.Options{Capacity: 1, Now: func() time.Time { return t0 },
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{ReplaceAttr: noTime}))})
	ctx := context.Background()
	_, err := s.Record(ctx, click(1, "l"))
	require.NoError(t, err)
	for i := range 3 {
		_, err = s.Record(ctx, click(byte(2+i), "l"))
		require.True(t, errors.Is(err, clickstore.ErrFull), "click %d: %v", i, err)
	}
	assert.Equal(t, redisstore.Stats{RecordErrors: 3, Full: 3}, s.Stats())
	assert.Equal(t, 1, strings.Count(logs.String(), "record failed"), logs.String())
	assert.Contains(t, logs.String(), "store is full")
}
