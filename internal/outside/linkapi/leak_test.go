package linkapi_test

import (
	"encoding/json"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// Clients of every address form (ipmasktest.Cases: IPv4, IPv6, mapped,
// 6to4, Teredo, NAT64, ISATAP...) reach the tracker through the trusted
// proxy and take every error path, each also writing their own address
// where a client can: bad bodies (400), a URL holding their address (400),
// another scheme naming it (400), unknown links named by it (404, also as
// a pixel and percent-encoded), stats and dashboards of it, a wrong method
// (405), a dot segment before it (the canonical redirect), a second link
// within the minute (429), a malformed X-Forwarded-For. No log line, no
// response body, no Location and nothing on stdout holds a raw client
// address. Checked to fail: the addresses are asserted to be leaks of
// themselves first (teeth), and with the 429 answer made to end in the
// resolved client address every client's row failed. (Putting the raw
// address in the access log does not: the log handler masks it anyway.)
func TestNoAddressOnAnyErrorPath(t *testing.T) {
	p := start(t, "", "-trusted-proxies", "127.0.0.1/32", "-create-per-minute", "1")
	var clients []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, c := range ipmasktest.Cases() {
		if !seen[c.Addr] {
			seen[c.Addr] = true
			clients = append(clients, c.Addr)
		}
	}
	require.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, clients[0].String()), "teeth")
	var locations []string
	for _, a := range clients {
		s := a.String()
		host := s
		if a.Is6() && !a.Is4In6() {
			host = "[" + s + "]"
		}
		body := func(u string) string {
			b, err := json.Marshal(map[string]string{"url": u})
			require.NoError(t, err)
			return string(b)
		}
		reqs := []req{
			{method: "POST", path: "/api/links", body: `{"url":"https://example.com/","ip":"` + s + `"}`},
			{method: "POST", path: "/api/links", body: `{"url":"https://example.com/"} ` + s},
			{method: "POST", path: "/api/links", body: body("https://" + host + "/")},
			{method: "POST", path: "/api/links", body: body("https://example.com/?ip=" + s)},
			{method: "POST", path: "/api/links", body: body("ftp://" + host + "/")},
			{method: "POST", path: "/api/links", body: body("https://" + s + "@example.com/")},
			{method: "POST", path: "/api/links", body: body("https://example.com/ok")},
			{method: "POST", path: "/api/links", body: body("https://example.com/again")}, // 429
			{path: "/l/" + url.PathEscape(s)},
			{path: "/l/" + strings.ReplaceAll(s, "%", "%25")},
			{path: "/l/abcdefgh?ip=" + url.QueryEscape(s)},
			{path: "/l/" + url.PathEscape(s) + "/x"},
			{path: "/c/" + url.PathEscape(s) + ".gif"},
			{path: "/c/" + url.PathEscape(s)},
			{path: "/api/links/" + url.PathEscape(s) + "/stats"},
			{path: "/links/" + url.PathEscape(s)},
			{path: "/l/x/../" + url.PathEscape(s) + "?ip=" + url.QueryEscape(s)},
			{path: "/" + url.PathEscape(s)},
			{method: "DELETE", path: "/api/links/" + url.PathEscape(s)},
		}
		if !strings.ContainsAny(s, ":%") { // a method is a token: the IPv4 forms
			reqs = append(reqs, req{method: s, path: "/l/abcdefgh"})
		}
		for _, r := range reqs {
			r.xff = s
			res := p.do(r)
			assert.Less(t, res.code, 500, "%s %s", r.method, r.path)
			locations = append(locations, res.header.Get("Location"))
		}
		p.do(req{path: "/l/abcdefgh", xff: s + ", not-an-address"})
		p.do(req{path: "/l/abcdefgh", xff: "unknown, " + s + ":65536"})
	}
	require.Equal(t, 0, p.stop(syscallTERM))
	logs := p.Stderr.String()
	require.Contains(t, logs, "status=429", "the rate limit was reached")
	require.Contains(t, logs, "status=307", "the canonical redirect was taken")
	ipmasktest.AssertNoRawIPOf(t, ipmask.Default, logs, clients, "the log")
	ipmasktest.AssertNoRawIPOf(t, ipmask.Default, p.Stdout.String(), clients, "stdout")
	ipmasktest.AssertNoRawIPOf(t, ipmask.Default, strings.Join(locations, "\n"), clients, "Location headers")
	for i, b := range p.allBodies() {
		ipmasktest.AssertNoRawIPOf(t, ipmask.Default, b, clients, "response %d", i)
	}
}
