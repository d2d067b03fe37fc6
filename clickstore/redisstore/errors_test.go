package redisstore_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
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

// Canary inputs: addresses no error may carry, in any form.
const (
	canary4 = "203.0.113.9"
	canary6 = "2001:db8:1:2::7"
)

// assertNoCanary fails if err's text holds a raw address or any canary
// text (a link built from an address, a pseudonym).
func assertNoCanary(t *testing.T, name string, err error, extra ...string) {
	t.Helper()
	if !assert.Error(t, err, name) {
		return
	}
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, "redisstore: "), "%s: %q does not start with the package name", name, msg)
	ipmasktest.AssertNoRawIPError(t, ipmask.Policy{}, err, name) // a policy keeping no bits: any address is a leak
	for _, s := range append([]string{canary4, canary6, "203.0.113", "2001:db8:1:2"}, extra...) {
		assert.NotContains(t, msg, s, name)
	}
}

// Every error path of the store and the sink, driven with canary inputs:
// no message may carry an address, a pseudonym or a link.
func TestErrorsCarryNoInput(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := newClient(t, srv.Addr())
	ctx := context.Background()
	s := newStore(t, client, &redisstore.Options{Prefix: prefix(t)})
	sink, err := redisstore.NewSink(client, &redisstore.SinkOptions{Prefix: prefix(t)})
	require.NoError(t, err)

	v := clickstore.Pseudonym{0xde, 0xad, 0xbe, 0xef, 1}
	vhex := v.String()
	link4 := "go/203.0.113.0" // a link may hold an address masked as ipmask.Default masks it, never a whole one
	link6 := "go/2001:db8:1::"
	good := clickstore.Click{Link: link4, Time: t0, Visitor: v, Network: netip.MustParsePrefix("203.0.113.0/24")}
	good6 := clickstore.Click{Link: link6, Time: t0, Visitor: v, Network: netip.MustParsePrefix("2001:db8:1::/48")}

	bad := []struct {
		name string
		edit func(*clickstore.Click)
	}{
		{"unmasked network", func(c *clickstore.Click) { c.Network = netip.MustParsePrefix(canary4 + "/24") }},
		{"unmasked IPv6 network", func(c *clickstore.Click) { c.Network = netip.MustParsePrefix(canary6 + "/48") }},
		{"raw address outside network", func(c *clickstore.Click) { c.RawAddr = netip.MustParseAddr(canary6) }},
		{"raw address with zone", func(c *clickstore.Click) {
			c.Network = netip.MustParsePrefix("2001:db8:1::/48")
			c.RawAddr = netip.MustParseAddr(canary6 + "%eth0")
		}},
		{"long link", func(c *clickstore.Click) { c.Link = strings.Repeat(canary4+"/", clickstore.MaxLinkLen) }},
		{"long referrer", func(c *clickstore.Click) { c.Referrer = strings.Repeat(canary6, clickstore.MaxReferrerLen) }},
		{"bad country", func(c *clickstore.Click) { c.Country = canary4 }},
		{"zero visitor", func(c *clickstore.Click) { c.Visitor = clickstore.Pseudonym{} }},
		{"conversion", func(c *clickstore.Click) { c.Kind = clickstore.KindConversion }},
		{"raw address without keyring", func(c *clickstore.Click) { c.RawAddr = netip.MustParseAddr(canary4) }},
	}
	for _, tt := range bad {
		c := good
		tt.edit(&c)
		_, err := s.Record(ctx, c)
		assertNoCanary(t, "Record: "+tt.name, err, link4, vhex)
		_, err = s.RecordBatch(ctx, []clickstore.Click{c})
		assertNoCanary(t, "RecordBatch: "+tt.name, err, link4, vhex)
		if c.Validate() == nil {
			continue // a valid click for the sink, which counts conversions too
		}
		err = sink.Add(ctx, c, clickstore.Unique)
		assertNoCanary(t, "Sink.Add: "+tt.name, err, link4, vhex)
	}
	err = sink.Add(ctx, good, clickstore.Uniqueness(9))
	assertNoCanary(t, "Sink.Add: unknown uniqueness", err, link4, vhex)

	long := strings.Repeat(canary6+"/", clickstore.MaxLinkLen)
	_, _, err = s.Latest(ctx, v, clickstore.Pseudonym{}, long)
	assertNoCanary(t, "Latest: long link", err)
	_, err = s.EraseLink(ctx, long)
	assertNoCanary(t, "EraseLink: long link", err)
	_, err = s.EraseVisitor(ctx, clickstore.Pseudonym{})
	assertNoCanary(t, "EraseVisitor: zero", err)

	_, err = redisstore.New(ctx, client, &redisstore.Options{Prefix: "{" + canary4 + "}"})
	assertNoCanary(t, "New: brace in prefix", err)
	_, err = redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: "{" + canary6 + "}"})
	assertNoCanary(t, "NewKeyStore: brace in prefix", err)
	_, err = redisstore.NewSink(client, &redisstore.SinkOptions{Prefix: canary4 + "{"})
	assertNoCanary(t, "NewSink: brace in prefix", err)

	// Corrupt stored records: every value of the store's keys is
	// overwritten with text holding the canaries, as a buggy or hostile
	// writer could; reading them back must fail without echoing them.
	for _, c := range []clickstore.Click{good, good6} {
		first, err := s.Record(ctx, c)
		require.NoError(t, err)
		require.True(t, first)
	}
	garbage := "corrupt " + canary4 + " " + canary6 + " " + vhex
	keys, err := client.Keys(ctx, "{"+prefix(t)+"}*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	for _, k := range keys {
		switch client.Type(ctx, k).Val() {
		case "string":
			require.NoError(t, client.Set(ctx, k, garbage+k, time.Minute).Err())
		case "hash":
			for f := range client.HGetAll(ctx, k).Val() {
				require.NoError(t, client.HSet(ctx, k, f, garbage).Err())
			}
		}
	}
	_, _, err = s.Latest(ctx, v, clickstore.Pseudonym{}, link4)
	assertNoCanary(t, "Latest on a link: corrupt record", err, link4, vhex)
	_, _, err = s.Latest(ctx, v, clickstore.Pseudonym{}, "")
	assertNoCanary(t, "Latest on any link: corrupt record", err, link4, vhex)
	var allErr error
	for _, err := range s.All(ctx) {
		if err != nil {
			allErr = err
		}
	}
	assertNoCanary(t, "All: corrupt record", allErr, link4, vhex)
}

