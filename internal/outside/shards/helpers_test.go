package shards_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// base is the tests' fake time origin.
var base = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// clock is a store clock the test moves by hand.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock    { c := &clock{}; c.ns.Store(t.UnixNano()); return c }
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

var serial atomic.Int64

// prefix returns a key prefix of its own for each call.
func prefix() string { return "sh6c-" + strconv.FormatInt(serial.Add(1), 10) }

var quiet = slog.New(slog.DiscardHandler)

// plainClient returns a go-redis client on addr, closed with the test.
func plainClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// instance is one machine of a fleet: a KeyStore, keyring, Builder and
// Store on client with prefix p.
type instance struct {
	store   *redisstore.Store
	keys    *redisstore.KeyStore
	keyring *retention.Keyring
	builder *clickstore.Builder
}

// join builds an instance on client with prefix p and the store clock now
// (nil: time.Now); opts adds options.
func join(t testing.TB, c redis.UniversalClient, p string, now func() time.Time, opts *redisstore.Options) *instance {
	t.Helper()
	ks, err := redisstore.NewKeyStore(c, &redisstore.KeyStoreOptions{Prefix: p})
	require.NoError(t, err)
	kr, err := retention.NewKeyring(&retention.KeyringOptions{Store: ks, Now: now, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { _ = kr.Close() })
	var o redisstore.Options
	if opts != nil {
		o = *opts
	}
	o.Prefix, o.Now, o.Keyring, o.KeyStore = p, now, kr, ks
	if o.Logger == nil {
		o.Logger = quiet
	}
	s, err := redisstore.New(context.Background(), c, &o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	return &instance{store: s, keys: ks, keyring: kr, builder: b}
}

// visitor returns a pseudonym for the test's visitor i.
func visitor(i int) clickstore.Pseudonym {
	return clickstore.Pseudonym{0x6c, byte(i >> 16), byte(i >> 8), byte(i), 3}
}

// clickOf returns a valid click of visitor v on link at t.
func clickOf(v clickstore.Pseudonym, link string, t time.Time) clickstore.Click {
	return clickstore.Click{Link: link, Time: t, Visitor: v, Network: netip.MustParsePrefix("192.0.2.0/24"), Country: "DE"}
}

func startRedis(t *testing.T) *redistest.Server {
	t.Helper()
	return redistest.Start(t, &redistest.Options{Local: true})
}

// scanAll returns every key of the server behind c (SCAN of the whole
// keyspace) with its PTTL.
func scanAll(t testing.TB, c redis.Cmdable) map[string]time.Duration {
	t.Helper()
	ctx := context.Background()
	out := map[string]time.Duration{}
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, "*", 1000).Result()
		require.NoError(t, err)
		cmds := make([]*redis.DurationCmd, len(keys))
		_, err = c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.PTTL(ctx, k)
			}
			return nil
		})
		require.NoError(t, err)
		for i, k := range keys {
			out[k] = cmds[i].Val()
		}
		if cursor = next; cursor == 0 {
			return out
		}
	}
}

// values returns every key of the server with its DUMP, to compare one
// store's keys before and after another store's work.
func values(t testing.TB, c redis.Cmdable) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, "*", 1000).Result()
		require.NoError(t, err)
		cmds := make([]*redis.StringCmd, len(keys))
		_, err = c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.Dump(ctx, k)
			}
			return nil
		})
		if err != nil && err != redis.Nil {
			require.NoError(t, err)
		}
		for i, k := range keys {
			if v, err := cmds[i].Result(); err == nil {
				out[k] = v
			}
		}
		if cursor = next; cursor == 0 {
			return out
		}
	}
}

// slotOf is the Redis Cluster slot of key: CRC16 (XMODEM) of its hash tag
// (the text between the first '{' and the next '}', if not empty) or of
// the whole key, modulo 16384. Written from the Cluster specification.
func slotOf(key string) int {
	if i := bytes.IndexByte([]byte(key), '{'); i >= 0 {
		if j := bytes.IndexByte([]byte(key[i+1:]), '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

// dropper is a loopback TCP proxy in front of a Redis server that, once
// armed, lets one request holding trigger reach the server, reads the
// server's reply to it and throws it away, and cuts the client's
// connection: the server ran the command, the client never heard.
type dropper struct {
	ln      net.Listener
	target  string
	trigger atomic.Pointer[string]
	dropped atomic.Int32
	stall   atomic.Bool // keep the connection open instead of cutting it
	wg      sync.WaitGroup
}

func startDropper(t *testing.T, target string) *dropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	d := &dropper{ln: ln, target: target}
	d.wg.Add(1)
	go d.accept()
	t.Cleanup(func() { _ = ln.Close(); d.wg.Wait() })
	return d
}

func (d *dropper) addr() string { return d.ln.Addr().String() }

// arm makes the next request holding trigger lose its reply.
func (d *dropper) arm(trigger string) { d.trigger.Store(&trigger) }

func (d *dropper) accept() {
	defer d.wg.Done()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", d.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		var cut atomic.Bool // set when this connection's next reply is to be dropped
		d.wg.Add(2)
		go func() { // client to server
			defer d.wg.Done()
			defer func() { _ = s.Close() }()
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if tp := d.trigger.Load(); tp != nil && bytes.Contains(bytes.ToLower(buf[:n]), []byte(*tp)) && d.trigger.CompareAndSwap(tp, nil) {
						cut.Store(true)
					}
					if _, werr := s.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() { // server to client
			defer d.wg.Done()
			defer func() { _ = c.Close() }()
			buf := make([]byte, 64<<10)
			for {
				n, err := s.Read(buf)
				if n > 0 && cut.Load() {
					// The server has answered: it ran the command. The
					// client never sees the answer.
					d.dropped.Add(1)
					if d.stall.Load() {
						// The connection stays open, silent: the client
						// waits until its context ends.
						cut.Store(false)
						continue
					}
					_ = s.Close()
					return
				}
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					if err != io.EOF {
						_ = s.Close()
					}
					return
				}
			}
		}()
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// redisstoreDo sends one set-up command to addr.
func redisstoreDo(addr string, args ...string) (string, error) { return redistest.Do(addr, args...) }

// waitABit lets other goroutines make progress (not a timing: what is
// awaited is checked by the caller).
func waitABit() { time.Sleep(time.Millisecond) }

// retentionWindow is the default window, which the tests' stores use.
const retentionWindow = 30 * time.Minute
