package fleet_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
)

// TestWaitReplicasOnEveryPath checks Options.WaitReplicas as documented
// ("makes Record wait, after holding a first click, until that many
// replicas have it ... a first click confirmed by fewer is reported with
// an error wrapping ErrNotReplicated", "RecordBatch does not wait") on a
// primary with one replica, asking for one replica and for two, on every
// path a Record takes (the one SET NX GET, the previous-pseudonym script,
// the Capacity script): with enough replicas a first click is first with
// no error and the replica holds it; with too few it is first (held, so
// the visitor's next click is a repeat) with an error wrapping
// ErrNotReplicated that starts with the package's name and names no
// server, and clickstore.UniquenessOf makes it unknown; a repeat never
// fails (it waits as long as a first click while replicas are missing,
// as the option's doc now says: measured by hand, not here, at about
// 100 ms with a WaitTimeout of 30 ms); RecordBatch never reports
// ErrNotReplicated.
// Options a client cannot honour (a Ring) are refused by New.
//
// Checked to fail: with the replica's link cut (REPLICAOF NO ONE on it)
// the "enough replicas" rows are reported.
func TestWaitReplicasOnEveryPath(t *testing.T) {
	t.Parallel() // mostly waits for the replica to sync
	ctx := context.Background()
	primary := redistest.Start(t, &redistest.Options{Args: []string{"--repl-diskless-sync-delay", "0"}})
	host, port, _ := strings.Cut(primary.Addr(), ":")
	replica := redistest.Start(t, &redistest.Options{Args: []string{"--replicaof", host, port}})
	// Ready when the primary sees the replica online and a write
	// reaches it (WAIT 1).
	for deadline := time.Now().Add(10 * time.Second); ; {
		info, err := redistest.Do(primary.Addr(), "INFO", "replication")
		require.NoError(t, err)
		if strings.Contains(info, "state=online") {
			_, err := redistest.Do(primary.Addr(), "SET", "ready", "1", "PX", "1000")
			require.NoError(t, err)
			n, err := redistest.Do(primary.Addr(), "WAIT", "1", "1000")
			require.NoError(t, err)
			if n == "1" {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "the replica syncs")
		time.Sleep(20 * time.Millisecond) // the replica's first sync; not a timed assertion
	}
	c := client(t, primary.Addr())
	rc := client(t, replica.Addr())
	for _, want := range []int{1, 2} {
		for _, path := range []string{"set", "prev", "capacity"} {
			t.Run(path+"/"+map[int]string{1: "enough", 2: "too few"}[want], func(t *testing.T) {
				p := prefix()
				// Enough replicas confirm well within a second on a busy
				// machine; too few are waited for 30 ms.
				wt := time.Second
				if want == 2 {
					wt = 30 * time.Millisecond
				}
				o := &redisstore.Options{Prefix: p, WaitReplicas: want, WaitTimeout: wt, Logger: slog.New(slog.DiscardHandler)}
				if path == "capacity" {
					o.Capacity = 1000
				}
				s, err := redisstore.New(ctx, c, o)
				require.NoError(t, err)
				defer s.Close()
				now := time.Now()
				for i := range 5 {
					ck := clickOf(visitor(i), "w", now)
					if path == "prev" {
						ck.PrevVisitor = visitor(500 + i)
					}
					first, err := s.Record(ctx, ck)
					assert.True(t, first, "a first click is held and reported first")
					if want == 1 {
						assert.NoError(t, err)
						got, err := rc.Keys(ctx, "{"+p+"}:c:*").Result()
						require.NoError(t, err)
						assert.Len(t, got, i+1, "the replica holds every confirmed first click")
					} else {
						require.Error(t, err)
						assert.ErrorIs(t, err, redisstore.ErrNotReplicated)
						assert.True(t, strings.HasPrefix(err.Error(), "redisstore: "))
						assert.NotContains(t, err.Error(), "127.0.0.1")
						assert.Equal(t, clickstore.UniqueUnknown, clickstore.UniquenessOf(first, err))
					}
					first, err = s.Record(ctx, ck)
					assert.NoError(t, err, "a repeat never fails")
					assert.False(t, first, "the unconfirmed click was held")
				}
				us, err := s.RecordBatch(ctx, []clickstore.Click{clickOf(visitor(99), "w", now), clickOf(visitor(0), "w", now)})
				assert.NoError(t, err, "RecordBatch does not wait")
				assert.False(t, errors.Is(err, redisstore.ErrNotReplicated))
				assert.Equal(t, []clickstore.Uniqueness{clickstore.Unique, clickstore.Repeat}, us)
			})
		}
	}
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": primary.Addr()}})
	defer ring.Close()
	_, err := redisstore.New(ctx, ring, &redisstore.Options{Prefix: prefix(), WaitReplicas: 1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "redisstore: New: ")
}
