package fleet_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
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

// clusterMember is one instance on a cluster: its own ClusterClient,
// KeyStore, keyring, Builder, Store and Sink.
type clusterMember struct {
	store   *redisstore.Store
	sink    *redisstore.Sink
	builder *clickstore.Builder
}

func joinCluster(t *testing.T, c *redistest.Cluster, p string, keepRaw bool) *clusterMember {
	t.Helper()
	ctx := context.Background()
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = cl.Close() })
	ks, err := redisstore.NewKeyStore(cl, &redisstore.KeyStoreOptions{Prefix: p})
	require.NoError(t, err)
	kr, err := retention.NewKeyring(&retention.KeyringOptions{Store: ks, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = kr.Close() })
	s, err := redisstore.New(ctx, cl, &redisstore.Options{Prefix: p, Keyring: kr, KeyStore: ks, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	sink, err := redisstore.NewSink(cl, &redisstore.SinkOptions{Prefix: p, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	b, err := clickstore.NewBuilder(ipmask.Default, kr, &clickstore.BuilderOptions{KeepRawAddr: keepRaw})
	require.NoError(t, err)
	return &clusterMember{store: s, sink: sink, builder: b}
}

// nodeKey is one key as one node holds it.
type nodeKey struct {
	node, name string
	slot       int
	pttl       time.Duration
	dump       string
}

// dumpCluster reads every key of every node, masters and replicas (after
// each master's WAIT for its replica), with its slot, PTTL and DUMP.
func dumpCluster(t *testing.T, c *redistest.Cluster) []nodeKey {
	t.Helper()
	ctx := context.Background()
	nodes := c.Nodes(t)
	for _, n := range nodes {
		if n.Master && !n.Failed {
			_, err := redistest.Do(n.Addr, "WAIT", "1", "2000")
			require.NoError(t, err)
		}
	}
	var out []nodeKey
	for _, n := range nodes {
		nc := redis.NewClient(&redis.Options{Addr: n.Addr, OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			return cn.ReadOnly(ctx).Err()
		}})
		var cursor uint64
		for {
			keys, next, err := nc.Scan(ctx, cursor, "*", 1000).Result()
			require.NoError(t, err)
			for _, k := range keys {
				slot, err := nc.ClusterKeySlot(ctx, k).Result()
				require.NoError(t, err)
				d, err := nc.PTTL(ctx, k).Result()
				require.NoError(t, err)
				v, err := nc.Dump(ctx, k).Result()
				if err == redis.Nil {
					continue // expired meanwhile
				}
				require.NoError(t, err)
				out = append(out, nodeKey{node: n.Addr, name: k, slot: int(slot), pttl: d, dump: v})
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
		_ = nc.Close()
	}
	return out
}

// addrForms returns the forms in which an address may be found in bytes:
// its 4 or 16 bytes and its text forms.
func addrForms(a netip.Addr) []string {
	forms := []string{string(a.AsSlice()), a.String(), a.StringExpanded()}
	if a.Is4() {
		b := a.As4()
		forms = append(forms, fmt.Sprintf("%d-%d-%d-%d", b[0], b[1], b[2], b[3]))
	}
	if a.Is4In6() {
		forms = append(forms, addrForms(a.Unmap())...)
	}
	return forms
}

// TestClusterHoldsEachStoreInItsSlotAndNoAddress checks the Key layout
// and "No plaintext IP address is ever written" on a real cluster (three
// masters, three replicas), every node read: two fleets on prefixes of
// several forms, each of two instances (one keeping raw addresses, which
// the store must seal), with visitors of every address class (IPv4,
// IPv6, IPv4-mapped, 6to4, Teredo, NAT64, link-local with a zone) clicking
// through either instance, repeats, batches, conversions, and the Redis
// sink counting links of awkward forms (braces, a leading '#', colons).
// On every node, replicas included: every key of a store is in its
// prefix's slot ({P}) and only on that slot's master or its replica,
// every sink key of a link is in that link's one slot, every store key
// expires within W plus the slack, and no DUMP of any key holds any
// visitor's address in bytes or text. Across the instances, Latest (with
// and without the link) finds the other instance's click, EraseVisitor
// and EraseLink on one instance erase the other's, and Sink.EraseLink
// leaves no key of its link on any node.
//
// Checked to fail: a key "clickanon:c:x" (a marker without its hash tag)
// written through a cluster client is reported as outside the layout, on
// its master and its replica; a value holding a visitor's 4 bytes is
// reported on both.
func TestClusterHoldsEachStoreInItsSlotAndNoAddress(t *testing.T) {
	t.Parallel() // mostly waits for the cluster to form
	c := redistest.StartCluster(t, nil)
	ctx := context.Background()
	addrs := []netip.Addr{
		netip.MustParseAddr("198.51.100.77"),
		netip.MustParseAddr("2001:db8:cafe:1:2:3:4:5"),
		netip.MustParseAddr("::ffff:203.0.113.9"),
		netip.MustParseAddr("2002:cb00:7163::1"),
		netip.MustParseAddr("2001:0:4136:e378:8000:63bf:3fff:fdd2"),
		netip.MustParseAddr("64:ff9b::c000:221"),
		netip.MustParseAddr("fe80::1:2:3:4%eth0"),
	}
	links := []string{"sale", "promo{x}", "#70726f6d6f7b787d", "a:b:c", "}"}
	prefixes := []string{"clickanon", "fleet:west", "out6 cluster"}
	members := map[string][2]*clusterMember{}
	for _, p := range prefixes {
		members[p] = [2]*clusterMember{joinCluster(t, c, p, false), joinCluster(t, c, p, true)}
	}
	now := time.Now()
	visitors := map[string][]clickstore.Click{}
	for _, p := range prefixes {
		m := members[p]
		var batch []clickstore.Click
		for i, a := range addrs {
			for j, link := range links {
				in := m[(i+j)%2]
				ck, err := in.builder.Build(ctx, a, "agent "+a.String(), link, now)
				require.NoError(t, err)
				if j == 0 {
					visitors[p] = append(visitors[p], ck)
				}
				if (i+j)%3 == 0 {
					batch = append(batch, ck)
				} else {
					first, err := in.store.Record(ctx, ck)
					require.NoError(t, err)
					assert.True(t, first)
					again, err := m[(i+j+1)%2].store.Record(ctx, ck)
					require.NoError(t, err)
					assert.False(t, again, "the repeat on the other instance")
				}
				require.NoError(t, in.sink.Add(ctx, ck, clickstore.Unique))
			}
		}
		_, err := m[1].store.RecordBatch(ctx, batch)
		require.NoError(t, err)
		for _, in := range m {
			require.NoError(t, in.store.Flush(ctx))
		}
	}

	keys := dumpCluster(t, c)
	require.NotEmpty(t, keys)
	nodes := c.Nodes(t)
	masterOf := map[string]string{} // node address: its master's address
	byID := map[string]string{}
	for _, n := range nodes {
		byID[n.ID] = n.Addr
	}
	for _, n := range nodes {
		if n.Master {
			masterOf[n.Addr] = n.Addr
		} else {
			masterOf[n.Addr] = byID[n.MasterID]
		}
	}
	owner := map[int]string{}
	linkSlot := map[string]int{}
	perNode := map[string]int{}
	for _, k := range keys {
		perNode[k.node]++
		if _, ok := owner[k.slot]; !ok {
			owner[k.slot] = c.SlotOwner(t, k.slot)
		}
		assert.Equal(t, owner[k.slot], masterOf[k.node], "key %q is on a node of its slot's shard", k.name)
		known := false
		for _, p := range prefixes {
			known = known || strings.HasPrefix(k.name, "{"+p+"}:") || strings.HasPrefix(k.name, p+":a:")
		}
		assert.True(t, known, "key %q on %s is in a documented layout", k.name, k.node)
		for _, p := range prefixes {
			if strings.HasPrefix(k.name, "{"+p+"}:") {
				assert.Equal(t, c.KeySlot(t, "{"+p+"}"), k.slot, "store key %q is in its prefix's slot", k.name)
				if !strings.HasPrefix(k.name, "{"+p+"}:k:") {
					assert.Positive(t, k.pttl, "store key %q expires", k.name)
					assert.LessOrEqual(t, k.pttl, retention.DefaultWindow+2*time.Second, "store key %q expires within W and the slack", k.name)
				}
			}
			if rest, ok := strings.CutPrefix(k.name, p+":a:"); ok {
				// <len>:{<tag>}:...: every key of one link in one slot.
				tag := rest[:strings.Index(rest, "}:")+1]
				if s, ok := linkSlot[p+tag]; ok {
					assert.Equal(t, s, k.slot, "sink key %q is in its link's slot", k.name)
				}
				linkSlot[p+tag] = k.slot
			}
		}
		for _, a := range addrs {
			for _, f := range addrForms(a) {
				assert.False(t, strings.Contains(k.name, f) || strings.Contains(k.dump, f), "key %q on %s holds a form of a visitor's address", k.name, k.node)
			}
		}
	}
	for _, n := range nodes {
		if masterOf[n.Addr] == owner[c.KeySlot(t, "{clickanon}")] {
			assert.Positive(t, perNode[n.Addr], "node %s of the default store's shard holds its keys", n.Addr)
		}
	}

	// Across instances: Latest, EraseVisitor, EraseLink, Sink.EraseLink.
	for _, p := range prefixes {
		m := members[p]
		for i, ck := range visitors[p] {
			for _, in := range m {
				got, ok, err := in.store.Latest(ctx, ck.Visitor, clickstore.Pseudonym{}, "sale")
				require.NoError(t, err)
				assert.True(t, ok && got.Link == "sale", "visitor %d on %q: Latest on the link", i, p)
				got, ok, err = in.store.Latest(ctx, clickstore.Pseudonym{}, ck.Visitor, "")
				require.NoError(t, err)
				assert.True(t, ok && got.Visitor == ck.Visitor, "visitor %d on %q: Latest on any link, as prev", i, p)
			}
		}
		n, err := m[0].store.EraseVisitor(ctx, visitors[p][0].Visitor)
		require.NoError(t, err)
		assert.Equal(t, len(links), n, "EraseVisitor erases the clicks of both instances")
		n, err = m[1].store.EraseLink(ctx, "promo{x}")
		require.NoError(t, err)
		assert.Equal(t, len(addrs)-1, n, "EraseLink erases the clicks of both instances")
		for _, in := range m {
			_, ok, err := in.store.Latest(ctx, visitors[p][0].Visitor, clickstore.Pseudonym{}, "")
			require.NoError(t, err)
			assert.False(t, ok)
		}
		d, err := m[0].sink.EraseLink(ctx, "promo{x}")
		require.NoError(t, err)
		assert.Positive(t, d)
	}
	for _, k := range dumpCluster(t, c) {
		for _, p := range prefixes {
			assert.False(t, strings.HasPrefix(k.name, p+":a:8:{#"), "sink key %q of an erased link is left on %s", k.name, k.node)
		}
		assert.NotContains(t, k.name, "promo{x}")
	}
}
