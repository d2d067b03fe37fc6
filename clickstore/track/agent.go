package track

import (
	"hash/maphash"
	"net/http"
	"strings"
	"sync/atomic"
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
// the crawler list maintained at github.com/monperrus/crawler-user-agents;
// [LabelBot] for one that calls itself a "…bot" (case-sensitively, so a
// CUBOT phone is a phone), a crawler, spider, scanner, monitor or checker,
// or gives a contact URL ("+http…", or any URL in an agent that does not
// claim to be a browser); else "", a person.
//
// It costs a few microseconds; the tracker calls it once per distinct user
// agent and caches the answer.
func Classify(userAgent string) Agent {
	return Agent{Bot: agentBot(userAgent), Device: deviceClass(userAgent)}
}

// BotLabel returns the label of a request that a person did not make, or ""
// for one that looks human: [LabelHead] for a HEAD request,
// [LabelPrefetch] for a prefetch or prerender announced with Sec-Purpose,
// Purpose or X-Moz, else what [Classify] says of its user agent. A
// [Tracker] does the same with its configured, cached classifier. A nil r
// is "".
func BotLabel(r *http.Request) string {
	if r == nil {
		return ""
	}
	if l := requestBot(r); l != "" {
		return l
	}
	return agentBot(header(r.Header, "User-Agent"))
}

// requestBot labels what the request, not its user agent, says.
func requestBot(r *http.Request) string {
	if r.Method == http.MethodHead {
		return LabelHead
	}
	if isPrefetch(header(r.Header, "Sec-Purpose")) || isPrefetch(header(r.Header, "Purpose")) || isPrefetch(header(r.Header, "X-Moz")) {
		return LabelPrefetch
	}
	return ""
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
	if crawlers.IsCrawler(ua) {
		return LabelCrawler
	}
	if callsItselfBot(ua) || selfDescribed(lua) {
		return LabelBot
	}
	return ""
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
func lowerInto(buf *[512]byte, s string) string {
	if len(s) > len(buf) {
		return strings.ToLower(s)
	}
	for i := 0; i < len(s); i++ {
		buf[i] = lower(s[i])
	}
	return unsafe.String(&buf[0], len(s))
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
// immutable once published, holding agents of up to maxCachedAgent bytes. A hit allocates nothing; a miss classifies the
// agent and allocates its entry (and a copy of the string, so that the
// cache does not keep a request's header alive).
type agentCache struct {
	seed     maphash.Seed
	mask     uint64
	slots    []atomic.Pointer[agentEntry]
	classify func(string) Agent
}

type agentEntry struct {
	ua     string
	agent  Agent
	digest clickstore.AgentDigest
}

func newAgentCache(size int, classify func(string) Agent) *agentCache {
	n := 2
	for n < size {
		n <<= 1
	}
	return &agentCache{seed: maphash.MakeSeed(), mask: uint64(n-1) &^ 1, slots: make([]atomic.Pointer[agentEntry], n), classify: classify}
}

// maxCachedAgent is the longest user agent the cache keeps (real ones stay
// under 600 bytes), so that it holds at most its size times this many
// bytes whatever clients send. A longer agent is classified by its first
// maxCachedAgent bytes, on every request.
const maxCachedAgent = 1024

func (c *agentCache) get(ua string) *agentEntry {
	if len(ua) > maxCachedAgent {
		return &agentEntry{agent: c.classify(ua[:maxCachedAgent]), digest: clickstore.DigestAgent(ua)}
	}
	h := maphash.String(c.seed, ua)
	set := h & c.mask
	for i := range uint64(2) {
		if e := c.slots[set|i].Load(); e != nil && e.ua == ua {
			return e
		}
	}
	e := &agentEntry{ua: strings.Clone(ua), agent: c.classify(ua), digest: clickstore.DigestAgent(ua)}
	c.slots[set|(h>>63)].Store(e) // either way of the set, by a hash bit
	return e
}
