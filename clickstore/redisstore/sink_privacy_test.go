package redisstore_test

import (
	"context"
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

func TestNewSinkRefusesFineNetworkPolicy(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	every, err := ipmask.New(32, 128)
	require.NoError(t, err)
	s, err := redisstore.NewSink(c, &redisstore.SinkOptions{NetworkPolicy: every})
	assert.Nil(t, s)
	assert.ErrorContains(t, err, "redisstore: NewSink: aggregate: network policy ipv4/32,ipv6/128 keeps more bits than ipmask.Default")
}

// dumpSink returns every key under prefix, with the fields and values of
// the hashes and the values of the strings, one a line.
func dumpSink(t *testing.T, client redis.UniversalClient, prefix string) string {
	t.Helper()
	ctx := context.Background()
	keys, err := client.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	var dump strings.Builder
	for _, k := range keys {
		dump.WriteString(k + "\n")
		switch typ, _ := client.Type(ctx, k).Result(); typ {
		case "hash":
			m, err := client.HGetAll(ctx, k).Result()
			require.NoError(t, err)
			for f, v := range m {
				dump.WriteString(f + "=" + v + "\n")
			}
		case "string":
			v, err := client.Get(ctx, k).Result()
			require.NoError(t, err)
			dump.WriteString(v + "\n")
		}
	}
	return dump.String()
}

// Clicks built by hand with a whole address as their network (and kept in
// RawAddr, as a Builder with KeepRawAddr does) leave no address in any
// key, field or value: the networks are cut to ipmask.Default's.
func TestSinkKeysHoldNoFineNetwork(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, nil)
	client := sinkClient(t, srv.Addr())
	s := newSink(t, client, sinkT0)
	for i, a := range []string{"198.51.100.7", "2001:db8:1:2::7", "::ffff:198.51.100.9", "2002:c633:6407::1", "64:ff9b::c633:6407"} {
		addr := netip.MustParseAddr(a)
		c := clickstore.Click{Link: "fine", Time: sinkT0.Add(time.Duration(i) * time.Second), Visitor: sinkVisitor(uint64(i)),
			Network: netip.PrefixFrom(addr, addr.BitLen()), RawAddr: addr, Country: "DE", Device: "mobile"}
		require.NoError(t, s.Add(ctx, c, clickstore.Unique))
	}
	dump := dumpSink(t, client, sinkPrefix(t))
	require.NotEmpty(t, dump)
	ipmasktest.AssertNoRawIP(t, ipmask.Default, dump)
}

// A Sink with a coarser NetworkPolicy keeps its networks.
func TestSinkNetworkPolicyKept(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, nil)
	client := sinkClient(t, srv.Addr())
	s, err := redisstore.NewSink(client, &redisstore.SinkOptions{Prefix: sinkPrefix(t), Now: func() time.Time { return sinkT0 }, NetworkPolicy: ipmask.Strict})
	require.NoError(t, err)
	c := clickstore.Click{Link: "strict", Time: sinkT0, Visitor: sinkVisitor(1), Network: netip.MustParsePrefix("2001:db8:1::/48")}
	require.NoError(t, s.Add(ctx, c, clickstore.Unique))
	cs, err := s.Cells(ctx, aggregate.Query{Link: "strict", Granularity: aggregate.Minute, From: sinkT0, To: sinkT0.Add(time.Minute), K: 1})
	require.NoError(t, err)
	var nets []string
	for _, c := range cs {
		if c.Dimension == aggregate.Network {
			nets = append(nets, c.Value)
		}
	}
	assert.Equal(t, []string{"2001:db8::/32"}, nets)
}
