package track_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/internal/reqctx"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// get serves GET path from remote with the user agent ua, and returns the
// status.
func get(h http.Handler, path, remote, ua string) int {
	r := httptest.NewRequest("GET", path, nil)
	r.RemoteAddr = remote
	r.Header.Set("User-Agent", ua)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// held returns how many clicks the store holds.
func held(t *testing.T, s clickstore.Store) int {
	t.Helper()
	n := 0
	for _, err := range s.All(context.Background()) {
		require.NoError(t, err)
		n++
	}
	return n
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// One client sending 50,000 made-up links leaves the store and the counts
// as they were: the redirect handler answers 404, so nothing is tracked.
func TestHandlerMadeUpLinksAreNotTracked(t *testing.T) {
	e := newTrackEnv(t, nil)
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", e.tracker.Handler(http.HandlerFunc(redirect)))

	before := heapInUse()
	for i := range 50_000 {
		require.Equal(t, http.StatusNotFound, get(mux, fmt.Sprintf("/go/made-up-%d", i), "203.0.113.9:1", firefox))
	}
	grown := int64(heapInUse()) - int64(before)
	assert.Zero(t, held(t, e.store), "no click held")
	assert.Empty(t, e.sink.all(), "nothing counted")
	st := e.tracker.Stats()
	assert.Equal(t, track.Stats{Unserved: 50_000}, st)
	assert.Less(t, grown, int64(1<<20), "the heap grew by %d bytes", grown)

	// The real link is still counted, from the same client.
	assert.Equal(t, http.StatusFound, get(mux, "/go/spring-sale", "203.0.113.9:1", firefox))
	assert.Equal(t, 1, held(t, e.store))
	assert.Equal(t, uint64(1), e.tracker.Stats().Unique)
}

func TestHandlerReadsTheRoutesLink(t *testing.T) {
	var log bytes.Buffer
	e := newTrackEnv(t, &track.Options{PathValue: "id", Logger: slog.New(slog.NewTextHandler(&log, nil))})
	mux := http.NewServeMux()
	mux.Handle("GET /l/{id}", e.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	mux.Handle("GET /nolink/", e.tracker.Handler(http.NotFoundHandler()))
	mux.Handle("GET /c/{id}", e.tracker.ConversionHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("GIF89a")) // no WriteHeader: 200
	})))
	mux.Handle("GET /pixel", e.tracker.ConversionHandler(nil)) // nil is NotFound: never counted

	assert.Equal(t, http.StatusNoContent, get(mux, "/l/abc", "198.51.100.7:1", firefox))
	assert.Equal(t, http.StatusNotFound, get(mux, "/nolink/x", "198.51.100.7:1", firefox))
	assert.Equal(t, http.StatusOK, get(mux, "/c/abc", "198.51.100.7:1", firefox))
	assert.Equal(t, http.StatusNotFound, get(mux, "/pixel", "198.51.100.7:1", firefox))

	adds := e.sink.all()
	require.Len(t, adds, 2)
	assert.Equal(t, "abc", adds[0].Click.Link)
	assert.Equal(t, clickstore.KindClick, adds[0].Click.Kind)
	assert.Equal(t, "abc", adds[1].Click.Link)
	assert.Equal(t, clickstore.KindConversion, adds[1].Click.Kind)
	st := e.tracker.Stats()
	assert.Equal(t, uint64(1), st.Clicks)
	assert.Equal(t, uint64(1), st.Conversions)
	assert.Equal(t, uint64(1), st.Unserved, "the pixel route's 404")
	assert.Equal(t, uint64(1), st.NoLink, "/nolink/ has no {id}: served, not counted, said")
	assert.Contains(t, log.String(), "the route has no path wildcard")
	assert.Contains(t, log.String(), "path_value=id")
}

func TestMiddleware(t *testing.T) {
	e := newTrackEnv(t, nil)
	mw, err := e.tracker.Middleware(func(r *http.Request) (string, clickstore.Kind, bool) {
		link, ok := links[r.URL.Query().Get("l")]
		return r.URL.Query().Get("l"), clickstore.KindClick, ok && link != ""
	})
	require.NoError(t, err)
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := links[r.URL.Query().Get("l")]; !ok {
			http.Error(w, "no such link", http.StatusGone)
			return
		}
		w.WriteHeader(http.StatusFound)
	}))
	assert.Equal(t, http.StatusFound, get(h, "/?l=spring-sale", "198.51.100.7:1", firefox))
	assert.Equal(t, http.StatusGone, get(h, "/?l=nope", "198.51.100.7:1", firefox), "not named: passed through")
	require.Len(t, e.sink.all(), 1)
	assert.Equal(t, "spring-sale", e.sink.all()[0].Click.Link)
	assert.Equal(t, track.Stats{Clicks: 1, Unique: 1}, e.tracker.Stats())

	_, err = e.tracker.Middleware(nil)
	assert.EqualError(t, err, "track: Tracker.Middleware: nil LinkFunc")
}

