package linkapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refusedURLs are URLs the API must refuse, by class: every scheme but
// http and https (in any case, with spaces, relative, scheme-relative),
// a user name or password before the host (shown on the dashboard, and
// https://bank@evil opens evil), every control character, no host, a
// port no server has, too long. Each holds the marker "zq9" so that an
// error echoing the URL shows.
func refusedURLs() map[string]string {
	rows := map[string]string{}
	for _, s := range []string{"javascript", "JavaScript", "data", "file", "ftp", "mailto", "ws", "wss", "gopher", "blob", "vbscript", "chrome", "about", "httpx", "http2"} {
		rows["scheme "+s] = s + "://zq9.example/x"
		rows["opaque "+s] = s + ":zq9.example/x"
	}
	rows["javascript alert"] = "javascript:alert('zq9')"
	rows["leading space"] = " https://zq9.example/"
	rows["relative"] = "/zq9/path"
	rows["scheme-relative"] = "//zq9.example/"
	rows["no scheme"] = "zq9.example/x"
	rows["empty"] = ""
	rows["no host"] = "https:///zq9"
	rows["opaque https"] = "https:zq9.example"
	rows["port too big"] = "https://zq9.example:65536/"
	rows["port huge"] = "https://zq9.example:99999999999999999999/"
	rows["port zero"] = "http://zq9.example:0/"
	rows["port letters"] = "https://zq9.example:https/"
	for name, ui := range map[string]string{"user": "zq9", "user and password": "zq9:secret", "password only": ":zq9", "empty user": "", "encoded @": "a%40zq9", "host-like user": "bank.example"} {
		rows["userinfo "+name] = "https://" + ui + "@zq9.example/"
		rows["userinfo http "+name] = "http://" + ui + "@zq9.example:8080/p?q=1"
	}
	for c := 0; c < 0x20; c++ {
		rows[fmt.Sprintf("control %#02x in path", c)] = "https://zq9.example/a" + string(rune(c)) + "b"
		rows[fmt.Sprintf("control %#02x in host", c)] = "https://zq9" + string(rune(c)) + ".example/"
	}
	rows["control 0x7f in path"] = "https://zq9.example/a\x7fb"
	rows["too long"] = "https://zq9.example/" + strings.Repeat("a", 2048)
	return rows
}

// Every URL of a refused class is answered 400 with a JSON error that says
// why without repeating the URL, and no link is made. Checked to fail:
// with the userinfo and port checks of validateURL removed, the userinfo
// and port rows are created (201).
func TestCreateRefusesEveryOtherURLClass(t *testing.T) {
	p := start(t, "")
	for name, u := range refusedURLs() {
		b, err := json.Marshal(map[string]string{"url": u})
		require.NoError(t, err)
		r := p.do(req{method: "POST", path: "/api/links", body: string(b)})
		if !assert.Equal(t, http.StatusBadRequest, r.code, "%s: %q: %s", name, u, r.body) {
			continue
		}
		assertJSONError(t, r, name)
		assert.NotContains(t, strings.ToLower(r.body), "zq9", "%s: the error echoes the URL", name)
	}
	// The geo targets are URLs the visitor is sent to: the same rules.
	for _, u := range []string{"javascript:alert(1)", "https://u:p@example.de/", "https://example.de:70000/"} {
		b, err := json.Marshal(map[string]any{"url": "https://example.com/", "geo": map[string]any{"countries": map[string]string{"DE": u}}})
		require.NoError(t, err)
		r := p.do(req{method: "POST", path: "/api/links", body: string(b)})
		assert.Equal(t, http.StatusBadRequest, r.code, "geo target %q: %s", u, r.body)
	}
}

// assertJSONError checks r is a JSON {"error": "..."} answer.
func assertJSONError(t *testing.T, r resp, what string) {
	t.Helper()
	assert.Equal(t, "application/json", r.header.Get("Content-Type"), what)
	var e map[string]any
	if assert.NoError(t, json.Unmarshal([]byte(r.body), &e), "%s: %s", what, r.body) {
		msg, _ := e["error"].(string)
		assert.NotEmpty(t, msg, "%s: %s", what, r.body)
		assert.Len(t, e, 1, "%s: only the error: %s", what, r.body)
	}
}

