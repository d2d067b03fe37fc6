package track_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// Through a Redis outage and restart, with the keys and the clicks in
// Redis, every click is counted: unknown uniqueness while Redis is down
// (a local key stands in once the cached one's epoch is over), exact
// uniqueness again once it is back.
func TestTrackThroughRedisOutage(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Local: true})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	clock := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	quiet := slog.New(slog.DiscardHandler)
	keys, err := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: "outage"})
	require.NoError(t, err)
	ring, err := retention.NewKeyring(&retention.KeyringOptions{Store: keys, Now: now, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ring.Close() })
	store, err := redisstore.New(t.Context(), client, &redisstore.Options{
		Prefix: "outage", Now: now, Keyring: ring, KeyStore: keys, Logger: quiet,
	})
	require.NoError(t, err)
	b, err := clickstore.NewBuilder(ipmask.Default, ring, nil)
	require.NoError(t, err)
	sink := &recordingSink{}
	tr, err := track.New(b, store, sink, &track.Options{Now: now, Logger: quiet})
	require.NoError(t, err)

	clicks := 0
	click := func(phase, remote string, want clickstore.Uniqueness) {
		t.Helper()
		v := tr.Track(request("GET", remote, firefox), "abc", clickstore.KindClick)
		clicks++
		assert.Equal(t, track.Counted, v.Outcome, phase)
		assert.Equal(t, want, v.Uniqueness, phase)
		assert.Len(t, sink.all(), clicks, "%s: every click reaches the sink", phase)
		assert.Less(t, ring.Stats().OldestAge, 2*ring.Policy().Window(), "%s: no key past its window and grace", phase)
		clock = clock.Add(time.Millisecond)
	}
	a, b2 := "198.51.100.7:1", "203.0.113.9:1"
	click("up: A", a, clickstore.Unique)
	click("up: A again", a, clickstore.Repeat)
	click("up: B", b2, clickstore.Unique)

	srv.Kill()
	clock = ring.Policy().EpochStart(ring.Policy().Epoch(clock) + 1)
	click("down: A", a, clickstore.UniqueUnknown)
	click("down: A again", a, clickstore.UniqueUnknown)
	click("down: B", b2, clickstore.UniqueUnknown)
	st := tr.Stats()
	assert.Equal(t, uint64(3), st.KeyFallbacks)
	assert.Zero(t, st.BuildFailures)

	srv.Restart()
	clock = clock.Add(time.Second)
	click("back: A", a, clickstore.Unique)
	click("back: A again", a, clickstore.Repeat)
	click("back: B", b2, clickstore.Unique)
	st = tr.Stats()
	assert.Equal(t, uint64(3), st.KeyFallbacks, "no fallback once Redis is back")
	assert.Equal(t, uint64(clicks), st.Clicks)
	assert.False(t, ring.Stats().Local)
}
