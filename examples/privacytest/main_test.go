package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// proxy is the load balancer the service trusts in the tests.
const proxy = "10.0.0.1"

// TestNoRawIP is the test to copy: it sends a visitor at every tricky
// address form, directly and through the trusted proxy, and writes the
// address into everything else a request carries (the path, the query, the
// User-Agent, the Referer, a cookie). Then it proves that neither the log,
// nor the response, nor what the service stored holds an address that
// ipmask.Default does not mask, and that the response names the visitor's
// network.
func TestNoRawIP(t *testing.T) {
	for _, c := range ipmasktest.Cases() {
		for _, via := range []string{"direct", "proxy"} {
			t.Run(c.Name+"/"+via, func(t *testing.T) {
				var logs bytes.Buffer
				svc, err := newService(slog.NewJSONHandler(&logs, nil), ipmask.Default, []string{proxy + "/32"})
				require.NoError(t, err)

				r := httptest.NewRequest(http.MethodGet, "/click/"+url.PathEscape(c.Text)+"?ip="+url.QueryEscape(c.Text), nil)
				client := c.Addr.WithZone("") // a connection has no zone
				if via == "direct" {
					r.RemoteAddr = netip.AddrPortFrom(client, 4711).String()
				} else {
					r.RemoteAddr = proxy + ":4711"
					r.Header.Set("X-Forwarded-For", client.String())
				}
				r.Header.Set("User-Agent", "Mozilla/5.0 (from "+c.Text+")")
				r.Header.Set("Referer", "https://example.com/?ip="+url.QueryEscape(c.Text))
				r.Header.Set("Cookie", "ip="+c.Text)
				w := httptest.NewRecorder()
				svc.ServeHTTP(w, r)

				require.Equal(t, http.StatusOK, w.Code)
				require.NotEmpty(t, logs.String())
				ipmasktest.AssertNoRawIP(t, ipmask.Default, logs.Bytes(), "log")
				ipmasktest.AssertNoRawIP(t, ipmask.Default, w.Body.Bytes(), "response")
				ipmasktest.AssertNoRawIP(t, ipmask.Default, svc.dump(), "stored visits")
				assert.Contains(t, w.Body.String(), ipmask.Default.Prefix(client).String())
			})
		}
	}
}

// TestCheckHasTeeth shows the same check catching the service when it
// stores the user agent as it comes: the middleware masks the visitor's
// own address in its usual spellings, not one written with leading zeros,
// nor anyone else's.
func TestCheckHasTeeth(t *testing.T) {
	svc, err := newService(slog.NewJSONHandler(&bytes.Buffer{}, nil), ipmask.Default, nil)
	require.NoError(t, err)
	svc.clean = func(s string) string { return s } // the leak
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "203.0.113.9:4711"
	r.Header.Set("User-Agent", "Mozilla/5.0 (from 203.0.113.9 alias 203.000.113.009, seen 2001:db8:1:2::7)")
	svc.ServeHTTP(httptest.NewRecorder(), r)

	leaks := ipmasktest.Leaks(ipmask.Default, svc.dump())
	require.Len(t, leaks, 2, "%s", svc.dump())
	assert.Equal(t, "203.0.113.9", leaks[0].Addr.String())
	assert.Equal(t, "2001:db8:1:2::7", leaks[1].Addr.String())
	assert.Contains(t, string(svc.dump()), "from 203.0.113.0 alias", "the middleware masked the dotted quad")
}

// An X-Forwarded-For from a peer that is not a trusted proxy is not
// believed: the visitor is the peer, and the header is gone.
func TestUntrustedForwardedFor(t *testing.T) {
	var logs bytes.Buffer
	svc, err := newService(slog.NewJSONHandler(&logs, nil), ipmask.Default, []string{proxy + "/32"})
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "198.51.100.7:4711"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	w := httptest.NewRecorder()
	svc.ServeHTTP(w, r)
	assert.JSONEq(t, `{"network":"198.51.100.0/24"}`, w.Body.String())
	ipmasktest.AssertNoRawIP(t, ipmask.Default, logs.Bytes())
}

// A request whose peer has no address (a unix socket's "@") is served,
// its network unknown.
func TestPeerWithoutAddress(t *testing.T) {
	var logs bytes.Buffer
	svc, err := newService(slog.NewJSONHandler(&logs, nil), ipmask.Default, nil)
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/203.0.113.9", nil)
	r.RemoteAddr = "@"
	w := httptest.NewRecorder()
	svc.ServeHTTP(w, r)
	assert.Contains(t, logs.String(), `"network":"unknown"`)
	ipmasktest.AssertNoRawIP(t, ipmask.Default, logs.Bytes())
	ipmasktest.AssertNoRawIP(t, ipmask.Default, svc.dump())
}

func TestBadTrustedProxy(t *testing.T) {
	_, err := newService(slog.NewJSONHandler(&bytes.Buffer{}, nil), ipmask.Default, []string{"203.0.113.9/33"})
	require.Error(t, err)
	ipmasktest.AssertNoRawIPError(t, ipmask.Default, err)
}
