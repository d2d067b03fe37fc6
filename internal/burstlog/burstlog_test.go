package burstlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/burstlog"
	"github.com/clickanon/clickanon/internal/testlog"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// lines decodes the JSON lines logged into buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	buf.Reset()
	return out
}

func newLogger(buf *bytes.Buffer, mask func(string) string) *burstlog.Logger {
	return &burstlog.Logger{Logger: slog.New(slog.NewJSONHandler(buf, nil)), Mask: mask}
}

func TestBurst(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	l := newLogger(&buf, strings.ToUpper)
	boom := errors.New("boom")

	assert.False(t, l.OK(ctx, t0, "fine"), "no burst to end")
	assert.True(t, l.Fail(ctx, t0, "op failed", boom, slog.String("store", "memory")), "the first failure of a burst is logged")
	got := lines(t, &buf)
	require.Len(t, got, 1)
	assert.Equal(t, "WARN", got[0]["level"])
	assert.Equal(t, "op failed", got[0]["msg"])
	assert.Equal(t, "BOOM", got[0]["error"], "the text goes through Mask")
	assert.Equal(t, "memory", got[0]["store"])
	assert.EqualValues(t, 1, got[0]["failures"])
	assert.EqualValues(t, 0, got[0]["suppressed"])

	for i := range 5 {
		assert.False(t, l.Fail(ctx, t0.Add(time.Duration(i+1)*time.Second), "op failed", boom), "failure %d within the minute", i)
	}
	assert.Empty(t, buf.String())
	assert.True(t, l.Fail(ctx, t0.Add(time.Minute), "op failed", boom), "a minute after the last line")
	got = lines(t, &buf)
	require.Len(t, got, 1)
	assert.EqualValues(t, 7, got[0]["failures"])
	assert.EqualValues(t, 5, got[0]["suppressed"])
	assert.True(t, l.Failing())

	assert.False(t, l.Fail(ctx, t0.Add(time.Minute+time.Second), "op failed", boom))
	assert.True(t, l.OK(ctx, t0.Add(2*time.Minute), "op works again"))
	got = lines(t, &buf)
	require.Len(t, got, 1)
	assert.Equal(t, "INFO", got[0]["level"])
	assert.Equal(t, "op works again", got[0]["msg"])
	assert.EqualValues(t, 8, got[0]["failures"])
	assert.EqualValues(t, 1, got[0]["suppressed"], "the failure after the last line was never logged")
	assert.Equal(t, float64(2*time.Minute), got[0]["failing_for"])
	assert.False(t, l.Failing())
	assert.False(t, l.OK(ctx, t0.Add(3*time.Minute), "op works again"), "one recovery line per burst")
	assert.Empty(t, buf.String())

	assert.True(t, l.Fail(ctx, t0.Add(3*time.Minute+time.Second), "op failed", boom), "a new burst is logged at once")
	got = lines(t, &buf)
	require.Len(t, got, 1)
	assert.EqualValues(t, 1, got[0]["failures"])
	assert.Equal(t, uint64(9), l.Failures(), "every failure counted, logged or not")
}

func TestWithholdsTextWithoutMask(t *testing.T) {
	var buf bytes.Buffer
	l := newLogger(&buf, nil)
	l.Fail(context.Background(), t0, "op failed", errors.New("dial tcp 192.0.2.7:6379: refused"))
	out := buf.String()
	assert.NotContains(t, out, "192.0.2.7")
	assert.Contains(t, out, "withheld")
}

func TestEvery(t *testing.T) {
	var buf bytes.Buffer
	l := newLogger(&buf, nil)
	l.Every = time.Second
	ctx := context.Background()
	assert.True(t, l.Fail(ctx, t0, "x", nil))
	assert.False(t, l.Fail(ctx, t0.Add(999*time.Millisecond), "x", nil))
	assert.True(t, l.Fail(ctx, t0.Add(time.Second), "x", nil))
	assert.Contains(t, buf.String(), "(no error)")
}

func TestZeroLoggerUsesDefault(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(old)
	var l burstlog.Logger
	assert.True(t, l.Fail(context.Background(), t0, "through the default", errors.New("e")))
	assert.Contains(t, buf.String(), "through the default")
}

func TestConcurrentFailuresAllCounted(t *testing.T) {
	var buf syncBuffer
	l := &burstlog.Logger{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				l.Fail(context.Background(), t0, "x", nil)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, uint64(800), l.Failures())
	assert.Equal(t, 1, strings.Count(buf.String(), "\n"), "one line for a burst within a minute")
}

type syncBuffer = testlog.Buffer

// A success outside a burst, on a hot path, costs no allocation; a
// success after failures still ends the burst.
func TestOKOutsideBurstDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	l := newLogger(&buf, strings.ToUpper)
	allocs := testing.AllocsPerRun(100, func() { l.OK(ctx, t0, "fine", slog.Int("n", 1)) })
	assert.Zero(t, allocs)
	assert.Empty(t, buf.String(), "nothing logged outside a burst")
	l.Fail(ctx, t0, "op failed", errors.New("boom"))
	assert.True(t, l.OK(ctx, t0.Add(time.Second), "fine"), "the burst ends")
	assert.False(t, l.OK(ctx, t0.Add(2*time.Second), "fine"), "and only once")
}

// A clock stepped back in the middle of a burst (NTP correcting a clock
// that ran ahead) must not silence the burst until the clock is back
// where it was: the first failure at a time before the last line's is
// logged, and the lines after it come at most once a minute from there.
func TestClockSteppedBackDoesNotSilenceABurst(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	l := newLogger(&buf, strings.ToUpper)
	boom := errors.New("boom")
	ahead := t0.Add(3 * time.Hour)

	require.True(t, l.Fail(ctx, ahead, "op failed", boom))
	assert.True(t, l.Fail(ctx, t0, "op failed", boom), "a failure before the last line's time is logged")
	assert.False(t, l.Fail(ctx, t0.Add(time.Second), "op failed", boom), "then once a minute from there")
	assert.True(t, l.Fail(ctx, t0.Add(time.Minute), "op failed", boom))
	got := lines(t, &buf)
	require.Len(t, got, 3)
	assert.EqualValues(t, 4, got[2]["failures"])
	assert.EqualValues(t, 1, got[2]["suppressed"])
}
