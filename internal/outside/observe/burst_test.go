package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/retention"
)

// lockedBuf is a log destination safe for concurrent writes.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// records returns the JSON log lines written so far.
func (l *lockedBuf) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		out = append(out, m)
	}
	return out
}

// canaryErr is an error whose text names a server and a visitor.
var canaryErr = fmt.Errorf("dial tcp 203.0.113.9:6379: connect: connection refused (client [2001:db8:1:2::7]:5555)")

// switchable fails while fail is set.
type switchable struct{ fail atomic.Bool }

func (s *switchable) err() error {
	if s.fail.Load() {
		return canaryErr
	}
	return nil
}

// failingStore is a Memory whose Record and Latest fail while switched.
type failingStore struct {
	*clickstore.Memory
	sw *switchable
}

func (s failingStore) Record(ctx context.Context, c clickstore.Click) (bool, error) {
	if err := s.sw.err(); err != nil {
		return false, err
	}
	return s.Memory.Record(ctx, c)
}

// failingSink is a Rollup whose Add fails while switched.
type failingSink struct {
	*aggregate.Rollup
	sw *switchable
}

func (s failingSink) Add(ctx context.Context, c clickstore.Click, u clickstore.Uniqueness) error {
	if err := s.sw.err(); err != nil {
		return err
	}
	return s.Rollup.Add(ctx, c, u)
}

// failingKeys is a MemoryKeyStore that fails while switched.
type failingKeys struct {
	*retention.MemoryKeyStore
	sw *switchable
}

func (k failingKeys) LoadOrCreate(ctx context.Context, e int64, c [32]byte, ttl time.Duration) ([32]byte, error) {
	if err := k.sw.err(); err != nil {
		return [32]byte{}, err
	}
	return k.MemoryKeyStore.LoadOrCreate(ctx, e, c, ttl)
}

func (k failingKeys) Load(ctx context.Context, e int64) ([32]byte, bool, error) {
	if err := k.sw.err(); err != nil {
		return [32]byte{}, false, err
	}
	return k.MemoryKeyStore.Load(ctx, e)
}

// failingTarget is a Sweepable that fails while switched.
type failingTarget struct{ sw *switchable }

func (f failingTarget) Sweep(context.Context, time.Time) (retention.SweepStats, error) {
	return retention.SweepStats{Held: 3, Oldest: time.Minute}, f.sw.err()
}

// part is one thing that can fail, wired with a logger and a clock.
type part struct {
	sw       *switchable
	op       func(now time.Time) // one operation
	failures func() uint64       // the failures it counts
	msg      string              // a word its failure lines hold
	// cached is set for the keyring, which asks its key store only for
	// an epoch it holds no key of (or a second after a failure).
	cached bool
}

func newPart(t *testing.T, name string, log *slog.Logger, clock *time.Time) part {
	t.Helper()
	now := func() time.Time { return *clock }
	sw := &switchable{}
	discard := slog.New(slog.DiscardHandler)
	keyLog, trackLog := discard, discard
	switch name {
	case "keyring":
		keyLog = log
	case "sweeper":
		target := failingTarget{sw}
		s, err := retention.NewSweeper(target, &retention.SweeperOptions{Now: now, Logger: log})
		require.NoError(t, err)
		return part{sw, func(time.Time) { _, _ = s.SweepNow(context.Background()) }, s.Failures, "sweep", false}
	default:
		trackLog = log
	}
	keys := failingKeys{retention.NewMemoryKeyStore(nil), sw}
	var ks retention.KeyStore
	if name == "keyring" {
		ks = keys
	}
	kr, err := retention.NewKeyring(&retention.KeyringOptions{Now: now, Logger: keyLog, Store: ks})
	require.NoError(t, err)
	t.Cleanup(func() { _ = kr.Close() })
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	mem, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mem.Close() })
	rollup, err := aggregate.New(nil)
	require.NoError(t, err)
	var store clickstore.Store = mem
	var sink clickstore.Sink = rollup
	switch name {
	case "store":
		store = failingStore{mem, sw}
	case "sink":
		sink = failingSink{rollup, sw}
	}
	tr, err := track.New(b, store, sink, &track.Options{Now: now, Logger: trackLog})
	require.NoError(t, err)
	n := 0
	op := func(time.Time) {
		n++
		r := httptest.NewRequest("GET", "/c/l", nil)
		r.RemoteAddr = fmt.Sprintf("198.51.100.%d:1", n%200+1)
		r.Header.Set("User-Agent", browserUA)
		tr.Track(r, "l", clickstore.KindClick)
	}
	switch name {
	case "store":
		return part{sw, op, func() uint64 { return tr.Stats().StoreFailures }, "store", false}
	case "sink":
		return part{sw, op, func() uint64 { return tr.Stats().SinkFailures }, "sink", false}
	}
	return part{sw, func(now time.Time) { _, _, _ = kr.Keys(context.Background(), now) }, func() uint64 { return kr.Stats().Failures }, "key", true}
}

