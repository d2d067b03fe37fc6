package track_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/retention"
)

// A key store outage loses no click: every click during it is counted in
// the sink, with unknown uniqueness and without touching the store; once
// the key store is back, uniqueness is exact again, and no key outlives
// its window and grace at any moment.
func TestTrackKeyStoreOutageCountsEveryClick(t *testing.T) {
	e := &trackEnv{clock: clickstoretest.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)), sink: &recordingSink{}}
	var err error
	e.store, err = clickstore.NewMemory(&clickstore.MemoryOptions{Now: e.now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.store.Close() })
	keys := clickstoretest.NewOutageKeyStore(e.now)
	t.Cleanup(func() { _ = keys.Close() })
	ring, err := retention.NewKeyring(&retention.KeyringOptions{Store: keys, Now: e.now, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ring.Close() })
	b, err := clickstore.NewBuilder(ipmask.Default, ring, nil)
	require.NoError(t, err)
	e.tracker, err = track.New(b, e.store, e.sink, &track.Options{Now: e.now, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	w := ring.Policy().Window()

	type click struct {
		name, remote, ua string
		want             clickstore.Uniqueness
	}
	clicks := 0
	run := func(phase string, rows []click) {
		t.Helper()
		for _, c := range rows {
			v := e.tracker.Track(request("GET", c.remote, c.ua), "abc", clickstore.KindClick)
			clicks++
			assert.Equal(t, track.Counted, v.Outcome, "%s: %s", phase, c.name)
			assert.Equal(t, c.want, v.Uniqueness, "%s: %s", phase, c.name)
			assert.Less(t, ring.Stats().OldestAge, 2*w, "%s: no key older than window plus grace", phase)
			e.clock.Advance(time.Second / 4)
		}
	}
	visitorA, visitorB := "198.51.100.7:1", "203.0.113.9:1"

	run("before", []click{
		{"A first", visitorA, firefox, clickstore.Unique},
		{"A again", visitorA, firefox, clickstore.Repeat},
	})

	keys.Down(errors.New("dial tcp 192.0.2.1:6379: connection refused"))
	e.clock.Set(ring.Policy().EpochStart(ring.Policy().Epoch(e.clock.Now()) + 1)) // the cached key's epoch ends
	held := e.store.Len()
	run("outage", []click{
		{"A", visitorA, firefox, clickstore.UniqueUnknown},
		{"A again", visitorA, firefox, clickstore.UniqueUnknown},
		{"B", visitorB, firefox, clickstore.UniqueUnknown},
		{"a bot", visitorB, "Googlebot/2.1 (+http://www.google.com/bot.html)", clickstore.Repeat},
		{"A a second later", visitorA, firefox, clickstore.UniqueUnknown},
		{"B again", visitorB, firefox, clickstore.UniqueUnknown},
	})
	assert.Equal(t, held, e.store.Len(), "clicks under a local key are not recorded")
	v := e.tracker.Track(request("GET", visitorA, firefox), "", clickstore.KindConversion)
	assert.Equal(t, track.Unattributed, v.Outcome, "a local pseudonym finds no click")
	st := e.tracker.Stats()
	assert.Equal(t, uint64(7), st.KeyFallbacks)
	assert.Zero(t, st.BuildFailures)
	assert.Zero(t, st.StoreFailures, "the store did not fail")
	assert.Equal(t, uint64(5), st.UniqueUnknown)
	assert.True(t, ring.Stats().Local)

	keys.Up()
	e.clock.Advance(time.Second) // the keyring tries its store again
	run("after", []click{
		{"A", visitorA, firefox, clickstore.Unique},
		{"A again", visitorA, firefox, clickstore.Repeat},
		{"B", visitorB, firefox, clickstore.Unique},
	})
	st = e.tracker.Stats()
	assert.Equal(t, uint64(7), st.KeyFallbacks, "no fallback once the store is back")
	assert.Equal(t, uint64(clicks), st.Clicks)
	assert.Len(t, e.sink.all(), clicks, "every click reached the sink")
	assert.False(t, ring.Stats().Local)
}

// switchStore is a Store that fails while err is set.
type switchStore struct {
	clickstore.Store
	mu  sync.Mutex
	err error
}

func (s *switchStore) set(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *switchStore) fault() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *switchStore) Record(ctx context.Context, c clickstore.Click) (bool, error) {
	if err := s.fault(); err != nil {
		return false, err
	}
	return s.Store.Record(ctx, c)
}

// The store's and the sink's failures are logged once per burst (then at
// most once a minute), with a recovery line, counted, and with no address.
func TestTrackFailuresAreLoggedOncePerBurst(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fail  func(e *trackEnv, s *switchStore, err error)
		msg   string
		back  string
		count func(track.Stats) uint64
	}{
		{"store", func(_ *trackEnv, s *switchStore, err error) { s.set(err) },
			"track: the store failed", "track: the store works again",
			func(st track.Stats) uint64 { return st.StoreFailures }},
		{"sink", func(e *trackEnv, _ *switchStore, err error) { e.sink.mu.Lock(); e.sink.err = err; e.sink.mu.Unlock() },
			"track: the sink failed", "track: the sink works again",
			func(st track.Stats) uint64 { return st.SinkFailures }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			e := newTrackEnv(t, nil)
			store := &switchStore{Store: e.store}
			var err error
			e.tracker, err = track.New(newTestBuilder(t), store, e.sink, &track.Options{
				Now:    e.now,
				Logger: slog.New(slog.NewTextHandler(&buf, nil)),
			})
			require.NoError(t, err)
			click := func() {
				v := e.tracker.Track(request("GET", "198.51.100.77:1", firefox), "abc", clickstore.KindClick)
				require.Equal(t, track.Counted, v.Outcome)
				e.clock.Advance(time.Second)
			}
			click()
			require.Empty(t, buf.String(), "success logs nothing")

			tc.fail(e, store, errors.New("dial tcp 203.0.113.5:6379: connection refused"))
			for range 90 { // a minute and a half of failures, one a second
				click()
			}
			out := buf.String()
			assert.Equal(t, 2, strings.Count(out, tc.msg), "the first failure, then a minute later:\n%s", out)
			assert.Contains(t, out, "failures=61 suppressed=59")
			assert.Contains(t, out, "dial tcp 203.0.113.0", "the error text, masked")
			ipmasktest.AssertNoRawIP(t, ipmask.Default, out)
			assert.Equal(t, uint64(90), tc.count(e.tracker.Stats()))

			buf.Reset()
			tc.fail(e, store, nil)
			click()
			click()
			out = buf.String()
			assert.Equal(t, 1, strings.Count(out, tc.back), out)
			assert.Contains(t, out, "failures=90")
			assert.Equal(t, 1, strings.Count(out, "\n"), "one recovery line, nothing else:\n%s", out)
			assert.Equal(t, uint64(90), tc.count(e.tracker.Stats()))
			ipmasktest.AssertNoRawIP(t, ipmask.Default, out)
		})
	}
}
