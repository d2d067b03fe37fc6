package fleet_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
)

// keyTTLs returns every key of the server's keyspace (SCAN of all of it)
// with its PTTL.
func keyTTLs(t *testing.T, c redis.Cmdable) map[string]time.Duration {
	t.Helper()
	ctx := context.Background()
	out := map[string]time.Duration{}
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, "*", 1000).Result()
		require.NoError(t, err)
		for _, k := range keys {
			d, err := c.PTTL(ctx, k).Result()
			require.NoError(t, err)
			out[k] = d
		}
		if cursor = next; cursor == 0 {
			return out
		}
	}
}

// TestNothingOutlivesItsTTLWithoutSweeper checks the physical half of the
// window on Redis ("a click is gone from Redis by t+W+2s whether or not
// anything else runs", "PX ..., never an absolute time from the client's
// clock", the indexes' TTLs refreshed by new clicks, epoch keys that
// "expire with their epoch plus grace") for instances whose clocks say
// anything: one fleet per clock offset (an hour behind, none, 90 s and an
// hour ahead, 2262 is not reachable by a Policy), each recording first
// clicks, repeats, clicks with a previous pseudonym, batches, a Capacity
// store, erasures and conversions, and nothing sweeping. Right after the
// traffic every key on the server has a TTL: a marker or an index at most
// W plus the 2 s slack, an epoch key at most two epochs; then, in Redis's
// real time (which is what expires keys), once W plus the slack has
// passed since the last write, the whole keyspace holds no marker and no
// index of any fleet.
//
// Checked to fail: a key written with SET and no TTL among the fleet's
// keys is reported (no TTL), and one with PX 3.5 s (a TTL beyond W+2s) is
// reported by both checks.
func TestNothingOutlivesItsTTLWithoutSweeper(t *testing.T) {
	t.Parallel() // mostly waits for Redis to expire keys
	srv := startRedis(t)
	ctx := context.Background()
	const w = time.Second
	const slack = 2 * time.Second
	admin := client(t, srv.Addr())
	var fleets []*member
	for _, off := range []time.Duration{-time.Hour, 0, 90 * time.Second, time.Hour} {
		now := func() time.Time { return time.Now().Add(off) }
		plain := join(t, srv.Addr(), prefix(), w, now, nil)
		capped := join(t, srv.Addr(), prefix(), w, now, &redisstore.Options{Capacity: 1000})
		for _, in := range []*member{plain, capped} {
			fleets = append(fleets, in)
			var batch []clickstore.Click
			for i := range 40 {
				addr := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
				c, err := in.builder.Build(ctx, addr, "agent", fmt.Sprint("link-", i%3), now())
				require.NoError(t, err)
				if i%4 == 0 {
					batch = append(batch, c)
					continue
				}
				_, err = in.store.Record(ctx, c)
				require.NoError(t, err)
				_, err = in.store.Record(ctx, c) // a repeat
				require.NoError(t, err)
				c.PrevVisitor = visitor(i)
				c.Link = "prev-link"
				_, err = in.store.Record(ctx, c)
				require.NoError(t, err)
			}
			_, err := in.store.RecordBatch(ctx, batch)
			require.NoError(t, err)
			_, _, err = in.store.Latest(ctx, batch[0].Visitor, clickstore.Pseudonym{}, "")
			require.NoError(t, err)
			_, err = in.store.EraseVisitor(ctx, batch[1].Visitor)
			require.NoError(t, err)
			_, err = in.store.EraseLink(ctx, "link-2")
			require.NoError(t, err)
			require.NoError(t, in.store.Flush(ctx))
		}
	}
	last := time.Now()

	keys := keyTTLs(t, admin)
	require.NotEmpty(t, keys)
	perVisitor := 0
	for k, d := range keys {
		if d == -2 {
			continue // expired between SCAN and PTTL
		}
		if !assert.Positive(t, d, "key %q has a TTL", k) {
			continue
		}
		if strings.Contains(k, "}:k:") {
			assert.LessOrEqual(t, d, 2*w, "epoch key %q expires within its epoch and its grace", k)
			continue
		}
		perVisitor++
		assert.LessOrEqual(t, d, w+slack, "key %q expires within the window and the slack", k)
	}
	require.Positive(t, perVisitor)

	// Redis's time, which is what expires keys: no sweeper runs.
	time.Sleep(time.Until(last.Add(w + slack + 100*time.Millisecond)))
	for k := range keyTTLs(t, admin) {
		assert.Contains(t, k, "}:k:", "key %q outlives W plus the slack", k)
	}
}
