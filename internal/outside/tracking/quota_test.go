package tracking_test

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// click tracks one click of addr with agent ua on link.
func (e *env) click(addr netip.Addr, ua, link string) track.Visit {
	r := req("GET", "/go/"+link, netip.AddrPortFrom(addr, 40000).String(), ua)
	return e.tracker.Track(r, link, clickstore.KindClick)
}

func agent(i int) string {
	return fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64; rv:%d.0) Gecko/20100101 Firefox/%d.0", 100+i%50, 100+i%50)
}

// A flood from one network, in every form a network takes (an IPv4 /24,
// an IPv6 /48 across its /64s, IPv4 visitors behind NAT64 or in 6to4 and
// Teredo form, a wider policy's /16 across its /24s), from many addresses
// and agents at once, on many links, goes on far past the quota: the store
// keeps its room, nothing is refused as full, and visitors of other
// networks get exact answers, unique then repeat, during the flood and
// after it.
func TestFloodCannotTakeTheStore(t *testing.T) {
	const quota, flood, workers = 40, 600, 4
	p16, err := ipmask.New(16, 48)
	require.NoError(t, err)
	tests := []struct {
		name   string
		policy ipmask.Policy
		addr   func(i int) netip.Addr
	}{
		{"IPv4 /24", ipmask.Default, func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}) }},
		{"IPv6 /48", ipmask.Default, func(i int) netip.Addr {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 7, byte(i >> 8), byte(i), 15: byte(i) | 1})
		}},
		{"NAT64", ipmask.Default, func(i int) netip.Addr {
			return netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b, 12: 198, 13: 51, 14: 100, 15: byte(i) | 1})
		}},
		{"6to4", ipmask.Default, func(i int) netip.Addr {
			return netip.AddrFrom16([16]byte{0x20, 0x02, 198, 51, 100, byte(i), 15: byte(i) | 1})
		}},
		{"IPv4 /16 policy", p16, func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, byte(i), byte(i >> 8)}) }},
	}
	others := []netip.Addr{
		netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("192.0.2.200"),
		netip.MustParseAddr("2001:db8:99::1"), netip.MustParseAddr("64:ff9b::203.0.113.10"),
		netip.MustParseAddr("198.18.0.1"),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Room for the flood's quota and the others' clicks, no more.
			e := newEnvPolicy(t, &track.Options{NetworkQuota: quota}, quota+2*len(others)+workers, &countSink{}, tt.policy)
			var wg sync.WaitGroup
			var mu sync.Mutex
			over := 0
			for w := range workers {
				wg.Go(func() {
					for i := w; i < flood; i += workers {
						v := e.click(tt.addr(i), agent(i), fmt.Sprintf("l%d", i%7))
						mu.Lock()
						if v.OverQuota {
							over++
							assert.Equal(t, clickstore.UniqueUnknown, v.Uniqueness)
						}
						mu.Unlock()
					}
				})
			}
			// Others click during the flood.
			for _, a := range others[:2] {
				assert.Equal(t, clickstore.Unique, e.click(a, firefox, "sale").Uniqueness, "%s during the flood", a)
			}
			wg.Wait()
			assert.GreaterOrEqual(t, over, flood-quota-workers, "past the quota, give or take the clicks in flight")
			assert.LessOrEqual(t, e.store.Len(), quota+workers+2, "the flood's share of the store")
			for _, a := range others {
				first, again := e.click(a, firefox, "sale"), e.click(a, firefox, "sale")
				if a == others[0] || a == others[1] {
					assert.Equal(t, clickstore.Repeat, first.Uniqueness, "%s again", a)
				} else {
					assert.Equal(t, clickstore.Unique, first.Uniqueness, "%s", a)
				}
				assert.Equal(t, clickstore.Repeat, again.Uniqueness, "%s", a)
				assert.False(t, first.OverQuota)
			}
			st := e.tracker.Stats()
			assert.Zero(t, st.StoreFull, "the store was never full")
			assert.Zero(t, st.StoreFailures)
			assert.Equal(t, uint64(over), st.OverQuota)
			assert.Equal(t, uint64(flood+2*len(others)+2), st.Clicks, "every click counted (unresolved %d, masked %d)", st.Unresolved, st.MaskedAddrs)
		})
	}
}