// Bodies that are not one JSON object with a string url: trailing data
// (a second value, text, a stray brace), other JSON types, a url that is
// not a string, unknown fields. Each is answered 400 with a JSON
// error; a body over 8 KiB, wherever its bulk is, 413. Checked to fail:
// without the check for what follows the object (endOfBody in
// createLink), the trailing-data rows are created (201), the first value
// read and the rest ignored; before the 413, every too-big body was a 400
// that said "body must be JSON like ...", of a body that was JSON.
func TestCreateRefusesEveryOtherBody(t *testing.T) {
	p := start(t, "")
	good := `{"url":"https://example.com/"}`
	bodies := map[string]string{
		"second object":        good + good,
		"second object spaced": good + "\n" + `{"url":"https://evil.example/"}`,
		"trailing text":        good + " trailing",
		"trailing brace":       good + "}",
		"trailing comma":       good + ",",
		"trailing number":      good + " 1",
		"trailing null":        good + "null",
		"trailing array":       good + "[]",
		"trailing NUL":         good + "\x00",
		"null":                 "null",
		"empty":                "",
		"spaces":               "   ",
		"array":                `[` + good + `]`,
		"string":               `"https://example.com/"`,
		"number":               `42`,
		"true":                 `true`,
		"url null":             `{"url":null}`,
		"url number":           `{"url":1e3}`,
		"url bool":             `{"url":true}`,
		"url array":            `{"url":["https://example.com/"]}`,
		"url object":           `{"url":{"href":"https://example.com/"}}`,
		"no url":               `{}`,
		"unknown field":        `{"url":"https://example.com/","track":true}`,
		"unterminated":         `{"url":"https://example.com/"`,
		"form":                 `url=https://example.com/`,
		"duplicate, last bad":  `{"url":"https://example.com/","url":"javascript:alert(1)"}`,
		"geo not an object":    `{"url":"https://example.com/","geo":5}`,
	}
	for name, body := range bodies {
		r := p.do(req{method: "POST", path: "/api/links", body: body})
		if assert.Equal(t, http.StatusBadRequest, r.code, "%s: %s", name, r.body) {
			assertJSONError(t, r, name)
		}
	}
	// Too big, in every part of the body: 413, with a JSON error.
	for name, body := range map[string]string{
		"geo targets":       `{"url":"https://example.com/","geo":{"countries":{` + strings.Repeat(`"DE":"https://example.de/",`, 400) + `"FR":"https://example.fr/"}}}`,
		"url":               `{"url":"https://example.com/` + strings.Repeat("a", 9000) + `"}`,
		"white space after": good + strings.Repeat(" ", 1<<20),
		"white space first": strings.Repeat("\n", 9000) + good,
	} {
		r := p.do(req{method: "POST", path: "/api/links", body: body})
		if assert.Equal(t, http.StatusRequestEntityTooLarge, r.code, "%s: %s", name, r.body) {
			assertJSONError(t, r, name)
		}
	}
}

// What a client may send: any content type (the README's curl -d sends
// a form's), white space around the object, the keys in any order. The
// answer is 201 with the id and tracking URL, and the link redirects to
// the URL it stored. Checked to fail: with creation limited to
// application/json bodies (415 otherwise) the first row fails.
func TestCreateAcceptsAnyContentType(t *testing.T) {
	p := start(t, "")
	for _, ct := range []string{"", "application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded", "text/plain", "application/octet-stream", "multipart/form-data; boundary=x"} {
		for _, body := range []string{`{"url":"https://example.com/a"}`, " \n\t{\"url\" : \"https://example.com/a\"}\r\n ", `{"geo":{},"url":"https://example.com/a"}`} {
			h := http.Header{}
			if ct != "" {
				h.Set("Content-Type", ct)
			}
			r := p.do(req{method: "POST", path: "/api/links", body: body, header: h})
			require.Equal(t, http.StatusCreated, r.code, "%q %q: %s", ct, body, r.body)
			var c created
			require.NoError(t, json.Unmarshal([]byte(r.body), &c))
			assert.Equal(t, p.Base+"/l/"+c.ID, c.TrackingURL)
			assert.Equal(t, "https://example.com/a", c.URL)
		}
	}
}

// A link redirects (302) to exactly the URL the API said it stored, and
// the stats show that URL, for URLs of every shape: queries, fragments,
// encodings, non-ASCII, IPv6 and IPv4 hosts, ports, case. Checked to
// fail: before the fix, a query with non-ASCII was stored as given and the
// Location carried it percent-encoded (net/http escapes it), so the two
// differed.
func TestRedirectGoesToTheStoredURL(t *testing.T) {
	p := start(t, "")
	targets := []string{
		"https://example.com/",
		"http://example.com",
		"HTTPS://Example.COM/Path",
		"https://example.com:8443/a/b/../c?x=1&y=2#frag",
		"https://example.com/?q=%22quoted%22&r=a+b&s=%26",
		"https://example.com/caf\u00e9/\u65e5\u672c?\u00fc=\u00e9#\u00e0",
		"https://example.com/%E2%80%A8/x%2Fy",
		"https://[2001:db8::1]:8080/v6",
		"https://[2001:db8::1]/",
		"http://192.0.2.10/server",
		"https://xn--bcher-kva.example/",
		"https://b\u00fccher.example/",
		"https://example.com/?next=https://other.example/%3Fa%3D1",
		"https://example.com/" + strings.Repeat("p", 1900),
		"https://example.com/'\"<>`{}|\\^",
		"https://example.com:/empty-port",
	}
	for _, target := range targets {
		c := p.create(target)
		for _, method := range []string{"GET", "HEAD"} {
			r := p.do(req{method: method, path: "/l/" + c.ID})
			require.Equal(t, http.StatusFound, r.code, "%s %q", method, target)
			assert.Equal(t, c.URL, r.header.Get("Location"), "%s %q: the redirect goes to the stored URL", method, target)
		}
		u, err := url.Parse(c.URL)
		require.NoError(t, err, target)
		assert.Contains(t, []string{"http", "https"}, u.Scheme)
		assert.Equal(t, c.URL, p.stats(c.ID).URL, target)
	}
}
