package redisstore_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

var sinkT0 = time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)

func sinkClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func sinkPrefix(t testing.TB) string {
	return strings.NewReplacer("{", "(", "}", ")", "/", "_").Replace(fmt.Sprintf("sink-r%d-%s", runOf(t), t.Name()))
}

func sinkVisitor(i uint64) clickstore.Pseudonym {
	var p clickstore.Pseudonym
	binary.BigEndian.PutUint64(p[:8], i+1)
	binary.BigEndian.PutUint64(p[8:], ^i)
	return p
}

func newSink(t testing.TB, client redis.UniversalClient, now time.Time) *redisstore.Sink {
	t.Helper()
	s, err := redisstore.NewSink(client, &redisstore.SinkOptions{Prefix: sinkPrefix(t), Now: func() time.Time { return now }})
	require.NoError(t, err)
	return s
}

func TestNewSinkErrors(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, tc := range []struct {
		name   string
		client redis.UniversalClient
		opts   *redisstore.SinkOptions
		want   string
	}{
		{"nil client", nil, nil, "redisstore: NewSink: nil client"},
		{"braces in prefix", c, &redisstore.SinkOptions{Prefix: "a{b"}, `redisstore: prefix of 3 bytes`},
		{"negative retention", c, &redisstore.SinkOptions{HourRetention: -time.Hour}, `redisstore: NewSink: HourRetention -1h0m0s is negative`},
		{"negative max buckets", c, &redisstore.SinkOptions{MaxBuckets: -1}, `redisstore: NewSink: MaxBuckets -1 is negative`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := redisstore.NewSink(tc.client, tc.opts)
			assert.Nil(t, s)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// randomClicks returns n clicks with their uniqueness, over three hours.
func randomClicks(seed uint64, n int) ([]clickstore.Click, []clickstore.Uniqueness) {
	rng := rand.New(rand.NewPCG(seed, 5))
	cs := make([]clickstore.Click, n)
	us := make([]clickstore.Uniqueness, n)
	for i := range cs {
		a := netip.AddrFrom4([4]byte{198, 51, byte(rng.IntN(4)), byte(rng.IntN(256))})
		c := clickstore.Click{
			Link:     "sale",
			Time:     sinkT0.Add(time.Duration(rng.IntN(3*3600)) * time.Second),
			Visitor:  sinkVisitor(uint64(rng.IntN(40))),
			Network:  ipmask.Default.Prefix(a),
			Country:  []string{"DE", "FR", ""}[rng.IntN(3)],
			Referrer: []string{"news.example", "", "mail.example"}[rng.IntN(3)],
			Device:   []string{"mobile", "desktop"}[rng.IntN(2)],
		}
		if rng.IntN(9) == 0 {
			c.Bot = "crawler"
		}
		if rng.IntN(9) == 0 {
			c.Kind = clickstore.KindConversion
		}
		cs[i], us[i] = c, clickstore.Uniqueness(rng.IntN(3))
	}
	return cs, us
}

// Two instances, each with its own client, add to the same totals, and the
// result is what one in-memory Rollup that saw every click reports.
func TestSinkMatchesRollup(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, nil)
	a := newSink(t, sinkClient(t, srv.Addr()), sinkT0)
	b := newSink(t, sinkClient(t, srv.Addr()), sinkT0)
	oracle, err := aggregate.New(&aggregate.Options{Now: func() time.Time { return sinkT0 }})
	require.NoError(t, err)
	cs, us := randomClicks(1, 600)
	for i, c := range cs {
		s := a
		if i%2 == 1 {
			s = b
		}
		require.NoError(t, s.Add(ctx, c, us[i]))
		require.NoError(t, oracle.Add(ctx, c, us[i]))
	}
	for _, g := range []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day} {
		q := aggregate.Query{Link: "sale", Granularity: g, From: sinkT0.Add(-24 * time.Hour), To: sinkT0.Add(24 * time.Hour)}
		got, err := a.Cells(ctx, q)
		require.NoError(t, err)
		want, err := oracle.Cells(ctx, q)
		require.NoError(t, err)
		assert.ElementsMatch(t, want, got, g.String())

		gotRep, err := aggregate.Publish(ctx, b, q)
		require.NoError(t, err)
		wantRep, err := oracle.Report(ctx, q)
		require.NoError(t, err)
		assert.Equal(t, wantRep, gotRep, g.String())
	}
}

func TestSinkConcurrentExactlyOnce(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, nil)
	s := newSink(t, sinkClient(t, srv.Addr()), sinkT0)
	const workers, per = 8, 100
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			cs, us := randomClicks(uint64(100+w), per)
			for i, c := range cs {
				if err := s.Add(ctx, c, us[i]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var want aggregate.Counts
	for w := range workers {
		cs, _ := randomClicks(uint64(100+w), per)
		for _, c := range cs {
			if c.Kind == clickstore.KindConversion {
				want.Conversions++
			} else {
				want.Clicks++
			}
		}
	}
	cells, err := s.Cells(ctx, aggregate.Query{Link: "sale", Granularity: aggregate.Hour, From: sinkT0.Add(-time.Hour), To: sinkT0.Add(5 * time.Hour)})
	require.NoError(t, err)
	for _, d := range []aggregate.Dimension{aggregate.Total, aggregate.Country, aggregate.Network, aggregate.Referrer, aggregate.Device} {
		var got aggregate.Counts
		for _, c := range cells {
			if c.Scope == aggregate.ScopeBucket && c.Dimension == d {
				got = got.Add(c.Counts)
			}
		}
		assert.Equal(t, want.Clicks, got.Clicks, d.String())
		assert.Equal(t, want.Conversions, got.Conversions, d.String())
	}
}

// The same ten visitors on three days are ten visitors over the range.
func TestSinkRangeUniquesAreAUnion(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, nil)
	s := newSink(t, sinkClient(t, srv.Addr()), sinkT0)
	for day := range 3 {
		for i := range 10 {
			c := clickstore.Click{Link: "docs", Time: sinkT0.AddDate(0, 0, day), Visitor: sinkVisitor(uint64(i)), Network: netip.MustParsePrefix("192.0.2.0/24")}
			require.NoError(t, s.Add(ctx, c, clickstore.Unique))
		}
	}
	cells, err := s.Cells(ctx, aggregate.Query{Link: "docs", From: aggregate.Day.Start(sinkT0), To: sinkT0.AddDate(0, 0, 7)})
	require.NoError(t, err)
	var rangeCell aggregate.Cell
	for _, c := range cells {
		if c.Scope == aggregate.ScopeRange {
			rangeCell = c
		}
	}
	assert.Equal(t, uint64(30), rangeCell.Unique)
	assert.Equal(t, uint64(10), rangeCell.Visitors)
}

func TestSinkTTLs(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, nil)
	client := sinkClient(t, srv.Addr())
	now := sinkT0.Add(90 * time.Second) // 30 s after the minute bucket ends
	s := newSink(t, client, now)
	require.NoError(t, s.Add(ctx, clickstore.Click{Link: "x", Time: sinkT0.Add(30 * time.Second), Visitor: sinkVisitor(1), Network: netip.MustParsePrefix("192.0.2.0/24")}, clickstore.Unique))
	p := sinkPrefix(t) + ":a:1:{x}:"
	for _, tc := range []struct {
		name string
		key  string
		want time.Duration // -1: no expiry
	}{
		{"minute", p + "m:" + fmt.Sprint(sinkT0.Unix()), 48*time.Hour - 30*time.Second},
		{"minute sketch", p + "m:" + fmt.Sprint(sinkT0.Unix()) + ":v:total:", 48*time.Hour - 30*time.Second},
		{"hour", p + "h:" + fmt.Sprint(sinkT0.Unix()), 90*24*time.Hour + time.Hour - 90*time.Second},
		{"day", p + "d:" + fmt.Sprint(aggregate.Day.Start(sinkT0).Unix()), -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ttl, err := client.TTL(ctx, tc.key).Result()
			require.NoError(t, err)
			if tc.want < 0 {
				assert.Equal(t, time.Duration(-1), ttl, "key %s should not expire", tc.key)
				return
			}
			assert.InDelta(t, tc.want.Seconds(), ttl.Seconds(), 2, tc.key)
		})
	}
	// A click whose minute bucket is already past retention is kept in
	// the coarser buckets only.
	old := newSink(t, client, sinkT0.Add(49*time.Hour))
	require.NoError(t, old.Add(ctx, clickstore.Click{Link: "y", Time: sinkT0, Visitor: sinkVisitor(2), Network: netip.MustParsePrefix("192.0.2.0/24")}, clickstore.Unique))
	n, err := client.Exists(ctx, sinkPrefix(t)+":a:1:{y}:m:"+fmt.Sprint(sinkT0.Unix())).Result()
	require.NoError(t, err)
	assert.Zero(t, n)
	n, err = client.Exists(ctx, sinkPrefix(t)+":a:1:{y}:h:"+fmt.Sprint(sinkT0.Unix())).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)

	// A bucket that ends more than the largest Duration after now (a
	// click dated 2261 under a 60-year retention) is kept, for that
	// long: its TTL once overflowed into a negative PEXPIRE, which
	// deleted the bucket and counted nothing.
	long, err := redisstore.NewSink(client, &redisstore.SinkOptions{Prefix: sinkPrefix(t) + "-long", Now: func() time.Time { return now }, MinuteRetention: 60 * 365 * 24 * time.Hour})
	require.NoError(t, err)
	late := time.Date(2261, 6, 1, 0, 0, 30, 0, time.UTC)
	require.NoError(t, long.Add(ctx, clickstore.Click{Link: "z", Time: late, Visitor: sinkVisitor(3), Network: netip.MustParsePrefix("192.0.2.0/24")}, clickstore.Unique))
	// Read as milliseconds: go-redis's Duration of it would overflow.
	ms, err := client.Do(ctx, "PTTL", sinkPrefix(t)+"-long:a:1:{z}:m:"+fmt.Sprint(aggregate.Minute.Start(late).Unix())).Int64()
	require.NoError(t, err)
	assert.Greater(t, ms, (290 * 365 * 24 * time.Hour).Milliseconds())
}

