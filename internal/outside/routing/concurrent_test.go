package routing_test

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/geo"
	"github.com/clickanon/clickanon/clickstore/track"
)

// visitor is an address and a user agent: one pseudonym.
type visitor struct {
	addr netip.Addr
	ua   string
}

// visitors returns n visitors over IPv4 /24s, IPv6 /48s and IPv4 in IPv6
// forms, with several browser agents.
func visitors(n int) []visitor {
	agents := []string{
		firefox,
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	}
	vs := make([]visitor, n)
	for i := range vs {
		var a netip.Addr
		switch i % 4 {
		case 0, 1:
			a = netip.AddrFrom4([4]byte{198, 51, byte(i % 8), byte(1 + i)})
		case 2:
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i % 3), 7: byte(i), 15: byte(i)})
		default:
			a = netip.MustParseAddr(fmt.Sprintf("64:ff9b::203.0.113.%d", i))
		}
		vs[i] = visitor{a, agents[i%len(agents)]}
	}
	return vs
}

// Many goroutines clicking and converting at once through three trackers
// sharing one store, by their handlers: every visitor's first click on a
// link is Unique exactly once however many race for it, every other is a
// Repeat, each conversion that follows the visitor's own click is
// attributed; then visitors are erased from the store while the others go
// on clicking, which stays Repeat for them, and the erased ones are Unique
// again exactly once per link. A bot in the same races is never unique.
func TestRacingClicksConversionsAndErasures(t *testing.T) {
	const workers, links = 8, 6
	e := newEnv(t, nil, 0)
	trackers := []*track.Tracker{e.tracker, e.another(t, nil), e.another(t, &track.Options{AgentCache: 2})}
	muxes := make([]*http.ServeMux, len(trackers))
	for i, tr := range trackers {
		muxes[i] = http.NewServeMux()
		muxes[i].Handle("GET /go/{link}", tr.Handler(redirectAll))
		muxes[i].Handle("GET /px/{link}", tr.ConversionHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		})))
	}
	vs := visitors(48)
	send := func(rng *rand.Rand, path string, v visitor) int {
		r := req("GET", path, netip.AddrPortFrom(v.addr, 443).String(), v.ua)
		return serve(muxes[rng.IntN(len(muxes))], r)
	}
	round := func(who []visitor, erase func(rng *rand.Rand)) {
		var wg sync.WaitGroup
		for g := range workers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 7))
				order := rng.Perm(len(who) * links)
				for _, k := range order {
					v, l := who[k/links], fmt.Sprintf("l%d", k%links)
					require.Equal(t, http.StatusFound, send(rng, "/go/"+l, v))
					require.Equal(t, http.StatusNoContent, send(rng, "/px/"+l, v))
					require.Equal(t, http.StatusFound, send(rng, "/go/"+l, visitor{v.addr, "python-requests/2.32.3"}))
				}
			})
		}
		if erase != nil {
			wg.Go(func() { erase(rand.New(rand.NewPCG(99, 7))) })
		}
		wg.Wait()
	}
	stats := func() (s track.Stats) {
		for _, tr := range trackers {
			st := tr.Stats()
			s.Clicks += st.Clicks
			s.Conversions += st.Conversions
			s.Unique += st.Unique
			s.Repeat += st.Repeat
			s.UniqueUnknown += st.UniqueUnknown
			s.Unattributed += st.Unattributed
			s.Bots += st.Bots
			s.OverQuota += st.OverQuota
		}
		return s
	}

	round(vs, nil)
	pairs := uint64(len(vs) * links)
	st := stats()
	assert.Equal(t, pairs, st.Unique, "exactly one unique click per visitor and link")
	assert.Equal(t, 2*workers*pairs, st.Clicks)
	assert.Equal(t, st.Clicks-pairs, st.Repeat, "every other click, the bots' included, a repeat")
	assert.Equal(t, workers*pairs, st.Bots)
	assert.Zero(t, st.UniqueUnknown)
	assert.Equal(t, workers*pairs, st.Conversions, "every conversion after the visitor's click attributed")
	assert.Zero(t, st.Unattributed)
	assert.Equal(t, int(pairs), e.store.Len())
	assert.Len(t, e.sink.all(), int(st.Clicks+st.Conversions), "one Add per click and conversion")
	for _, a := range e.sink.all() {
		if a.u == clickstore.Unique {
			assert.Empty(t, a.click.Bot, "a bot is never unique")
		}
	}

	// Erase half the visitors while the other half clicks on.
	erased, kept := vs[:len(vs)/2], vs[len(vs)/2:]
	var n int
	round(kept, func(*rand.Rand) {
		for _, v := range erased {
			cur, prev, err := e.builder.Pseudonyms(t.Context(), v.addr, v.ua, e.clock.now())
			require.NoError(t, err)
			for _, p := range []clickstore.Pseudonym{cur, prev} {
				if p != (clickstore.Pseudonym{}) {
					k, err := e.store.EraseVisitor(t.Context(), p)
					require.NoError(t, err)
					n += k
				}
			}
		}
	})
	assert.Equal(t, len(erased)*links, n, "every erased visitor's clicks, one per link")
	st2 := stats()
	assert.Equal(t, st.Unique, st2.Unique, "the visitors not erased: repeats only")
	assert.Zero(t, st2.UniqueUnknown)
	assert.Zero(t, st2.Unattributed)
	round(erased, nil)
	st3 := stats()
	assert.Equal(t, st2.Unique+uint64(len(erased)*links), st3.Unique, "an erased visitor is unique again, once per link")
	assert.Zero(t, st3.UniqueUnknown)
	assert.Zero(t, st3.Unattributed)
	assert.Equal(t, int(pairs), e.store.Len())
}

