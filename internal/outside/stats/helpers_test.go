package stats_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// t0 is a Wednesday, 10:17:23 UTC: not on any bucket boundary.
var t0 = time.Date(2026, 3, 4, 10, 17, 23, 0, time.UTC)

var granularities = []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day}

var dimensions = []aggregate.Dimension{aggregate.Country, aggregate.Network, aggregate.Referrer, aggregate.Device}

// visitor returns the pseudonym of visitor i (never zero).
func visitor(i int) clickstore.Pseudonym {
	var p clickstore.Pseudonym
	copy(p[:], fmt.Sprintf("v%015d", i))
	return p
}

// addrOf returns visitor i's address: an IPv4 one in one of a few /24s,
// an IPv6 one in one of a few /48s, or an IPv6 one that embeds an IPv4
// address (6to4, NAT64); the Click's Network is either the address itself (/32 or /128,
// finer than any policy keeps) or its /24 or /48.
func addrOf(rng *rand.Rand, i int) (netip.Addr, netip.Prefix) {
	var a netip.Addr
	switch i % 5 {
	case 3: // 6to4: the IPv4 198.51.100.x at bits 16 to 47
		a = netip.AddrFrom16([16]byte{0x20, 0x02, 198, 51, 100, byte(1 + i%250), 15: 1})
	case 4: // NAT64: the IPv4 192.0.2.x in the last 32 bits
		a = netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b, 12: 192, 13: 0, 14: 2, 15: byte(1 + i%250)})
	case 0:
		a = netip.AddrFrom4([4]byte{198, 51, byte(100 + i%4), byte(1 + i%250)})
	case 1:
		a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i % 3), 0, byte(i), 15: byte(1 + i%200)})
	default:
		a = netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + i%250)})
	}
	bits := a.BitLen()
	if rng.IntN(2) == 0 {
		bits = map[bool]int{true: 24, false: 48}[a.Is4()]
	}
	return a, netip.PrefixFrom(a, bits).Masked()
}

// clickSet is a class of clicks: nVisitors visitors over nLinks links,
// spread over span from t0 in any order, with every dimension varied,
// bots, conversions and every uniqueness.
type clickSet struct {
	clicks []clickstore.Click
	us     []clickstore.Uniqueness
	addrs  []netip.Addr
}

func randomClicks(seed uint64, n, nVisitors int, links []string, span time.Duration) clickSet {
	rng := rand.New(rand.NewPCG(seed, 7))
	var s clickSet
	countries := []string{"DE", "FR", "", "US", "JP", "BR"}
	referrers := []string{"", "news.example", "a:b.example", "{x}.example", "=sum.example", "-x.example"}
	devices := []string{"", "desktop", "mobile", "tablet", "@tv", "console"}
	for range n {
		i := rng.IntN(nVisitors)
		// Small visitors are frequent, so cells of every size occur.
		if rng.IntN(3) == 0 {
			i = rng.IntN(1 + nVisitors/10)
		}
		a, p := addrOf(rng, i)
		c := clickstore.Click{
			Link:     links[rng.IntN(len(links))],
			Time:     t0.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Millisecond),
			Visitor:  visitor(i),
			Network:  p,
			RawAddr:  a,
			Country:  countries[(i+rng.IntN(2))%len(countries)],
			Referrer: referrers[rng.IntN(len(referrers))],
			Device:   devices[i%len(devices)],
		}
		if rng.IntN(10) == 0 {
			c.Bot = "crawler"
		}
		if rng.IntN(12) == 0 {
			c.Kind = clickstore.KindConversion
		}
		s.clicks = append(s.clicks, c)
		s.us = append(s.us, clickstore.Uniqueness(rng.IntN(3)))
		s.addrs = append(s.addrs, a)
	}
	return s
}

func newRollup(t testing.TB, o *aggregate.Options) *aggregate.Rollup {
	t.Helper()
	var opts aggregate.Options
	if o != nil {
		opts = *o
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0 }
	}
	r, err := aggregate.New(&opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func addAll(t testing.TB, b clickstore.Sink, s clickSet) {
	t.Helper()
	for i, c := range s.clicks {
		require.NoError(t, b.Add(context.Background(), c, s.us[i]))
	}
}

type sumKey struct {
	scope aggregate.Scope
	link  string
	start time.Time
	dim   aggregate.Dimension
}

// sums adds the counts of cells by scope, link, bucket and dimension.
func sums(cells []aggregate.Cell) map[sumKey]aggregate.Counts {
	m := make(map[sumKey]aggregate.Counts)
	for _, c := range cells {
		k := sumKey{c.Scope, c.Link, c.Start, c.Dimension}
		m[k] = m[k].Add(c.Counts)
	}
	return m
}

// nil2 returns a generator for addrOf where its choice does not matter.
func nil2() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