func TestSinkRejects(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, nil)
	client := sinkClient(t, srv.Addr())
	s := newSink(t, client, sinkT0)
	err := s.Add(ctx, clickstore.Click{Link: "x"}, clickstore.Unique)
	assert.ErrorIs(t, err, clickstore.ErrInvalidClick)
	assert.EqualError(t, err, `redisstore: add click: invalid click: field time: zero`)
	err = s.Add(ctx, clickstore.Click{Link: "x", Time: sinkT0, Visitor: sinkVisitor(1), Network: netip.MustParsePrefix("192.0.2.0/24")}, 9)
	assert.ErrorContains(t, err, `redisstore: add click: invalid click: uniqueness 9 unknown`)
	_, err = s.Cells(ctx, aggregate.Query{From: sinkT0, To: sinkT0.Add(time.Hour)})
	assert.ErrorContains(t, err, `redisstore: cells: the query has no link, and the Sink cannot list links`)
	_, err = s.Cells(ctx, aggregate.Query{Link: "x", Granularity: aggregate.Minute, From: sinkT0, To: sinkT0.AddDate(1, 0, 0)})
	assert.ErrorContains(t, err, `redisstore: query from`)
	keys, err := client.Keys(ctx, sinkPrefix(t)+"*").Result()
	require.NoError(t, err)
	assert.Empty(t, keys, "a rejected click was written")
}

