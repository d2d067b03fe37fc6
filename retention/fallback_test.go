package retention_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/retention"
)

// outageStore is a KeyStore that fails every call while down, and counts
// the calls made while down.
type outageStore struct {
	*retention.MemoryKeyStore
	mu    sync.Mutex
	err   error
	tried int
	block chan struct{} // if not nil, a failing call waits for it to close
}

func (o *outageStore) set(err error) {
	o.mu.Lock()
	o.err = err
	o.mu.Unlock()
}

func (o *outageStore) down() (error, int) {
	o.mu.Lock()
	if o.err != nil {
		o.tried++
	}
	err, tried, block := o.err, o.tried, o.block
	o.mu.Unlock()
	if err != nil && block != nil {
		<-block
	}
	return err, tried
}

func (o *outageStore) calls() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.tried
}

func (o *outageStore) Load(ctx context.Context, e int64) ([32]byte, bool, error) {
	if err, _ := o.down(); err != nil {
		return [32]byte{}, false, err
	}
	return o.MemoryKeyStore.Load(ctx, e)
}

func (o *outageStore) LoadOrCreate(ctx context.Context, e int64, c [32]byte, ttl time.Duration) ([32]byte, error) {
	if err, _ := o.down(); err != nil {
		return [32]byte{}, err
	}
	return o.MemoryKeyStore.LoadOrCreate(ctx, e, c, ttl)
}

// keysOf returns the secrets of Keys at now, and its error.
func keysOf(t *testing.T, r *retention.Keyring, now time.Time) (cur, prev retention.Key, err error) {
	t.Helper()
	cur, prev, err = r.Keys(context.Background(), now)
	return cur, prev, err
}

// While the key store is down, the keyring hands out one local key per
// epoch with ErrLocalKey, asks the store at most once a second, never holds
// a key past its window and grace, and goes back to the shared key within a
// second of the store's recovery; two keyrings sharing the store disagree
// during the outage and agree after it.
func TestKeyringLocalKeyDuringOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		shared := &outageStore{MemoryKeyStore: retention.NewMemoryKeyStore(nil)}
		defer shared.Close()
		newRing := func(log *slog.Logger) *retention.Keyring {
			r, err := retention.NewKeyring(&retention.KeyringOptions{Store: shared, Logger: log})
			require.NoError(t, err)
			t.Cleanup(func() { _ = r.Close() })
			return r
		}
		a := newRing(slog.New(slog.NewTextHandler(&buf, nil)))
		b := newRing(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
		w := a.Policy().Window()
		maxAge := 2 * w
		checkAge := func(when string) {
			for _, r := range []*retention.Keyring{a, b} {
				assert.Less(t, r.Stats().OldestAge, maxAge, "no key older than window plus grace %s", when)
			}
		}

		// Before: both on the shared key of the epoch.
		start := a.Policy().EpochStart(a.Policy().Epoch(time.Now()) + 1)
		time.Sleep(start.Sub(time.Now()))
		sa, _, err := keysOf(t, a, time.Now())
		require.NoError(t, err)
		sb, _, err := keysOf(t, b, time.Now())
		require.NoError(t, err)
		require.Equal(t, sa, sb)

		// The store goes down mid-epoch: the cached shared key serves on.
		storeErr := errors.New("dial tcp 192.0.2.7:6379: connection refused")
		shared.set(storeErr)
		time.Sleep(w / 2)
		cur, _, err := keysOf(t, a, time.Now())
		require.NoError(t, err)
		assert.Equal(t, sa, cur)
		assert.Zero(t, shared.calls(), "a cached key needs no store")

		// The next epoch: a local key, the shared one as previous.
		time.Sleep(w / 2)
		la, prev, err := keysOf(t, a, time.Now())
		require.ErrorIs(t, err, retention.ErrLocalKey)
		assert.ErrorIs(t, err, storeErr, "the store's error stays reachable")
		ipmasktest.AssertNoRawIPError(t, ipmask.Default, err)
		assert.False(t, la.IsZero())
		assert.Equal(t, sa.Epoch+1, la.Epoch)
		assert.True(t, prev.IsZero(), "no previous key stands beside a local one")
		lb, _, err := keysOf(t, b, time.Now())
		require.ErrorIs(t, err, retention.ErrLocalKey)
		assert.NotEqual(t, la.Secret(), lb.Secret(), "local keys are each instance's own")
		st := a.Stats()
		assert.True(t, st.Local)
		assert.Equal(t, uint64(1), st.LocalKeys)
		assert.Equal(t, uint64(1), st.Failures)
		checkAge("at the local key's start")

		// Within a second the store is not asked; then once a second.
		tried := shared.calls()
		for range 100 {
			time.Sleep(time.Second / 100)
			k, _, err := keysOf(t, a, time.Now())
			require.ErrorIs(t, err, retention.ErrLocalKey)
			assert.Equal(t, la, k, "one local key for the epoch")
		}
		assert.LessOrEqual(t, shared.calls()-tried, 2, "at most one try in a second")
		assert.Equal(t, uint64(1), a.Stats().LocalKeys)

		// The outage outlasts the epoch: the local key dies with it.
		destroyed := a.Stats().Destroyed
		time.Sleep(a.Policy().EpochStart(la.Epoch + 1).Sub(time.Now()))
		synctest.Wait()
		st = a.Stats()
		assert.False(t, st.Local)
		assert.Zero(t, st.Held, "the local key is destroyed at its epoch's end, with nothing cached")
		assert.Greater(t, st.Destroyed, destroyed)
		checkAge("past the epoch")
		la2, prev, err := keysOf(t, a, time.Now())
		require.ErrorIs(t, err, retention.ErrLocalKey)
		assert.NotEqual(t, la.Secret(), la2.Secret(), "a new epoch, a new local key")
		assert.True(t, prev.IsZero(), "a local key is never a previous key")
		_, _, err = keysOf(t, b, time.Now())
		require.ErrorIs(t, err, retention.ErrLocalKey)

		// Recovery: within a second, both are on one shared key again.
		time.Sleep(time.Second)
		recovered := time.Now()
		shared.set(nil)
		var ka, kb retention.Key
		for time.Since(recovered) <= time.Second {
			time.Sleep(time.Second / 10)
			ka, _, err = keysOf(t, a, time.Now())
			if err == nil {
				break
			}
		}
		require.NoError(t, err, "the shared key is back within a second")
		kb, _, err = keysOf(t, b, time.Now())
		require.NoError(t, err)
		assert.Equal(t, ka, kb, "instances converge on one key")
		stored, ok, err := shared.Load(context.Background(), ka.Epoch)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, stored, ka.Secret(), "the shared key is the store's")
		assert.NotEqual(t, la2.Secret(), ka.Secret())
		assert.False(t, a.Stats().Local)
		checkAge("after recovery")

		out := buf.String()
		assert.Contains(t, out, "a local key stands in")
		// One burst of 30 minutes: its first failure, then one line a
		// minute at most (a try a second while clicks come, none here
		// between the epochs), and one recovery line.
		assert.Equal(t, 2, strings.Count(out, "level=WARN"), out)
		assert.Contains(t, out, "failures=1 suppressed=0")
		assert.Equal(t, 1, strings.Count(out, "level=INFO"), out)
		assert.Contains(t, out, "shared keys can be had again")
		ipmasktest.AssertNoRawIP(t, ipmask.Default, out)
	})
}

