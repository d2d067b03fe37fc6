package signals_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/metrics"
	"github.com/clickanon/clickanon/retention"
)

// failHook makes every command of a go-redis client fail while its
// toggle is set, as a server that answers with errors does.
type failHook struct{ t *toggle }

func (h failHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h failHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := h.t.err(); err != nil {
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (h failHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := h.t.err(); err != nil {
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		return next(ctx, cmds)
	}
}

// TestRedisStoreBurstsAtTheEdges drives a redisstore Store's Record and
// Latest and a redisstore Sink's Add, on a fake clock given as Options.Now, through generated runs of
// failures (every command of the client failing with an error that names
// a server and a visitor) and successes at the edges of the minute, and
// compares each operation's burst lines with the documented rule; every
// failure is counted in Stats and no line holds a raw address. Checked to
// fail: the model with "> a minute" disagrees (tried).
func TestRedisStoreBurstsAtTheEdges(t *testing.T) {
	srv := redistest.Start(t, nil)
	for _, opName := range []string{"record", "latest", "add click"} {
		t.Run(opName, func(t *testing.T) {
			for seed := range uint64(4) {
				tg := &toggle{}
				client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
				client.AddHook(failHook{tg})
				defer client.Close()
				var clock atomic.Int64
				clock.Store(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixNano())
				now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
				var buf testlog.Buffer
				s, err := redisstore.New(context.Background(), client, &redisstore.Options{
					Prefix: fmt.Sprintf("signals-%s-%d", opName, seed),
					Now:    now,
					Logger: slog.New(slog.NewJSONHandler(&buf, nil)),
				})
				require.NoError(t, err)
				defer s.Close()
				sink, err := redisstore.NewSink(client, &redisstore.SinkOptions{
					Prefix: fmt.Sprintf("signals-sink-%d", seed),
					Now:    now,
					Logger: slog.New(slog.NewJSONHandler(&buf, nil)),
				})
				require.NoError(t, err)
				r := rand.New(rand.NewPCG(seed, 17))
				var m model
				for i := range 50 {
					clock.Add(int64(edges[r.IntN(len(edges))]))
					fail := r.IntN(4) != 0
					tg.on.Store(fail)
					c := clickstore.Click{Link: "l", Time: now(), Visitor: clickstore.Pseudonym{byte(i), 1},
						Network: netip.MustParsePrefix("198.51.100.0/24")}
					switch opName {
					case "record":
						_, err = s.Record(context.Background(), c)
					case "latest":
						_, _, err = s.Latest(context.Background(), c.Visitor, clickstore.Pseudonym{}, "l")
					default:
						err = sink.Add(context.Background(), c, clickstore.Unique)
					}
					assert.Equal(t, fail, err != nil, "op %d: %v", i, err)
					if fail {
						m.fail(now())
					} else {
						m.ok()
					}
				}
				tg.on.Store(false)
				var lines []string
				for _, l := range strings.Split(buf.String(), "\n") {
					if strings.Contains(l, `"msg":"redisstore: `+opName+` `) {
						lines = append(lines, l)
					}
				}
				assert.Equal(t, m.lines, burstLines(t, strings.Join(lines, "\n")), "seed %d", seed)
				st := s.Stats()
				got := map[string]uint64{"record": st.RecordErrors, "latest": st.LatestErrors, "add click": sink.Stats().AddErrors}[opName]
				assert.Equal(t, m.failuresTotal, got, "every failure counted")
				ipmasktest.AssertNoRawIP(t, ipmask.Default, buf.String())
			}
		})
	}
}

// TestRedisRetentionGauges records clicks on a redisstore Store at every
// few seconds of fake time (Options.Now) for an hour and a half, sweeps it
// through metrics.Sweep every fake second, and reads the gauges the
// documentation gives for the retention alert: the age of the oldest held
// click never passes the window plus the sweep interval but does come
// within ten seconds of the window (the gauge follows the store), held
// plus swept adds up to the clicks recorded, and every sweep is counted.
// Checked to fail: a wrapper between the store and metrics.Sweep that
// reports no Oldest fails the "comes within ten seconds" check (tried).
func TestRedisRetentionGauges(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer client.Close()
	var clock atomic.Int64
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	s, err := redisstore.New(context.Background(), client, &redisstore.Options{
		Prefix: "signals-gauges", Now: now, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer s.Close()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, &metrics.Options{Now: now})
	require.NoError(t, err)
	swept, err := m.Sweep("redis", s)
	require.NoError(t, err)

	alert := (retention.DefaultWindow + retention.DefaultSweepInterval).Seconds()
	const seconds = 90 * 60
	sweepEvery := 1
	recorded := 0
	var oldest float64
	for sec := range seconds {
		clock.Store(t0.Add(time.Duration(sec) * time.Second).UnixNano())
		if sec%9 == 0 {
			c := clickstore.Click{Link: "l", Time: now(), Visitor: clickstore.Pseudonym{byte(sec), byte(sec >> 8), 1},
				Network: netip.MustParsePrefix("198.51.100.0/24")}
			first, err := s.Record(context.Background(), c)
			require.NoError(t, err)
			if first {
				recorded++
			}
		}
		if sec%sweepEvery == 0 {
			_, err = swept.Sweep(context.Background(), now())
			require.NoError(t, err)
		}
		if sec%60 == 0 {
			g := gather(t, reg, "clickanon")
			require.LessOrEqual(t, value(g, "store_oldest_age_seconds"), alert, "at %ds", sec)
			oldest = max(oldest, value(g, "store_oldest_age_seconds"))
		}
	}
	assert.GreaterOrEqual(t, oldest, (retention.DefaultWindow - 10*time.Second).Seconds(), "the gauge follows the store")
	_, err = swept.Sweep(context.Background(), now())
	require.NoError(t, err)
	g := gather(t, reg, "clickanon")
	assert.EqualValues(t, recorded, value(g, "store_held")+value(g, "store_swept_total"))
	assert.EqualValues(t, seconds/sweepEvery+1, value(g, "store_sweeps_total"))
	assert.Positive(t, value(g, "store_swept_total"))
	assert.EqualValues(t, now().Unix(), value(g, "store_last_sweep_timestamp_seconds"))
}