// Neither keys nor exports carry a raw address or a pseudonym.
func TestSinkNothingPersonal(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, nil)
	client := sinkClient(t, srv.Addr())
	s := newSink(t, client, sinkT0)
	cs, us := randomClicks(7, 200)
	for i, c := range cs {
		require.NoError(t, s.Add(ctx, c, us[i]))
	}
	keys, err := client.Keys(ctx, sinkPrefix(t)+"*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	var dump strings.Builder
	for _, k := range keys {
		dump.WriteString(k + "\n")
		if typ, _ := client.Type(ctx, k).Result(); typ == "hash" {
			m, err := client.HGetAll(ctx, k).Result()
			require.NoError(t, err)
			for f, v := range m {
				dump.WriteString(f + "=" + v + "\n")
			}
		}
	}
	rep, err := aggregate.Publish(ctx, s, aggregate.Query{Link: "sale", Granularity: aggregate.Hour, K: 2, From: sinkT0, To: sinkT0.Add(3 * time.Hour)})
	require.NoError(t, err)
	require.NoError(t, aggregate.WriteJSON(&dump, rep))
	require.NoError(t, aggregate.WriteCSV(&dump, rep))
	out := dump.String()
	ipmasktest.AssertNoRawIP(t, ipmask.Default, out)
	for _, c := range cs {
		assert.NotContains(t, strings.ToLower(out), c.Visitor.String())
		assert.NotContains(t, out, string(c.Visitor[:]))
	}
}

