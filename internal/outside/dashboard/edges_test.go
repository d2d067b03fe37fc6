package dashboard_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clickPeople sends n people's clicks on link id, each from its own
// address of 198.51.100.0/24 and its own browser.
func clickPeople(t *testing.T, p tracker, id string, n int) []visitor {
	t.Helper()
	var vs []visitor
	for i := range n {
		v := visitor{xff: fmt.Sprintf("198.51.100.%d", 10+i), ua: fmt.Sprintf("%s p%d", firefox, i)}
		v.forms = []string{v.xff}
		require.Equal(t, http.StatusFound, p.send("GET", "/l/"+id, v.hdr()).code)
		vs = append(vs, v)
	}
	return vs
}

// TestDashboardWithoutJavaScript loads a dashboard with scripts disabled
// (the page is server-rendered): the same text, totals, charts and
// tables as with them, equal to the API's. The tracker runs in a time
// zone far from UTC, and the chart's labels still say UTC times.
func TestDashboardWithoutJavaScript(t *testing.T) {
	t.Setenv("TZ", "Pacific/Kiritimati") // UTC+14: a local time is never the UTC one
	p := start(t)
	id := p.create("https://example.com/nojs")
	vs := clickPeople(t, p, id, 7)
	require.Equal(t, http.StatusFound, p.send("GET", "/l/"+id, vs[0].hdr()).code) // a repeat

	on, off := newTab(t, true), newTab(t, false)
	s, pages := settled(t, p, id, off, on)
	without, with := pages[0], pages[1]
	compare(t, "without JavaScript", s, without)
	compare(t, "with JavaScript", s, with)
	// Scripts were off in that tab: a page's own script does not run.
	off.open(`data:text/html,<title>off</title><script>document.title="ran"</script>`)
	assert.Equal(t, "off", eval[string](off, "document.title"), "scripts were off")
	assert.Equal(t, with.Text, without.Text, "the same page either way")
	assert.Equal(t, with.Tables, without.Tables)
	assert.Equal(t, with.Charts, without.Charts)
	_, errs, failed, _, _ := off.seen()
	assert.Empty(t, errs)
	assert.Empty(t, failed)
}

// TestDashboardOfNothing: a link with no clicks shows zeros, two flat
// charts of every bucket, no band, and empty tables.
func TestDashboardOfNothing(t *testing.T) {
	t.Parallel()
	p := start(t)
	id := p.create("https://example.com/quiet")
	tb := newTab(t, true)
	s, pages := settled(t, p, id, tb)
	page := pages[0]
	compare(t, "no clicks", s, page)
	assert.Equal(t, map[string]string{"clicks": "0", "unique": "0", "bots": "0", "conversions": "0"}, page.Totals)
	for i, n := range []int{60, 48} {
		c := page.Charts[i]
		assert.Len(t, c.ClickPts, n, "every bucket drawn")
		assert.Empty(t, c.Bands)
		for _, pt := range append(c.ClickPts, c.UniquePts...) {
			assert.Equal(t, c.Baseline, pt[1], "a flat line on the axis")
		}
	}
	for dim, rows := range page.Tables {
		assert.Len(t, rows, 1, "%s: the header alone", dim)
	}
	_, errs, failed, _, _ := tb.seen()
	assert.Empty(t, errs)
	assert.Empty(t, failed)
}

