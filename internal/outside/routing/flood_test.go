package routing_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/retention"
)

func browser(i int) string {
	return fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64; rv:%d.0) Gecko/20100101 Firefox/%d.0", 100+i%40, 100+i%40)
}

// A flood spread over many networks, each under its quota (an IPv6 /32
// rotating through its /48s, an IPv4 /16 through its /24s), fills the
// store: the per-network quota does not stop it, and the package
// documentation says what happens then. The store never evicts, so the
// visitors it held before keep their exact answers (repeat); new visitors
// of any network are counted with uniqueness unknown and Stats says how
// many (StoreFull); nothing is lost; and once the window has passed,
// answers are exact again.
func TestFloodOverManyNetworksFillsTheStoreAsDocumented(t *testing.T) {
	const capacity, quota = 300, 10
	tests := []struct {
		name string
		addr func(net, host int) netip.Addr
	}{
		{"IPv6 /32 through its /48s", func(n, h int) netip.Addr {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(n >> 8), byte(n), 6: byte(h), 15: byte(h) | 1})
		}},
		{"IPv4 /16 through its /24s", func(n, h int) netip.Addr {
			return netip.AddrFrom4([4]byte{198, 18, byte(n), byte(1 + h)})
		}},
		{"6to4 over an IPv4 /16", func(n, h int) netip.Addr {
			return netip.AddrFrom16([16]byte{0x20, 0x02, 198, 18, byte(n), byte(1 + h), 15: 1})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, &track.Options{NetworkQuota: quota}, capacity)
			real := []netip.Addr{netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("2001:db8:ffff::9"), netip.MustParseAddr("192.0.2.77")}
			for _, a := range real {
				require.Equal(t, clickstore.Unique, e.click(e.tracker, a, firefox, "spring-sale").Uniqueness)
			}
			flood := 0
			for n := range 60 { // 60 networks × 2 quotas: 4× the store's room
				for h := range 2 * quota {
					v := e.click(e.tracker, tt.addr(n, h), browser(h), fmt.Sprintf("l%d", h%3))
					require.Equal(t, track.Counted, v.Outcome)
					flood++
				}
			}
			st := e.tracker.Stats()
			assert.Equal(t, capacity, e.store.Len(), "the flood filled the store, and no more")
			assert.Positive(t, st.StoreFull, "the store refused clicks as full")
			assert.Positive(t, st.OverQuota, "each network went past its quota too")
			assert.Equal(t, uint64(capacity), st.Unique, "one unique per click the store took")
			// Visitors held before: exact, nothing was evicted.
			for _, a := range real {
				v := e.click(e.tracker, a, firefox, "spring-sale")
				assert.Equal(t, clickstore.Repeat, v.Uniqueness, a)
			}
			// New visitors, of networks never seen: counted, unknown.
			before := e.tracker.Stats().StoreFull
			for i, a := range []string{"192.0.2.200", "2001:db8:eeee::1", "64:ff9b::203.0.113.50"} {
				v := e.click(e.tracker, netip.MustParseAddr(a), browser(i), "spring-sale")
				assert.Equal(t, track.Counted, v.Outcome, a)
				assert.Equal(t, clickstore.UniqueUnknown, v.Uniqueness, a)
				assert.False(t, v.OverQuota, "%s: its network is not over its quota; the store is full", a)
			}
			assert.Equal(t, before+3, e.tracker.Stats().StoreFull)
			st = e.tracker.Stats()
			assert.Equal(t, st.Clicks, uint64(len(e.sink.all())), "nothing lost")
			assert.Equal(t, uint64(flood+2*len(real)+3), st.Clicks)

			// A window later the store has room and answers are exact; the
			// flood's networks, which the quota counts in eighths of a
			// window erring towards the store, an eighth of a window after
			// that (Options.NetworkQuota).
			e.clock.advance(retention.DefaultWindow)
			_, err := e.store.Sweep(t.Context(), e.clock.now())
			require.NoError(t, err)
			assert.Zero(t, e.store.Len())
			v := e.click(e.tracker, netip.MustParseAddr("192.0.2.200"), browser(0), "spring-sale")
			assert.Equal(t, clickstore.Unique, v.Uniqueness)
			e.clock.advance(retention.DefaultWindow / 8)
			v = e.click(e.tracker, tt.addr(0, 0), browser(0), "l0")
			assert.Equal(t, clickstore.Unique, v.Uniqueness, "the flood's networks start afresh too")
		})
	}
}