// sinkTotal returns the Total bucket cell of link at sinkT0 in granularity
// g, as s reads it.
func sinkTotal(t *testing.T, s *redisstore.Sink, link string, g aggregate.Granularity) aggregate.Cell {
	t.Helper()
	cells, err := s.Cells(context.Background(), aggregate.Query{Link: link, Granularity: g, From: g.Start(sinkT0), To: g.Start(sinkT0).Add(g.Duration())})
	require.NoError(t, err)
	for _, c := range cells {
		if c.Scope == aggregate.ScopeBucket && c.Dimension == aggregate.Total {
			return c
		}
	}
	return aggregate.Cell{}
}

// A connection cut after the server has run a request and before its reply
// reaches the client (the dropProxy of fault_test.go) makes go-redis resend
// a single command, so a bare HINCRBY (or a script without a token) counts
// the click twice. go-redis does not resend a MULTI/EXEC, so the old
// transaction counted once but reported an error for a click it had
// counted. Add, whichever of EVALSHA or EVAL loses its reply, counts the
// click exactly once and reports success.
func TestSinkLostReplyCountsOnce(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, nil)
	direct := sinkClient(t, srv.Addr())

	t.Run("bare HINCRBY counts twice", func(t *testing.T) {
		p := startProxy(t, srv.Addr(), "hincrby")
		client := sinkClient(t, p.ln.Addr().String())
		require.NoError(t, client.Ping(ctx).Err())
		key := sinkPrefix(t) + ":h"
		p.armed.Store(true)
		require.NoError(t, client.HIncrBy(ctx, key, "clicks", 1).Err())
		require.Equal(t, int32(1), p.dropped.Load(), "the proxy must have cut one reply")
		n, err := direct.HGet(ctx, key, "clicks").Int()
		require.NoError(t, err)
		assert.Equal(t, 2, n, "the resent HINCRBY counts again (this is the bug the token avoids)")
	})

	t.Run("bare MULTI/EXEC counts once but fails", func(t *testing.T) {
		p := startProxy(t, srv.Addr(), "$4\r\nexec\r\n")
		client := sinkClient(t, p.ln.Addr().String())
		require.NoError(t, client.Ping(ctx).Err())
		key := sinkPrefix(t) + ":h"
		p.armed.Store(true)
		_, err := client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HIncrBy(ctx, key, "clicks", 1)
			return nil
		})
		require.Equal(t, int32(1), p.dropped.Load(), "the proxy must have cut one reply")
		assert.Error(t, err, "go-redis does not resend a transaction whose reply was lost")
		n, gerr := direct.HGet(ctx, key, "clicks").Int()
		require.NoError(t, gerr)
		assert.Equal(t, 1, n, "yet the transaction ran: an error for a counted click")
	})

	for _, tc := range []struct {
		name    string
		trigger string
		flush   bool // SCRIPT FLUSH first, so that Add falls back to EVAL
	}{
		{"Add EVALSHA", "evalsha", false},
		{"Add EVAL", "$4\r\neval\r\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, srv.Addr(), tc.trigger)
			s := newSink(t, sinkClient(t, p.ln.Addr().String()), sinkT0)
			reader := newSink(t, direct, sinkT0)
			// Load the script (and warm the connection) on another link.
			warm := clickstore.Click{Link: "warm", Time: sinkT0, Visitor: sinkVisitor(9), Network: netip.MustParsePrefix("192.0.2.0/24")}
			require.NoError(t, s.Add(ctx, warm, clickstore.Unique))
			if tc.flush {
				require.NoError(t, direct.ScriptFlush(ctx).Err())
			}

			c := clickstore.Click{Link: "lost", Time: sinkT0, Visitor: sinkVisitor(1), Network: netip.MustParsePrefix("192.0.2.0/24"), Country: "DE", Device: "mobile"}
			p.armed.Store(true)
			require.NoError(t, s.Add(ctx, c, clickstore.Unique), "a resent run must report success")
			require.Equal(t, int32(1), p.dropped.Load(), "the proxy must have cut one reply")
			for _, g := range sinkGranularities {
				got := sinkTotal(t, reader, "lost", g)
				assert.Equal(t, aggregate.Counts{Clicks: 1, Unique: 1}, got.Counts, g.String())
				assert.Equal(t, uint64(1), got.Visitors, g.String())
			}

			// The token is per call, not per click: a new call counts again.
			require.NoError(t, s.Add(ctx, c, clickstore.Repeat))
			for _, g := range sinkGranularities {
				assert.Equal(t, aggregate.Counts{Clicks: 2, Unique: 1}, sinkTotal(t, reader, "lost", g).Counts, g.String())
			}

			// Each call left one token key, which expires within minutes.
			toks, err := direct.Keys(ctx, sinkPrefix(t)+":a:4:{lost}:r:*").Result()
			require.NoError(t, err)
			assert.Len(t, toks, 2)
			for _, k := range toks {
				ttl, err := direct.PTTL(ctx, k).Result()
				require.NoError(t, err)
				assert.Greater(t, ttl, time.Duration(0), k)
				assert.LessOrEqual(t, ttl, 5*time.Minute, k)
			}
		})
	}
}

