package linkapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A conversion pixel is attributed to the same visitor's click (one
// address and one browser) within the window: with /c/any.gif to their
// latest click on any link, with /c/ID.gif to their click on that link;
// never to another visitor's, not even one in the same /24 (or /48) or
// behind the same address with another browser, and not to a link the
// visitor did not click. The pixel is answered whether or not a click is
// found. Checked to fail: with /c/ID.gif made to attribute like
// /c/any.gif (the link ignored) the per-link counts differ; attributing by
// network instead of visitor would give the neighbours' pixels a
// conversion, and a pixel on B for a visitor who clicked only A one on B.
func TestConversionsGoToTheSameVisitorsClick(t *testing.T) {
	p := start(t, "", "-trusted-proxies", "127.0.0.1/32")
	a, b := p.create("https://example.com/a"), p.create("https://example.com/b")
	want := map[string]uint64{}
	pixel := func(visitor, ua, id string) {
		t.Helper()
		r := p.do(req{path: "/c/" + id + ".gif", xff: visitor, ua: ua})
		require.Equal(t, http.StatusOK, r.code, r.body)
		assert.Equal(t, "image/gif", r.header.Get("Content-Type"))
		assert.True(t, len(r.body) > 6 && r.body[:6] == "GIF89a", "a GIF")
	}
	click := func(visitor, ua, id string) {
		t.Helper()
		require.Equal(t, http.StatusFound, p.do(req{path: "/l/" + id, xff: visitor, ua: ua}).code)
	}
	nets := []func(i int) string{
		func(i int) string { return fmt.Sprintf("198.51.100.%d", 10+i) },
		func(i int) string { return fmt.Sprintf("2001:db8:7:0:%x::1", i+1) },
		func(i int) string { return fmt.Sprintf("::ffff:203.0.113.%d", 10+i) },
	}
	for n, addr := range nets {
		// Visitor 0 clicks A then B: any goes to B, the named A to A.
		click(addr(0), browser, a.ID)
		click(addr(0), browser, b.ID)
		pixel(addr(0), browser, "any")
		pixel(addr(0), browser, a.ID)
		want[b.ID]++
		want[a.ID]++
		// Visitor 1 clicks A only: any goes to A; a pixel on B finds
		// no click of theirs on B.
		click(addr(1), browser, a.ID)
		pixel(addr(1), browser, "any")
		pixel(addr(1), browser, b.ID)
		want[a.ID]++
		// Neighbours in the same network who clicked nothing, and
		// visitor 0's address with another browser: nothing.
		for i := 2; i < 6; i++ {
			pixel(addr(i), browser, "any")
			pixel(addr(i), browser, a.ID)
			pixel(addr(i), browser, b.ID)
		}
		other := fmt.Sprintf("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_%d) Safari/605.1.15", n)
		pixel(addr(0), other, "any")
		pixel(addr(0), other, a.ID)
	}
	// A visitor who only converts, from a network nobody clicked in.
	pixel("192.0.2.1", browser, "any")

	for _, l := range []created{a, b} {
		assert.Equal(t, want[l.ID], p.stats(l.ID).Conversions, "conversions of %s", l.URL)
	}
}

// A HEAD or a prefetch of the conversion pixel (a browser prerendering the
// thank-you page; Chrome sends Sec-Purpose: prefetch;prerender) by the
// visitor who clicked is answered but is no conversion: nobody converted.
// Only the visitor's real fetch is. Checked to fail: before the fix each
// of them was attributed to the visitor's click, as a conversion like any
// other (conversions 11, not 1).
func TestPrefetchedPixelIsNoConversion(t *testing.T) {
	p := start(t, "", "-trusted-proxies", "127.0.0.1/32")
	l := p.create("https://example.com/")
	const visitor = "198.51.100.23"
	require.Equal(t, http.StatusFound, p.do(req{path: "/l/" + l.ID, xff: visitor}).code)
	for _, pixel := range []string{"/c/any.gif", "/c/" + l.ID + ".gif"} {
		for _, h := range []http.Header{
			{"Sec-Purpose": {"prefetch"}}, {"Sec-Purpose": {"prefetch;prerender"}}, {"Purpose": {"prefetch"}}, {"X-Moz": {"prefetch"}},
		} {
			r := p.do(req{path: pixel, xff: visitor, header: h})
			assert.Equal(t, http.StatusOK, r.code, "%s %v", pixel, h)
			assert.Equal(t, "image/gif", r.header.Get("Content-Type"))
		}
		r := p.do(req{method: "HEAD", path: pixel, xff: visitor})
		assert.Equal(t, http.StatusOK, r.code, "HEAD %s", pixel)
	}
	assert.Zero(t, p.stats(l.ID).Conversions, "prefetches and HEADs are no conversions")
	require.Equal(t, http.StatusOK, p.do(req{path: "/c/any.gif", xff: visitor}).code)
	assert.EqualValues(t, 1, p.stats(l.ID).Conversions, "the visitor's own fetch is")
}
