package main

import (
	"bytes"
	"net/http"
	"strings"
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
		{name: "percent-encoded dots in the path", path: "/x//198%2E51%2E100%2E77", location: "/x/198.51.100.0"},
		{name: "percent-encoded digits in the query, opt-out kept", path: "/l//" + id + "?ip=%31%39%38.51.100.77&optout=1", location: "/l/" + id + "?ip=198.51.100.0&optout=1"},
		{name: "encoded twice in the query", path: "/l//" + id + "?ip=198%252E51%252E100%252E77", location: "/l/" + id + "?ip=198.51.100.0"},
		{name: "no address, encoding kept", path: "/l//" + id + "?q=a%26b&r=%2F", location: "/l/" + id + "?q=a%26b&r=%2F"},
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

// The creator's own address is refused in a link's URL however the URL
// writes it: percent-encoded (once or twice) as any reader of the URL
// decodes it, and as a host in the notations a browser reads as an IPv4
// address (one number, hex, octal, a.b.c), as the tracker's referrer
// check reads them, also once a browser has mapped the host (full-width
// digits, ideographic full stops, ignored code points). A neighbour's address, so written, is the link's
// business.
func TestCreateRefusesCreatorsAddressInURLNotations(t *testing.T) {
	tr := newTracker(t, "")
	const client = "198.51.100.77"
	tests := []struct {
		name, url string
		want      int
	}{
		{name: "percent-encoded digits in the path", url: "https://example.com/%31%39%38.51.100.77", want: http.StatusBadRequest},
		{name: "percent-encoded dots in the query", url: "https://example.com/?ip=198%2E51%2E100%2E77", want: http.StatusBadRequest},
		{name: "encoded twice", url: "https://example.com/?ip=198%252E51%252E100%252E77", want: http.StatusBadRequest},
		{name: "encoded in the fragment", url: "https://example.com/#%31%39%38.51.100.77", want: http.StatusBadRequest},
		{name: "ipv6 client, percent-encoded hex", url: "https://example.com/?ip=%32001:db8:1:2::7", want: http.StatusBadRequest},
		{name: "host as one number", url: "http://3325256781/", want: http.StatusBadRequest},
		{name: "host in hex", url: "http://0xc633644d:8080/", want: http.StatusBadRequest},
		{name: "host in octal", url: "http://0306.063.0144.0115/", want: http.StatusBadRequest},
		{name: "host as a.b.c", url: "http://198.51.25677/", want: http.StatusBadRequest},
		{name: "host with a trailing dot", url: "http://3325256781./", want: http.StatusBadRequest},
		// A browser maps the host (UTS #46) before it reads an address.
		{name: "ideographic full stops", url: "http://198\u300251\u3002100\u300277/", want: http.StatusBadRequest},
		{name: "halfwidth ideographic full stops", url: "http://198\uff6151\uff61100\uff6177/", want: http.StatusBadRequest},
		{name: "full-width digits and stops", url: "http://\uff11\uff19\uff18\uff0e\uff15\uff11\uff0e\uff11\uff10\uff10\uff0e\uff17\uff17/", want: http.StatusBadRequest},
		{name: "full-width one number", url: "http://\uff13\uff13\uff12\uff15\uff12\uff15\uff16\uff17\uff18\uff11/", want: http.StatusBadRequest},
		{name: "full-width hex", url: "http://0\uff38\uff43633644\uff24/", want: http.StatusBadRequest},
		{name: "a soft hyphen inside", url: "http://19\u00ad8.51.100.77/", want: http.StatusBadRequest},
		{name: "a zero-width space inside", url: "http://198.51\u200b.100.77/", want: http.StatusBadRequest},
		{name: "a neighbour in full-width digits", url: "http://198\u300251\u3002100\u300278/", want: http.StatusCreated},
		{name: "a neighbour as one number", url: "http://3325256782/", want: http.StatusCreated},
		{name: "a neighbour percent-encoded", url: "https://example.com/%31%39%38.51.100.78", want: http.StatusCreated},
		{name: "a stray percent sign", url: "https://example.com/?d=100%&n=198.51.100.78", want: http.StatusCreated},
		{name: "a number too big for an address", url: "http://33252567810/", want: http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := client
			if strings.HasPrefix(tt.name, "ipv6 client") {
				from = "2001:db8:1:2::7"
			}
			w := tr.do("POST", "/api/links", from, browser, strings.NewReader(`{"url":"`+tt.url+`"}`))
			assert.Equal(t, tt.want, w.Code, w.Body.String())
			if tt.want == http.StatusBadRequest {
				assert.Contains(t, w.Body.String(), "holds your own IP address")
				ipmasktest.AssertNoRawIP(t, ipmask.Default, w.Body.String(), "the refusal")
			}
		})
	}
	// The links created hold a neighbour's address, as a link may: the
	// log holds none.
	ipmasktest.AssertNoRawIP(t, ipmask.Default, tr.logs.String(), "log output")
}

// The method is a token the client chooses, as the path is: an address
// written as the method ("198.51.100.77 /l/ID HTTP/1.1" is a valid request
// line) is masked in the access log, and the 405 answer does not repeat
// it.
func TestAddressAsMethod(t *testing.T) {
	tr := newTracker(t, "")
	for _, method := range []string{"198.51.100.77", "GET.198.51.100.77"} { // a token has no ':', so no IPv6
		w := tr.do(method, "/l/abcdefgh", "198.51.100.77", browser, nil)
		assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
		ipmasktest.AssertNoRawIP(t, ipmask.Default, answer(t, w, w.Code, w.Body.String()), "the answer")
	}
	assert.Contains(t, tr.logs.String(), "method=198.51.100.0 ")
	tr.assertNoLeak()
}

// The access log masks an address a visitor writes into the path also
// when it is percent-encoded beyond the one decoding the server does
// (%252E arrives as %2E), as the canonical redirect does.
func TestAccessLogMasksEncodedAddressInPath(t *testing.T) {
	tr := newTracker(t, "")
	for _, p := range []string{"/l/198%252E51%252E100%252E77", "/l/%2531%2539%2538.51.100.77"} {
		w := tr.do("GET", p, "198.51.100.77", browser, nil)
		assert.Equal(t, http.StatusNotFound, w.Code)
	}
	assert.Contains(t, tr.logs.String(), "path=/l/198.51.100.0 ")
	tr.assertNoLeak()
}