// The writer the tracker hands the handler lets it flush and reach the
// connection's writer through http.ResponseController.
func TestHandlerWriterUnwraps(t *testing.T) {
	e := newTrackEnv(t, nil)
	var flushErr error
	h := e.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusFound)
		flushErr = http.NewResponseController(w).Flush()
		_, isFlusher := w.(http.Flusher)
		assert.True(t, isFlusher)
	}))
	r := httptest.NewRequest("GET", "/go/abc", nil)
	r.SetPathValue("link", "abc")
	r.RemoteAddr = "198.51.100.7:1"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.NoError(t, flushErr)
	assert.True(t, w.Flushed)
	assert.Equal(t, uint64(1), e.tracker.Stats().Clicks)
}

// fullAddrCtx answers reqctx.ClientKey the way the clientip middleware does
// once it hands the full address on: with a *netip.Addr.
type fullAddrCtx struct {
	context.Context
	addr netip.Addr
}

func (c *fullAddrCtx) Value(key any) any {
	if key == (reqctx.ClientKey{}) {
		return &c.addr
	}
	return c.Context.Value(key)
}

// masking stands in for a masking middleware: it replaces RemoteAddr with
// the masked address, as the clientip middleware does, and, if handOn,
// hands the full address on in the context, as the clientip middleware
// does since it learnt to.
func masking(handOn bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap := netip.MustParseAddrPort(r.RemoteAddr)
		ctx := r.Context()
		if handOn {
			ctx = &fullAddrCtx{Context: ctx, addr: ap.Addr()}
		}
		r = r.WithContext(ctx)
		r.RemoteAddr = netip.AddrPortFrom(ipmask.Default.Mask(ap.Addr()), ap.Port()).String()
		next.ServeHTTP(w, r)
	})
}

// Three visitors of one /24 are three unique clicks whether the masking
// middleware is installed in front of the tracker or behind it.
func TestMaskingMiddlewareEitherOrder(t *testing.T) {
	orders := []struct {
		name  string
		build func(tr *track.Tracker) http.Handler
	}{
		{name: "masking outside the tracker", build: func(tr *track.Tracker) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("GET /go/{link}", tr.Handler(http.HandlerFunc(redirect)))
			return masking(true, mux)
		}},
		{name: "tracker outside the masking", build: func(tr *track.Tracker) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("GET /go/{link}", tr.Handler(masking(true, http.HandlerFunc(redirect))))
			return mux
		}},
	}
	for _, o := range orders {
		t.Run(o.name, func(t *testing.T) {
			e := newTrackEnv(t, nil)
			h := o.build(e.tracker)
			for _, remote := range []string{"203.0.113.9:1", "203.0.113.10:1", "203.0.113.11:1", "203.0.113.9:2"} {
				require.Equal(t, http.StatusFound, get(h, "/go/spring-sale", remote, firefox))
			}
			var got []clickstore.Uniqueness
			for _, a := range e.sink.all() {
				got = append(got, a.U)
				assert.Equal(t, netip.MustParsePrefix("203.0.113.0/24"), a.Click.Network)
			}
			assert.Equal(t, []clickstore.Uniqueness{clickstore.Unique, clickstore.Unique, clickstore.Unique, clickstore.Repeat}, got)
		})
	}
}