// With the server gone, go-redis's errors name it ("dial tcp
// 127.0.0.1:6379: connect: connection refused"): every exported method
// returns them with the address masked away, as the log does, and still
// unwrapping to go-redis's error.
func TestErrorsHoldNoServerAddress(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Local: true})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = client.Close() })
	s := newStore(t, client, nil)
	sink, err := redisstore.NewSink(client, &redisstore.SinkOptions{Prefix: prefix(t)})
	require.NoError(t, err)
	keys, err := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: prefix(t)})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = s.Record(ctx, click(1, "promo"))
	require.NoError(t, err)
	srv.Kill()

	host := srv.Addr()[:strings.LastIndexByte(srv.Addr(), ':')]
	check := func(name string, err error) {
		t.Helper()
		if !assert.Error(t, err, name) {
			return
		}
		assert.NotContains(t, err.Error(), host, name)
		ipmasktest.AssertNoRawIPError(t, ipmask.Policy{}, err, name)
		var op *net.OpError
		assert.True(t, errors.As(err, &op), "%s: %v does not unwrap to the dial error", name, err)
	}
	_, err = redisstore.New(ctx, client, &redisstore.Options{Prefix: prefix(t)})
	check("New", err)
	_, err = s.Record(ctx, click(2, "promo"))
	check("Record", err)
	_, err = s.RecordBatch(ctx, []clickstore.Click{click(3, "promo"), click(4, "promo")})
	check("RecordBatch", err)
	_, _, err = s.Latest(ctx, click(1, "promo").Visitor, clickstore.Pseudonym{}, "")
	check("Latest", err)
	_, _, err = s.Latest(ctx, click(1, "promo").Visitor, clickstore.Pseudonym{}, "promo")
	check("Latest on a link", err)
	for _, err := range s.All(ctx) {
		check("All", err)
		break
	}
	_, err = s.EraseVisitor(ctx, click(1, "promo").Visitor)
	check("EraseVisitor", err)
	_, err = s.EraseLink(ctx, "promo")
	check("EraseLink", err)
	_, err = s.Sweep(ctx, time.Now())
	check("Sweep", err)
	_, err = s.Clear(ctx)
	check("Clear", err)
	_, _, err = keys.Load(ctx, 1)
	check("KeyStore.Load", err)
	_, err = keys.LoadOrCreate(ctx, 1, [32]byte{1}, time.Hour)
	check("KeyStore.LoadOrCreate", err)
	check("Sink.Add", sink.Add(ctx, click(1, "promo"), clickstore.Unique))
	_, err = sink.Cells(ctx, aggregate.Query{Link: "promo", Granularity: aggregate.Hour, From: t0.Add(-time.Hour), To: t0.Add(time.Hour)})
	check("Sink.Cells", err)
	_, err = sink.EraseLink(ctx, "promo")
	check("Sink.EraseLink", err)
}
