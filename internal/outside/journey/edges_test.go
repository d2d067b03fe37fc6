package journey_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every route answers every method it does not serve with 405 and an
// Allow header that lists exactly the methods it does serve (a GET route
// serves HEAD too), with a body that repeats nothing of the request; and
// no such request counts a click, a conversion or an orphan. Checked to
// fail: with /l/{id} also registered for POST (as a click) every
// method's Allow on that route and POST's 405 failed.
func TestEveryRouteRefusesOtherMethods(t *testing.T) {
	p := start(t, "-create-per-minute", "0")
	id := p.create("https://example.com/methods", http.Header{"User-Agent": {firefox}})
	get := []string{"GET", "HEAD"}
	routes := map[string][]string{
		"/":                            get,
		"/api/links":                   {"POST"},
		"/api/links/" + id + "/stats":  get,
		"/l/" + id:                     get,
		"/l/" + id + "/more":           get,
		"/c/" + id + ".gif":            get,
		"/c/any.gif":                   get,
		"/links/" + id:                 get,
		"/metrics":                     get,
		"/healthz":                     get,
		"/api/links/nosuchlink1/stats": get,
	}
	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PURGE", "X-198.51.100.7"}
	for path, allowed := range routes {
		for _, m := range methods {
			if slices.Contains(allowed, m) {
				continue
			}
			a := p.send(m, path, `{"url":"https://example.com/x"}`, http.Header{"User-Agent": {firefox}, "X-Forwarded-For": {"198.51.100.7"}})
			if !assert.Equal(t, http.StatusMethodNotAllowed, a.code, "%s %s", m, path) {
				continue
			}
			var got []string
			for _, v := range strings.Split(a.header.Get("Allow"), ",") {
				if v = strings.TrimSpace(v); v != "" {
					got = append(got, v)
				}
			}
			assert.ElementsMatch(t, allowed, got, "%s %s: Allow", m, path)
			assert.NotContains(t, a.body, "198.51.100", "%s %s: the body repeats nothing", m, path)
			assert.NotContains(t, a.body, "example.com", "%s %s: the body repeats nothing", m, path)
		}
	}
	s := p.stats(id)
	assert.Zero(t, s.Clicks, "no refused method counted a click")
	assert.Zero(t, s.Conversions, "no refused method counted a conversion")
	assert.Zero(t, p.metric("clickanon_linktracker_orphan_clicks_total"), "no refused method counted an orphan")
}

// With -api-token the token is taken from the Authorization header's
// Bearer credentials only, the scheme's case as HTTP has it (RFC 9110
// 11.1: an auth-scheme is case-insensitive; RFC 6750 names it "Bearer");
// nowhere else: not the query, a cookie, another header, a body field or
// a second Authorization line. Only link creation needs it: the stats,
// the redirect, the pixel and the dashboard answer without it. A refusal
// is 401 with WWW-Authenticate and never repeats what was sent.
// Checked to fail: before the fix (finding F1) "bearer TOKEN" and
// "BEARER TOKEN" were 401; with ?token= read as well, its row failed.
func TestTokenOnlyWhereTheDocsSay(t *testing.T) {
	const token = "tok-4b1d.9_Z"
	p := start(t, "-create-per-minute", "0", "-api-token", token)
	body := `{"url":"https://example.com/t"}`
	ua := http.Header{"User-Agent": {firefox}}
	with := func(h http.Header) http.Header {
		h = h.Clone()
		h.Set("User-Agent", firefox)
		return h
	}
	for _, auth := range []string{"Bearer " + token, "bearer " + token, "BEARER " + token, "BeArEr " + token} {
		a := p.send("POST", "/api/links", body, with(http.Header{"Authorization": {auth}}))
		assert.Equal(t, http.StatusCreated, a.code, "Authorization scheme %q: %s", strings.Fields(auth)[0], a.body)
	}
	refused := map[string]struct {
		path, body string
		h          http.Header
	}{
		"query token":          {"/api/links?token=" + token, body, nil},
		"query access_token":   {"/api/links?access_token=" + token, body, nil},
		"cookie":               {"/api/links", body, http.Header{"Cookie": {"token=" + token}}},
		"X-Api-Key":            {"/api/links", body, http.Header{"X-Api-Key": {token}}},
		"X-Api-Token":          {"/api/links", body, http.Header{"X-Api-Token": {token}}},
		"body field":           {"/api/links", `{"url":"https://example.com/t","token":"` + token + `"}`, nil},
		"second Authorization": {"/api/links", body, http.Header{"Authorization": {"Basic eDp5", "Bearer " + token}}},
		"token in Basic":       {"/api/links", body, http.Header{"Authorization": {"Basic " + token}}},
		"Bearer and a tab":     {"/api/links", body, http.Header{"Authorization": {"Bearer\t" + token}}},
		"lowercase, wrong":     {"/api/links", body, http.Header{"Authorization": {"bearer " + token + "0"}}},
	}
	for name, r := range refused {
		h := http.Header{}
		if r.h != nil {
			h = r.h
		}
		a := p.send("POST", r.path, r.body, with(h))
		if assert.Equal(t, http.StatusUnauthorized, a.code, "%s: %s", name, a.body) {
			assert.Contains(t, a.header.Get("WWW-Authenticate"), "Bearer", name)
			assert.NotContains(t, a.body, token, name)
		}
	}
	id := p.create("https://example.com/ok", with(http.Header{"Authorization": {"Bearer " + token}}))
	assert.Equal(t, http.StatusFound, p.send("GET", "/l/"+id, "", ua).code, "the redirect needs no token")
	assert.Equal(t, http.StatusOK, p.send("GET", "/c/"+id+".gif", "", ua).code, "the pixel needs no token")
	assert.Equal(t, http.StatusOK, p.send("GET", "/api/links/"+id+"/stats", "", ua).code, "the stats need no token")
	assert.Equal(t, http.StatusOK, p.send("GET", "/links/"+id, "", ua).code, "the dashboard needs no token")
	require.EqualValues(t, 1, p.stats(id).Clicks)
}
