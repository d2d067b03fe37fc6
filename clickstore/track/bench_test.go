package track_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/retention"
)

// benchRequest returns a GET /go/abc as a browser sends it on a link,
// routed by a ServeMux (so that its path value is read the way a route's
// is), and the RemoteAddrs of n visitors to send it from, 16 per /24.
func benchRequest(tb testing.TB, n int) (*http.Request, []string) {
	r := request("GET", "192.0.2.1:1234", firefox,
		"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
		"Accept-Language", "en-US,en;q=0.5",
		"Accept-Encoding", "gzip, deflate, br, zstd",
		"Referer", "https://news.example.com/a",
		"Connection", "keep-alive",
		"Upgrade-Insecure-Requests", "1",
		"Sec-Fetch-Dest", "document",
		"Sec-Fetch-Mode", "navigate",
		"Sec-Fetch-Site", "cross-site",
		"Sec-Fetch-User", "?1",
		"Priority", "u=0, i")
	r.URL.Path = "/go/abc"
	mux := http.NewServeMux()
	var routed *http.Request
	mux.HandleFunc("GET /go/{link}", func(_ http.ResponseWriter, r *http.Request) { routed = r })
	mux.ServeHTTP(httptest.NewRecorder(), r)
	require.NotNil(tb, routed)
	require.Equal(tb, "abc", routed.PathValue("link"))
	remotes := make([]string, n)
	for i := range remotes {
		remotes[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, byte(i >> 4), byte(i << 4)}), 1234).String()
	}
	return routed, remotes
}

// steadyBuilder returns a Builder whose keyring holds the previous epoch's
// key as well as the current one, as it does past a service's first
// window: each click then has two pseudonyms to compute.
func steadyBuilder(b *testing.B) *clickstore.Builder {
	kr, err := retention.NewKeyring(nil)
	require.NoError(b, err)
	b.Cleanup(func() { kr.Close() })
	now := time.Now()
	_, _, err = kr.Keys(context.Background(), now.Add(-retention.DefaultWindow))
	require.NoError(b, err)
	_, prev, err := kr.Keys(context.Background(), now)
	require.NoError(b, err)
	require.False(b, prev.IsZero(), "the previous epoch's key is held")
	bl, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(b, err)
	return bl
}

// BenchmarkHandler measures what the tracker adds to a handler, against
// chi's RealIP middleware in the same run, in the steady state of a
// service past its first window: a tracked click of a routed request with
// a browser's headers (the client address from RemoteAddr, the prefetch
// headers, the referrer, the cached user-agent classification, two
// HMAC-SHA256 pseudonyms under the current and the previous key, the
// quota, the Memory store holding the 4096 visitors already, every click a
// repeat).
// "tracked" counts into a sink that does nothing, the tracker's own cost;
// "tracked-first-window" is the same in a service's first window, when
// there is no previous key and one pseudonym to compute; "tracked+Rollup"
// counts into aggregate.New(nil), the default setup of the README, whose
// Add is the aggregate package's cost.
func BenchmarkHandler(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) })
	tracker := func(bl *clickstore.Builder, sink clickstore.Sink) http.Handler {
		m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Capacity: 1 << 22})
		require.NoError(b, err)
		b.Cleanup(func() { m.Close() })
		tr, err := track.New(bl, m, sink, nil)
		require.NoError(b, err)
		return tr.Handler(bare)
	}
	rollup, err := aggregate.New(nil)
	require.NoError(b, err)
	defer rollup.Close()
	// One request, hot in the cache as a server's is once it parsed it,
	// sent from each visitor's address in turn.
	r, remotes := benchRequest(b, 4096)
	w := httptest.NewRecorder()
	run := func(h http.Handler) func(*testing.B) {
		return func(b *testing.B) {
			for _, a := range remotes {
				r.RemoteAddr = a
				h.ServeHTTP(w, r) // the first sightings
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r.RemoteAddr = remotes[i&4095]
				h.ServeHTTP(w, r)
				i++
			}
		}
	}
	b.Run("bare-handler", run(bare))
	b.Run("baseline=chi-RealIP", run(middleware.RealIP(bare)))
	b.Run("tracked", run(tracker(steadyBuilder(b), discardSink{})))
	b.Run("tracked-first-window", run(tracker(newTestBuilder(b), discardSink{})))
	b.Run("tracked+Rollup", run(tracker(steadyBuilder(b), rollup)))
	// Behind the clientip middleware (the peer alone), which hands the
	// tracker the full address: the tracker's share is the difference.
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(b, err)
	b.Run("clientip", run(mw(bare)))
	b.Run("clientip+tracked", run(mw(tracker(steadyBuilder(b), discardSink{}))))
}

// The tracker allocates nothing per tracked click on top of the handler
// (the context the Store and the Sink get, which they may keep, included)
// once the visitor's user agent is cached and the store holds the
// visitor, in the first window and past it.
func TestHandlerAllocs(t *testing.T) {
	e := newTrackEnv(t, &track.Options{OptOutHeader: "Sec-GPC", OptOutParam: "optout"})
	h := e.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) }))
	r := request("GET", "198.51.100.77:1", firefox, "Referer", "https://news.example.com/a")
	r.URL.RawQuery = "utm_source=newsletter&utm_medium=email" // the opt-out check reads it
	r.SetPathValue("link", "abc")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r) // the first click classifies the agent, makes the key and the store's entry
	allocs := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) })
	assert.Zero(t, allocs)
	st := e.tracker.Stats()
	assert.Equal(t, uint64(1), st.Unique)
	assert.Equal(t, uint64(101+1), st.Clicks, "AllocsPerRun runs once more to warm up")

	// A window later the keyring holds the previous epoch's key too: two
	// pseudonyms per click, still nothing allocated.
	e.clock.Advance(retention.DefaultWindow)
	h.ServeHTTP(w, r)
	allocs = testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) })
	assert.Zero(t, allocs)
	last := e.sink.all()
	require.NotEmpty(t, last)
	assert.False(t, last[len(last)-1].Click.PrevVisitor.IsZero(), "the click has its pseudonym under the previous key")
	assert.Equal(t, uint64(2), e.tracker.Stats().Unique, "the first click of the new window is unique again")
}
