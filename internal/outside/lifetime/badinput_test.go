package lifetime_test

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// odd times: before 1970, at and past the ends of int64 nanoseconds (1677
// and 2262), the zero Time, and far years.
var oddTimes = map[string]time.Time{
	"zero":        {},
	"year 1":      time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
	"1600":        time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
	"first nano":  time.Unix(0, math.MinInt64),
	"1969":        time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
	"1970":        time.Unix(0, 0),
	"last nano":   time.Unix(0, math.MaxInt64),
	"last nano+1": time.Unix(0, math.MaxInt64).Add(time.Nanosecond),
	"2263":        time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC),
	"year 9999":   time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
	"max":         time.Unix(math.MaxInt64/2, 999999999),
}

// odd windows: the smallest, a day, above the cap, the largest durations.
var oddWindows = []time.Duration{time.Nanosecond, time.Second, retention.MaxWindow, retention.MaxWindow + 1, 200 * 365 * 24 * time.Hour, math.MaxInt64 / 2, math.MaxInt64}

// callSafely runs f, turning a panic into a test failure that names what.
func callSafely(t *testing.T, what string, f func() error) error {
	t.Helper()
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				assert.Fail(t, "panic", "%s panicked: %v", what, v)
			}
		}()
		err = f()
	}()
	return err
}

// checkErr checks that err, if any, names its package first.
func checkErr(t *testing.T, what, pkg string, err error) {
	t.Helper()
	if err != nil {
		assert.True(t, strings.HasPrefix(err.Error(), pkg+":"), "%s: %q does not start with %q", what, err, pkg)
	}
}

// TestOddTimesAndWindows feeds every exported function of retention and
// clickstore that takes a time or a duration the odd times (before 1970,
// at and past 1677 and 2262, the zero Time, year 9999) under odd windows
// (1ns to math.MaxInt64, long ones opted into): none may panic, every
// error names its package, a key is never handed out for a time where
// epochs are not defined, and what is given is in its epoch. Checked to
// fail: with checkErr asking for "retentionX:" the refused cases fail;
// with the "a key for a time outside int64 nanoseconds" check inverted
// the defined times fail; a deliberate panic in Epoch is reported by
// callSafely.
func TestOddTimesAndWindows(t *testing.T) {
	ctx := context.Background()
	for _, w := range oddWindows {
		policy, err := retention.NewPolicy(w, &retention.PolicyOptions{AllowLongRetention: true})
		require.NoError(t, err)
		_, err = retention.NewPolicy(w, nil)
		if w > retention.MaxWindow {
			assert.Error(t, err, "window %v above the cap without opting in", w)
		}
		checkErr(t, "NewPolicy", "retention", err)
		keyring, err := retention.NewKeyring(&retention.KeyringOptions{Policy: policy})
		require.NoError(t, err)
		b, err := clickstore.NewBuilder(ipmask.Default, keyring, nil)
		require.NoError(t, err)
		m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Policy: policy})
		require.NoError(t, err)
		ks := retention.NewMemoryKeyStore(nil)
		sw, err := retention.NewSweeper(retention.Group{keyring, m, ks}, nil)
		require.NoError(t, err)
		for name, at := range oddTimes {
			what := fmt.Sprintf("window %v, time %s", w, name)
			_ = callSafely(t, what+": Epoch/EpochStart", func() error {
				_ = policy.EpochStart(policy.Epoch(at) + 2)
				return nil
			})
			err := callSafely(t, what+": Keys", func() error {
				cur, prev, err := keyring.Keys(ctx, at)
				if err == nil {
					assert.Equal(t, policy.Epoch(at), cur.Epoch, what)
					assert.True(t, prev.IsZero() || prev.Epoch == cur.Epoch-1, what)
					assert.True(t, at.Equal(time.Unix(0, at.UnixNano())), "%s: a key for a time outside int64 nanoseconds", what)
				}
				return err
			})
			checkErr(t, what+": Keys", "retention", err)
			err = callSafely(t, what+": Build", func() error {
				c, err := b.Build(ctx, netip.MustParseAddr("192.0.2.1"), agent, "l", at)
				if err == nil {
					_, err = m.Record(ctx, c)
				}
				return err
			})
			checkErr(t, what+": Build/Record", "clickstore", err)
			for _, f := range map[string]func() error{
				"Keyring.Sweep": func() error { _, err := keyring.Sweep(ctx, at); return err },
				"Memory.Sweep":  func() error { _, err := m.Sweep(ctx, at); return err },
				"KeyStore.Sweep": func() error {
					_, err := ks.Sweep(ctx, at)
					return err
				},
				"Group.Sweep": func() error { _, err := retention.Group{keyring, m, ks}.Sweep(ctx, at); return err },
			} {
				err := callSafely(t, what, f)
				assert.NoError(t, err, "%s: a sweep at any time is fine", what)
			}
		}
		for _, ttl := range []time.Duration{math.MinInt64, -1, 0, 1, math.MaxInt64} {
			for _, e := range []int64{math.MinInt64, -1, 0, math.MaxInt64} {
				what := fmt.Sprintf("LoadOrCreate(epoch %d, ttl %v)", e, ttl)
				err := callSafely(t, what, func() error {
					_, err := ks.LoadOrCreate(ctx, e, [32]byte{1}, ttl)
					return err
				})
				if ttl <= 0 {
					assert.Error(t, err, what)
				}
				checkErr(t, what, "retention", err)
				err = callSafely(t, "Load", func() error { _, _, err := ks.Load(ctx, e); return err })
				checkErr(t, "Load", "retention", err)
			}
		}
		_ = sw
		assert.NoError(t, keyring.Close())
		assert.NoError(t, m.Close())
		assert.NoError(t, ks.Close())
	}
	for _, d := range []time.Duration{math.MinInt64, -1, 0, 1, math.MaxInt64} {
		_, err := retention.NewSweeper(retention.NewMemoryKeyStore(nil), &retention.SweeperOptions{Interval: d})
		if d < 0 {
			assert.Error(t, err)
		} else {
			assert.NoError(t, err, "interval %v", d)
		}
		checkErr(t, "NewSweeper", "retention", err)
	}
	for _, c := range []int{math.MinInt, -1} {
		_, err := clickstore.NewMemory(&clickstore.MemoryOptions{Capacity: c})
		assert.Error(t, err)
		checkErr(t, "NewMemory", "clickstore", err)
	}
}
