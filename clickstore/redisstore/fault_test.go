package redisstore_test

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

var t0 = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

func click(visitor byte, link string) clickstore.Click {
	return clickstore.Click{
		Link:    link,
		Time:    t0,
		Visitor: clickstore.Pseudonym{visitor, 1},
		Network: netip.MustParsePrefix("192.0.2.0/24"),
	}
}

func newStore(t testing.TB, client redis.UniversalClient, opts *redisstore.Options) *redisstore.Store {
	t.Helper()
	var o redisstore.Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = prefix(t)
	}
	s, err := redisstore.New(context.Background(), client, &o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Two instances on one server, as two machines, record the same clicks at
// once: each (visitor, link) must get exactly one first.
func TestTwoInstancesOneFirst(t *testing.T) {
	srv := redistest.Start(t, nil)
	a := newStore(t, newClient(t, srv.Addr()), &redisstore.Options{Prefix: prefix(t)})
	b := newStore(t, newClient(t, srv.Addr()), &redisstore.Options{Prefix: prefix(t)})

	const visitors, links, rounds = 20, 5, 4
	var firsts [visitors][links]atomic.Int32
	var wg sync.WaitGroup
	var failed atomic.Int32
	for w := range 8 {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for range rounds {
				for v := range visitors {
					for l := range links {
						first, err := s.Record(context.Background(), click(byte(v+1), "link"+strconv.Itoa(l)))
						if err != nil {
							failed.Add(1)
							continue
						}
						if first {
							firsts[v][l].Add(1)
						}
					}
				}
			}
		})
	}
	wg.Wait()
	require.Zero(t, failed.Load(), "no Record may fail")
	for v := range visitors {
		for l := range links {
			assert.Equal(t, int32(1), firsts[v][l].Load(), "visitor %d link %d", v, l)
		}
	}
}

// The server dies and comes back: Record fails with an error while it is
// gone, works again after, nothing panics, and closing the client leaves
// no goroutines behind.
func TestServerRestart(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Local: true})
	before := runtime.NumGoroutine()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: 1, DialTimeout: 200 * time.Millisecond})
	s := newStore(t, client, nil)
	ctx := context.Background()

	first, err := s.Record(ctx, click(1, "a"))
	require.NoError(t, err)
	require.True(t, first)

	srv.Kill()
	_, err = s.Record(ctx, click(2, "a"))
	require.Error(t, err, "a dead server must give an error")
	assert.Contains(t, err.Error(), "redisstore")
	_, _, err = s.Latest(ctx, clickstore.Pseudonym{1, 1}, clickstore.Pseudonym{}, "a")
	assert.Error(t, err)

	srv.Restart()
	// The restarted server is empty and has no scripts: Record must
	// reload them (EVALSHA falls back to EVAL) and work again.
	var recovered bool
	for range 50 {
		first, err = s.Record(ctx, click(1, "a"))
		if err == nil {
			recovered = true
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.True(t, recovered, "the client must recover: %v", err)
	assert.True(t, first, "the restarted server lost the first click, so this one is first")
	_, err = s.RecordBatch(ctx, []clickstore.Click{click(3, "a")})
	assert.NoError(t, err)

	require.NoError(t, s.Close())
	require.NoError(t, client.Close())
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left after Close")
}

// dropProxy forwards TCP between a client and target, and when armed, cuts
// the connection after the server has answered a request containing
// trigger, before the reply reaches the client: the write happened, the
// client never hears about it, and go-redis retries.
type dropProxy struct {
	ln      net.Listener
	target  string
	trigger []byte
	armed   atomic.Bool
	dropped atomic.Int32
	wg      sync.WaitGroup
}

func startProxy(t *testing.T, target, trigger string) *dropProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &dropProxy{ln: ln, target: target, trigger: []byte(strings.ToLower(trigger))}
	p.wg.Go(p.serve)
	t.Cleanup(func() { _ = ln.Close(); p.wg.Wait() })
	return p
}

func (p *dropProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.handle(c) })
	}
}

func (p *dropProxy) handle(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	cut := make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { close(cut); _ = c.Close(); _ = s.Close() }) }
	var drop atomic.Bool
	replied := make(chan struct{}, 1)
	go func() { // server to client
		buf := make([]byte, 32<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 {
				if drop.Load() {
					p.dropped.Add(1)
					replied <- struct{}{}
					stop()
					return
				}
				if _, werr := c.Write(buf[:n]); werr != nil {
					stop()
					return
				}
			}
			if err != nil {
				stop()
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if bytes.Contains(bytes.ToLower(buf[:n]), p.trigger) && p.armed.CompareAndSwap(true, false) {
				drop.Store(true)
			}
			if _, werr := s.Write(buf[:n]); werr != nil {
				stop()
				return
			}
		}
		if err != nil {
			stop()
			return
		}
		select {
		case <-cut:
			return
		default:
		}
	}
}

