package metrics_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/metrics"
	"github.com/clickanon/clickanon/retention"
)

// A Redis store whose server dies: every failed sweep is counted, the
// failure is logged once for the burst, without the server's address,
// and the recovery is logged when the server is back.
func TestRedisOutageIsCountedAndLogged(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, &redistest.Options{Local: true})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = client.Close() })
	clock := t0
	store, err := redisstore.New(ctx, client, &redisstore.Options{Now: func() time.Time { return clock }, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)

	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, nil)
	require.NoError(t, err)
	swept, err := m.Sweep("redis", store)
	require.NoError(t, err)
	var logs bytes.Buffer
	sweeper, err := retention.NewSweeper(swept, &retention.SweeperOptions{
		Now: func() time.Time { return clock }, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, err)

	_, err = sweeper.SweepNow(ctx)
	require.NoError(t, err)
	srv.Kill()
	for range 5 {
		clock = clock.Add(time.Second)
		_, err = sweeper.SweepNow(ctx)
		require.Error(t, err, "the server is down")
	}
	got := scrape(t, reg)
	assert.Equal(t, float64(6), got[`clickanon_store_sweeps_total{store="redis"}`])
	assert.Equal(t, float64(5), got[`clickanon_store_sweep_errors_total{store="redis"}`])
	assert.Equal(t, float64(t0.Unix()), got[`clickanon_store_last_sweep_timestamp_seconds{store="redis"}`], "the last success is before the outage")
	at, _, lastErr := sweeper.Last()
	assert.Equal(t, clock, at)
	assert.Error(t, lastErr, "a health check sees the store is unreachable")
	assert.Equal(t, 1, strings.Count(logs.String(), "retention: sweep failed"), logs.String())
	ipmasktest.AssertNoRawIP(t, ipmask.Default, logs.String())
	assert.NotContains(t, logs.String(), "127.0.0.1")

	srv.Restart()
	// A pooled connection from before the restart may fail once more (the
	// client does not retry), so the first sweep after it may too: the
	// recovery is the first sweep that succeeds.
	failures := 5
	for range 40 {
		clock = clock.Add(time.Second)
		if _, err = sweeper.SweepNow(ctx); err == nil {
			break
		}
		failures++
		time.Sleep(50 * time.Millisecond) // the real server coming back, not a clock
	}
	require.NoError(t, err, "the server is back")
	assert.Contains(t, logs.String(), "retention: sweeps succeed again")
	assert.Contains(t, logs.String(), fmt.Sprintf("failures=%d", failures))
	got = scrape(t, reg)
	assert.Equal(t, float64(clock.Unix()), got[`clickanon_store_last_sweep_timestamp_seconds{store="redis"}`])
}
