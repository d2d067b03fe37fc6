package serve_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// known are the links the redirect handler knows; it answers 404 to every
// other name.
var known = map[string]bool{
	"spring-sale":  true,
	"a/b":          true, // reached only as a%2Fb: {link} is one segment
	"caf\u00e9":    true, // NFC
	"Sale":         true,
	"x.y":          true,
	"100%":         true,
	"\u65e5\u672c": true,
}

// Link names as ServeMux sees them, over a real connection with a client
// that follows redirects: a path ServeMux cleans (dot segments, double
// slashes; escaped dots are not dot segments to it) is answered 301 to the clean path by the mux, not
// by the tracked handler, so the click is counted once, under the clean
// name; an escape the path value decodes names the decoded link; a name
// the handler does not know (another case, another Unicode normalization
// form, a trailing slash, an extra segment, an escaped '?', a NUL) is
// never counted.
func TestLinkNamesAsServeMuxSeesThem(t *testing.T) {
	for _, tc := range []struct {
		path string
		want string // the link counted once, or "" for none
	}{
		{"/go/spring-sale", "spring-sale"},
		{"/go/spring-sale?utm_source=x", "spring-sale"},
		{"/go/./spring-sale", "spring-sale"},
		{"/go/x/../spring-sale", "spring-sale"},
		{"/go/x/y/../../spring-sale", "spring-sale"},
		{"//go/spring-sale", "spring-sale"},
		{"/go//spring-sale", "spring-sale"},
		{"/go/spring-sale/.", "spring-sale"},
		{"/./go/spring-sale", "spring-sale"},
		{"/go/%73pring-sale", "spring-sale"},
		{"/go/spring%2Dsale", "spring-sale"},
		{"/go/a%2Fb", "a/b"},
		{"/go/a%2fb", "a/b"},
		{"/go/x.y", "x.y"},
		{"/go/100%25", "100%"},
		{"/go/caf%C3%A9", "caf\u00e9"},
		{"/go/%E6%97%A5%E6%9C%AC", "\u65e5\u672c"},
		{"/go/Sale", "Sale"},

		{"/go/a/b", ""},
		{"/go/spring-sale/", ""},
		{"/go/.%2E/go/spring-sale", ""}, // escaped dots are no dot segments to ServeMux
		{"/go/%2e/spring-sale", ""},
		{"/go/spring-sale//", ""},
		{"/GO/spring-sale", ""},
		{"/go/SPRING-SALE", ""},
		{"/go/sale", ""},
		{"/go/cafe%CC%81", ""}, // NFD
		{"/go/CAF%C3%89", ""},
		{"/go/spring-sale%3Futm_source=x", ""},
		{"/go/spring-sale%00", ""},
		{"/go/spring-sale%20", ""},
		{"/go/%2E%2E", ""},
		{"/go/..", ""},
		{"/go/", ""},
		{"/go", ""},
		{"/go/a%2F..%2Fspring-sale", ""},
		{"/go/x.y.", ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			g := newRig(t, nil)
			mux := http.NewServeMux()
			mux.Handle("GET /go/{link}", g.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !known[r.PathValue("link")] {
					http.NotFound(w, r)
					return
				}
				http.Redirect(w, r, "/landing", http.StatusFound)
			})))
			mux.HandleFunc("GET /landing", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "welcome") })
			srv := httptest.NewServer(mux)
			defer srv.Close()
			u, err := url.Parse(srv.URL)
			require.NoError(t, err)
			path, query := tc.path, ""
			if i := strings.IndexByte(path, '?'); i >= 0 {
				path, query = path[:i], path[i+1:]
			}
			// Opaque "//host/path" is sent as written: neither cleaned
			// nor escaped again.
			r, err := http.NewRequest("GET", srv.URL, nil)
			require.NoError(t, err)
			r.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: "//" + u.Host + path, RawQuery: query}
			r.Header.Set("User-Agent", chrome)
			resp, err := http.DefaultClient.Do(r) // follows the mux's 301 and the handler's 302
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			srv.Close()
			adds := g.sink.all()
			s := g.tracker.Stats()
			if tc.want == "" {
				assert.Empty(t, adds, "a name the handler does not know was counted")
				assert.Zero(t, s.Clicks)
				return
			}
			assert.Equal(t, http.StatusOK, resp.StatusCode, "the visitor reached the landing page")
			if assert.Len(t, adds, 1, "counted once") {
				assert.Equal(t, tc.want, adds[0].click.Link)
			}
			assert.Equal(t, uint64(1), s.Clicks)
			assert.Equal(t, uint64(1), s.Unique)
		})
	}
}
