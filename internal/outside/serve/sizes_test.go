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

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// Outbound links a visitor names ("/out/{link...}"), of every length from
// a few bytes to net/http's own limit, with an address written in them at
// the start, the middle or the end, plain or percent-encoded once or
// twice: the visitor is always sent on; the click is counted once when
// the link, once masked, fits clickstore.MaxLinkLen, and not at all
// otherwise; no address comes out whole in what the sink gets; a request
// line past net/http's header limit never reaches the tracker.
func TestLongLinksOverTheWire(t *testing.T) {
	g := newRig(t, nil)
	mux := http.NewServeMux()
	mux.Handle("GET /out/{link...}", g.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/landing", http.StatusFound)
	})))
	mux.HandleFunc("GET /landing", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)

	addrForms := map[string]string{ // as written in the path -> as the path value decodes it
		"plain":   "198.51.100.77",
		"escaped": "198%2E51%2E100%2E77",
		"twice":   "198%252E51%252E100%252E77",
		"v6":      "2001:db8:1:2:3:4:5:6",
	}
	type sent struct {
		name    string
		counted bool
		link    string
	}
	var want []sent
	for form, addr := range addrForms {
		for _, n := range []int{2, 3, 200, 240, 243, 244, 245, 250, 255, 256, 257, 300, 1000, 4096, 100 << 10, 129 << 10, 512 << 10} {
			for _, where := range []string{"start", "middle", "end"} {
				pad := strings.Repeat("a", n)
				var path string
				switch where {
				case "start":
					path = addr + "/" + pad
				case "middle":
					path = pad[:n/2] + "/" + addr + "/" + pad[n/2:]
				case "end":
					path = pad + "/" + addr
				}
				decoded, err := url.PathUnescape(path)
				require.NoError(t, err)
				// The link the tracker keeps is the decoded one with the
				// address masked: one byte shorter for the IPv4 forms
				// (.77 -> .0), the IPv6 one shortened to its /48.
				masked := strings.Replace(decoded, "198.51.100.77", "198.51.100.0", 1)
				// Escaped twice, the path value holds it escaped once: its
				// decoded text is masked and escaped again, where a dot
				// needs no escape.
				masked = strings.Replace(masked, "198%2E51%2E100%2E77", "198.51.100.0", 1)
				masked = strings.Replace(masked, "2001:db8:1:2:3:4:5:6", "2001:db8:1::", 1)
				counted := len(masked) <= clickstore.MaxLinkLen
				name := form + "/" + where + "/" + path[:min(len(path), 40)]
				r, err := http.NewRequest("GET", srv.URL, nil)
				require.NoError(t, err)
				r.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: "//" + u.Host + "/out/" + path}
				r.Header.Set("User-Agent", chrome)
				resp, err := client().Do(r)
				require.NoError(t, err, name)
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				assert.Equal(t, http.StatusFound, resp.StatusCode, "%s: the visitor was not sent on", name)
				want = append(want, sent{name, counted, masked})
			}
		}
	}
	// Past net/http's limit on the request line and headers: answered by
	// the server, never seen by the tracker.
	r, err := http.NewRequest("GET", srv.URL, nil)
	require.NoError(t, err)
	r.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: "//" + u.Host + "/out/" + strings.Repeat("a", http.DefaultMaxHeaderBytes+8192) + "/198.51.100.77"}
	if resp, err := client().Do(r); err == nil {
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	}
	srv.Close()

	adds := g.sink.all()
	var n int
	for _, w := range want {
		if w.counted {
			n++
		}
	}
	assert.Equal(t, n, len(adds), "counted once each when the masked link fits, never otherwise")
	expect := map[string]bool{}
	for _, w := range want {
		if w.counted {
			expect[w.link] = true
		}
	}
	for _, a := range adds {
		if !expect[a.click.Link] {
			t.Errorf("counted unexpectedly: %d bytes: %.60q", len(a.click.Link), a.click.Link)
		}
	}
	s := g.tracker.Stats()
	assert.Equal(t, uint64(n), s.Clicks)
	assert.Equal(t, uint64(len(want)-n), s.BuildFailures, "a link too long is a build failure")
	for _, a := range adds {
		assert.LessOrEqual(t, len(a.click.Link), clickstore.MaxLinkLen)
		ipmasktest.AssertNoRawIP(t, ipmask.Default, a.click.Link)
		dec, err := url.PathUnescape(a.click.Link)
		if err == nil {
			ipmasktest.AssertNoRawIP(t, ipmask.Default, dec)
			if dec2, err := url.PathUnescape(dec); err == nil {
				ipmasktest.AssertNoRawIP(t, ipmask.Default, dec2)
			}
		}
	}
}

// A user agent of any length up to net/http's limit: the click is counted
// once, as a person's, with the agent classified by its first KiB; two
// agents that differ only past it are two visitors, as the pseudonym is
// keyed on the whole agent.
func TestLongAgentsOverTheWire(t *testing.T) {
	g := newRig(t, nil)
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", g.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://example.com/", http.StatusFound)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	sizes := []int{1000, 1023, 1024, 1025, 4096, 64 << 10, 900 << 10}
	for _, n := range sizes {
		for _, tail := range []string{"x", "y"} {
			ua := chrome + " " + strings.Repeat("z", n-len(chrome)-2) + tail
			r, err := http.NewRequest("GET", srv.URL+"/go/sale", nil)
			require.NoError(t, err)
			r.Header.Set("User-Agent", ua)
			resp, err := client().Do(r)
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, http.StatusFound, resp.StatusCode, n)
		}
	}
	srv.Close()
	adds := g.sink.all()
	require.Len(t, adds, 2*len(sizes))
	for i, a := range adds {
		assert.Empty(t, a.click.Bot, "agent %d", i)
		assert.Equal(t, "desktop", a.click.Device, "agent %d", i)
		assert.Equal(t, clickstore.Unique, a.u, "agent %d: each agent is a visitor of its own", i)
	}
}
