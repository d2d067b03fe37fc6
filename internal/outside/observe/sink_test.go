package observe_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/metrics"
	"github.com/clickanon/clickanon/retention"
)

// TestSinkDroppedBufferIsAWarning fills a SQLite sink's buffer (a few
// cells) with clicks of canary visitors on ever new links, on a fake
// clock: the first click refused is a warning that says it will not be
// counted, the next ones within a minute are counted but not logged, the
// metrics (clickanon_sink_dropped_total, _buffered, _written, _flushes)
// move as the sink's Stats do, and after a flush the first click taken
// again logs one line saying so. No line holds a visitor's address.
// Checked to fail: the counts and lines are compared by value.
func TestSinkDroppedBufferIsAWarning(t *testing.T) {
	ctx := context.Background()
	clock := t0
	now := func() time.Time { return clock }
	var buf lockedBuf
	sink, err := sqlsink.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "stats.db"), &sqlsink.Options{
		Now: now, FlushInterval: time.Hour, MaxBufferedCells: 120, Logger: slog.New(slog.NewJSONHandler(&buf, nil)),
	})
	require.NoError(t, err)
	defer sink.Close(ctx)
	kr, err := retention.NewKeyring(&retention.KeyringOptions{Now: now, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer kr.Close()
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, nil)
	require.NoError(t, err)
	require.NoError(t, m.Sink("sql", func() metrics.SinkStats {
		s := sink.Stats()
		return metrics.SinkStats{Flushes: s.Flushes, FlushErrors: s.FlushErrors, Written: s.Written, Buffered: s.Buffered, Dropped: s.Dropped}
	}))

	var refused, taken int
	cases := ipmasktest.Cases()
	for i := range 60 {
		clock = clock.Add(time.Second)
		c, err := b.Build(ctx, cases[i%len(cases)].Addr, browserUA, fmt.Sprintf("link-%d", i), clock)
		require.NoError(t, err)
		if err := sink.Add(ctx, c, clickstore.Unique); err != nil {
			refused++
			assert.True(t, strings.HasPrefix(err.Error(), "sqlsink: "), err.Error())
			ipmasktest.AssertNoRawIPError(t, ipmask.Default, err)
		} else {
			taken++
		}
	}
	require.Positive(t, refused, "the buffer filled")
	require.Positive(t, taken)
	g := gather(t, reg)
	assert.Equal(t, float64(refused), g[`clickanon_sink_dropped_total{sink="sql"}`])
	assert.Equal(t, float64(sink.Stats().Buffered), g[`clickanon_sink_buffered{sink="sql"}`])
	assert.Positive(t, g[`clickanon_sink_buffered{sink="sql"}`])
	recs := buf.records(t)
	// Sixty clicks a second apart: a line at the first refusal and at
	// most one a minute after it.
	require.NotEmpty(t, recs)
	assert.LessOrEqual(t, len(recs), 2, "once per burst:\n%s", buf.String())
	assert.Equal(t, "WARN", recs[0]["level"])
	assert.Contains(t, recs[0]["msg"], "will not be counted", "the warning says what is lost")

	require.NoError(t, sink.Flush(ctx))
	g = gather(t, reg)
	assert.Equal(t, float64(1), g[`clickanon_sink_flushes_total{sink="sql"}`])
	assert.Equal(t, float64(0), g[`clickanon_sink_buffered{sink="sql"}`])
	assert.Positive(t, g[`clickanon_sink_written_total{sink="sql"}`])
	lines := len(buf.records(t))
	c, err := b.Build(ctx, netip.MustParseAddr("198.51.100.7"), browserUA, "after", clock)
	require.NoError(t, err)
	require.NoError(t, sink.Add(ctx, c, clickstore.Unique))
	recs = buf.records(t)
	require.Len(t, recs, lines+1, "one line: the buffer takes clicks again:\n%s", buf.String())
	assert.Equal(t, "INFO", recs[lines]["level"])
	ipmasktest.AssertNoRawIP(t, ipmask.Default, buf.String())
}
