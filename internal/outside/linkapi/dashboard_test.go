package linkapi_test

import (
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostile are link targets whose text a creator controls to break out of
// HTML: quotes of both kinds, angle brackets, ampersands, backticks,
// script and event-handler text, in the path, query, fragment and host.
var hostile = []string{
	`https://example.com/"><script>alert(1)</script>`,
	`https://example.com/?q="><script>alert(1)</script>&r='onmouseover='alert(1)`,
	`https://example.com/?a=1&amp;b=<b>bold</b>&c=&#x3c;`,
	"https://example.com/?t=`${x}`&u=</a><img src=x onerror=alert(1)>",
	`https://example.com/#"><svg onload=alert(1)>`,
	`https://a'b.example/'onclick='x`,
	`https://example.com/</title><script>x</script>`,
	"https://example.com/\u003c!--",
	`https://example.com/?javascript:alert(1)`,
}

// decoded is s with every %XX decoded.
func decoded(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// linkText is what the dashboard's "Redirects to" anchor says.
var linkText = regexp.MustCompile(`Redirects to <a href="([^"]*)" rel="noreferrer">([^<]*)</a>`)

// The dashboard shows the stored URL, escaped: no text of it opens a
// tag or leaves an attribute, and unescaped it reads back as the URL the
// API stored, in the text and in the href. It holds two SVG charts (per
// minute and per hour, clicks and unique clicks, their data-clicks the
// series' clicks) and the plain-words line on what is stored and for how
// long. Checked to fail: the page read unescaped (html.UnescapeString,
// what a text/template page would hold) has the URL's <script>, <img> and
// <svg> tags and fails the tag counts; the anchor's text and href are
// compared with the stored URL.
func TestDashboardEscapesWhatTheCreatorWrote(t *testing.T) {
	p := start(t, "")
	for _, target := range hostile {
		c := p.create(target)
		require.Equal(t, http.StatusFound, p.do(req{path: "/l/" + c.ID}).code)
		r := p.do(req{path: "/links/" + c.ID})
		require.Equal(t, http.StatusOK, r.code, target)
		assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
		page := r.body
		// Only the template's own tags: one anchor, two charts, the
		// page's title and a title (tooltip) per chart bucket, no tag or
		// comment the URL wrote.
		buckets := strings.Count(page, `<rect class="bucket"`)
		assert.Equal(t, 60+48, buckets, "a column per minute of the hour and per hour of two days")
		for raw, n := range map[string]int{"<script": 0, "<img": 0, "<svg": 2, "<b>": 0, "<a ": 1, "<!--": 0, "</title>": 1 + buckets, "</a>": 1} {
			assert.Equal(t, n, strings.Count(strings.ToLower(page), raw), "%q: %s in the page", target, raw)
		}
		head, _, _ := strings.Cut(page, "<svg")
		assert.Equal(t, 1, strings.Count(head, "</title>"), "%q: the page's one title, before the charts", target)
		m := linkText.FindStringSubmatch(page)
		if assert.NotNil(t, m, "%q: the anchor", target) {
			assert.Equal(t, c.URL, html.UnescapeString(m[2]), "%q: the text reads back as the stored URL", target)
			assert.Equal(t, decoded(c.URL), decoded(html.UnescapeString(m[1])), "%q: the href is the stored URL (html/template may percent-encode more)", target)
		}
		assert.NotContains(t, page, "<script", "no JavaScript")

		st := p.stats(c.ID)
		svgs := regexp.MustCompile(`<svg [^>]*data-clicks="(\d+)"`).FindAllStringSubmatch(page, -1)
		if assert.Len(t, svgs, 2, "two charts") {
			for i, want := range []uint64{st.Minutes.Clicks, st.Hours.Clicks} {
				n, err := strconv.ParseUint(svgs[i][1], 10, 64)
				require.NoError(t, err)
				assert.Equal(t, want, n, "chart %d", i)
			}
		}
		assert.Equal(t, 2, strings.Count(page, `<polyline class="clicks"`), "a clicks line per chart")
		assert.Equal(t, 2, strings.Count(page, `<polyline class="unique"`), "a unique line per chart")
		_, notice, ok := strings.Cut(page, "What is stored about visitors</h2>")
		if assert.True(t, ok, "the privacy section") {
			notice, _, _ = strings.Cut(notice, "</p>")
			for _, words := range []string{"never stores, logs or returns", "IP address", "30 minutes", "24 bits", "48", "fewer than 5 visitors"} {
				assert.Contains(t, notice, words)
			}
			assert.Equal(t, st.Privacy, html.UnescapeString(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(notice), "<p>"))), "the stats' privacy words")
		}
	}
}
