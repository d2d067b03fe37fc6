package journey_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/pgtest"
	"github.com/clickanon/clickanon/internal/redistest"
)

// crawlers are user agents of the bots the issue names.
var crawlers = []string{
	"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
	"Twitterbot/1.0",
	"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
	"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
	"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
	"WhatsApp/2.23.20.0",
	"TelegramBot (like TwitterBot)",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"curl/8.5.0",
	"Wget/1.21.4",
}

// visitor is one generated visitor: one address (sent in several forms)
// and one user agent.
type visitor struct {
	forms   []string // the forms its address is written in, in X-Forwarded-For
	network string   // its masked network (/24, /48), as the breakdown names it
	ua      string
	bot     bool // a crawler: every click a bot click, never unique
	optOut  bool // sends Sec-GPC: 1 or ?optout=1: never counted
	exclude bool // in -exclude: never counted
}

// model is what the docs say the stats of each link are.
type model struct {
	clicks, unique, bots, conversions map[string]uint64
	named                             map[string]uint64            // conversions by /c/ID.gif
	any                               uint64                       // conversions by /c/any.gif, all links
	netClicks                         map[string]map[string]uint64 // link, network
	netPeople                         map[string]map[string]map[int]bool
	netBots                           map[string]map[string]bool
}

func newModel() *model {
	return &model{
		named: map[string]uint64{}, clicks: map[string]uint64{}, unique: map[string]uint64{}, bots: map[string]uint64{}, conversions: map[string]uint64{},
		netClicks: map[string]map[string]uint64{}, netPeople: map[string]map[string]map[int]bool{}, netBots: map[string]map[string]bool{},
	}
}

