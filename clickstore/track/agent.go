package track

import (
	"hash/maphash"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	crawlers "github.com/monperrus/crawler-user-agents"

	"github.com/clickanon/clickanon/clickstore"
)

// Agent is what a user agent says about the client that sent it. It is a
// small comparable value, safe to copy and share; the zero Agent is a
// person on a device of unknown class.
type Agent struct {
	// Bot labels a client that is not a person ("slack", "http-client",
	// "crawler"), or is "" for one that looks like a person.
	Bot string
	// Device is a coarse device class: "mobile", "tablet", "desktop", or
	// "" when it cannot tell. It is deliberately coarse: a fine device
	// breakdown helps fingerprint a visitor.
	Device string
}

// Labels that [Classify] and [BotLabel] give besides the fetchers' names.
const (
	LabelNoUserAgent = "no-user-agent" // the request had no User-Agent
	LabelHTTPClient  = "http-client"   // an HTTP client library or command-line tool
	LabelHeadless    = "headless"      // a headless browser
	LabelCrawler     = "crawler"       // on the maintained crawler list
	LabelBot         = "bot"           // calls itself a bot, crawler or spider
	LabelHead        = "head"          // a HEAD request: nobody reads the body
	LabelOptions     = "options"       // an OPTIONS request: a CORS preflight the browser sends before the request itself
	LabelPrefetch    = "prefetch"      // a prefetch or prerender the browser announced
)

// match says where in the lower-case user agent a token is looked for.
type match uint8

const (
	anywhere match = iota
	prefix
	exact
)

// fetchers are the clients a link tracker meets most: link-preview fetchers
// of chat and social apps, the big crawlers and HTTP client libraries, in
// lower case, each with its label. The first match wins, so a fetcher that
// names another in its user agent comes before it. The maintained crawler
// list covers the long tail; this list names what it misses or lumps
// together.
var fetchers = [...]struct {
	token string
	where match
	label string
}{
	// Link previews. iMessage sends a Safari agent that ends with both
	// Facebook's and Twitter's fetcher names.
	{"facebookexternalhit/1.1 facebot twitterbot/1.0", anywhere, "imessage"},
	{"telegrambot", anywhere, "telegram"}, // "TelegramBot (like TwitterBot)"
	{"line-poker", anywhere, "line"},
	{"slackbot", anywhere, "slack"},
	{"slack-imgproxy", anywhere, "slack"},
	{"discordbot", anywhere, "discord"},
	{"skypeuripreview", anywhere, "teams"}, // Teams and Skype
	{"microsoftpreview", anywhere, "teams"},
	{"whatsapp/", prefix, "whatsapp"},
	{"viber/", prefix, "viber"},
	{"facebookexternalhit", anywhere, "facebook"},
	{"facebookcatalog", anywhere, "facebook"},
	{"meta-externalagent", anywhere, "facebook"},
	{"facebot", anywhere, "facebook"},
	{"linkedinbot", anywhere, "linkedin"},
	{"twitterbot", anywhere, "twitter"},
	{"snap url preview", anywhere, "snapchat"},
	{"cardyb", anywhere, "bluesky"},
	{"mastodon/", prefix, "mastodon"},
	{"vkshare", anywhere, "vk"},
	{"pinterestbot", anywhere, "pinterest"},
	{"redditbot", anywhere, "reddit"},
	{"embedly", anywhere, "embedly"},
	{"iframely", anywhere, "iframely"},
	{"google-read-aloud", anywhere, "google"},
	{"google-safety", anywhere, "google"},
	{"google-inspectiontool", anywhere, "google"},
	{"adsbot-google", anywhere, "google"},
	{"mediapartners-google", anywhere, "google"},
	{"googlebot", anywhere, "google"},
	{"bingbot", anywhere, "bing"},
	{"bingpreview", anywhere, "bing"},
	{"applebot", anywhere, "apple"},
	{"headlesschrome", anywhere, LabelHeadless},
	{"phantomjs", anywhere, LabelHeadless},
	// HTTP client libraries and tools: they name themselves at the start.
	{"curl/", prefix, LabelHTTPClient},
	{"wget/", prefix, LabelHTTPClient},
	{"python-", prefix, LabelHTTPClient}, // python-requests, -httpx, -urllib3
	{"python/", prefix, LabelHTTPClient}, // aiohttp
	{"aiohttp/", prefix, LabelHTTPClient},
	{"scrapy/", prefix, LabelHTTPClient},
	{"java/", prefix, LabelHTTPClient},
	{"apache-http", prefix, LabelHTTPClient},
	{"jakarta commons-httpclient", prefix, LabelHTTPClient},
	{"okhttp", prefix, LabelHTTPClient},
	{"axios", prefix, LabelHTTPClient},
	{"node-fetch", prefix, LabelHTTPClient},
	{"node", exact, LabelHTTPClient}, // Node's fetch
	{"undici", exact, LabelHTTPClient},
	{"got (", prefix, LabelHTTPClient},
	{"postmanruntime/", prefix, LabelHTTPClient},
	{"insomnia/", prefix, LabelHTTPClient},
	{"httpie/", prefix, LabelHTTPClient},
	{"libwww-perl", prefix, LabelHTTPClient},
	{"lwp::", prefix, LabelHTTPClient},
	{"go-http-client/", prefix, LabelHTTPClient},
	{"ruby", exact, LabelHTTPClient},
	{"faraday v", prefix, LabelHTTPClient},
	{"dart/", prefix, LabelHTTPClient},
	{"deno/", prefix, LabelHTTPClient},
	{"bun/", prefix, LabelHTTPClient},
	{"guzzlehttp/", prefix, LabelHTTPClient},
	{"ureq/", prefix, LabelHTTPClient},
	{"reqwest/", prefix, LabelHTTPClient},
	{"aria2/", prefix, LabelHTTPClient},
	{"http.rb/", anywhere, LabelHTTPClient},
}

