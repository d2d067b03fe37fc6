package stats_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
)

// lossyProxy forwards TCP to a Redis server and, for every dropEvery-th
// reply the server sends, cuts both connections instead of forwarding
// it: the server has run the command, the client never hears of it.
func lossyProxy(t *testing.T, server string, dropEvery int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var n atomic.Int64
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", server)
			if err != nil {
				_ = c.Close()
				continue
			}
			wg.Go(func() { _, _ = io.Copy(s, c); _ = s.Close() })
			wg.Go(func() {
				defer c.Close()
				defer s.Close()
				buf := make([]byte, 64<<10)
				for {
					m, err := s.Read(buf)
					if err != nil {
						return
					}
					if n.Add(1)%dropEvery == 0 {
						return // the reply is lost
					}
					if _, err := c.Write(buf[:m]); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// Clicks added by several instances through connections that lose one
// reply in seven (go-redis resends the command on a new connection),
// while the server's script cache is flushed now and then (go-redis
// falls back from EVALSHA to EVAL), are each counted once: every Add
// that returned nil exactly once, one that returned an error at most
// once, in every granularity and dimension. Checked to fail: with the
// sink's request token taken away (its script's SET without NX), so that
// a resent run counts again: the totals then exceed the clicks.
func TestRedisSinkCountsOnceThroughLostReplies(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, &redistest.Options{Local: true})
	proxy := lossyProxy(t, srv.Addr(), 7)
	var sinks []*redisstore.Sink
	for range 3 {
		c := redis.NewClient(&redis.Options{Addr: proxy, MaxRetries: 20, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 2 * time.Millisecond, PoolSize: 4})
		t.Cleanup(func() { _ = c.Close() })
		s, err := redisstore.NewSink(c, &redisstore.SinkOptions{Prefix: "lossy", Now: func() time.Time { return t0 }})
		require.NoError(t, err)
		sinks = append(sinks, s)
	}
	direct := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = direct.Close() })
	reader, err := redisstore.NewSink(direct, &redisstore.SinkOptions{Prefix: "lossy", Now: func() time.Time { return t0 }})
	require.NoError(t, err)

	set := randomClicks(31, 600, 80, []string{"x", "y"}, 3*time.Hour)
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	const workers = 6
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(set.clicks); i += workers {
				if i%100 == 0 {
					assert.NoError(t, direct.ScriptFlush(ctx).Err())
				}
				if err := sinks[w%len(sinks)].Add(ctx, set.clicks[i], set.us[i]); err != nil {
					failed.Add(1)
					assert.NotContains(t, err.Error(), proxy)
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	t.Logf("%d Adds succeeded, %d failed", ok.Load(), failed.Load())
	want := newRollup(t, nil)
	addAll(t, want, set)
	for _, g := range granularities {
		var got, exp aggregate.Counts
		for _, link := range []string{"x", "y"} {
			q := aggregate.Query{Link: link, Granularity: g, From: g.Start(t0.Add(-time.Hour)), To: t0.Add(4 * time.Hour)}
			gc, err := reader.Cells(ctx, q)
			require.NoError(t, err)
			wc, err := want.Cells(ctx, q)
			require.NoError(t, err)
			s, w := sums(gc), sums(wc)
			for k, n := range w {
				if k.scope == aggregate.ScopeRange {
					exp = exp.Add(n)
					continue
				}
				if failed.Load() == 0 {
					assert.Equal(t, n, s[k], "%s %s %v %s", g, k.link, k.start, k.dim)
				}
			}
			for k, n := range s {
				if k.scope == aggregate.ScopeRange {
					got = got.Add(n)
				} else if k.dim != aggregate.Total {
					assert.Equal(t, s[sumKey{k.scope, k.link, k.start, aggregate.Total}], n, "%s %v %s adds up", g, k.start, k.dim)
				}
			}
		}
		events := got.Clicks + got.Conversions
		assert.GreaterOrEqual(t, events, uint64(ok.Load()), "%s: an Add that returned nil was lost", g)
		assert.LessOrEqual(t, events, uint64(len(set.clicks)), "%s: counted more than added", g)
		if failed.Load() == 0 {
			assert.Equal(t, exp, got, g.String())
		}
	}
}
