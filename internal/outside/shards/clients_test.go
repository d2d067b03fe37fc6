package shards_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/redisstore"
)

// exercise runs a fleet of two instances, each on a client of its own made
// by mk, through the promises a client could break: 16 goroutines per
// instance record overlapping visitors' clicks (Record and RecordBatch),
// and each visitor and link gets exactly one first click; the instances'
// keyrings converge on one key (the same address gives the same
// pseudonym on both); Latest on any link, EraseVisitor and EraseLink see
// the other instance's clicks with exact counts; and a Sink on each
// counts every click once, then EraseLink removes every key of the link;
// every key left has a lifetime within its bound (checkLifetimes).
func exercise(t *testing.T, mk func(t *testing.T) redis.UniversalClient, scan func(t *testing.T) map[string]time.Duration) {
	ctx := context.Background()
	p := prefix()
	clk := newClock(base)
	var ins [2]*instance
	var sinks [2]*redisstore.Sink
	for i := range ins {
		c := mk(t)
		ins[i] = join(t, c, p, clk.now, nil)
		s, err := redisstore.NewSink(c, &redisstore.SinkOptions{Prefix: p, Now: clk.now, Logger: quiet})
		require.NoError(t, err)
		sinks[i] = s
	}
	a := mustAddr("203.0.113.7")
	c0, err := ins[0].builder.Build(ctx, a, "ua", "l", clk.now())
	require.NoError(t, err)
	c1, err := ins[1].builder.Build(ctx, a, "ua", "l", clk.now())
	require.NoError(t, err)
	require.Equal(t, c0.Visitor, c1.Visitor, "both instances use the one shared epoch key")

	const visitors, links, per = 40, 3, 16
	var firsts [visitors][links]atomic.Int32
	var wg sync.WaitGroup
	for g := range 2 * per {
		in, sink := ins[g%2], sinks[g%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var batch []clickstore.Click
			for k := range visitors * links {
				i := (k + g*7) % (visitors * links)
				ck := clickOf(visitor(i/links), fmt.Sprint("link-", i%links), clk.now())
				if g%4 == 3 {
					batch = append(batch, ck)
					continue
				}
				first, err := in.store.Record(ctx, ck)
				if !assert.NoError(t, err) {
					return
				}
				if first {
					firsts[i/links][i%links].Add(1)
				}
				if g == 0 {
					assert.NoError(t, sink.Add(ctx, ck, clickstore.UniquenessOf(first, nil)))
				}
			}
			if batch != nil {
				us, err := in.store.RecordBatch(ctx, batch)
				if !assert.NoError(t, err) {
					return
				}
				for j, u := range us {
					if u == clickstore.Unique {
						i := visitor0(batch[j].Visitor)*links + linkNo(batch[j].Link)
						firsts[i/links][i%links].Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	for v := range visitors {
		for l := range links {
			assert.Equal(t, int32(1), firsts[v][l].Load(), "visitor %d link %d: exactly one first click", v, l)
		}
	}
	for _, in := range ins {
		require.NoError(t, in.store.Flush(ctx))
	}
	_, ok, err := ins[1].store.Latest(ctx, visitor(3), clickstore.Pseudonym{}, "")
	require.NoError(t, err)
	assert.True(t, ok, "Latest on any link finds the fleet's clicks")
	n, err := ins[1].store.EraseVisitor(ctx, visitor(3))
	require.NoError(t, err)
	assert.Equal(t, links, n, "EraseVisitor erases the fleet's clicks")
	n, err = ins[0].store.EraseLink(ctx, "link-1")
	require.NoError(t, err)
	assert.Equal(t, visitors-1, n, "EraseLink erases the fleet's clicks")

	q := aggregate.Query{Link: "link-2", Granularity: aggregate.Day, From: base.Add(-24 * time.Hour), To: base.Add(24 * time.Hour)}
	cells, err := sinks[1].Cells(ctx, q)
	require.NoError(t, err)
	var clicks uint64
	for _, c := range cells {
		if c.Dimension == aggregate.Total && c.Scope == aggregate.ScopeBucket {
			clicks += c.Counts.Clicks
		}
	}
	assert.Equal(t, uint64(visitors), clicks, "the Sink counts each click once")
	d, err := sinks[1].EraseLink(ctx, "link-2")
	require.NoError(t, err)
	assert.Positive(t, d)
	keys := scan(t)
	for k := range keys {
		assert.NotContains(t, k, "{link-2}", "Sink.EraseLink leaves no key of the link")
	}
	checkLifetimes(t, keys)
}

func visitor0(v clickstore.Pseudonym) int { return int(v[1])<<16 | int(v[2])<<8 | int(v[3]) }
func linkNo(l string) int                 { return int(l[len(l)-1] - '0') }

// TestClientsKeepThePromises runs exercise with the single-server clients
// a service may configure: RESP2 and RESP3, a pool of one connection
// (16 goroutines per instance queue on it), and context timeouts on and
// off.
//
// Checked to fail: with one instance given another prefix, the
// exactly-one-first and the shared-key checks fail.
func TestClientsKeepThePromises(t *testing.T) {
	srv := startRedis(t)
	admin := plainClient(t, srv.Addr())
	for _, proto := range []int{2, 3} {
		for _, pool := range []int{1, 0} {
			for _, cte := range []bool{false, true} {
				t.Run(fmt.Sprintf("RESP%d pool %d timeouts %v", proto, pool, cte), func(t *testing.T) {
					exercise(t, func(t *testing.T) redis.UniversalClient {
						c := redis.NewClient(&redis.Options{Addr: srv.Addr(), Protocol: proto, PoolSize: pool, ContextTimeoutEnabled: cte})
						t.Cleanup(func() { _ = c.Close() })
						return c
					}, func(t *testing.T) map[string]time.Duration { return scanAll(t, admin) })
				})
			}
		}
	}
}

// TestRing runs exercise on a redis.Ring of two servers ("a single server,
// Sentinel and Cluster all work" through redis.UniversalClient, and the
// docs name the Ring: "on a redis.Ring every shard" is checked), with
// links spread over both shards. New checks every shard's persistence,
// and refuses WaitReplicas, which the docs say needs a Client or a
// ClusterClient, with a clear error.
//
// Checked to fail: scanning one shard only for the Sink's keys misses
// none, but with EraseLink left out the keys check fails.
func TestRing(t *testing.T) {
	s1, s2 := startRedis(t), startRedis(t)
	ctx := context.Background()
	addrs := map[string]string{"one": s1.Addr(), "two": s2.Addr()}
	ring := func(t *testing.T) redis.UniversalClient {
		r := redis.NewRing(&redis.RingOptions{Addrs: addrs, ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	both := func(t *testing.T) map[string]time.Duration {
		out := scanAll(t, plainClient(t, s1.Addr()))
		for k, d := range scanAll(t, plainClient(t, s2.Addr())) {
			out[k] = d
		}
		return out
	}
	exercise(t, ring, both)

	_, err := redisstore.New(ctx, ring(t), &redisstore.Options{Prefix: prefix(), WaitReplicas: 1, Logger: quiet})
	if assert.Error(t, err, "WaitReplicas needs a Client or a ClusterClient") {
		assert.True(t, strings.HasPrefix(err.Error(), "redisstore"), err.Error())
	}
	for _, s := range []string{s1.Addr(), s2.Addr()} {
		_, err := redisstoreDo(s, "CONFIG", "SET", "appendonly", "yes")
		require.NoError(t, err)
		_, err = redisstore.New(ctx, ring(t), &redisstore.Options{Prefix: prefix(), Logger: quiet})
		assert.ErrorIs(t, err, redisstore.ErrPersistence, "a persisting shard is refused")
		_, err = redisstoreDo(s, "CONFIG", "SET", "appendonly", "no")
		require.NoError(t, err)
	}
}