// Classify is the default classifier of [Options].Classify. Its bot label
// is, in this order: [LabelNoUserAgent] for an empty user agent; the name of
// a link-preview fetcher or major crawler ("slack", "discord", "teams",
// "whatsapp", "telegram", "imessage", "facebook", "linkedin", "twitter",
// "google", "bing"...); [LabelHTTPClient] for an HTTP client library or
// tool (curl, wget, axios, node-fetch, okhttp, Java, Scrapy, python-httpx,
// python-requests, PostmanRuntime, libwww-perl, Go-http-client...);
// [LabelHeadless] for a headless browser; [LabelCrawler] for an agent on
// the crawler list maintained at github.com/monperrus/crawler-user-agents
// (but for Slack's desktop app and Sogou's mobile browser, whose agents
// hold a crawler's name there, "Sonic" and "Sogou"); [LabelBot] for one that calls itself a "…bot" (case-sensitively,
// so a CUBOT phone is a phone), a crawler, spider, scanner, monitor or
// checker, or gives a contact URL ("+http…", or any URL in an agent that
// does not claim to be a browser); else "", a person.
//
// It costs a few microseconds; the tracker calls it once per distinct user
// agent and caches the answer.
func Classify(userAgent string) Agent {
	return Agent{Bot: agentBot(userAgent), Device: deviceClass(userAgent)}
}

// BotLabel returns the label of a request that a person did not make, or ""
// for one that looks human: [LabelHead] for a HEAD request, [LabelOptions]
// for an OPTIONS request (a browser's CORS preflight, which a route
// registered without a method serves too: counted as a person's, it would
// make each cross-origin click or conversion two),
// [LabelPrefetch] for a prefetch or prerender announced with Sec-Purpose,
// Purpose or X-Moz (in any line of the header), else what [Classify] says of its user agent
// (of its first KiB, for one longer, as the tracker reads it). A
// [Tracker] does the same with its configured, cached classifier. A nil r
// is "".
func BotLabel(r *http.Request) string {
	if r == nil {
		return ""
	}
	if l := requestBot(r); l != "" {
		return l
	}
	ua := header(r.Header, "User-Agent")
	if len(ua) > maxCachedAgent {
		ua = ua[:maxCachedAgent] // as the tracker's cache classifies it
	}
	return agentBot(ua)
}

// requestBot labels what the request, not its user agent, says.
func requestBot(r *http.Request) string {
	switch r.Method {
	case http.MethodHead:
		return LabelHead
	case http.MethodOptions:
		return LabelOptions
	}
	if announcesPrefetch(r.Header["Sec-Purpose"]) || announcesPrefetch(r.Header["Purpose"]) || announcesPrefetch(r.Header["X-Moz"]) {
		return LabelPrefetch
	}
	return ""
}

// announcesPrefetch reports whether any line of a Sec-Purpose, Purpose or
// X-Moz header announces a prefetch or prerender: several lines of a header
// are one list, as if joined by commas.
func announcesPrefetch(vs []string) bool {
	for _, v := range vs {
		if isPrefetch(v) {
			return true
		}
	}
	return false
}

// isPrefetch reports whether a Sec-Purpose, Purpose or X-Moz value
// announces a prefetch or prerender ("prefetch", "prefetch;prerender").
func isPrefetch(v string) bool {
	return v != "" && (containsFold(v, "prefetch") || containsFold(v, "prerender"))
}

