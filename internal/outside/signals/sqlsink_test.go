package signals_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// TestSQLSinkDropBurstsAtTheEdges fills an SQL sink's buffer (SQLite,
// flushes an hour apart) so that a click on a link it holds is taken and
// one on a new link is refused with ErrBufferFull, then alternates the two
// at the edges of Options.LogEvery (a minute, and 7 s) on a fake clock:
// the refusals' warnings and the recovery lines follow the documented
// rule, every refusal is counted in Stats.Dropped, and no line holds an
// address. Checked to fail: the model with "> every" disagrees (tried).
func TestSQLSinkDropBurstsAtTheEdges(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	click := func(link string, v byte) clickstore.Click {
		return clickstore.Click{Link: link, Time: t0, Visitor: clickstore.Pseudonym{v, 1},
			Network: netip.MustParsePrefix("203.0.113.0/24")}
	}
	// The least buffer that takes one link's click.
	cells := 1
	for ; ; cells++ {
		require.Less(t, cells, 200, "no buffer size takes a click")
		s, err := sqlsink.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "stats.db"), &sqlsink.Options{
			FlushInterval: time.Hour, MaxBufferedCells: cells, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		err = s.Add(ctx, click("held", 1), clickstore.Unique)
		_ = s.Close(ctx)
		if err == nil {
			break
		}
	}
	for _, every := range []time.Duration{time.Minute, 7 * time.Second} {
		for seed := range uint64(4) {
			var clock atomic.Int64
			clock.Store(t0.UnixNano())
			now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
			var buf testlog.Buffer
			sink, err := sqlsink.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "stats.db"), &sqlsink.Options{
				Now: now, FlushInterval: time.Hour, MaxBufferedCells: cells, LogEvery: every,
				Logger: slog.New(slog.NewJSONHandler(&buf, nil)),
			})
			require.NoError(t, err)
			require.NoError(t, sink.Add(ctx, click("held", 1), clickstore.Unique))
			steps := []time.Duration{0, time.Nanosecond, every - time.Nanosecond, every, every + time.Nanosecond, every / 3}
			r := rand.New(rand.NewPCG(seed, uint64(every)))
			m := model{every: every}
			var drops uint64
			before := sink.Stats().Dropped
			for i := range 60 {
				clock.Add(int64(steps[r.IntN(len(steps))]))
				fail := r.IntN(3) != 0
				link := "held"
				if fail {
					link = "new"
				}
				err := sink.Add(ctx, click(link, byte(i)), clickstore.Repeat)
				require.Equal(t, fail, errors.Is(err, sqlsink.ErrBufferFull), "add %d: %v", i, err)
				if fail {
					drops++
					m.fail(now())
				} else {
					m.ok()
				}
			}
			var lines []string
			for _, l := range strings.Split(buf.String(), "\n") {
				if strings.Contains(l, "click dropped") || strings.Contains(l, "takes clicks again") {
					lines = append(lines, l)
				}
			}
			assert.Equal(t, m.lines, burstLines(t, strings.Join(lines, "\n")), "every %v seed %d", every, seed)
			assert.Equal(t, drops, sink.Stats().Dropped-before, "every refusal counted")
			ipmasktest.AssertNoRawIP(t, ipmask.Default, buf.String())
			_ = sink.Close(ctx)
		}
	}
}

// TestSQLSinkFlushBurstsAtTheEdges makes an SQL sink's flushes fail
// (SQLite set read-only with PRAGMA query_only on the pool's one
// connection) or succeed, a click added before each, at the edges of
// Options.LogEvery on a fake clock: the flush failures' warnings and the
// "reachable again" lines follow the documented rule, every failure is
// counted in Stats.FlushErrors, and nothing is lost: the clicks all reach
// the database in the end. Checked to fail: the model with "> every"
// disagrees (tried).
func TestSQLSinkFlushBurstsAtTheEdges(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, every := range []time.Duration{time.Minute, 3 * time.Second} {
		for seed := range uint64(3) {
			var clock atomic.Int64
			clock.Store(t0.UnixNano())
			now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
			db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "stats.db"))
			require.NoError(t, err)
			db.SetMaxOpenConns(1)
			var buf testlog.Buffer
			sink, err := sqlsink.New(ctx, db, sqlsink.SQLite, &sqlsink.Options{
				Now: now, FlushInterval: time.Hour, LogEvery: every,
				Logger: slog.New(slog.NewJSONHandler(&buf, nil)),
			})
			require.NoError(t, err)
			steps := []time.Duration{0, time.Nanosecond, every - time.Nanosecond, every, every + time.Nanosecond, every / 3}
			r := rand.New(rand.NewPCG(seed, uint64(every)+1))
			m := model{every: every}
			before := sink.Stats().FlushErrors
			for i := range 40 {
				clock.Add(int64(steps[r.IntN(len(steps))]))
				require.NoError(t, sink.Add(ctx, clickstore.Click{Link: "l", Time: t0, Visitor: clickstore.Pseudonym{byte(i), 1},
					Network: netip.MustParsePrefix("203.0.113.0/24")}, clickstore.Unique))
				fail := r.IntN(3) != 0
				_, err := db.Exec(map[bool]string{true: "PRAGMA query_only = ON", false: "PRAGMA query_only = OFF"}[fail])
				require.NoError(t, err)
				err = sink.Flush(ctx)
				require.Equal(t, fail, err != nil, "flush %d: %v", i, err)
				if fail {
					m.fail(now())
				} else {
					m.ok()
				}
			}
			_, err = db.Exec("PRAGMA query_only = OFF")
			require.NoError(t, err)
			require.NoError(t, sink.Flush(ctx))
			m.ok()
			var lines []string
			for _, l := range strings.Split(buf.String(), "\n") {
				if strings.Contains(l, "flush failed") || strings.Contains(l, "reachable again") {
					lines = append(lines, l)
				}
			}
			assert.Equal(t, m.lines, burstLines(t, strings.Join(lines, "\n")), "every %v seed %d", every, seed)
			assert.Equal(t, m.failuresTotal, sink.Stats().FlushErrors-before, "every failure counted")
			assert.Zero(t, sink.Stats().Buffered, "all written in the end")
			assert.EqualValues(t, 40, sink.Stats().Written)
			ipmasktest.AssertNoRawIP(t, ipmask.Default, buf.String())
			require.NoError(t, sink.Close(ctx))
			require.NoError(t, db.Close())
		}
	}
}
