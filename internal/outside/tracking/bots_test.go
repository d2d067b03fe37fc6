package tracking_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
)

// Browsers announce prefetches and prerenders in three headers, in any
// case, with other tokens around the one that matters, in one header line
// or several. Each form is a bot's request, on its own (BotLabel) and in a
// Tracker (whose classifier is cached per agent, so the header must be read
// on every request: a person's agent seen first stays a person's only
// without the header).
func TestPrefetchHeadersInEveryForm(t *testing.T) {
	values := []string{"prefetch", "Prefetch", "PREFETCH", "prerender", "Prerender",
		"prefetch;prerender", "prefetch; prerender", "prefetch;anonymous-client-ip",
		"prefetch, prerender", " prefetch ", "prefetch;anonymous-client-ip;prerender"}
	headers := []string{"Sec-Purpose", "Purpose", "X-Moz", "sec-purpose", "PURPOSE", "x-moz"}
	e := newEnv(t, nil, 0)
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", e.tracker.Handler(redirectAll))
	n := 0
	for _, h := range headers {
		for _, v := range values {
			for _, lines := range [][]string{{v}, {"same-origin", v}} {
				name := fmt.Sprintf("%s: %q", h, lines)
				r := req("GET", "/go/abc", "198.51.100.7:1", firefox)
				for _, l := range lines {
					r.Header.Add(h, l)
				}
				assert.Equal(t, track.LabelPrefetch, track.BotLabel(r), name)
				serve(mux, r)
				n++
				st := e.tracker.Stats()
				assert.Equal(t, uint64(n), st.Bots, "tracker: %s", name)
			}
		}
	}
	// The same person without the header is a person, once.
	serve(mux, req("GET", "/go/abc", "198.51.100.7:1", firefox))
	st := e.tracker.Stats()
	assert.Equal(t, uint64(n), st.Bots)
	assert.Equal(t, uint64(1), st.Unique)
	for _, v := range []string{"", "same-origin", "navigate", "document"} {
		r := req("GET", "/go/abc", "198.51.100.7:1", firefox)
		r.Header.Set("Sec-Purpose", v)
		r.Header.Set("Purpose", v)
		assert.Empty(t, track.BotLabel(r), "%q is no prefetch", v)
	}
}

// HEAD is a bot's request whatever the agent, also a browser's, and through
// the mux's implicit HEAD route for a GET pattern.
func TestHeadIsABotWhateverTheAgent(t *testing.T) {
	e := newEnv(t, nil, 0)
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", e.tracker.Handler(redirectAll))
	agents := []string{firefox, "", "curl/8.5.0", "Mozilla/5.0 (Linux; Android 12; CUBOT KINGKONG 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"}
	for _, ua := range agents {
		r := req("HEAD", "/go/abc", "198.51.100.7:1", ua)
		assert.Equal(t, track.LabelHead, track.BotLabel(r), ua)
		serve(mux, r)
	}
	st := e.tracker.Stats()
	assert.Equal(t, uint64(len(agents)), st.Bots)
	assert.Zero(t, st.Unique)
	assert.Zero(t, e.store.Len(), "a bot's click is not held")
}

