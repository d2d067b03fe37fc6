package retention_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/retention"
)

// switchSweeper fails with err while it is not nil.
type switchSweeper struct {
	err error
	st  retention.SweepStats
}

func (s *switchSweeper) Sweep(context.Context, time.Time) (retention.SweepStats, error) {
	return s.st, s.err
}

func TestSweeperFailuresAreLoudOncePerBurst(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	clock := t0
	target := &switchSweeper{st: retention.SweepStats{Held: 2, Oldest: time.Minute}}
	s, err := retention.NewSweeper(target, &retention.SweeperOptions{
		Now:    func() time.Time { return clock },
		Logger: slog.New(slog.NewTextHandler(&buf, nil)),
	})
	require.NoError(t, err)

	at, st, err := s.Last()
	assert.True(t, at.IsZero(), "no sweep yet")
	assert.Zero(t, st)
	assert.NoError(t, err)

	_, err = s.SweepNow(ctx)
	require.NoError(t, err)
	at, st, err = s.Last()
	assert.Equal(t, t0, at)
	assert.Equal(t, target.st, st)
	assert.NoError(t, err)
	assert.Empty(t, buf.String(), "a success after no failure logs nothing")

	target.err = errors.New("dial tcp 203.0.113.9:6379: connection refused")
	for range 120 { // two minutes of failures, one a second
		clock = clock.Add(time.Second)
		_, err = s.SweepNow(ctx)
		require.Error(t, err)
	}
	assert.ErrorIs(t, err, target.err, "the target's error stays reachable")
	assert.Equal(t, "retention: sweep: dial tcp 0.0.0.0:6379: connection refused", err.Error())
	at, _, lastErr := s.Last()
	assert.Equal(t, clock, at)
	assert.Equal(t, err, lastErr)
	assert.Equal(t, uint64(120), s.Failures())
	out := buf.String()
	assert.Equal(t, 2, strings.Count(out, "retention: sweep failed"), "first failure, then once a minute:\n%s", out)
	assert.Contains(t, out, "suppressed=59")
	ipmasktest.AssertNoRawIP(t, ipmask.Default, out)

	buf.Reset()
	target.err = nil
	clock = clock.Add(time.Second)
	_, err = s.SweepNow(ctx)
	require.NoError(t, err)
	assert.Contains(t, buf.String(), "retention: sweeps succeed again")
	assert.Contains(t, buf.String(), "failures=120")
	_, _, err = s.Last()
	assert.NoError(t, err, "Last reports the latest sweep")
}

func TestSweeperCancelledSweepIsNotAFailure(t *testing.T) {
	var buf bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	target := &cancelSweeper{cancel: cancel}
	s, err := retention.NewSweeper(target, &retention.SweeperOptions{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	require.NoError(t, err)
	_, err = s.SweepNow(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, s.Failures())
	assert.Empty(t, buf.String())
	at, _, _ := s.Last()
	assert.True(t, at.IsZero())
}

// cancelSweeper cancels its context while sweeping, as a shutdown does.
type cancelSweeper struct{ cancel context.CancelFunc }

func (c *cancelSweeper) Sweep(ctx context.Context, _ time.Time) (retention.SweepStats, error) {
	c.cancel()
	return retention.SweepStats{}, ctx.Err()
}

func TestKeyringFailuresAreLoudAndCounted(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	store := &flakyKeyStore{MemoryKeyStore: retention.NewMemoryKeyStore(nil)}
	store.err = errors.New("redis at [2001:db8:1:2::7]:6379 is down")
	r, err := retention.NewKeyring(&retention.KeyringOptions{Store: store, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	require.NoError(t, err)
	for i := range 30 {
		_, _, err = r.Keys(ctx, t0.Add(time.Duration(i)*time.Second))
		require.Error(t, err)
	}
	assert.Equal(t, uint64(30), r.Stats().Failures)
	out := buf.String()
	assert.Equal(t, 1, strings.Count(out, "level=WARN"), out)
	assert.Contains(t, out, "redis at [::]:6379 is down", "the address cut to no bits, the rest kept")
	ipmasktest.AssertNoRawIP(t, ipmask.Default, out)

	buf.Reset()
	store.err = nil
	_, _, err = r.Keys(ctx, t0.Add(time.Minute))
	require.NoError(t, err)
	assert.Contains(t, buf.String(), "keys can be had again")
	assert.Contains(t, buf.String(), "failures=30")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	store.err = context.Canceled
	_, _, err = r.Keys(cctx, t0.Add(2*time.Hour))
	require.Error(t, err)
	assert.Equal(t, uint64(30), r.Stats().Failures, "a caller that went away is not a store failure")
}

// flakyKeyStore fails every call while err is set.
type flakyKeyStore struct {
	*retention.MemoryKeyStore
	err error
}

func (f *flakyKeyStore) Load(ctx context.Context, e int64) ([32]byte, bool, error) {
	if f.err != nil {
		return [32]byte{}, false, f.err
	}
	return f.MemoryKeyStore.Load(ctx, e)
}

// panicSweeper panics with v.
type panicSweeper struct{ v any }

func (p panicSweeper) Sweep(context.Context, time.Time) (retention.SweepStats, error) {
	if p.v == nil {
		var m map[string]int
		m["entry"]++ // a runtime error, as a bug in a store would give
	}
	panic(p.v)
}

// A Sweepable that panics is a failed sweep, logged and counted like any
// other, with the panic's text masked: it neither crashes the process
// (printing its value, unmasked, to standard error) nor, in a Group,
// keeps the members after it from being swept on time.
func TestSweepPanicIsALoudFailure(t *testing.T) {
	cause := errors.New("entry of 198.51.100.23 is corrupt")
	for _, tc := range []struct {
		name  string
		v     any // nil: a runtime error
		is    error
		group bool
	}{
		{name: "string with an address", v: "bad entry for 2001:db8:1:2::7"},
		{name: "error with an address", v: cause, is: cause},
		{name: "runtime error", v: nil},
		{name: "in a group, string with an address", v: "bad entry for 203.0.113.9", group: true},
		{name: "in a group, error with an address", v: cause, is: cause, group: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			var target retention.Sweepable = panicSweeper{tc.v}
			after := &switchSweeper{st: retention.SweepStats{Deleted: 2}}
			if tc.group {
				target = retention.Group{target, after}
			}
			s, err := retention.NewSweeper(target, &retention.SweeperOptions{
				Now:    func() time.Time { return t0 },
				Logger: slog.New(slog.NewTextHandler(&buf, nil)),
			})
			require.NoError(t, err)

			st, err := s.SweepNow(context.Background())
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "retention: sweep"), "%q", err.Error())
			assert.Contains(t, err.Error(), "panic")
			ipmasktest.AssertNoRawIPError(t, ipmask.Default, err)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is, "an error the sweep panicked with stays reachable")
			}
			if tc.group {
				assert.Equal(t, 2, st.Deleted, "the member after the one that panicked was swept")
			}
			assert.Equal(t, uint64(1), s.Failures())
			_, _, last := s.Last()
			assert.Equal(t, err, last)
			assert.Contains(t, buf.String(), "retention: sweep failed")
			ipmasktest.AssertNoRawIP(t, ipmask.Default, buf.String())
		})
	}
}
