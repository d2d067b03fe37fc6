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

// canaries are addresses, in every form, that the things retention calls
// (a key store, a random source, a Sweepable) might put in their errors.
var canaries = []string{
	"203.0.113.9",
	"203.0.113.9:6379",
	"[2001:db8:1:2::7]:443",
	"2001:db8:1:2::7",
	"::ffff:203.0.113.9",
	"::ffff:cb00:7109",
	"2002:cb00:7109::1",
	"2001:0:4136:e378:8000:63bf:34ff:8ef6",
	"64:ff9b::203.0.113.9",
	"fe80::1ff:fe23:4567:890a%eth0",
	"2001%3Adb8%3A1%3A2%3A%3A7",
	"for=203.0.113.9;proto=https",
	"dial tcp 203.0.113.9:6379: i/o timeout",
}

// faultyStore is a KeyStore whose calls fail with err, or return zero keys.
type faultyStore struct {
	loadErr, createErr error
	zero               bool
	prevErr            bool // fail only the load of the previous epoch
}

func (f *faultyStore) LoadOrCreate(context.Context, int64, [32]byte, time.Duration) ([32]byte, error) {
	return [32]byte{}, f.createErr
}

func (f *faultyStore) Load(_ context.Context, epoch int64) ([32]byte, bool, error) {
	if f.prevErr {
		if epoch%2 == 0 { // the test asks for an odd epoch
			return [32]byte{}, false, f.loadErr
		}
		return [32]byte{1}, true, nil
	}
	if f.zero {
		return [32]byte{}, false, nil
	}
	return [32]byte{}, false, f.loadErr
}

type faultyReader struct{ err error }

func (r faultyReader) Read([]byte) (int, error) { return 0, r.err }

// Every error path of the package, fed errors and causes that hold a
// canary address, returns an error with no raw address in it.
func TestErrorsCarryNoAddress(t *testing.T) {
	odd := time.Unix(0, int64(retention.DefaultWindow)) // epoch 1
	for _, c := range canaries {
		canary := errors.New("cause: " + c + " (" + strings.ToUpper(c) + ")")
		cancelled, cancel := context.WithCancelCause(context.Background())
		cancel(canary)
		ctx := context.Background()
		store := retention.NewMemoryKeyStore(nil)
		closed := retention.NewMemoryKeyStore(nil)
		require.NoError(t, closed.Close())
		_, err := store.LoadOrCreate(ctx, 20, [32]byte{1}, time.Hour)
		require.NoError(t, err)
		closedRing, err := retention.NewKeyring(nil)
		require.NoError(t, err)
		require.NoError(t, closedRing.Close())
		var logs bytes.Buffer // what the keyrings and sweepers log must leak nothing either
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		ring := func(o retention.KeyringOptions) error {
			o.Logger = logger
			r, err := retention.NewKeyring(&o)
			require.NoError(t, err)
			_, _, err = r.Keys(ctx, odd)
			return err
		}
		paths := map[string]error{
			"random source fails":       ring(retention.KeyringOptions{Rand: faultyReader{canary}}),
			"random source is short":    ring(retention.KeyringOptions{Rand: bytes.NewReader([]byte(c)[:min(len(c), 16)])}),
			"random source gives zeros": ring(retention.KeyringOptions{Rand: bytes.NewReader(make([]byte, 32))}),
			"store load fails":          ring(retention.KeyringOptions{Store: &faultyStore{loadErr: canary}}),
			"store load of prev fails":  ring(retention.KeyringOptions{Store: &faultyStore{loadErr: canary, prevErr: true}}),
			"store create fails":        ring(retention.KeyringOptions{Store: &faultyStore{zero: true, createErr: canary}}),
			"store creates a zero key":  ring(retention.KeyringOptions{Store: &faultyStore{zero: true}}),
			"keyring closed":            func() error { _, _, err := closedRing.Keys(ctx, odd); return err }(),
			"keyring sweep cancelled":   func() error { _, err := closedRing.Sweep(cancelled, odd); return err }(),
			"store create cancelled":    func() error { _, err := store.LoadOrCreate(cancelled, 1, [32]byte{1}, time.Hour); return err }(),
			"store load cancelled":      func() error { _, _, err := store.Load(cancelled, 1); return err }(),
			"store sweep cancelled":     func() error { _, err := store.Sweep(cancelled, odd); return err }(),
			"store ttl not positive":    func() error { _, err := store.LoadOrCreate(ctx, 20, [32]byte{1}, -time.Second); return err }(),
			"store zero candidate":      func() error { _, err := store.LoadOrCreate(ctx, 20, [32]byte{}, time.Hour); return err }(),
			"store closed, create":      func() error { _, err := closed.LoadOrCreate(ctx, 1, [32]byte{1}, time.Hour); return err }(),
			"store closed, load":        func() error { _, _, err := closed.Load(ctx, 1); return err }(),
			"policy window zero":        func() error { _, err := retention.NewPolicy(0, nil); return err }(),
			"policy window too long":    func() error { _, err := retention.NewPolicy(1000*time.Hour, nil); return err }(),
			"sweeper nil target":        func() error { _, err := retention.NewSweeper(nil, nil); return err }(),
			"sweeper empty group":       func() error { _, err := retention.NewSweeper(retention.Group{}, nil); return err }(),
			"sweeper nil member":        func() error { _, err := retention.NewSweeper(retention.Group{store, nil}, nil); return err }(),
			"sweeper negative interval": func() error {
				_, err := retention.NewSweeper(store, &retention.SweeperOptions{Interval: -time.Second})
				return err
			}(),
			"group member fails": func() error { _, err := retention.Group{&statSweeper{err: canary}}.Sweep(ctx, odd); return err }(),
			"group nil member":   func() error { _, err := retention.Group{nil}.Sweep(ctx, odd); return err }(),
			"group cancelled":    func() error { _, err := retention.Group{store}.Sweep(cancelled, odd); return err }(),
			"sweeper target fails": func() error {
				s, err := retention.NewSweeper(&statSweeper{err: canary}, &retention.SweeperOptions{Logger: logger})
				require.NoError(t, err)
				_, err = s.SweepNow(ctx)
				return err
			}(),
			"sweeper group fails": func() error {
				s, err := retention.NewSweeper(retention.Group{&statSweeper{err: canary}}, &retention.SweeperOptions{Logger: logger})
				require.NoError(t, err)
				_, err = s.SweepNow(ctx)
				return err
			}(),
		}
		for name, err := range paths {
			require.Error(t, err, "%s, canary %q", name, c)
			ipmasktest.AssertNoRawIPError(t, ipmask.Default, err, "%s, canary %q", name, c)
			ipmasktest.AssertNoRawIPError(t, ipmask.Strict, err, "%s, canary %q", name, c)
			assert.True(t, strings.HasPrefix(err.Error(), "retention: "), "%s: %v", name, err)
			assert.NotContains(t, err.Error(), c, name)
		}
		require.Contains(t, logs.String(), "cause: ", "the failures were logged")
		ipmasktest.AssertNoRawIP(t, ipmask.Default, logs.String(), "logs, canary %q", c)
		ipmasktest.AssertNoRawIP(t, ipmask.Strict, logs.String(), "logs, canary %q", c)
		assert.NotContains(t, logs.String(), c)
		// The causes stay reachable for callers that branch on them.
		assert.ErrorIs(t, paths["store load fails"], canary)
		assert.ErrorIs(t, paths["group member fails"], canary)
		assert.ErrorIs(t, paths["keyring closed"], retention.ErrClosed)
	}
}
