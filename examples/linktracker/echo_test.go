package main

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// answer is a response's status line, headers and body, as a leak check
// reads them.
func answer(t *testing.T, w interface {
	Header() http.Header
}, code int, body string) string {
	t.Helper()
	var h bytes.Buffer
	require.NoError(t, w.Header().Write(&h))
	return http.StatusText(code) + "\n" + h.String() + "\n" + body
}

// A path that is not in canonical form (a doubled slash, a dot segment)
// is redirected to its clean form, as ServeMux does; the redirect (its
// Location and its body) must not write back an address the visitor put
// in the path or the query, as ServeMux's own redirect does.
func TestCleanPathRedirectEchoesNoAddress(t *testing.T) {
	tr := newTracker(t, "")
	id := tr.create("https://example.com/")["id"]
	const client = "198.51.100.77"
	tests := []struct {
		name, path, location string
	}{
		{name: "doubled slash, address in the query", path: "/l//" + id + "?ip=" + client, location: "/l/" + id + "?ip=198.51.100.0"},
		{name: "dot segment, address in the query", path: "/l/./" + id + "?ip=" + client, location: "/l/" + id + "?ip=198.51.100.0"},
		{name: "address in the path", path: "//" + client + "/l/" + id, location: "/198.51.100.0/l/" + id},
		{name: "dot-dot segment", path: "/x/../" + client + "/", location: "/198.51.100.0/"},
		{name: "IPv6 in the query", path: "/links/" + id + "//?ip=2001:db8:1:2::7", location: "/links/" + id + "/?ip=2001:db8:1::"},
		{name: "percent-encoded IPv6 in the query", path: "/links//" + id + "?ip=2001%3Adb8%3A1%3A2%3A%3A7", location: "/links/" + id + "?ip=2001%3Adb8%3A1%3A%3A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tr.do("GET", tt.path, client, browser, nil)
			require.Equal(t, http.StatusTemporaryRedirect, w.Code, "a path not in canonical form is redirected")
			assert.Equal(t, tt.location, w.Header().Get("Location"))
			ipmasktest.AssertNoRawIP(t, ipmask.Default, answer(t, w, w.Code, w.Body.String()), "the redirect")
		})
	}
	tr.assertNoLeak()
}