// A caller whose context is done gets no local key: its store error alone.
func TestKeyringNoLocalKeyForDoneContext(t *testing.T) {
	store := &outageStore{MemoryKeyStore: retention.NewMemoryKeyStore(nil)}
	defer store.Close()
	store.set(context.Canceled)
	r, err := retention.NewKeyring(&retention.KeyringOptions{Store: store})
	require.NoError(t, err)
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cur, _, err := r.Keys(ctx, t0)
	require.Error(t, err)
	assert.NotErrorIs(t, err, retention.ErrLocalKey)
	assert.True(t, cur.IsZero())
	assert.Zero(t, r.Stats().LocalKeys)
}

// A local key, once made, is handed out without allocating until the next
// try of the store.
func TestKeyringLocalKeyAllocs(t *testing.T) {
	store := &outageStore{MemoryKeyStore: retention.NewMemoryKeyStore(nil)}
	defer store.Close()
	store.set(errors.New("down"))
	r, err := retention.NewKeyring(&retention.KeyringOptions{
		Store:  store,
		Logger: slog.New(slog.DiscardHandler),
		Now:    func() time.Time { return t0 }, // the timer must not end the epoch
	})
	require.NoError(t, err)
	defer r.Close()
	ctx := context.Background()
	_, _, err = r.Keys(ctx, t0)
	require.ErrorIs(t, err, retention.ErrLocalKey)
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := r.Keys(ctx, t0.Add(time.Millisecond)); !errors.Is(err, retention.ErrLocalKey) {
			t.Fatal("the local key stopped standing in")
		}
	})
	assert.Zero(t, allocs)
	assert.Equal(t, 1, store.calls(), "one try: a Load, and no LoadOrCreate after it failed")
}