// Each network has its own quota: many networks each at their quota fill
// the store between them only when the store is smaller than their sum, and
// then what the package documents happens: clicks are still counted, with
// unknown uniqueness, Stats.StoreFull says how many, nothing already held
// is evicted (a visitor it holds is still told Repeat), and a window later
// the store has room and answers exactly again.
func TestStoreAtCapacity(t *testing.T) {
	const capacity = 64
	e := newEnv(t, &track.Options{NetworkQuota: 8}, capacity)
	var held []netip.Addr
	for n := range 16 { // 16 networks x 8 = 128 clicks for 64 places
		for i := range 8 {
			a := netip.AddrFrom4([4]byte{10, 0, byte(n), byte(i + 1)})
			v := e.click(a, firefox, "x")
			require.Equal(t, track.Counted, v.Outcome)
			assert.False(t, v.OverQuota)
			if v.Uniqueness == clickstore.Unique {
				held = append(held, a)
			} else {
				assert.Equal(t, clickstore.UniqueUnknown, v.Uniqueness)
			}
		}
	}
	assert.Len(t, held, capacity)
	assert.Equal(t, capacity, e.store.Len())
	st := e.tracker.Stats()
	assert.Equal(t, uint64(128-capacity), st.StoreFull)
	assert.Equal(t, uint64(128-capacity), st.UniqueUnknown)
	assert.Equal(t, uint64(128), st.Clicks)
	for _, a := range held {
		assert.Equal(t, clickstore.Repeat, e.click(a, firefox, "x").Uniqueness, "%s is still held", a)
	}
	newcomer := netip.MustParseAddr("203.0.113.1")
	assert.Equal(t, clickstore.UniqueUnknown, e.click(newcomer, firefox, "x").Uniqueness, "no room")

	e.advance(31 * time.Minute)
	assert.Equal(t, clickstore.Unique, e.click(newcomer, firefox, "x").Uniqueness, "a window later")
	assert.Equal(t, clickstore.Repeat, e.click(newcomer, firefox, "x").Uniqueness)
}

// The quota is per Tracker, as documented: a Tracker made anew on a store
// that still holds a network's clicks (a restart, with a shared store)
// counts the network from none, and lets in one more quota, no more; other
// networks keep exact answers throughout.
func TestQuotaAcrossARestart(t *testing.T) {
	const quota = 10
	e := newEnv(t, &track.Options{NetworkQuota: quota}, 0)
	flood := func(tr *track.Tracker, from int) (over int) {
		for i := from; i < from+3*quota; i++ {
			r := req("GET", "/go/x", netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 1).String(), agent(i))
			if tr.Track(r, "x", clickstore.KindClick).OverQuota {
				over++
			}
		}
		return over
	}
	assert.Equal(t, 2*quota, flood(e.tracker, 0))
	assert.Equal(t, quota, e.store.Len())

	kr, err := retention.NewKeyring(&retention.KeyringOptions{Now: e.now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = kr.Close() })
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	restarted, err := track.New(b, e.store, e.sink, &track.Options{NetworkQuota: quota, Now: e.now, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	assert.Equal(t, 2*quota, flood(restarted, 100))
	assert.Equal(t, 2*quota, e.store.Len(), "one more quota, not more")
	r := req("GET", "/go/x", "203.0.113.9:1", firefox)
	assert.Equal(t, clickstore.Unique, restarted.Track(r, "x", clickstore.KindClick).Uniqueness)
	assert.Equal(t, clickstore.Repeat, restarted.Track(r, "x", clickstore.KindClick).Uniqueness)
}
