package outside_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/retention"
)

// TestFleetForgetsAfterWindow checks guarantee 4 on the README's fleet
// ("on Redis, by the sweeper, the next clicks and a TTL of the window
// plus 2 s") and guarantee 5's key lifetime there: two instances share a
// Redis store, KeyStore and sink with a window of one second, and every
// visitor class clicks each, direct and proxied. While held, every marker
// expires within the window plus the 2 s slack and every epoch key within
// two epochs. Once the stores' clock has passed the window and each
// instance's retention.Sweeper has swept (as the README says to run one
// on every instance), Redis holds no marker, no time index and no
// visitor index; once the last clicked epoch's grace is over in real
// time, no epoch key of it is left, and what remains are statistics
// alone. The stores' clock is moved, not slept on; only the epoch keys'
// grace (at most two seconds here) is waited for in real time, as Redis
// expires them.
//
// Checked to fail: without the sweeps, the markers, the time index and
// the visitors' indexes are all reported, after the window and after the
// grace (their TTLs, W+2s and more, run on in Redis).
func TestFleetForgetsAfterWindow(t *testing.T) {
	const window = time.Second
	ctx := context.Background()
	srv, _ := startRedis(t)
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	cfg := fleetConfig{window: window, now: now, redisSink: true, log: slog.New(slog.DiscardHandler)}
	fleet := []*instance{newInstance(t, srv.Addr(), cfg), newInstance(t, srv.Addr(), cfg)}
	policy, err := retention.NewPolicy(window, nil)
	require.NoError(t, err)

	clickFleet(t, fleet)
	for _, in := range fleet {
		require.NoError(t, in.store.Flush(ctx))
	}
	const slack = 2 * time.Second // the README's "window plus 2 s"
	kinds := func(keys []redisKey) map[string][]redisKey {
		out := map[string][]redisKey{}
		for _, k := range keys {
			kind := "other"
			for _, p := range []string{"{fleet}:c:", "{fleet}:i", "{fleet}:v:", "{fleet}:k:", "fleet:a:"} {
				if strings.HasPrefix(k.name, p) {
					kind = p
					break
				}
			}
			out[kind] = append(out[kind], k)
		}
		return out
	}
	_, keys := dumpRedis(t, srv.Addr())
	held := kinds(keys)
	for _, p := range []string{"{fleet}:c:", "{fleet}:i", "{fleet}:v:", "{fleet}:k:", "fleet:a:"} {
		require.NotEmpty(t, held[p], "while held, Redis has %s keys", p)
	}
	assert.Empty(t, held["other"], "every key is the fleet's")
	for _, k := range held["{fleet}:c:"] {
		assert.Positive(t, k.pttl, "a marker expires")
		assert.LessOrEqual(t, k.pttl, window+slack, "a marker expires within the window and the slack")
	}
	lastEpoch := int64(-1)
	for _, k := range held["{fleet}:k:"] {
		e, err := strconv.ParseInt(strings.TrimPrefix(k.name, "{fleet}:k:"), 10, 64)
		require.NoError(t, err, "an epoch key is named by its epoch")
		lastEpoch = max(lastEpoch, e)
		assert.Positive(t, k.pttl, "an epoch key expires")
		assert.LessOrEqual(t, k.pttl, 2*window, "an epoch key lives its epoch and one of grace at most")
		before := time.Now()
		v, err := redistest.Do(srv.Addr(), "PTTL", k.name)
		require.NoError(t, err)
		ms, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err)
		if ms > 0 { // not expired since the dump
			// The key's TTL is relative, from the instance's clock when
			// it asked for the key (a request's time, time as data), so
			// on a loaded machine it can exceed the exact remainder by
			// the milliseconds between that reading and the SET; a key
			// kept an epoch too long would be a whole window over.
			assert.LessOrEqual(t, time.Duration(ms)*time.Millisecond, policy.EpochStart(e+2).Sub(before)+50*time.Millisecond, "epoch %d's key expires when its grace epoch ends", e)
		}
	}

	// The window is over by the stores' clock. The README runs a Sweeper
	// on every instance; one instance's sweep must clear the clicks both
	// recorded, as their indexes are shared.
	offset.Store(int64(window))
	sw, err := retention.NewSweeper(fleet[1].store, &retention.SweeperOptions{Now: now, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	st, err := sw.SweepNow(ctx)
	require.NoError(t, err)
	assert.Equal(t, len(held["{fleet}:c:"]), st.Deleted, "the sweep deletes every held click, either instance's")
	_, keys = dumpRedis(t, srv.Addr())
	swept := kinds(keys)
	for _, p := range []string{"{fleet}:c:", "{fleet}:i", "{fleet}:v:", "other"} {
		assert.Empty(t, swept[p], "after the window and a sweep, no %s key is left", p)
	}
	require.NotEmpty(t, swept["fleet:a:"], "the statistics stay")

	// The last clicked epoch's grace ends in real time.
	time.Sleep(time.Until(policy.EpochStart(lastEpoch+2)) + 50*time.Millisecond)
	_, keys = dumpRedis(t, srv.Addr())
	late := kinds(keys)
	for _, k := range late["{fleet}:k:"] {
		e, err := strconv.ParseInt(strings.TrimPrefix(k.name, "{fleet}:k:"), 10, 64)
		require.NoError(t, err)
		assert.Greater(t, e, lastEpoch, "an epoch key is left past its grace")
		assert.GreaterOrEqual(t, e, policy.Epoch(time.Now())-1, "an epoch key is left past its grace")
	}
	for _, p := range []string{"{fleet}:c:", "{fleet}:i", "{fleet}:v:", "other"} {
		assert.Empty(t, late[p], "nothing per visitor comes back: %s", p)
	}
}
