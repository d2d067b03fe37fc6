package fleet_test

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
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

// base is the fleet's fake time origin.
var base = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// clock is a store clock the test moves by hand, shared or offset per
// instance.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.ns.Store(t.UnixNano()); return c }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func (c *clock) skewed(d time.Duration) func() time.Time {
	return func() time.Time { return c.now().Add(d) }
}

var serial atomic.Int64

// prefix returns a key prefix of its own for each call.
func prefix() string { return "out6-" + strconv.FormatInt(serial.Add(1), 10) }

// client returns a go-redis client on addr, closed with the test.
func client(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// member is one instance of a fleet: its own client, KeyStore, keyring and
// Store on a shared prefix.
type member struct {
	store   *redisstore.Store
	keyring *retention.Keyring
	builder *clickstore.Builder
}

// join builds an instance on addr with prefix p, a window w (zero: the
// default) and the store clock now.
func join(t testing.TB, addr, p string, w time.Duration, now func() time.Time, opts *redisstore.Options) *member {
	t.Helper()
	ctx := context.Background()
	c := client(t, addr)
	var policy retention.Policy
	if w > 0 {
		var err error
		policy, err = retention.NewPolicy(w, nil)
		require.NoError(t, err)
	}
	ks, err := redisstore.NewKeyStore(c, &redisstore.KeyStoreOptions{Prefix: p})
	require.NoError(t, err)
	kr, err := retention.NewKeyring(&retention.KeyringOptions{Policy: policy, Store: ks, Now: now, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = kr.Close() })
	var o redisstore.Options
	if opts != nil {
		o = *opts
	}
	o.Prefix, o.Policy, o.Now, o.Keyring, o.KeyStore = p, policy, now, kr, ks
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := redisstore.New(ctx, c, &o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	return &member{store: s, keyring: kr, builder: b}
}

// visitor returns a pseudonym for the test's visitor i (not built from an
// address: tests that need addresses use a Builder).
func visitor(i int) clickstore.Pseudonym {
	return clickstore.Pseudonym{0xf1, byte(i >> 16), byte(i >> 8), byte(i), 7}
}

// clickOf returns a valid click of visitor v on link at t.
func clickOf(v clickstore.Pseudonym, link string, t time.Time) clickstore.Click {
	return clickstore.Click{Link: link, Time: t, Visitor: v, Network: netip.MustParsePrefix("192.0.2.0/24")}
}

// startRedis starts a local redis-server for the test.
func startRedis(t *testing.T) *redistest.Server {
	t.Helper()
	return redistest.Start(t, &redistest.Options{Local: true})
}