// The quota counts clicks held, so what the store does not hold takes
// none of it: a visitor's repeats, a bot's clicks, HEAD requests and
// prefetches, however many, leave the network its whole quota for new
// visitors. An IPv4 visitor seen as ::ffff:a.b.c.d is the same visitor and
// network as a.b.c.d. And a visitor held before the network reached its
// quota is still told Repeat once it has.
func TestOnlyHeldClicksTakeTheQuota(t *testing.T) {
	const quota = 5
	e := newEnv(t, &track.Options{NetworkQuota: quota}, 0)
	first := netip.MustParseAddr("198.51.100.1")
	require.Equal(t, clickstore.Unique, e.click(e.tracker, first, firefox, "abc").Uniqueness)
	for i := range 500 {
		// The same visitor in both notations, repeats only.
		a := first
		if i%2 == 1 {
			a = netip.AddrFrom16(first.As16())
		}
		assert.Equal(t, clickstore.Repeat, e.click(e.tracker, a, firefox, "abc").Uniqueness, i)
		// Bots of the network.
		assert.Equal(t, clickstore.Repeat, e.click(e.tracker, netip.AddrFrom4([4]byte{198, 51, 100, byte(2 + i%200)}), fmt.Sprintf("curl/8.%d", i), "abc").Uniqueness)
		r := req("HEAD", "/go/abc", fmt.Sprintf("198.51.100.%d:1", 2+i%200), browser(i))
		assert.Equal(t, clickstore.Repeat, e.tracker.Track(r, "abc", clickstore.KindClick).Uniqueness)
		r = req("GET", "/go/abc", fmt.Sprintf("198.51.100.%d:1", 2+i%200), browser(i))
		r.Header.Set("Sec-Purpose", "prefetch;prerender")
		assert.Equal(t, clickstore.Repeat, e.tracker.Track(r, "abc", clickstore.KindClick).Uniqueness)
	}
	assert.Equal(t, 1, e.store.Len())
	// quota-1 new visitors still fit, in either notation; the next does not.
	for i := range quota - 1 {
		a := netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)})
		if i%2 == 0 {
			a = netip.AddrFrom16(a.As16())
		}
		v := e.click(e.tracker, a, firefox, "abc")
		assert.Equal(t, clickstore.Unique, v.Uniqueness, a)
	}
	v := e.click(e.tracker, netip.MustParseAddr("::ffff:198.51.100.99"), firefox, "abc")
	assert.Equal(t, clickstore.UniqueUnknown, v.Uniqueness)
	assert.True(t, v.OverQuota)
	assert.Equal(t, quota, e.store.Len())
	// Held visitors, now that the network is over its quota: Repeat.
	v = e.click(e.tracker, netip.MustParseAddr("::ffff:198.51.100.1"), firefox, "abc")
	assert.Equal(t, clickstore.Repeat, v.Uniqueness)
	assert.False(t, v.OverQuota)
	// Another network: exact.
	assert.Equal(t, clickstore.Unique, e.click(e.tracker, netip.MustParseAddr("198.51.101.1"), firefox, "abc").Uniqueness)
	assert.Equal(t, clickstore.Unique, e.click(e.tracker, netip.MustParseAddr("198.51.101.1"), firefox, "def").Uniqueness)
}