// TestFailuresLoggedOncePerBurst checks section 3 of the issue for each
// part that can fail (the tracker's store and sink, a keyring's key store,
// a sweeper's target), on a fake clock: the first failure of a burst is
// logged at once as a warning, the next ones within a minute are not but
// are counted, the first after a minute is logged with the number not
// logged, the first success logs one recovery line with the burst's
// failures, successes after it log nothing, and a failure after that
// starts a new burst, logged at once (for the keyring, which asks its
// store only for an epoch it has no key of, in the next epoch). Every line is masked (the error
// names a server and a visitor). Checked to fail: the counts and line
// numbers are exact, and the canary error is a leak when logged bare
// (teeth).
func TestFailuresLoggedOncePerBurst(t *testing.T) {
	var teeth bytes.Buffer
	slog.New(slog.NewJSONHandler(&teeth, nil)).Error("x", "error", canaryErr)
	require.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, teeth.Bytes()), "teeth")
	for _, name := range []string{"store", "sink", "keyring", "sweeper"} {
		t.Run(name, func(t *testing.T) {
			var buf lockedBuf
			clock := t0
			p := newPart(t, name, slog.New(slog.NewJSONHandler(&buf, nil)), &clock)
			step := func(d time.Duration, fail bool) {
				clock = clock.Add(d)
				p.sw.fail.Store(fail)
				p.op(clock)
			}
			if !p.cached {
				step(0, false) // warm: a success outside a burst logs nothing
				require.Empty(t, buf.records(t), "a success outside a burst")
			}
			base := p.failures()
			for range 5 {
				step(5*time.Second, true)
			}
			recs := buf.records(t)
			require.Len(t, recs, 1, "one line for five failures within a minute:\n%s", buf.String())
			assert.Equal(t, "WARN", recs[0]["level"])
			assert.EqualValues(t, 1, recs[0]["failures"])
			assert.Equal(t, uint64(5), p.failures()-base, "every failure counted")

			step(time.Minute, true)
			recs = buf.records(t)
			require.Len(t, recs, 2, "a minute later, one more line:\n%s", buf.String())
			assert.EqualValues(t, 4, recs[1]["suppressed"], "the failures not logged")
			assert.EqualValues(t, 6, recs[1]["failures"])

			step(5*time.Second, false)
			step(5*time.Second, false)
			recs = buf.records(t)
			require.Len(t, recs, 3, "one recovery line:\n%s", buf.String())
			assert.Equal(t, "INFO", recs[2]["level"])
			assert.EqualValues(t, 6, recs[2]["failures"])

			next := 5 * time.Second
			if p.cached {
				next = retention.DefaultWindow // the next epoch's key is asked for
			}
			step(next, true)
			recs = buf.records(t)
			require.Len(t, recs, 4, "a new burst is logged at once:\n%s", buf.String())
			assert.EqualValues(t, 1, recs[3]["failures"])
			for _, r := range recs {
				assert.Contains(t, strings.ToLower(r["msg"].(string)), p.msg)
			}
			ipmasktest.AssertNoRawIP(t, ipmask.Default, buf.String())
			assert.Equal(t, uint64(7), p.failures()-base)
		})
	}
}
