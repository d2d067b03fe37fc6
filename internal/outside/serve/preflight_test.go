package serve_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
)

// cors answers a CORS preflight (OPTIONS with Access-Control-Request-Method)
// with 204 and the allowed methods, as every CORS middleware does, and
// serves everything else with next.
func cors(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "https://shop.example")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next(w, r)
	}
}

// preflight sends what a browser sends before a cross-origin request with a
// JSON body: an OPTIONS request no person asked for, then the request.
func preflight(t *testing.T, url, method string) {
	t.Helper()
	r, err := http.NewRequest(http.MethodOptions, url, nil)
	require.NoError(t, err)
	r.Header.Set("User-Agent", chrome)
	r.Header.Set("Origin", "https://shop.example")
	r.Header.Set("Access-Control-Request-Method", method)
	r.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := client().Do(r)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}

func send(t *testing.T, url, method string) {
	t.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader(`{"order":1}`))
	require.NoError(t, err)
	r.Header.Set("User-Agent", chrome)
	r.Header.Set("Origin", "https://shop.example")
	r.Header.Set("Content-Type", "application/json")
	resp, err := client().Do(r)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	require.Less(t, resp.StatusCode, 400)
}

// A route registered without a method ("/go/{link}", as chi's Handle and
// many ServeMux setups do) behind a CORS layer: the browser's preflight is
// no click and no conversion of a person. A visitor's one click and one
// conversion, each fetched cross-origin with a preflight in front, are one
// person's click (Unique) and one conversion; whatever the preflight is
// counted as carries a bot label, as a HEAD does, so that no breakdown
// counts it as a person.
func TestPreflightIsNoPersonsClick(t *testing.T) {
	for _, pattern := range []string{"/go/{link}", "/out/{link}/now"} {
		t.Run(pattern, func(t *testing.T) {
			g := newRig(t, nil)
			mux := http.NewServeMux()
			redirect := cors(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://example.com/", http.StatusFound)
			})
			pixel := cors(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
			mux.Handle(pattern, g.tracker.Handler(redirect))
			mux.Handle("/convert/{link}", g.tracker.ConversionHandler(pixel))
			srv := httptest.NewServer(mux)
			defer srv.Close()
			link := srv.URL + strings.Replace(pattern, "{link}", "sale", 1)

			preflight(t, link, "GET")
			send(t, link, "GET")
			preflight(t, srv.URL+"/convert/sale", "POST")
			send(t, srv.URL+"/convert/sale", "POST")
			srv.Close()

			var personClicks, personConversions int
			for _, a := range g.sink.all() {
				if a.click.Bot != "" {
					if a.click.Kind == clickstore.KindClick {
						assert.Equal(t, clickstore.Repeat, a.u, "a bot's click is never unique")
					}
					continue
				}
				switch a.click.Kind {
				case clickstore.KindClick:
					personClicks++
					assert.Equal(t, clickstore.Unique, a.u, "the person's click is their first on the link")
				case clickstore.KindConversion:
					personConversions++
				}
			}
			assert.Equal(t, 1, personClicks, "the preflight made a person's click of its own")
			assert.Equal(t, 1, personConversions, "the preflight made a person's conversion of its own")
		})
	}
}