var sinkGranularities = []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day}

// On a (one-node) Redis Cluster, every key the script touches is in the
// link's slot and named in KEYS, so Add and Cells work through a
// ClusterClient, which refuses scripts whose keys span slots (CROSSSLOT).
func TestSinkOnCluster(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, &redistest.Options{Args: []string{"--cluster-enabled", "yes"}})
	_, err := redistest.Do(srv.Addr(), "CLUSTER", "ADDSLOTSRANGE", "0", "16383")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := redistest.Do(srv.Addr(), "CLUSTER", "INFO")
		return err == nil && strings.Contains(info, "cluster_state:ok")
	}, 10*time.Second, 20*time.Millisecond)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr()}})
	t.Cleanup(func() { _ = client.Close() })
	s := newSink(t, client, sinkT0)
	for _, link := range []string{"sale", "a}b", "}x", "{y}"} { // braces must not break the hash tag
		for i := range 3 {
			c := clickstore.Click{Link: link, Time: sinkT0, Visitor: sinkVisitor(uint64(i)), Network: netip.MustParsePrefix("192.0.2.0/24"), Country: "DE"}
			require.NoError(t, s.Add(ctx, c, clickstore.Unique), link)
		}
		for _, g := range sinkGranularities {
			got := sinkTotal(t, s, link, g)
			assert.Equal(t, aggregate.Counts{Clicks: 3, Unique: 3}, got.Counts, "%s %s", link, g)
			assert.Equal(t, uint64(3), got.Visitors, "%s %s", link, g)
		}
	}
}