// A tracker whose store closes and whose geo file is replaced under it,
// while goroutines click through its handler: every click is served and
// counted (the store's failure makes uniqueness unknown, never a lost
// click, and Stats says how many), every country is one of the two files'.
func TestStoreAndGeoChangeUnderTheTracker(t *testing.T) {
	rec := func(c string) mmdbtype.Map { return countryRecord(c) }
	files := map[string][]byte{
		"DE": mmdb(t, 6, "v", []netRecord{{"198.51.0.0/16", rec("DE")}, {"2001:db8::/32", rec("DE")}}),
		"FR": mmdb(t, 6, "v", []netRecord{{"198.51.0.0/16", rec("FR")}, {"2001:db8::/32", rec("FR")}}),
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "db.mmdb")
	require.NoError(t, os.WriteFile(path, files["DE"], 0o600))
	db, err := geo.Open(path, &geo.Options{CheckEvery: -1, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer db.Close()
	e := newEnv(t, &track.Options{Enrich: func(_ *http.Request, a netip.Addr) track.Attributes {
		return track.Attributes{Country: db.Country(a)}
	}}, 0)
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", e.tracker.Handler(redirectAll))
	vs := visitors(40)
	const workers, per = 6, 400
	var wg, half sync.WaitGroup
	half.Add(workers)
	closed := make(chan struct{})
	for g := range workers {
		wg.Go(func() {
			for i := range per {
				if i == per/2 {
					half.Done()
					<-closed // the other half after the store closed
				}
				v := vs[(g*per+i)%len(vs)]
				r := req("GET", fmt.Sprintf("/go/l%d", i%5), netip.AddrPortFrom(v.addr, 1).String(), v.ua)
				assert.Equal(t, http.StatusFound, serve(mux, r))
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			tmp := filepath.Join(dir, "tmp")
			assert.NoError(t, os.WriteFile(tmp, files[[2]string{"FR", "DE"}[i%2]], 0o600))
			assert.NoError(t, os.Rename(tmp, path))
			assert.NoError(t, db.Reload())
			if i == 10 {
				half.Wait()
				assert.NoError(t, e.store.Close()) // the store goes away mid-flood
				close(closed)
			}
		}
	})
	wg.Wait()
	st := e.tracker.Stats()
	adds := e.sink.all()
	assert.Equal(t, uint64(workers*per), st.Clicks, "every click counted")
	assert.Len(t, adds, workers*per)
	assert.Equal(t, st.Clicks, st.Unique+st.Repeat+st.UniqueUnknown)
	assert.Equal(t, st.UniqueUnknown, st.StoreFailures, "each click the closed store refused: unknown")
	assert.Positive(t, st.StoreFailures)
	covered := []netip.Prefix{netip.MustParsePrefix("198.51.0.0/16"), netip.MustParsePrefix("2001:db8::/32")}
	for i, a := range adds {
		if covered[0].Overlaps(a.click.Network) || covered[1].Overlaps(a.click.Network) {
			assert.Contains(t, []string{"DE", "FR"}, a.click.Country, "add %d", i)
		} else {
			assert.Empty(t, a.click.Country, "add %d: not covered", i) // 64:ff9b::203.0.113.x
		}
	}
}