// Agents of the classes the issue names, beyond the package's table:
// version forms and platforms of the HTTP client libraries, link-preview
// fetchers, and, on the other side, people: CUBOT phones of every model
// family, in-app browsers, and the desktop apps of the very chat services
// whose preview fetchers are bots (a person clicking a link in Slack's,
// Discord's or Teams's desktop app sends the app's Electron agent).
func TestAgentClasses(t *testing.T) {
	bots := map[string][]string{
		track.LabelHTTPClient: {
			"axios/1.7.2", "axios/0.21.4", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "node-fetch",
			"okhttp/4.12.0", "okhttp/3.14.9", "Java/17.0.9", "Java/1.8.0_392", "Scrapy/2.11.2 (+https://scrapy.org)",
			"python-httpx/0.27.0", "PostmanRuntime/7.39.0", "libwww-perl/6.72", "curl/8.5.0", "Wget/1.21.4",
			"python-requests/2.32.3", "Python-urllib/3.12", "Go-http-client/1.1", "Go-http-client/2.0",
			"Apache-HttpClient/4.5.14 (Java/17.0.9)", "node", "undici", "Deno/1.44.0", "Bun/1.1.13",
			"GuzzleHttp/7", "HTTPie/3.2.2", "Dart/3.4 (dart:io)", "Ruby", "Faraday v2.9.0", "Python/3.12 aiohttp/3.9.5",
		},
	}
	previews := []string{
		"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
		"Slackbot 1.0 (+https://api.slack.com/robots)",
		"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
		"Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com",
		"WhatsApp/2.23.20.0", "WhatsApp/2.2329.9 i",
		"TelegramBot (like TwitterBot)",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
		"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
		"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
		"Twitterbot/1.0",
	}
	people := []string{
		"Mozilla/5.0 (Linux; Android 12; CUBOT KINGKONG 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; Android 13; NOTE 30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; Android 9; CUBOT P30 Build/PPR1.180610.011) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/118.0.5993.111 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; Android 11; CUBOT TAB 10) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 307.0.0.34.111 (iPhone15,2; iOS 17_1; en_US; en; scale=3.00; 1179x2556; 532277014)",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/440.0.0.32.107;FBBV/549139493;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.0;FBSS/3;FBCR/;FBID/phone;FBLC/en_US;FBOP/80]",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UD1A.230803.041; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/441.0.0.23.105;]",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 LinkedInApp/9.29.6",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Twitter for iPhone/10.17",
		"Mozilla/5.0 (Linux; Android 13; SM-S918B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile Safari/537.36 musical_ly_2023201030 JsSdk/1.0 NetType/WIFI Channel/googleplay AppName/musical_ly app_version/32.1.3 ByteLocale/en ByteFullLocale/en Region/US BytedanceWebview/d8a21c6",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.42(0x18002a2d) NetType/WIFI Language/zh_CN",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Snapchat/12.60.0.37 (like Safari/8617.2.4.10.8, panda)",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Line/13.19.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/289.0.578082413 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 Telegram-Android/10.5.0 (Google Pixel 7; Android 13; SDK 33; HIGH)",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Slack/4.36.140 Chrome/120.0.6099.291 Electron/28.2.5 Safari/537.36 Sonic Slack_SSB/4.36.140",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Slack/4.41.105 Chrome/130.0.6723.137 Electron/33.2.1 Safari/537.36 Sonic Slack_SSB/4.41.105",
		"Mozilla/5.0 (Linux; Android 10; V2001A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/87.0.4280.141 Mobile Safari/537.36 SogouMSE,SogouMobileBrowser/5.30.4",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) discord/1.0.9030 Chrome/120.0.6099.291 Electron/28.2.10 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0 Teams/24004.1403.2634.2418/49",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
		"Mozilla/5.0 (Windows NT 6.1; rv:52.0) Gecko/20100101 Firefox/52.0",
		"Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)",
		"Opera/9.80 (Android; Opera Mini/7.6.40234/191.308; U; en) Presto/2.12.423 Version/12.16",
	}
	for label, uas := range bots {
		for _, ua := range uas {
			assert.Equal(t, label, track.Classify(ua).Bot, ua)
		}
	}
	for _, ua := range previews {
		assert.NotEmpty(t, track.Classify(ua).Bot, ua)
		assert.NotEqual(t, track.LabelHTTPClient, track.Classify(ua).Bot, "a preview is named: %s", ua)
	}
	for _, ua := range people {
		assert.Empty(t, track.Classify(ua).Bot, ua)
	}
	// The crawlers whose names those people's agents hold are still crawlers.
	for _, ua := range []string{
		"Mozilla/5.0 (compatible; Sonic/1.0; http://www.yama.info.waseda.ac.jp/~crawler/info.html)",
		"Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
		"Sogou Pic Spider/3.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
	} {
		assert.NotEmpty(t, track.Classify(ua).Bot, ua)
	}
}

// countSink counts and keeps nothing.
type countSink struct{ n atomic.Int64 }

func (s *countSink) Add(_ context.Context, _ clickstore.Click, _ clickstore.Uniqueness) error {
	s.n.Add(1)
	return nil
}

// A flood of distinct user agents, the way a sender rotates them, neither
// grows the tracker's memory past its bounded cache nor changes the
// answers: people stay people and bots bots, through the flood and after.
func TestAgentFloodStaysBounded(t *testing.T) {
	e := newEnvSink(t, &track.Options{AgentCache: 256}, 1000, &countSink{})
	h := e.tracker.Handler(redirectAll)
	send := func(i int) {
		ua := fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64; rv:%d.0) Gecko/20100101 Firefox/%d.0", i, i)
		if i%2 == 1 {
			ua = fmt.Sprintf("python-requests/2.%d.%d", i, i)
		}
		r := req("GET", "/go/abc", "198.51.100.7:1", ua)
		r.SetPathValue("link", "abc")
		serve(h, r)
	}
	for i := range 1_000 { // warm up every pool
		send(i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const flood = 30_000
	for i := range flood {
		send(1_000 + i)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	assert.Less(t, grown, int64(1<<20), "heap grew %d bytes for %d distinct agents", grown, flood)
	st := e.tracker.Stats()
	assert.Equal(t, uint64(flood/2+500), st.Bots, "every python-requests agent is a bot")
	assert.Equal(t, uint64(flood+1_000), st.Clicks)
	// The cache still answers right for agents it kept and agents it dropped.
	for _, ua := range []string{firefox, "python-requests/2.1001.1001", "Mozilla/5.0 (X11; Linux x86_64; rv:1002.0) Gecko/20100101 Firefox/1002.0"} {
		r := req("GET", "/go/abc", "203.0.113.9:1", ua)
		v := e.tracker.Track(r, "abc", clickstore.KindClick)
		assert.Equal(t, track.Classify(ua).Bot, v.Bot, ua)
		require.Equal(t, track.Counted, v.Outcome)
	}
}
