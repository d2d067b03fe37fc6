package linkapi_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bots are the user agents the issue names as crawlers and link-preview
// fetchers, as they send them.
var bots = []string{
	"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
	"Slackbot 1.0 (+https://api.slack.com/robots)",
	"Twitterbot/1.0",
	"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
	"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
	"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
	"WhatsApp/2.23.20.0",
	"TelegramBot (like TwitterBot)",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"curl/8.5.0",
	"Wget/1.21.4",
}

// Generated traffic: people in networks large and small (IPv4, IPv6,
// IPv4-mapped), repeat clicks, every documented bot, HEAD requests and
// prefetches from browsers, and opted-out visitors (Sec-GPC: 1, ?optout=1).
// The totals are exact (clicks, unique_clicks = people, bot_clicks = bots,
// HEADs and prefetches, opt-outs nowhere); each series' shown points and
// suppressed_clicks add up to its clicks, which are the link's; each
// breakdown's values and suppressed_clicks add up to the clicks; a
// network of fewer than k visitors is not shown, one of k or more is,
// with its exact clicks. Checked to fail: each figure is compared by
// value with the traffic sent (one click more in any class, or a bot
// counted unique, changes a total; a network of 4 people is asserted
// absent, one of 6 present); with the opt-out header not configured
// (Sec-GPC counted) the totals, both series and every breakdown's sum
// failed.
func TestStatsAddUpForGeneratedTraffic(t *testing.T) {
	p := start(t, "", "-trusted-proxies", "127.0.0.1/32")
	l := p.create("https://example.com/landing")
	other := p.create("https://example.com/other")
	var clicks, unique, botClicks uint64
	click := func(r req, isBot bool) {
		t.Helper()
		if r.path == "" {
			r.path = "/l/" + l.ID
		}
		require.Equal(t, http.StatusFound, p.do(r).code)
		clicks++
		if isBot {
			botClicks++
		}
	}
	type network struct {
		name   string
		addr   func(i int) string
		people int
	}
	nets := []network{
		{"198.51.100.0/24", func(i int) string { return fmt.Sprintf("198.51.100.%d", 1+i*13) }, 7},
		{"203.0.113.0/24", func(i int) string { return fmt.Sprintf("203.0.113.%d", 200+i) }, 4},
		{"2001:db8:1::/48", func(i int) string { return fmt.Sprintf("2001:db8:1:%x::%x", i, i+1) }, 6},
		{"192.0.2.0/24", func(i int) string { return fmt.Sprintf("::ffff:192.0.2.%d", 50+i) }, 5},
	}
	perNet := map[string]uint64{}
	for _, n := range nets {
		for i := range n.people {
			times := 1 + i%3
			for range times {
				click(req{xff: n.addr(i)}, false)
				perNet[n.name]++
			}
			unique++
			// The same people click the other link: not this one's.
			require.Equal(t, http.StatusFound, p.do(req{path: "/l/" + other.ID, xff: n.addr(i)}).code)
		}
	}
	for i, ua := range bots {
		click(req{xff: fmt.Sprintf("100.64.0.%d", i+1), ua: ua}, true)
		click(req{xff: fmt.Sprintf("100.64.0.%d", i+1), ua: ua}, true) // a bot is never unique, even first
	}
	for i, h := range []http.Header{
		{"Purpose": {"prefetch"}}, {"Sec-Purpose": {"prefetch"}}, {"Sec-Purpose": {"prefetch;prerender"}},
		{"Purpose": {"Prefetch"}}, {"X-Moz": {"prefetch"}}, {"Sec-Purpose": {"prerender"}},
	} {
		click(req{xff: fmt.Sprintf("100.65.0.%d", i+1), header: h}, true)
	}
	for i := range 3 {
		click(req{method: "HEAD", xff: fmt.Sprintf("100.66.0.%d", i+1)}, true)
	}
	// Opted out: redirected, never counted.
	for i := range 4 {
		r := p.do(req{path: "/l/" + l.ID, xff: fmt.Sprintf("100.67.0.%d", i+1), header: http.Header{"Sec-Gpc": {"1"}}})
		require.Equal(t, http.StatusFound, r.code)
		r = p.do(req{path: "/l/" + l.ID + "?optout=1", xff: fmt.Sprintf("100.68.0.%d", i+1)})
		require.Equal(t, http.StatusFound, r.code)
	}

	s := p.stats(l.ID)
	assert.Equal(t, clicks, s.Clicks, "clicks")
	assert.Equal(t, unique, s.Unique, "unique clicks: the people")
	assert.Equal(t, botClicks, s.Bots, "bot clicks")
	assert.Zero(t, s.Unknown)
	assert.Zero(t, s.Conversions)
	require.Equal(t, 5, s.K, "k as documented")
	for name, se := range map[string]series{"per_minute": s.Minutes, "per_hour": s.Hours} {
		assert.Equal(t, clicks, se.Clicks, "%s: every click of the link", name)
		var shown uint64
		for _, pt := range se.Points {
			if pt.Suppressed {
				assert.Zero(t, pt.Clicks, "%s: a suppressed point withholds its counts", name)
				continue
			}
			shown += pt.Clicks
			assert.LessOrEqual(t, pt.Unique, pt.Clicks, name)
		}
		assert.Equal(t, se.Clicks, shown+se.Suppressed, "%s: shown points and suppressed_clicks add up", name)
	}
	dims := map[string]breakdown{}
	for _, b := range s.Breakdowns {
		dims[b.Dimension] = b
		var sum uint64
		for _, v := range b.Values {
			sum += v.Clicks
		}
		assert.Equal(t, clicks, sum+b.Suppressed, "%s: values and suppressed_clicks add up to the clicks", b.Dimension)
	}
	require.Contains(t, dims, "network")
	shown := map[string]uint64{}
	for _, v := range dims["network"].Values {
		shown[v.Value] = v.Clicks
	}
	for _, n := range nets {
		if n.people < s.K {
			assert.NotContains(t, shown, n.name, "a network of %d people is suppressed", n.people)
			continue
		}
		assert.Equal(t, perNet[n.name], shown[n.name], "network %s", n.name)
	}
}

// Visitors clicking at once, each many times concurrently, on two links:
// every click is counted, and each visitor is unique exactly once per
// link, whatever the interleaving. Two visitors share each address with
// different browsers, so counting by address alone would halve the
// uniques. Checked to fail: with both browsers made one, the uniques
// were 6, not 12; a click lost or a second unique changes the counts.
func TestConcurrentClicksCountOnce(t *testing.T) {
	p := start(t, "", "-trusted-proxies", "127.0.0.1/32")
	links := []created{p.create("https://example.com/1"), p.create("https://example.com/2")}
	const visitors, each = 12, 8
	var wg sync.WaitGroup
	for v := range visitors {
		addr := fmt.Sprintf("198.51.100.%d", 1+v/2) // two browsers per address
		ua := fmt.Sprintf("%s visitor/%d", browser, v%2)
		for _, l := range links {
			for range each {
				wg.Go(func() {
					r := p.do(req{path: "/l/" + l.ID, xff: addr, ua: ua})
					assert.Equal(t, http.StatusFound, r.code)
				})
			}
		}
	}
	wg.Wait()
	for _, l := range links {
		s := p.stats(l.ID)
		assert.EqualValues(t, visitors*each, s.Clicks, l.URL)
		assert.EqualValues(t, visitors, s.Unique, "%s: one unique per visitor", l.URL)
		assert.Zero(t, s.Unknown)
		assert.Zero(t, s.Bots)
	}
}
