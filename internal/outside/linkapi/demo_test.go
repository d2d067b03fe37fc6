package linkapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// -demo creates a link at start and prints its tracking URL (and its
// dashboard's), on the address the tracker listens on: the tracking URL
// redirects to the demo target and counts the click, the dashboard shows
// it. Checked to fail: with the demo line printing the -addr flag
// (127.0.0.1:0) instead of the address listened on, it fails.
func TestDemoPrintsWorkingURLs(t *testing.T) {
	p := start(t, "", "-demo")
	var tracking, dashboard string
	p.Eventually("the demo lines", func() bool {
		for _, line := range strings.Split(p.Stdout.String(), "\n") {
			if u, ok := strings.CutPrefix(line, "demo link: "); ok {
				tracking = u
			}
			if u, ok := strings.CutPrefix(line, "dashboard: "); ok {
				dashboard = u
			}
		}
		return tracking != "" && dashboard != ""
	})
	path, ok := strings.CutPrefix(tracking, p.Base)
	require.True(t, ok, "the tracking URL %q is on %s", tracking, p.Base)
	r := p.do(req{path: path})
	require.Equal(t, http.StatusFound, r.code)
	assert.Equal(t, "https://example.com/", r.header.Get("Location"))
	id := strings.TrimPrefix(path, "/l/")
	assert.Equal(t, p.Base+"/links/"+id, dashboard)
	r = p.do(req{path: "/links/" + id})
	require.Equal(t, http.StatusOK, r.code)
	assert.Contains(t, r.body, `<b id="clicks">1</b>`)
	assert.EqualValues(t, 1, p.stats(id).Clicks)
}