// A connection cut between the request and its reply makes go-redis send
// the request again. A bare SET NX then reports the first write as a
// repeat; Record must still report the click first.
func TestLostReplyKeepsFirst(t *testing.T) {
	srv := redistest.Start(t, nil)
	ctx := context.Background()

	t.Run("bare SET NX is fooled", func(t *testing.T) {
		p := startProxy(t, srv.Addr(), "$3\r\nset\r\n")
		client := newClient(t, p.ln.Addr().String())
		require.NoError(t, client.Ping(ctx).Err())
		p.armed.Store(true)
		ok, err := client.SetNX(ctx, prefix(t)+":k", "1", time.Minute).Result()
		require.NoError(t, err)
		require.Equal(t, int32(1), p.dropped.Load(), "the proxy must have cut one reply")
		assert.False(t, ok, "the retried SET NX sees its own first write (this is the bug the store avoids)")
	})

	for _, tt := range []struct {
		name, trigger string
		prev          clickstore.Pseudonym
	}{
		{"Record", "$3\r\nset\r\n", clickstore.Pseudonym{}},
		{"Record with a previous pseudonym", "evalsha", clickstore.Pseudonym{9, 9}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t, srv.Addr(), tt.trigger)
			client := newClient(t, p.ln.Addr().String())
			s := newStore(t, client, nil)
			c := click(7, "x")
			c.PrevVisitor = tt.prev
			p.armed.Store(true)
			first, err := s.Record(ctx, c)
			require.NoError(t, err)
			require.Equal(t, int32(1), p.dropped.Load(), "the proxy must have cut one reply")
			assert.True(t, first, "a retried first click must still be first")

			again, err := s.Record(ctx, c)
			require.NoError(t, err)
			assert.False(t, again, "a new call is a repeat")
		})
	}
}

// With persistence allowed, a forced SAVE writes the held clicks to disk.
// The dump must hold no plaintext address, in text or binary, and every key
// in it must expire within its window (keys of the keyring within their
// epoch and grace).
func TestDumpHoldsNoPlaintextAddress(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Persistence: true, Args: []string{"--rdbcompression", "no"}})
	client := newClient(t, srv.Addr())
	ctx := context.Background()

	_, err := redisstore.New(ctx, client, &redisstore.Options{Prefix: prefix(t)})
	require.Error(t, err, "a server that saves snapshots must be refused by default")
	assert.Contains(t, err.Error(), "save")

	policy := retention.Policy{}
	ks, err := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: prefix(t)})
	require.NoError(t, err)
	kr, err := retention.NewKeyring(&retention.KeyringOptions{Policy: policy, Store: ks})
	require.NoError(t, err)
	now := time.Now()
	s := newStore(t, client, &redisstore.Options{AllowPersistence: true, Keyring: kr, Now: func() time.Time { return now }})
	b, err := clickstore.NewBuilder(ipmask.Default, kr, &clickstore.BuilderOptions{KeepRawAddr: true})
	require.NoError(t, err)

	addrs := []netip.Addr{
		netip.MustParseAddr("198.51.100.77"),
		netip.MustParseAddr("2001:db8:85a3::8a2e:370:7334"),
	}
	for _, a := range addrs {
		c, err := b.Build(ctx, a, "Mozilla/5.0", "promo", now)
		require.NoError(t, err)
		require.True(t, c.RawAddr.IsValid())
		first, err := s.Record(ctx, c)
		require.NoError(t, err)
		require.True(t, first)
		got, ok, err := s.Latest(ctx, c.Visitor, clickstore.Pseudonym{}, "promo")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, a, got.RawAddr, "the sealed address opens while its key lives")
	}

	dump := srv.Save()
	require.Greater(t, len(dump), 100)
	require.True(t, bytes.Contains(dump, []byte(prefix(t))), "the dump must contain the store's keys for the check to mean anything")
	for _, a := range addrs {
		assert.False(t, bytes.Contains(dump, []byte(a.String())), "text form of %s in the dump", a)
		assert.False(t, bytes.Contains(dump, a.AsSlice()), "binary form of %s in the dump", a)
		a16 := a.As16()
		assert.False(t, bytes.Contains(dump, a16[:]), "16-byte form of %s in the dump", a)
	}

	// Every key expires: clicks within W plus slack, epoch keys by the end
	// of their grace epoch.
	keys, err := client.Keys(ctx, "{"+prefix(t)+"}*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	w := policy.Window()
	for _, k := range keys {
		ttl, err := client.PTTL(ctx, k).Result()
		require.NoError(t, err)
		assert.Greater(t, ttl, time.Duration(0), "key %q has no TTL", k)
		if i := strings.LastIndex(k, ":k:"); i >= 0 {
			e, err := strconv.ParseInt(k[i+3:], 10, 64)
			require.NoError(t, err)
			assert.LessOrEqual(t, ttl, time.Until(policy.EpochStart(e+2))+time.Second, "key %q outlives its epoch and grace", k)
		} else {
			assert.LessOrEqual(t, ttl, w+2*time.Second, "key %q outlives the window", k)
		}
	}
}
