package operate_test

import (
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// TestAddressesWrittenInRequests sends requests that carry an address
// (every form of ipmasktest.Cases) where a visitor writes it, not where
// the proxy names the client: in the path of a link, of a pixel, of the
// stats API and of a dashboard, raw and percent-encoded, in the query, in
// the User-Agent and the Referer, and in the URL of a link created.
// The operator's whole stderr, and every answer (error pages included),
// hold none raw. Checked to fail: the answers and log of the same
// requests hold the addresses when written back raw (teeth: the request
// paths themselves are leaks), and the check fails when the access log
// prints r.URL.RequestURI() unmasked (app.go changed for the check).
func TestAddressesWrittenInRequests(t *testing.T) {
	t.Parallel() // a child process, waited on
	p := start(t)
	id := p.createLink("https://example.com/x")
	var paths []string
	for _, c := range ipmasktest.Cases() {
		esc := url.PathEscape(c.Text)
		paths = append(paths,
			"/l/"+esc, "/l/"+id+"?from="+url.QueryEscape(c.Text), "/l/"+id+"/"+esc,
			"/c/"+esc+".gif", "/api/links/"+esc+"/stats", "/links/"+esc, "/"+esc,
			"/l/"+strings.ReplaceAll(url.QueryEscape(c.Text), ".", "%2E"))
	}
	require.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, strings.Join(paths, " ")), "teeth")
	for i, path := range paths {
		c := ipmasktest.Cases()[i/8]
		req, err := http.NewRequest("GET", p.Base+path, nil)
		require.NoError(t, err)
		req.Header.Set("User-Agent", "Mozilla/5.0 (from "+c.Text+")")
		req.Header.Set("Referer", "http://"+c.Text+"/page")
		resp, err := client.Do(req)
		require.NoError(t, err, path)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		p.mu.Lock()
		p.bodies = append(p.bodies, string(body))
		p.mu.Unlock()
		assert.Less(t, resp.StatusCode, 500, path)
	}
	// Links whose URL names an address: the answer echoes the URL its
	// creator gave (not checked), the log must not.
	for _, c := range ipmasktest.Cases() {
		resp, err := client.Post(p.Base+"/api/links", "application/json", strings.NewReader(`{"url":"https://example.com/?peer=`+url.QueryEscape(c.Text)+`"}`))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Less(t, resp.StatusCode, 500)
	}
	// The visitors' addresses are in the requests, not in the answers.
	var addrs = addrsOf(t, visitorsOfCases())
	p.noLeak(t, addrs)
}

// visitorsOfCases is every address of ipmasktest.Cases as a visitor.
func visitorsOfCases() []visitor {
	var out []visitor
	for _, c := range ipmasktest.Cases() {
		out = append(out, visitor{c.Text, []netip.Addr{c.Addr.WithZone("")}})
	}
	return out
}
