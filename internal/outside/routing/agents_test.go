package routing_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// Agents whose label the documentation names, each with it.
var namedAgents = []struct{ ua, bot string }{
	{"", track.LabelNoUserAgent},
	{"curl/8.11.0", track.LabelHTTPClient},
	{"python-httpx/0.27.2", track.LabelHTTPClient},
	{"axios/1.7.7", track.LabelHTTPClient},
	{"node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", track.LabelHTTPClient},
	{"okhttp/4.12.0", track.LabelHTTPClient},
	{"Java/17.0.9", track.LabelHTTPClient},
	{"Scrapy/2.11.2 (+https://scrapy.org)", track.LabelHTTPClient},
	{"PostmanRuntime/7.42.0", track.LabelHTTPClient},
	{"libwww-perl/6.77", track.LabelHTTPClient},
	{"Go-http-client/2.0", track.LabelHTTPClient},
	{"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "slack"},
	{"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "discord"},
	{"WhatsApp/2.23.20.0 A", "whatsapp"},
	{"TelegramBot (like TwitterBot)", "telegram"},
	{"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "facebook"},
	{"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", "linkedin"},
	{"Twitterbot/1.0", "twitter"},
	{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "google"},
	{"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36", "bing"},
	{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", track.LabelHeadless},
	{"AcoonBot/4.1", track.LabelBot},
	{"Mozilla/5.0 (Linux; Android 13; CUBOT P80) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.113 Mobile Safari/537.36", ""},
	{firefox, ""},
}

// shapes returns user agents of every shape around a base agent: padded
// to every length class (under 512 bytes, over, up to the cache's 1 KiB,
// past it, 64 KiB), with control bytes, invalid UTF-8, an address inside
// in several notations, NULs.
func shapes(base string) []string {
	out := []string{base}
	for _, n := range []int{100, 511, 512, 513, 1000, 1024} {
		if pad := n - len(base); pad > 0 {
			out = append(out, base+strings.Repeat(" ", pad))
		}
	}
	out = append(out,
		base+strings.Repeat("x", 2000),
		base+strings.Repeat("\xff", 70_000),
		base+" \x00\x01\x1b[31m\x7f",
		base+" \xc3\x28\xe2\x82",
		base+" (via 198.51.100.77; 2001:db8::77; 198-51-100-77; c6336477; ::ffff:198.51.100.77)",
		"198.51.100.77 "+base,
		"Mozilla/5.0 (X11; Linux x86_64) "+strings.Repeat("a", 1100)+" "+base, // the agent's own past the first KiB
	)
	return out
}

// A user agent of every shape gives, through the tracker, the label
// Classify gives its first KiB (the documented cut: an agent longer than
// 1 KiB is classified by its first KiB), and BotLabel, which a handler
// asks before the tracker does, agrees with the tracker; every label and
// device class that persists is short, valid UTF-8 and holds no address,
// whatever the agent holds.
func TestAgentsOfEveryShape(t *testing.T) {
	e := newEnv(t, nil, 0)
	for i, na := range namedAgents {
		assert.Equal(t, na.bot, track.Classify(na.ua).Bot, "named agent %d: %q", i, na.ua)
		for j, ua := range shapes(na.ua) {
			name := fmt.Sprintf("agent %d shape %d (%d bytes)", i, j, len(ua))
			r := req("GET", "/go/abc", fmt.Sprintf("198.51.100.%d:1", 1+j), "")
			r.Header["User-Agent"] = []string{ua}
			want := track.BotLabel(r)
			v := e.tracker.Track(r, "abc", clickstore.KindClick)
			require.Equal(t, track.Counted, v.Outcome, name)
			assert.Equal(t, want, v.Bot, "%s: BotLabel and the tracker", name)
			cut := ua
			if len(cut) > 1024 {
				cut = cut[:1024]
			}
			if c := track.Classify(cut); !strings.ContainsAny(c.Bot, "0123456789") {
				assert.Equal(t, c.Bot, v.Bot, "%s: the label of its first KiB", name)
			}
		}
	}
	for i, a := range e.sink.all() {
		for _, l := range []string{a.click.Bot, a.click.Device} {
			assert.True(t, utf8.ValidString(l), "add %d: %q", i, l)
			assert.LessOrEqual(t, len(l), clickstore.MaxLabelLen, "add %d", i)
			ipmasktest.AssertNoRawIP(t, ipmask.Default, l, "add %d", i)
		}
		assert.Contains(t, []string{"", "mobile", "tablet", "desktop"}, a.click.Device, "add %d", i)
	}
}

// kelvin is U+212A KELVIN SIGN, which Unicode lower-cases to an ASCII k.
const kelvin = "\u212a"

// Padding an agent with spaces at its end, to any length up to the 1 KiB
// the tracker reads, leaves its label as it was: an agent's class does not
// depend on its length, also where a letter is one Unicode lower-cases
// to ASCII (the Kelvin sign in "Slac\u212abot"): the fetcher tokens are
// matched on an ASCII lower-casing at every length.
func TestPaddingDoesNotChangeTheLabel(t *testing.T) {
	agents := []string{
		"Slac" + kelvin + "bot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
		"O" + kelvin + "http/4.12.0",
		"Lin" + kelvin + "edInBot/1.0 (compatible; Mozilla/5.0)",
		"Mozilla/5.0 (compatible; S" + kelvin + "ypeUriPreview Preview/0.5)",
	}
	for _, na := range namedAgents {
		if na.ua != "" { // spaces alone are not an empty agent
			agents = append(agents, na.ua)
		}
	}
	for i, ua := range agents {
		want := track.Classify(ua).Bot
		for _, n := range []int{64, 511, 512, 513, 700, 1024} {
			if pad := n - len(ua); pad > 0 {
				padded := ua + strings.Repeat(" ", pad)
				assert.Equal(t, want, track.Classify(padded).Bot, "agent %d padded to %d bytes", i, n)
			}
		}
	}
}

// HEAD and announced prefetches are bots whatever the agent says, in
// every shape, and a bot agent stays a bot whatever the request: BotLabel
// and the tracker agree on each.
func TestRequestLabelsOverEveryShape(t *testing.T) {
	e := newEnv(t, nil, 0)
	for i, na := range namedAgents {
		for j, ua := range shapes(na.ua)[:3] {
			for _, form := range []string{"HEAD", "Sec-Purpose", "Purpose", "X-Moz"} {
				method := "GET"
				if form == "HEAD" {
					method = "HEAD"
				}
				r := req(method, "/go/abc", "198.51.100.7:1", "")
				r.Header["User-Agent"] = []string{ua}
				want := track.LabelHead
				if form != "HEAD" {
					r.Header.Set(form, "prefetch")
					want = track.LabelPrefetch
				}
				assert.Equal(t, want, track.BotLabel(r), "agent %d shape %d %s", i, j, form)
				v := e.tracker.Track(r, "abc", clickstore.KindClick)
				assert.Equal(t, want, v.Bot, "agent %d shape %d %s", i, j, form)
				assert.Equal(t, clickstore.Repeat, v.Uniqueness)
			}
		}
	}
	assert.Zero(t, e.store.Len(), "no bot is held")
	_ = http.MethodHead
}

// A fetcher, crawler or HTTP client the documentation names by name keeps
// its label whatever the case its token is written in (upper, lower,
// alternating): the named tokens are matched without regard to ASCII
// case. ("…bot" in general is matched case-sensitively, as documented, so
// a CUBOT phone stays a phone; those rows are left out.)
func TestNamedTokensInAnyCase(t *testing.T) {
	named := map[string]bool{"slack": true, "discord": true, "whatsapp": true, "telegram": true, "facebook": true,
		"linkedin": true, "twitter": true, "google": true, "bing": true, track.LabelHTTPClient: true, track.LabelHeadless: true}
	alternate := func(s string) string {
		b := []byte(s)
		for i := range b {
			if i%2 == 0 {
				b[i] = strings.ToUpper(string(b[i]))[0]
			} else {
				b[i] = strings.ToLower(string(b[i]))[0]
			}
		}
		return string(b)
	}
	n := 0
	for i, na := range namedAgents {
		if !named[na.bot] {
			continue
		}
		n++
		for _, ua := range []string{strings.ToUpper(na.ua), strings.ToLower(na.ua), alternate(na.ua)} {
			assert.Equal(t, na.bot, track.Classify(ua).Bot, "agent %d: %q", i, ua)
		}
	}
	require.Greater(t, n, 15)
}