// A request whose address some middleware masked without handing the full
// address on is not counted, and the tracker says so in its log and stats,
// without the address.
func TestMaskedAddressFailsLoudly(t *testing.T) {
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))

	t.Run("clientip without the full address", func(t *testing.T) {
		log.Reset()
		e := newTrackEnv(t, &track.Options{Logger: logger})
		// What the clientip middleware did before it handed the address on.
		clientipOld := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ap := netip.MustParseAddrPort(r.RemoteAddr)
				m := ipmask.Default.Mask(ap.Addr())
				r = r.WithContext(clientip.NewContext(r.Context(), clientip.Info{Addr: m, Prefix: ipmask.Default.Prefix(ap.Addr()), Outcome: clientip.Resolved}))
				r.RemoteAddr = netip.AddrPortFrom(m, ap.Port()).String()
				next.ServeHTTP(w, r)
			})
		}
		mux := http.NewServeMux()
		mux.Handle("GET /go/{link}", e.tracker.Handler(http.HandlerFunc(redirect)))
		h := clientipOld(mux)
		for _, remote := range []string{"203.0.113.9:1", "203.0.113.10:1", "203.0.113.11:1"} {
			require.Equal(t, http.StatusFound, get(h, "/go/spring-sale", remote, firefox), "the visitor is served")
		}
		assert.Empty(t, e.sink.all())
		assert.Equal(t, track.Stats{Unresolved: 3, MaskedAddrs: 3}, e.tracker.Stats())
		assert.Contains(t, log.String(), track.ErrMaskedAddr.Error())
		assert.Contains(t, log.String(), "masked_requests=1")
		assert.Contains(t, log.String(), "masked_requests=2")
		assert.NotContains(t, log.String(), "203.0.113")
	})

	t.Run("unknown IPv4 masking", func(t *testing.T) {
		log.Reset()
		e := newTrackEnv(t, &track.Options{Logger: logger})
		mux := http.NewServeMux()
		mux.Handle("GET /go/{link}", e.tracker.Handler(http.HandlerFunc(redirect)))
		h := masking(false, mux)
		for i := range 10 {
			get(h, "/go/spring-sale", fmt.Sprintf("203.0.113.%d:1", 9+i), firefox)
		}
		// A lone address ending in .0 is a visitor's; a run of them is a
		// masking middleware's: the first three are counted, then none.
		st := e.tracker.Stats()
		assert.Equal(t, uint64(3), st.Clicks)
		assert.Equal(t, uint64(7), st.MaskedAddrs)
		assert.Equal(t, uint64(7), st.Unresolved)
		assert.Contains(t, log.String(), "masked_requests=4")
		assert.NotContains(t, log.String(), "203.0.113")

		// A genuine .0 visitor between others is counted.
		e = newTrackEnv(t, &track.Options{Logger: logger})
		mux = http.NewServeMux()
		mux.Handle("GET /go/{link}", e.tracker.Handler(http.HandlerFunc(redirect)))
		for _, remote := range []string{"198.51.100.7:1", "203.0.113.0:1", "198.51.100.8:1", "192.0.2.0:1", "198.51.100.9:1"} {
			get(mux, "/go/spring-sale", remote, firefox)
		}
		assert.Equal(t, track.Stats{Clicks: 5, Unique: 5}, e.tracker.Stats())
	})

	t.Run("a policy that keeps every bit", func(t *testing.T) {
		log.Reset()
		keepAll, err := ipmask.New(32, 128)
		require.NoError(t, err)
		b := newPolicyBuilder(t, keepAll)
		sink := &recordingSink{}
		tr, err := track.New(b, newTrackEnv(t, nil).store, sink, &track.Options{Logger: logger})
		require.NoError(t, err)
		for _, remote := range []string{"[2001:db8:1:2::7]:1", "192.0.2.1:1", "192.0.2.2:1", "192.0.2.3:1", "192.0.2.4:1", "192.0.2.5:1"} {
			tr.Track(request("GET", remote, firefox), "abc", clickstore.KindClick)
		}
		assert.Equal(t, track.Stats{Clicks: 6, Unique: 6}, tr.Stats(), "no address looks masked when nothing is masked")
		assert.Empty(t, log.String())
	})

	t.Run("unknown IPv6 masking", func(t *testing.T) {
		log.Reset()
		e := newTrackEnv(t, &track.Options{Logger: logger})
		mux := http.NewServeMux()
		mux.Handle("GET /go/{link}", e.tracker.Handler(http.HandlerFunc(redirect)))
		get(masking(false, mux), "/go/spring-sale", "[2001:db8:1:2::7]:1", firefox)
		assert.Equal(t, track.Stats{Unresolved: 1, MaskedAddrs: 1}, e.tracker.Stats(), "no client has a zero interface part")
		assert.NotContains(t, log.String(), "2001:db8")
	})
}

// ctxSink remembers the error of the context each Add was called with.
type ctxSink struct{ errs []error }

func (s *ctxSink) Add(ctx context.Context, _ clickstore.Click, _ clickstore.Uniqueness) error {
	s.errs = append(s.errs, ctx.Err())
	return nil
}

// A visitor who hangs up once answered is still counted: the store and
// the sink get the request's values without its cancellation.
func TestHandlerCountsAfterTheClientLeft(t *testing.T) {
	e := newTrackEnv(t, nil)
	sink := &ctxSink{}
	tr, err := track.New(newTestBuilder(t), e.store, sink, nil)
	require.NoError(t, err)
	type key struct{}
	var seen any
	h := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusFound)
	}))
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	r := httptest.NewRequestWithContext(ctx, "GET", "/go/abc", nil)
	r.SetPathValue("link", "abc")
	r.RemoteAddr = "198.51.100.7:1"
	r.Header.Set("User-Agent", firefox)
	tr2, err := track.New(newTestBuilder(t), e.store, sink, &track.Options{Enrich: func(r *http.Request, _ netip.Addr) track.Attributes {
		seen = r.Context().Value(key{})
		cancel() // the client hangs up while the click is being counted
		return track.Attributes{}
	}})
	require.NoError(t, err)
	h2 := tr2.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusFound)
	}))
	h2.ServeHTTP(httptest.NewRecorder(), r)
	require.Len(t, sink.errs, 1)
	assert.NoError(t, sink.errs[0], "the sink's context is not cancelled")
	assert.Equal(t, "v", seen)
	assert.Equal(t, track.Stats{Clicks: 1, Unique: 1}, tr2.Stats())

	h.ServeHTTP(httptest.NewRecorder(), r) // the context is cancelled before the tracker runs
	require.Len(t, sink.errs, 2)
	assert.NoError(t, sink.errs[1])
	assert.Equal(t, uint64(1), tr.Stats().Clicks)
}