// While one caller waits on a store that hangs, the others are served the
// local key at once.
func TestKeyringLocalKeyDoesNotWaitForAHangingStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &outageStore{MemoryKeyStore: retention.NewMemoryKeyStore(nil)}
		defer store.Close()
		store.set(errors.New("down"))
		r, err := retention.NewKeyring(&retention.KeyringOptions{Store: store, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		defer r.Close()
		ctx := context.Background()
		local, _, err := r.Keys(ctx, time.Now())
		require.ErrorIs(t, err, retention.ErrLocalKey)

		time.Sleep(time.Second)
		release := make(chan struct{})
		store.mu.Lock()
		store.block = release
		store.mu.Unlock()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _, _ = r.Keys(ctx, time.Now()) // tries the store, and hangs
		}()
		synctest.Wait()
		k, _, err := r.Keys(ctx, time.Now())
		require.ErrorIs(t, err, retention.ErrLocalKey)
		assert.Equal(t, local, k, "served at once, the store still hanging")
		close(release)
		<-done
	})
}

// sameKeyStore answers one key for every epoch, as a store keyed by
// something other than the epoch would.
type sameKeyStore struct{}

func (sameKeyStore) Load(context.Context, int64) ([32]byte, bool, error) {
	return [32]byte{7}, true, nil
}

func (sameKeyStore) LoadOrCreate(context.Context, int64, [32]byte, time.Duration) ([32]byte, error) {
	return [32]byte{7}, nil
}

// A key store that gives one key to two epochs would keep that key, and
// every pseudonym made with it, alive for as long as it answers. The
// keyring refuses it as a store failure: a local key stands in, loudly.
func TestKeyringRefusesOneKeyForTwoEpochs(t *testing.T) {
	r, err := retention.NewKeyring(&retention.KeyringOptions{Store: sameKeyStore{}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer r.Close()
	cur, prev, err := keysOf(t, r, t0)
	require.ErrorIs(t, err, retention.ErrLocalKey)
	assert.Contains(t, err.Error(), "the key of epoch")
	assert.False(t, cur.IsZero())
	assert.False(t, cur.Secret() == [32]byte{7}, "the store's key is not used")
	assert.True(t, prev.IsZero())
	assert.Equal(t, uint64(1), r.Stats().Failures)
}

// panicStore is a KeyStore whose calls panic while panics is set, as a
// store with a bug (or a nil client inside it) would.
type panicStore struct {
	retention.MemoryKeyStore
	panics atomic.Bool
}

func (p *panicStore) Load(ctx context.Context, e int64) ([32]byte, bool, error) {
	if p.panics.Load() {
		panic("lookup of epoch key failed for client 203.0.113.9")
	}
	return p.MemoryKeyStore.Load(ctx, e)
}

// A key store that panics is a failed key store: the keyring recovers the
// panic (a local key stands in, and the failure is logged, masked, and
// counted) rather than letting it unwind through the click's handler with
// the keyring's lock still held, which made every later Keys call wait
// for ever.
func TestKeyringSurvivesAPanickingStore(t *testing.T) {
	var buf testlog.Buffer
	store := &panicStore{}
	store.panics.Store(true)
	r, err := retention.NewKeyring(&retention.KeyringOptions{Store: store, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	require.NoError(t, err)
	defer r.Close()

	cur, _, err := keysOf(t, r, t0)
	require.ErrorIs(t, err, retention.ErrLocalKey)
	assert.Contains(t, err.Error(), "panic")
	ipmasktest.AssertNoRawIPError(t, ipmask.Default, err)
	assert.False(t, cur.IsZero(), "a local key stands in")
	assert.Equal(t, uint64(1), r.Stats().Failures)
	assert.Len(t, buf.Lines("a local key stands in"), 1)
	ipmasktest.AssertNoRawIP(t, ipmask.Default, buf.String())

	store.panics.Store(false)
	_, _, err = keysOf(t, r, t0.Add(2*time.Second)) // past the second a local key serves before the store is asked again
	assert.NoError(t, err, "the store answers again: the shared key, and no lock was left held")
}

// While a local key stands in, the store is asked again a second after
// the last try by the caller's clock; a clock stepped back within the
// epoch must not put that off by the length of the step, keeping the
// instance on a key no other shares long after the store is back.
func TestKeyringLocalKeyRetriesWhenTheClockStepsBack(t *testing.T) {
	store := &outageStore{MemoryKeyStore: retention.NewMemoryKeyStore(nil)}
	r, err := retention.NewKeyring(&retention.KeyringOptions{Store: store, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer r.Close()
	p := r.Policy()
	at := p.EpochStart(p.Epoch(t0)).Add(20 * time.Minute)

	store.set(errors.New("dial tcp 192.0.2.1:6379: i/o timeout"))
	_, _, err = keysOf(t, r, at)
	require.ErrorIs(t, err, retention.ErrLocalKey)
	store.set(nil)
	_, _, err = keysOf(t, r, at.Add(-10*time.Minute)) // stepped back, same epoch
	assert.NoError(t, err, "the store is asked again, and its key used")
	assert.False(t, r.Stats().Local)
}