// Generated journeys on two instances that share one Redis and one
// PostgreSQL database: visitors in IPv4 and IPv6 networks of several
// sizes, each address written in the forms X-Forwarded-For may carry it
// (IPv4, IPv4-mapped IPv6 in both notations, IPv6 in full and compressed
// and upper case), each visitor clicking several of three links in a
// random order on either instance, repeating, some converting with the
// link named (/c/ID.gif, after a click on it or not) or with
// /c/any.gif (the latest of their first clicks, as the linktracker's docs
// say: see TestAnyPixelGoesToTheLatestHeldClick; sent to the instance that
// recorded that click, since another sees it only a moment later, as the
// docs say since this review: finding F3); crawlers, opted-out visitors and
// visitors of an -exclude network among them. Every total of the stats
// API equals the model's (clicks, unique_clicks = visitors per link,
// bot_clicks, conversions, none of uniqueness unknown) on both
// instances and after both are stopped and a third started on the same Redis and
// database; both series add up; the network breakdown shows a network's
// exact clicks when k or more people clicked from it and nothing
// otherwise; each dashboard (server-rendered, no script) shows the API's
// totals, charts' counts and breakdown rows, no visitor's address in any
// form it was sent in, and no network finer than /24 or /48. Checked to
// fail: with the dashboard's limits made /16 and /32 its scan failed on
// the networks shown; with the -exclude flag emptied on the
// second instance, the clicks, uniques, conversions, both series and
// every breakdown's sum failed; with /c/any.gif sent to a random instance
// (not the one that recorded the visitor's latest first click) about one
// run in three failed conversions (finding F3); with the model's latest
// click updated on repeats (the old docs' "their latest") conversions
// failed per link.
func TestGeneratedJourneysOnTwoInstances(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 8))

	srv := redistest.Start(t, &redistest.Options{Local: true})
	dsn := pgtest.Start(t).DB(t)
	args := []string{"-redis", srv.Addr(), "-db", dsn, "-trusted-proxies", "127.0.0.1/32",
		"-create-per-minute", "0", "-exclude", "198.18.0.0/15,2001:db8:ee::/48", "-flush-interval", "1h"}
	a, b := start(t, args...), start(t, args...)
	insts := []inst{a, b}
	links := []string{
		a.create("https://example.com/one", http.Header{"User-Agent": {firefox}}),
		b.create("https://example.com/two", http.Header{"User-Agent": {firefox}}),
		a.create("https://example.com/three", http.Header{"User-Agent": {firefox}}),
	}

	visitors := genVisitors(rng)
	m := newModel()
	for _, l := range links {
		m.netClicks[l] = map[string]uint64{}
		m.netPeople[l] = map[string]map[int]bool{}
		m.netBots[l] = map[string]bool{}
	}
	seen := map[[2]int]bool{}  // (visitor, link index) clicked
	latest := map[int]string{} // visitor's latest first click's link
	latestOn := map[int]int{}  // and the instance that recorded it
	var orphans int
	for step := range 600 {
		vi := rng.IntN(len(visitors))
		v := visitors[vi]
		pi := rng.IntN(2)
		p := insts[pi]
		h := http.Header{"User-Agent": {v.ua}, "X-Forwarded-For": {v.forms[rng.IntN(len(v.forms))]}}
		query := ""
		if v.optOut {
			if step%2 == 0 {
				h.Set("Sec-GPC", "1")
			} else {
				query = "?optout=1"
			}
		}
		counted := !v.optOut && !v.exclude
		switch r := rng.IntN(10); {
		case r < 7 || v.bot: // a click
			li := rng.IntN(len(links))
			l := links[li]
			ans := p.send("GET", "/l/"+l+query, "", h)
			require.Equal(t, http.StatusFound, ans.code, "step %d", step)
			if !counted {
				continue
			}
			m.clicks[l]++
			m.netClicks[l][v.network]++
			if v.bot {
				m.bots[l]++
				m.netBots[l][v.network] = true
				continue
			}
			if !seen[[2]int{vi, li}] {
				m.unique[l]++
				latest[vi] = l // only a first click is held
				latestOn[vi] = pi
			}
			seen[[2]int{vi, li}] = true
			if m.netPeople[l][v.network] == nil {
				m.netPeople[l][v.network] = map[int]bool{}
			}
			m.netPeople[l][v.network][vi] = true
		case r < 8: // a conversion on a named link
			li := rng.IntN(len(links))
			ans := p.send("GET", "/c/"+links[li]+".gif"+query, "", h)
			require.Equal(t, http.StatusOK, ans.code, "step %d", step)
			if counted && seen[[2]int{vi, li}] {
				m.conversions[links[li]]++
				m.named[links[li]]++
			}
		case r < 9: // a conversion on the latest click
			if i, ok := latestOn[vi]; ok {
				// The instance that recorded it: another sees a first
				// click a moment later (see finding F3 in the report).
				p = insts[i]
			}
			ans := p.send("GET", "/c/any.gif"+query, "", h)
			require.Equal(t, http.StatusOK, ans.code, "step %d", step)
			if l, ok := latest[vi]; counted && ok {
				m.conversions[l]++
				m.any++
			}
		default: // a link that does not exist
			ans := p.send("GET", fmt.Sprintf("/l/nolink%03d", step), "", h)
			require.Equal(t, http.StatusNotFound, ans.code, "step %d", step)
			orphans++
		}
	}

	// Each instance writes what it holds when asked for stats (and every
	// -flush-interval, here an hour): ask both first, then check on both.
	for _, p := range insts {
		for _, l := range links {
			p.stats(l)
		}
	}
	for i, p := range insts {
		for _, l := range links {
			s := p.stats(l)
			checkStats(t, fmt.Sprintf("instance %d", i), s, l, m)
			checkDashboard(t, fmt.Sprintf("instance %d", i), p, l, s, visitors)
		}
	}
	assert.EqualValues(t, orphans, a.metric("clickanon_linktracker_orphan_clicks_total")+b.metric("clickanon_linktracker_orphan_clicks_total"), "orphan clicks")

	a.stop()
	b.stop()
	c := start(t, args...)
	for _, l := range links {
		s := c.stats(l)
		checkStats(t, "after a restart", s, l, m)
		checkDashboard(t, "after a restart", c, l, s, visitors)
	}
	var all uint64
	for _, l := range links {
		all += c.stats(l).Conversions
	}
	assert.Equal(t, m.any+m.named[links[0]]+m.named[links[1]]+m.named[links[2]], all, "conversions of all links")
}