// The quota is the tracker's own count of the clicks it had the store
// take, as Options.NetworkQuota says: erasing a network's clicks from the
// store does not give it back, until the window (and an eighth) has passed
// for them; the store has the room meanwhile, and other networks are
// exact.
func TestErasuresDoNotGiveTheQuotaBack(t *testing.T) {
	const quota = 4
	e := newEnv(t, &track.Options{NetworkQuota: quota}, 0)
	for i := range quota {
		require.Equal(t, clickstore.Unique, e.click(e.tracker, netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i)}), firefox, "gone").Uniqueness)
	}
	n, err := e.store.EraseLink(t.Context(), "gone")
	require.NoError(t, err)
	require.Equal(t, quota, n)
	require.Zero(t, e.store.Len())
	e.clock.advance(time.Minute)
	v := e.click(e.tracker, netip.MustParseAddr("198.51.100.50"), firefox, "abc")
	assert.True(t, v.OverQuota, "the erased clicks still count")
	assert.Equal(t, clickstore.Unique, e.click(e.tracker, netip.MustParseAddr("198.51.101.50"), firefox, "abc").Uniqueness)
	e.clock.advance(retention.DefaultWindow + retention.DefaultWindow/8 - time.Minute)
	v = e.click(e.tracker, netip.MustParseAddr("198.51.100.50"), firefox, "abc")
	assert.False(t, v.OverQuota)
	assert.Equal(t, clickstore.Unique, v.Uniqueness)
}

// A flood from one /24 and one /48 at once, each request with a user
// agent never seen before (ten times the agent cache's size), two in three
// on made-up links its handler answers 404: the made-up links leave
// nothing, each network holds its quota and no more, and a visitor of
// another network clicking between the flood's requests gets exact
// answers throughout.
func TestFloodWithRandomAgentsAndMadeUpLinks(t *testing.T) {
	const quota, flood = 30, 3000
	e := newEnv(t, &track.Options{NetworkQuota: quota, AgentCache: 64}, 0)
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", e.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.PathValue("link"), "real") {
			http.Redirect(w, r, "https://example.com/", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	})))
	rng := rand.New(rand.NewPCG(1, 2))
	madeUp, real := 0, 0
	for i := range flood {
		var a netip.Addr
		if i%2 == 0 {
			a = netip.AddrFrom4([4]byte{203, 0, 113, byte(rng.IntN(256))})
		} else {
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x42, 6: byte(rng.IntN(256)), 15: byte(rng.IntN(256))})
		}
		link := fmt.Sprintf("real-%d", i%7)
		if i%3 != 0 {
			link, madeUp = fmt.Sprintf("made-up-%x", rng.Uint64()), madeUp+1
		} else {
			real++
		}
		ua := fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64; rv:%d.0) Gecko/20100101 Firefox/%d.%d", rng.IntN(1000), rng.IntN(1000), i)
		r := req("GET", "/go/"+link, netip.AddrPortFrom(a, 1).String(), ua)
		serve(mux, r)
		if i%100 == 50 { // a visitor of another network, on a link of its own
			own := fmt.Sprintf("real-own-%d", i)
			for k, want := range []clickstore.Uniqueness{clickstore.Unique, clickstore.Repeat} {
				r := req("GET", "/go/"+own, "198.51.100.7:1", firefox)
				require.Equal(t, http.StatusFound, serve(mux, r))
				got := e.sink.all()
				assert.Equal(t, want, got[len(got)-1].u, "request %d, own click %d", i, k)
			}
		}
	}
	st := e.tracker.Stats()
	assert.Equal(t, uint64(madeUp), st.Unserved, "every made-up link answered 404, and only those")
	perNet := map[netip.Prefix]int{}
	for c, err := range e.store.All(t.Context()) {
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(c.Link, "real"), "no made-up link held")
		perNet[c.Network]++
	}
	assert.Equal(t, quota, perNet[netip.MustParsePrefix("203.0.113.0/24")])
	assert.Equal(t, quota, perNet[netip.MustParsePrefix("2001:db8:42::/48")])
	assert.Equal(t, uint64(real-2*quota), st.OverQuota, "every other real click of the flood counted, over its quota")
	assert.Equal(t, uint64(real+2*(flood/100)), st.Clicks)
}
