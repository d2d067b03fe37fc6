package tracking_test

import (
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
)

// redirectAll answers every request with a redirect, known link or not: what
// the mux routes to it is what the tracker may count, so the rows below
// show what routing alone lets through.
var redirectAll = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "https://example.com/", http.StatusFound)
})

// Every ServeMux pattern form: the tracker counts exactly the requests the
// mux routed to its handler, with the link the route's wildcard matched
// (after the mux unescaped it), and nothing the mux answered itself (404,
// 405, the redirects to a trailing slash or a cleaned path).
func TestServeMuxPatternForms(t *testing.T) {
	type hit struct {
		method, target, host string
		code                 int
		link                 string // "" when not counted
	}
	tests := []struct {
		name, pattern, wildcard string
		hits                    []hit
	}{
		{"plain wildcard", "GET /go/{link}", "", []hit{
			{"GET", "/go/abc", "", 302, "abc"},
			{"GET", "/go/a%2Fb", "", 302, "a/b"},
			{"GET", "/go/abc/def", "", 404, ""},
			{"GET", "/go/", "", 404, ""},
			{"POST", "/go/abc", "", 405, ""},
			{"DELETE", "/go/abc", "", 405, ""},
			{"GET", "/go/../go/abc", "", 307, ""},
			{"GET", "/go//abc", "", 307, ""},
			{"GET", "/other/abc", "", 404, ""},
		}},
		{"rest wildcard", "/out/{link...}", "", []hit{
			{"GET", "/out/a/b/c", "", 302, "a/b/c"},
			{"POST", "/out/x", "", 302, "x"},
			{"GET", "/out/", "", 302, ""}, // an empty link: served, not counted
			{"GET", "/out", "", 307, ""},  // the mux's redirect to /out/
		}},
		{"trailing slash", "GET /go/{link}/", "", []hit{
			{"GET", "/go/abc", "", 307, ""}, // the mux redirects, the tracker sees nothing
			{"GET", "/go/abc/", "", 302, "abc"},
			{"GET", "/go/abc/x", "", 302, "abc"}, // a pattern ending in a slash matches the subtree
		}},
		{"exact end", "GET /go/{link}/{$}", "", []hit{
			{"GET", "/go/abc/", "", 302, "abc"},
			{"GET", "/go/abc/x", "", 404, ""},
		}},
		{"host-qualified", "GET links.example/go/{link}", "", []hit{
			{"GET", "/go/abc", "links.example", 302, "abc"},
			{"GET", "/go/abc", "links.example:8080", 302, "abc"},
			{"GET", "/go/abc", "other.example", 404, ""},
		}},
		{"another wildcard name", "GET /c/{campaign}/{slug}", "slug", []hit{
			{"GET", "/c/spring/sale", "", 302, "sale"},
			{"GET", "/c/spring", "", 404, ""},
		}},
		{"no such wildcard", "GET /c/{campaign}", "", []hit{
			{"GET", "/c/spring", "", 302, ""}, // served, counted in NoLink
		}},
		{"any method", "/go/{link}", "", []hit{
			{"PUT", "/go/abc", "", 302, "abc"},
			{"HEAD", "/go/abc", "", 302, "abc"}, // counted, as a bot
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, &track.Options{PathValue: tt.wildcard}, 0)
			mux := http.NewServeMux()
			mux.Handle(tt.pattern, e.tracker.Handler(redirectAll))
			var want []string
			for i, h := range tt.hits {
				r := req(h.method, h.target, "198.51.100.7:1234", firefox)
				if h.host != "" {
					r.Host = h.host
				}
				assert.Equal(t, h.code, serve(mux, r), "hit %d: %s %s", i, h.method, h.target)
				if h.link != "" {
					want = append(want, h.link)
				}
			}
			assert.Equal(t, want, e.sink.links, "the links counted")
			assert.Equal(t, uint64(len(want)), e.tracker.Stats().Clicks)
		})
	}
}

// chi sets path values the ServeMux way: Tracker.Handler on a chi route
// counts the route's links and nothing chi answers itself (404, 405).
func TestChiRoutes(t *testing.T) {
	e := newEnv(t, nil, 0)
	r := chi.NewRouter()
	r.Get("/go/{link}", e.tracker.Handler(redirectAll).ServeHTTP)
	r.Handle("/out/*", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	hits := []struct {
		method, target string
		code           int
	}{
		{"GET", "/go/abc", 302},
		{"GET", "/go/a%2Fb", 302},
		{"POST", "/go/abc", 405},
		{"GET", "/go/abc/def", 404},
		{"GET", "/go/", 404},
		{"GET", "/out/abc", 204},
	}
	for _, h := range hits {
		assert.Equal(t, h.code, serve(r, req(h.method, h.target, "198.51.100.7:1", firefox)), "%s %s", h.method, h.target)
	}
	require.Len(t, e.sink.links, 2)
	assert.Equal(t, "abc", e.sink.links[0])
	assert.Contains(t, []string{"a/b", "a%2Fb"}, e.sink.links[1], "chi's raw or unescaped link")
}

// The middleware form names links with a LinkFunc, for any router; the
// wrapped handler's answer decides as with Handler, and requests the
// LinkFunc does not name pass through uncounted.
func TestMiddlewareForm(t *testing.T) {
	e := newEnv(t, nil, 0)
	mw, err := e.tracker.Middleware(func(r *http.Request) (string, clickstore.Kind, bool) {
		const p = "/go/"
		if len(r.URL.Path) > len(p) && r.URL.Path[:len(p)] == p {
			return r.URL.Path[len(p):], clickstore.KindClick, true
		}
		return "", 0, false
	})
	require.NoError(t, err)
	known := map[string]bool{"abc": true, "spring-sale": true}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.URL.Path) > 4 && known[r.URL.Path[4:]] {
			http.Redirect(w, r, "https://example.com/", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	}))
	for _, p := range []string{"/go/abc", "/go/nope", "/go/spring-sale", "/", "/go/", "/other", "/go/abc"} {
		serve(h, req("GET", p, "198.51.100.7:1", firefox))
	}
	assert.Equal(t, []string{"abc", "spring-sale", "abc"}, e.sink.links)
	st := e.tracker.Stats()
	assert.Equal(t, uint64(1), st.Unserved, "/go/nope answered 404 (/go/ was not named)")
	assert.Equal(t, uint64(1), st.Repeat)
}

// A more specific pattern beside the tracked one takes its requests: the
// tracker counts only what its own route matched.
func TestMoreSpecificRoutesAreNotTracked(t *testing.T) {
	e := newEnv(t, nil, 0)
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", e.tracker.Handler(redirectAll))
	mux.Handle("GET /go/special", redirectAll)
	mux.Handle("GET /go/{link}/stats", redirectAll)
	mux.Handle("POST /go/{link}", redirectAll)
	for _, h := range []struct{ method, path string }{
		{"GET", "/go/special"}, {"GET", "/go/abc/stats"}, {"POST", "/go/abc"}, {"GET", "/go/abc"},
	} {
		assert.Equal(t, http.StatusFound, serve(mux, req(h.method, h.path, "198.51.100.7:1", firefox)))
	}
	assert.Equal(t, []string{"abc"}, e.sink.links)
}