// TestDashboardOfNoLink: a dashboard path that names no link, whatever
// bytes it holds, is answered 404 with an error that does not repeat the
// path, runs no script and logs no address.
func TestDashboardOfNoLink(t *testing.T) {
	t.Parallel()
	p := start(t)
	id := p.create("https://example.com/real")
	tb := newTab(t, true)
	r := rand.New(rand.NewPCG(1, 2))
	var random []byte
	for range 64 {
		random = append(random, byte(r.IntN(256)))
	}
	odd := []string{
		"AAAAAAAA", strings.ToUpper(id), id + "x", id[:7], id + "%20", id + "%00",
		"%FF%FE", "%E2%80%AE" + id, "%F0%9F%98%80", url.PathEscape(string(random)),
		"<script>alert(1)</script>", "%22onmouseover=alert(1)%20x=%22", "javascript:alert(1)",
		"..%2F..%2Fapi%2Flinks", strings.Repeat("x", 6000),
		"198.51.100.77", "2001:db8::77", "2002:c633:644d::1", "c633644d",
	}
	for _, o := range odd {
		tb.reset()
		res := tb.open(p.Base + "/links/" + o)
		who := fmt.Sprintf("/links/%.40q", o)
		assert.Equal(t, int64(http.StatusNotFound), res.Status, who)
		page := tb.read()
		assert.Empty(t, page.Ran, "%s: no script ran", who)
		assert.Zero(t, page.Scripts, who)
		_, _, failed, dialogs, _ := tb.seen()
		assert.Empty(t, dialogs, who)
		assert.Empty(t, failed, who)
		text := page.Text
		assert.Regexp(t, `no such link|404 page not found`, text, "%s: says what is wrong", who)
		assert.Less(t, len(text), 100, "%s: a short error", who)
		if len(o) > 2 {
			dec, _ := url.PathUnescape(o)
			for _, f := range []string{o, dec, "198.51.100.77", "c633", "2001:db8", "script"} {
				if len(f) > 3 {
					assert.NotContains(t, page.HTML, f, "%s: the path is not repeated", who)
				}
			}
		}
	}
	// The real link still answers.
	res := tb.open(p.Base + "/links/" + id)
	assert.Equal(t, int64(http.StatusOK), res.Status)
}

// hostile are link targets whose text tries to break out of HTML.
var hostile = []string{
	`https://example.com/"><script>alert(1)</script>`,
	`https://example.com/?q='><img src=x onerror=alert(2)>`,
	"https://example.com/?u=</a><svg onload=alert(3)>&t=`${alert(4)}`",
	`https://example.com/#"><iframe src="javascript:alert(5)">`,
	`https://a'b.example/'onmouseover='alert(6)`,
	`https://example.com/</title><script>alert(7)</script><!--`,
	`https://example.com/?q=<a href=javascript:alert(10)>x</a>`,
	// The API stores < > " percent-encoded; & ' = ( ) stay, and entities
	// are only text if the page escapes the ampersand.
	`https://example.com/?a=&lt;img src=x onerror=alert(11)&gt;&amp;b=&#39;`,
	`https://x.example/a'b'c/?q='&r=(1)`,
}

// TestDashboardOfHostileURL: a link whose URL holds HTML and script shows
// it as text, in the anchor and its href, and no script of it runs
// (window.alert and its kin are hooked), also with enough clicks for the
// tables to publish.
func TestDashboardOfHostileURL(t *testing.T) {
	t.Parallel()
	p := start(t)
	tb := newTab(t, true)
	for _, target := range hostile {
		id := p.create(target)
		clickPeople(t, p, id, 5)
		s, pages := settled(t, p, id, tb)
		page := pages[0]
		compare(t, target, s, page)
		assert.Empty(t, page.Ran, "%q: a script ran", target)
		assert.Zero(t, page.Scripts, "%q: a script element", target)
		_, errs, failed, dialogs, _ := tb.seen()
		assert.Empty(t, dialogs, target)
		assert.Empty(t, errs, target)
		assert.Empty(t, failed, target)
		assert.Empty(t, page.Resources, "%q: the page fetched something", target)
		assert.Equal(t, s.URL, page.LinkText, "%q: the anchor reads as the stored URL", target)
		href, err := url.PathUnescape(strings.ReplaceAll(page.LinkHref, "+", "%2B"))
		if assert.NoError(t, err) {
			want, _ := url.PathUnescape(strings.ReplaceAll(s.URL, "+", "%2B"))
			assert.Equal(t, want, href, "%q: the href is the stored URL", target)
		}
		assert.True(t, strings.HasPrefix(page.LinkHref, "https://"), "%q: the href stays an https URL", target)
		for _, a := range page.Attrs {
			name, _, _ := strings.Cut(a, "=")
			assert.False(t, strings.HasPrefix(name, "on"), "%q: an event handler attribute %s", target, name)
		}
		assert.Equal(t, "Link "+id+" · clickanon linktracker", page.Title, target)
		assert.Contains(t, page.Text, "What is stored about visitors", "%q: the page is whole", target)
	}
}