// genVisitors makes people in networks of 1 to 8 people, crawlers,
// opted-out visitors and excluded ones.
func genVisitors(rng *rand.Rand) []visitor {
	var vs []visitor
	people := func(n int, v4 bool, net int) {
		for i := range n {
			var f []string
			var network string
			if v4 {
				a := netip.AddrFrom4([4]byte{203, 0, byte(net), byte(10 + 7*i)})
				network = netip.PrefixFrom(a, 24).Masked().String()
				a16 := netip.AddrFrom16(a.As16())
				f = []string{a.String(), a16.String(), a16.StringExpanded(), fmt.Sprintf("::ffff:%x:%x", uint16(a.As4()[0])<<8|uint16(a.As4()[1]), uint16(a.As4()[2])<<8|uint16(a.As4()[3]))}
			} else {
				a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(net), byte(i), 0x42, 15: byte(i + 1)})
				network = netip.PrefixFrom(a, 48).Masked().String()
				f = []string{a.String(), a.StringExpanded(), upper(a.String())}
			}
			vs = append(vs, visitor{forms: f, network: network, ua: fmt.Sprintf("%s visitor/%d.%d", firefox, net, i)})
		}
	}
	for net := range 6 {
		people(1+rng.IntN(8), net%2 == 0, net+1)
	}
	for i, ua := range crawlers {
		a := fmt.Sprintf("100.64.%d.9", i)
		vs = append(vs, visitor{forms: []string{a}, network: a[:len(a)-1] + "0/24", ua: ua, bot: true})
	}
	for i := range 3 {
		vs = append(vs, visitor{forms: []string{fmt.Sprintf("100.70.0.%d", i+1)}, network: "100.70.0.0/24", ua: fmt.Sprintf("%s optout/%d", firefox, i), optOut: true})
		vs = append(vs, visitor{forms: []string{fmt.Sprintf("198.19.%d.1", i), fmt.Sprintf("::ffff:198.19.%d.1", i)}, ua: fmt.Sprintf("%s office/%d", firefox, i), exclude: true})
		vs = append(vs, visitor{forms: []string{fmt.Sprintf("2001:db8:ee:%d::1", i)}, ua: fmt.Sprintf("%s office6/%d", firefox, i), exclude: true})
	}
	return vs
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// checkStats compares one link's stats with the model.
func checkStats(t *testing.T, who string, s stats, l string, m *model) {
	t.Helper()
	assert.Equal(t, m.clicks[l], s.Clicks, "%s %s: clicks", who, l)
	assert.Equal(t, m.unique[l], s.Unique, "%s %s: unique clicks", who, l)
	assert.Equal(t, m.bots[l], s.Bots, "%s %s: bot clicks", who, l)
	assert.Equal(t, m.conversions[l], s.Conversions, "%s %s: conversions", who, l)
	assert.Zero(t, s.Unknown, "%s %s: uniqueness unknown", who, l)
	for name, se := range map[string]series{"per_minute": s.Minutes, "per_hour": s.Hours} {
		assert.Equal(t, m.clicks[l], se.Clicks, "%s %s %s: clicks", who, l, name)
		var shown uint64
		for _, pt := range se.Points {
			shown += pt.Clicks
			assert.LessOrEqual(t, pt.Unique, pt.Clicks, "%s %s %s", who, l, name)
		}
		assert.Equal(t, se.Clicks, shown+se.Suppressed, "%s %s %s: points and suppressed add up", who, l, name)
	}
	var network *breakdown
	for i := range s.Breakdowns {
		bd := &s.Breakdowns[i]
		var sum uint64
		for _, c := range bd.Values {
			sum += c.Clicks
		}
		assert.Equal(t, m.clicks[l], sum+bd.Suppressed, "%s %s %s: values and suppressed add up", who, l, bd.Dimension)
		if bd.Dimension == "network" {
			network = bd
		}
	}
	require.NotNil(t, network, "%s %s: a network breakdown", who, l)
	shown := map[string]uint64{}
	for _, c := range network.Values {
		shown[c.Value] = c.Clicks
	}
	for n, clicks := range m.netClicks[l] {
		people := len(m.netPeople[l][n])
		switch {
		case m.netBots[l][n]:
			assert.NotContains(t, shown, n, "%s %s: a network of one crawler", who, l)
		case people >= s.K:
			assert.Equal(t, clicks, shown[n], "%s %s: network %s of %d people", who, l, n, people)
		default:
			assert.NotContains(t, shown, n, "%s %s: network %s of %d people", who, l, n, people)
		}
	}
	for n := range shown {
		assert.Contains(t, m.netClicks[l], n, "%s %s: a network shown that nobody counted clicked from", who, l)
	}
}
