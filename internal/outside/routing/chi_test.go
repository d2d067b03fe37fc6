package routing_test

import (
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
)

// chi's route forms the first review did not try: a regexp parameter, a
// mounted sub-router, a route group, the middleware form on a group with
// With, and a conversion named by the LinkFunc: each counts exactly the
// requests its route matched and its handler served below 400, with the
// link chi matched.
func TestChiRouteForms(t *testing.T) {
	e := newEnv(t, nil, 0)
	known := map[string]bool{"abc": true, "spring-sale": true}
	lookup := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if known[chi.URLParam(r, "link")] {
			http.Redirect(w, r, "https://example.com/", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	})
	mw, err := e.tracker.Middleware(func(r *http.Request) (string, clickstore.Kind, bool) {
		l := chi.URLParam(r, "link")
		kind := clickstore.KindClick
		if chi.URLParam(r, "kind") == "px" {
			kind = clickstore.KindConversion
		}
		return l, kind, l != ""
	})
	require.NoError(t, err)

	r := chi.NewRouter()
	r.Method("GET", "/re/{link:[a-z-]+}", e.tracker.Handler(lookup))
	sub := chi.NewRouter()
	sub.Method("GET", "/go/{link}", e.tracker.Handler(lookup))
	r.Mount("/api", sub)
	r.Route("/grp", func(g chi.Router) {
		g.With(mw).Get("/{kind}/{link}", lookup)
	})
	hits := []struct {
		target string
		code   int
		link   string
		kind   clickstore.Kind
	}{
		{"/re/abc", 302, "abc", clickstore.KindClick},
		{"/re/ab1", 404, "", 0}, // chi's regexp refuses it
		{"/re/nope", 404, "", 0},
		{"/api/go/spring-sale", 302, "spring-sale", clickstore.KindClick},
		{"/api/go/nope", 404, "", 0},
		{"/api/other/abc", 404, "", 0},
		{"/grp/go/abc", 302, "abc", clickstore.KindClick},
		{"/grp/px/abc", 302, "abc", clickstore.KindConversion}, // after the click: attributed
		{"/grp/go/nope", 404, "", 0},
		{"/grp/go", 404, "", 0},
	}
	var want []added
	for _, h := range hits {
		assert.Equal(t, h.code, serve(r, req("GET", h.target, "198.51.100.7:1", firefox)), h.target)
		if h.link != "" {
			want = append(want, added{click: clickstore.Click{Link: h.link, Kind: h.kind}})
		}
	}
	got := e.sink.all()
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, want[i].click.Link, got[i].click.Link, "add %d", i)
		assert.Equal(t, want[i].click.Kind, got[i].click.Kind, "add %d", i)
	}
	st := e.tracker.Stats()
	assert.Equal(t, uint64(3), st.Unserved, "the three 404s the handlers answered")
	assert.Equal(t, uint64(1), st.Conversions)
	assert.Zero(t, st.NoLink)
}
