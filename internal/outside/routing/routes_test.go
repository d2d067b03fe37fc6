package routing_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
)

// hit is one request and what should come of it.
type hit struct {
	method, target, host string
	code                 int
	link                 string // "" when not counted
}

// Tracker.Handler reached through http.StripPrefix, nested muxes, host and
// method patterns: the tracker counts exactly the requests the innermost
// route matched, with the link its wildcard holds, and nothing a mux on
// the way answered itself (404, 405, its redirects).
func TestNestedMuxesAndStripPrefix(t *testing.T) {
	tests := []struct {
		name  string
		build func(h http.Handler) http.Handler // h is tracker.Handler(redirectAll)
		hits  []hit
	}{
		{"StripPrefix to an inner mux", func(h http.Handler) http.Handler {
			inner := http.NewServeMux()
			inner.Handle("GET /go/{link}", h)
			outer := http.NewServeMux()
			outer.Handle("/t/", http.StripPrefix("/t", inner))
			return outer
		}, []hit{
			{"GET", "/t/go/abc", "", 302, "abc"},
			{"GET", "/t/go/a%2Fb", "", 302, "a/b"},
			{"GET", "/go/abc", "", 404, ""},
			{"POST", "/t/go/abc", "", 405, ""},
			{"GET", "/t/go/abc/x", "", 404, ""},
			{"GET", "/t/go/", "", 404, ""},
		}},
		{"the outer route's wildcard through StripPrefix", func(h http.Handler) http.Handler {
			outer := http.NewServeMux()
			outer.Handle("GET /api/go/{link}", http.StripPrefix("/api", h))
			return outer
		}, []hit{
			{"GET", "/api/go/abc", "", 302, "abc"},
			{"GET", "/api/go/x%20y", "", 302, "x y"},
			{"DELETE", "/api/go/abc", "", 405, ""},
			{"GET", "/go/abc", "", 404, ""},
		}},
		{"three muxes deep, a rest wildcard at the bottom", func(h http.Handler) http.Handler {
			bottom := http.NewServeMux()
			bottom.Handle("/out/{link...}", h)
			middle := http.NewServeMux()
			middle.Handle("/v1/", http.StripPrefix("/v1", bottom))
			top := http.NewServeMux()
			top.Handle("/api/", http.StripPrefix("/api", middle))
			return top
		}, []hit{
			{"GET", "/api/v1/out/https://example.org/a", "", 307, ""}, // the mux redirects to the cleaned path
			{"GET", "/api/v1/out/https:%2F%2Fexample.org%2Fa", "", 302, "https://example.org/a"},
			{"GET", "/api/v1/out/", "", 302, ""}, // an empty link: served, not counted
			{"GET", "/api/v2/out/a", "", 404, ""},
		}},
		{"host patterns on an inner mux", func(h http.Handler) http.Handler {
			inner := http.NewServeMux()
			inner.Handle("GET links.example/go/{link}", h)
			inner.Handle("GET other.example/go/{link}", redirectAll)
			outer := http.NewServeMux()
			outer.Handle("/", inner)
			return outer
		}, []hit{
			{"GET", "/go/abc", "links.example", 302, "abc"},
			{"GET", "/go/def", "other.example", 302, ""},
			{"GET", "/go/abc", "third.example", 404, ""},
		}},
		{"method patterns side by side", func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("GET /go/{link}", h)
			mux.Handle("PUT /go/{link}", redirectAll)
			return mux
		}, []hit{
			{"GET", "/go/abc", "", 302, "abc"},
			{"PUT", "/go/abc", "", 302, ""},
			{"POST", "/go/abc", "", 405, ""},
			{"OPTIONS", "/go/abc", "", 405, ""},
			{"PATCH", "/go/abc", "", 405, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, 0)
			h := tt.build(e.tracker.Handler(redirectAll))
			var want []string
			for i, h2 := range tt.hits {
				r := req(h2.method, h2.target, "198.51.100.7:1234", firefox)
				if h2.host != "" {
					r.Host = h2.host
				}
				assert.Equal(t, h2.code, serve(h, r), "hit %d: %s %s", i, h2.method, h2.target)
				if h2.link != "" {
					want = append(want, h2.link)
				}
			}
			assert.Equal(t, want, e.sink.links(), "the links counted")
			assert.Equal(t, uint64(len(want)), e.tracker.Stats().Clicks)
		})
	}
}

// A HEAD request the mux hands a GET route is counted as a bot's: labelled
// "head", a repeat, and not held in the store, so the same visitor's GET
// that follows (a link checker's HEAD before a browser's GET, say) is
// still their unique click. Through every route form.
func TestHeadOnAGetRoute(t *testing.T) {
	for _, pattern := range []string{"GET /go/{link}", "GET /go/{link...}", "GET links.example/go/{link}", "/go/{link}"} {
		t.Run(pattern, func(t *testing.T) {
			e := newEnv(t, nil, 0)
			mux := http.NewServeMux()
			mux.Handle(pattern, e.tracker.Handler(redirectAll))
			send := func(method string) {
				r := req(method, "/go/abc", "198.51.100.7:1234", firefox)
				r.Host = "links.example"
				assert.Equal(t, http.StatusFound, serve(mux, r), method)
			}
			send("HEAD")
			send("HEAD")
			assert.Zero(t, e.store.Len(), "a HEAD takes no room in the store")
			send("GET")
			send("GET")
			adds := e.sink.all()
			if assert.Len(t, adds, 4) {
				for i, a := range adds[:2] {
					assert.Equal(t, track.LabelHead, a.click.Bot, "HEAD %d", i)
					assert.Equal(t, clickstore.Repeat, a.u, "HEAD %d", i)
				}
				assert.Empty(t, adds[2].click.Bot)
				assert.Equal(t, clickstore.Unique, adds[2].u, "the first GET after the HEADs")
				assert.Equal(t, clickstore.Repeat, adds[3].u)
			}
			assert.Equal(t, 1, e.store.Len())
		})
	}
}