// header returns the first value of a header given in canonical form,
// without Header.Get's canonicalisation.
func header(h http.Header, key string) string {
	if vs := h[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func agentBot(ua string) string {
	if ua == "" {
		return LabelNoUserAgent
	}
	var buf [512]byte
	lua := lowerInto(&buf, ua)
	for _, f := range fetchers {
		var ok bool
		switch f.where {
		case anywhere:
			ok = strings.Contains(lua, f.token)
		case prefix:
			ok = strings.HasPrefix(lua, f.token)
		case exact:
			ok = lua == f.token
		}
		if ok {
			return f.label
		}
	}
	if crawlers.IsCrawler(ua) && !inApp(lua) {
		return LabelCrawler
	}
	if callsItselfBot(ua) || selfDescribed(lua) {
		return LabelBot
	}
	return ""
}

// appTokens mark the agents of apps and browsers in which people open links
// and that the crawler list takes for crawlers: the Slack desktop app ends
// its agent with "Sonic Slack_SSB/4.36.140", and "Sonic" is a crawler on the
// list; Sogou's mobile browser says "SogouMobileBrowser/5.30.4", and
// "Sogou" is one too (Sogou's spiders say "spider").
var appTokens = [...]string{" slack_ssb/", "sogoumobilebrowser/"}

// inApp reports whether the lower-case user agent is one of appTokens'.
func inApp(lua string) bool {
	for _, t := range appTokens {
		if strings.Contains(lua, t) {
			return true
		}
	}
	return false
}

// botWords are words in a user agent that no browser uses.
var botWords = [...]string{"crawl", "spider", "scanner", "monitor", "checker", "extractor", "+http"}

// selfDescribed reports whether the lower-case user agent describes an
// automaton: a word of botWords ("+http" is the crawlers' convention for
// their contact page), or a URL in an agent that does not claim to be a
// browser.
func selfDescribed(lua string) bool {
	for _, w := range botWords {
		if strings.Contains(lua, w) {
			return true
		}
	}
	browser := strings.HasPrefix(lua, "mozilla/") || strings.HasPrefix(lua, "opera/")
	return !browser && (strings.Contains(lua, "http://") || strings.Contains(lua, "https://"))
}

// callsItselfBot reports whether ua holds a word ending in "bot" or "Bot"
// ("AcoonBot/4.1", "emefgebot;"): after a letter, "-" or "_", before the
// end or a delimiter. Phones named "CUBOT P80", "Cubot X30", "IDbot553" or
// "M bot 60" do not match.
func callsItselfBot(ua string) bool {
	for i := 1; i+3 <= len(ua); i++ {
		if (ua[i] != 'b' && ua[i] != 'B') || ua[i+1] != 'o' || ua[i+2] != 't' {
			continue
		}
		prev := ua[i-1]
		if !isLetter(prev) && prev != '-' && prev != '_' {
			continue
		}
		if i >= 2 && lower(ua[i-2]) == 'c' && lower(prev) == 'u' {
			continue // Cubot
		}
		if j := i + 3; j == len(ua) || strings.IndexByte("/;) ,", ua[j]) >= 0 {
			return true
		}
	}
	return false
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// deviceClass returns "mobile", "tablet", "desktop" or "".
func deviceClass(userAgent string) string {
	if userAgent == "" {
		return ""
	}
	var buf [512]byte
	ua := lowerInto(&buf, userAgent)
	has := func(token string) bool { return strings.Contains(ua, token) }
	switch {
	case has("ipad"), has("tablet"):
		return "tablet"
	case has("android") && !has("mobile"):
		return "tablet"
	case has("mobile"), has("iphone"):
		return "mobile"
	case has("windows"), has("macintosh"), has("x11"), has("cros"):
		return "desktop"
	}
	return ""
}

// lowerInto returns s in ASCII lower case, written into buf when it fits
// (so that nothing is allocated for a user agent of ordinary length).
// A longer one is lowered into a new slice, in ASCII too: strings.ToLower
// would also fold the Kelvin sign to a 'k', and an agent's class would
// depend on its length.
func lowerInto(buf *[512]byte, s string) string {
	b := buf[:]
	if len(s) > len(buf) {
		b = make([]byte, len(s))
	}
	for i := 0; i < len(s); i++ {
		b[i] = lower(s[i])
	}
	return unsafe.String(&b[0], len(s))
}

// containsFold reports whether s contains the lower-case ASCII token,
// ignoring ASCII case in s.
func containsFold(s, token string) bool {
	n := len(token)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for j < n && lower(s[i+j]) == token[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// agentCache remembers the classification and the digest of the user agents
// seen last: a fixed table of two-way sets, read without locks, each entry
// immutable once published. It keeps no agent's text: an entry is found by
// a keyed 64-bit hash of the agent and its length (the seed is random per
// cache and no hash leaves it, so no client can aim at another's entry; two
// agents of one length share a hash once in 2^64), and a user agent, which
// may carry its sender's address or other identifying text, is not held
// past the request that classified it.
//
// An entry lives for one window from its making, like the clicks of the
// store: a lookup at or past its end, or before its start (a clock set
// back), does not use it, and a runtime timer, armed while the cache holds
// entries, clears the slots of expired ones whether or not requests come.
// The timer fires at the end of the first entry due and also clears those
// due within window/clearAhead after it, so that it scans the table at
// most clearAhead times a window however the entries' ends spread; an
// entry so cleared early is only a miss, classified again.
// A hit allocates nothing; a miss classifies the agent, allocates its entry
// and, if the timer is idle, arms it.
type agentCache struct {
	seed     maphash.Seed
	mask     uint64
	slots    []atomic.Pointer[agentEntry]
	classify func(string) Agent
	window   int64 // nanoseconds an entry lives
	now      func() time.Time

	timerMu sync.Mutex
	armed   atomic.Bool // the timer will fire; set by a miss, cleared by fire
	timer   *time.Timer
}

type agentEntry struct {
	hash   uint64 // the agent's hash under the cache's seed
	n      int    // and its length
	born   int64  // Unix nanoseconds when the entry was made
	agent  Agent
	digest clickstore.AgentDigest
}

// live reports whether e may answer at Unix nanoseconds now.
func (e *agentEntry) live(now, window int64) bool { return e.born <= now && now-e.born < window }

func newAgentCache(size int, window time.Duration, now func() time.Time, classify func(string) Agent) *agentCache {
	n := 2
	for n < size {
		n <<= 1
	}
	return &agentCache{
		seed: maphash.MakeSeed(), mask: uint64(n-1) &^ 1,
		slots: make([]atomic.Pointer[agentEntry], n), classify: classify,
		window: max(int64(window), 1), now: now,
	}
}

// maxCachedAgent is the longest user agent the cache keeps an entry for
// (real ones stay under 600 bytes), so that classifying costs what it
// does for real agents whatever clients send. A longer agent is
// classified by its first maxCachedAgent bytes, on every request.
const maxCachedAgent = 1024

// get returns the entry of ua at now.
func (c *agentCache) get(ua string, now time.Time) *agentEntry {
	if len(ua) > maxCachedAgent {
		return &agentEntry{agent: c.classify(ua[:maxCachedAgent]), digest: clickstore.DigestAgent(ua)}
	}
	t := now.UnixNano()
	h := maphash.String(c.seed, ua)
	set := h & c.mask
	for i := range uint64(2) {
		if e := c.slots[set|i].Load(); e != nil && e.hash == h && e.n == len(ua) && e.live(t, c.window) {
			return e
		}
	}
	e := &agentEntry{hash: h, n: len(ua), born: t, agent: c.classify(ua), digest: clickstore.DigestAgent(ua)}
	c.slots[set|(h>>63)].Store(e) // either way of the set, by a hash bit
	if !c.armed.Load() {
		c.arm()
	}
	return e
}

// arm starts the timer that clears expired entries, unless it is running.
func (c *agentCache) arm() {
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if c.armed.Load() {
		return
	}
	c.armed.Store(true)
	d := time.Duration(c.window)
	if c.timer == nil {
		c.timer = time.AfterFunc(d, c.fire)
	} else {
		c.timer.Reset(d)
	}
}

// fire runs on the timer: it clears the slots of expired entries and
// re-arms for the first of those left. Once the cache is empty it stops,
// and nothing keeps the cache reachable.
func (c *agentCache) fire() {
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	// Disarm before looking, so that a miss storing an entry after the
	// look arms the timer again itself.
	c.armed.Store(false)
	if next, ok := c.sweep(c.now().UnixNano(), c.window/clearAhead); ok {
		c.armed.Store(true)
		c.timer.Reset(time.Duration(next))
	}
}

// clearAhead bounds how often the timer scans the table: see agentCache.
const clearAhead = 64

// sweep clears the slots whose entries are not live at now or are due to
// end within early of it, and returns how long the first of the others
// has left.
func (c *agentCache) sweep(now, early int64) (next int64, ok bool) {
	for i := range c.slots {
		e := c.slots[i].Load()
		if e == nil {
			continue
		}
		left := e.born + c.window - now
		if !e.live(now, c.window) || left <= early {
			c.slots[i].CompareAndSwap(e, nil)
			continue
		}
		if !ok || left < next {
			next, ok = left, true
		}
	}
	return next, ok
}
