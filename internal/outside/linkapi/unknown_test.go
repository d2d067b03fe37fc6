package linkapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unknownIDs are link IDs of every shape that names no link: well formed
// but absent, wrong length, wrong alphabet, encoded slashes and dots, dot
// segments, empty, several segments, a trailing slash, NUL, very long.
func unknownIDs() []string {
	return []string{
		"abcdefgh", "ABCDEFGH", "abcdefg", "abcdefghi", "a", "0OlI1lO0", "abcd-fgh", "abcd_fgh",
		"..%2f..%2f", "a%2Fb", "%2e%2e", "%2E", "abc%00def", "%ff%fe", "abcdefg%68",
		"", "abcdefgh/", "a/b", "a/b/c/d", "abcdefgh/extra",
		strings.Repeat("a", 100), strings.Repeat("Z", 8000),
		"x/../abcdefgh", "./abcdefgh", "abcdefgh/.", "%E2%80%AEhgfedcba",
		"203.0.113.9", "2001:db8::1", "%5B2001:db8::1%5D",
	}
}

// Every click and conversion pixel (GET or HEAD) on a link that does not exist is
// answered 404 with a JSON error, and is counted as an orphan click
// (clickanon_linktracker_orphan_clicks_total in /metrics, the only place
// an outsider can see it); stats and dashboards of unknown links are 404
// too, not orphans. Dot segments are first redirected to the clean path,
// as ServeMux does; the clean path is then the unknown link. Checked to
// fail: before the fix the orphans were counted in a variable nothing
// exposed (the metric stayed absent: 0), and /l/, /l/ID/ and /l/a/b were
// answered by ServeMux's plain-text 404 without being counted.
func TestUnknownLinksOfEveryShape(t *testing.T) {
	p := start(t, "")
	real := p.create("https://example.com/")
	follow := &http.Client{} // follows the canonical-path redirects
	want := 0.0
	for _, id := range unknownIDs() {
		for _, path := range []string{"/l/" + id, "/c/" + id + ".gif"} {
			for _, method := range []string{"GET", "HEAD"} {
				hr, err := http.NewRequest(method, p.Base+path, nil)
				require.NoError(t, err)
				hr.Header.Set("User-Agent", browser)
				res, err := follow.Do(hr)
				require.NoError(t, err)
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				require.NoError(t, err)
				if !assert.Equal(t, http.StatusNotFound, res.StatusCode, "%s %s: %s", method, path, b) {
					continue
				}
				if method == "GET" {
					assertJSONError(t, resp{res.StatusCode, res.Header, string(b)}, path)
				}
				want++
			}
		}
		for _, path := range []string{"/api/links/" + id + "/stats", "/links/" + id} {
			if strings.Contains(id, "/") || id == "" || strings.Contains(id, "..") {
				continue // another route, or none: not a link's page
			}
			r := p.do(req{path: path})
			assert.Equal(t, http.StatusNotFound, r.code, path)
		}
	}
	// The real link is no orphan, and neither are its pixel and stats.
	require.Equal(t, http.StatusFound, p.do(req{path: "/l/" + real.ID}).code)
	require.Equal(t, http.StatusOK, p.do(req{path: "/c/" + real.ID + ".gif"}).code)
	require.Equal(t, http.StatusOK, p.do(req{path: "/c/any.gif"}).code)
	assert.Equal(t, want, p.metric("clickanon_linktracker_orphan_clicks_total"), "every click and pixel on an unknown link is counted once")
	s := p.stats(real.ID)
	assert.EqualValues(t, 1, s.Clicks, "no orphan is counted on a real link")
}
