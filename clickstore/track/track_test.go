package track_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go4.org/netipx"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/retention"
)

// added is one call of a Sink.
type added struct {
	Click clickstore.Click
	U     clickstore.Uniqueness
}

// recordingSink remembers what the tracker adds, so tests can assert on it.
type recordingSink struct {
	mu   sync.Mutex
	adds []added
	err  error
}

func (s *recordingSink) Add(_ context.Context, c clickstore.Click, u clickstore.Uniqueness) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.adds = append(s.adds, added{c, u})
	return s.err
}

func (s *recordingSink) all() []added {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]added(nil), s.adds...)
}

type trackEnv struct {
	clock   *clickstoretest.Clock // the store's and keyring's timers read it too
	store   *clickstore.Memory
	sink    *recordingSink
	tracker *track.Tracker
}

func (e *trackEnv) now() time.Time { return e.clock.Now() }

func newTrackEnv(t *testing.T, opts *track.Options) *trackEnv {
	t.Helper()
	return newTrackEnvCap(t, opts, 0)
}

// newTrackEnvCap is newTrackEnv with a store that holds capacity clicks (0
// means the default).
func newTrackEnvCap(t *testing.T, opts *track.Options, capacity int) *trackEnv {
	t.Helper()
	e := &trackEnv{clock: clickstoretest.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)), sink: &recordingSink{}}
	var err error
	e.store, err = clickstore.NewMemory(&clickstore.MemoryOptions{Now: e.now, Capacity: capacity})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.store.Close() })
	b := newTestBuilder(t)
	o := track.Options{}
	if opts != nil {
		o = *opts
	}
	o.Now = e.now
	e.tracker, err = track.New(b, e.store, e.sink, &o)
	require.NoError(t, err)
	return e
}

// newTestBuilder returns a Builder with the default policy and a fresh
// keyring.
func newTestBuilder(t testing.TB) *clickstore.Builder {
	t.Helper()
	return newPolicyBuilder(t, ipmask.Default)
}

// newPolicyBuilder returns a Builder that masks with p and hashes with a
// fresh keyring of random keys.
func newPolicyBuilder(t testing.TB, p ipmask.Policy) *clickstore.Builder {
	t.Helper()
	kr, err := retention.NewKeyring(nil)
	require.NoError(t, err)
	b, err := clickstore.NewBuilder(p, kr, nil)
	require.NoError(t, err)
	return b
}

func request(method, remote, ua string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, "http://t.example/l/abc", nil)
	r.RemoteAddr = remote
	r.Header.Set("User-Agent", ua)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"

func TestTrackUniqueThenRepeat(t *testing.T) {
	e := newTrackEnv(t, nil)
	v := e.tracker.Track(request("GET", "198.51.100.77:4711", firefox), "abc", clickstore.KindClick)
	assert.Equal(t, track.Visit{Link: "abc", Kind: clickstore.KindClick, Outcome: track.Counted, Uniqueness: clickstore.Unique}, v)

	e.clock.Advance(10 * time.Minute)
	v = e.tracker.Track(request("GET", "198.51.100.77:4712", firefox), "abc", clickstore.KindClick)
	assert.Equal(t, clickstore.Repeat, v.Uniqueness)

	v = e.tracker.Track(request("GET", "198.51.100.77:4712", firefox), "other", clickstore.KindClick)
	assert.Equal(t, clickstore.Unique, v.Uniqueness, "a first click on another link is unique")

	adds := e.sink.all()
	require.Len(t, adds, 3)
	for _, a := range adds {
		assert.Equal(t, netip.MustParsePrefix("198.51.100.0/24"), a.Click.Network)
		assert.False(t, a.Click.RawAddr.IsValid(), "the raw address is not kept by default")
		assert.Equal(t, "desktop", a.Click.Device)
	}
	assert.Equal(t, adds[0].Click.Visitor, adds[1].Click.Visitor, "the same visitor gets the same pseudonym")
	assert.Equal(t, uint64(3), e.tracker.Stats().Clicks)

	// After the window the visitor's next click is unique again.
	e.clock.Advance(20 * time.Minute)
	v = e.tracker.Track(request("GET", "198.51.100.77:4712", firefox), "abc", clickstore.KindClick)
	assert.Equal(t, clickstore.Unique, v.Uniqueness)
}

// A repeat just after a keyring epoch boundary is still a repeat: the click
// carries the pseudonym under the previous key too.
func TestTrackRepeatAcrossEpochBoundary(t *testing.T) {
	e := newTrackEnv(t, nil)
	e.clock.Set(time.Date(2026, 11, 28, 12, 29, 0, 0, time.UTC)) // epochs are 30 minutes, aligned
	v := e.tracker.Track(request("GET", "203.0.113.5:1", firefox), "abc", clickstore.KindClick)
	require.Equal(t, clickstore.Unique, v.Uniqueness)
	e.clock.Advance(2 * time.Minute)
	v = e.tracker.Track(request("GET", "203.0.113.5:1", firefox), "abc", clickstore.KindClick)
	assert.Equal(t, clickstore.Repeat, v.Uniqueness)
	adds := e.sink.all()
	assert.NotEqual(t, adds[0].Click.Visitor, adds[1].Click.Visitor, "the key changed at the boundary")
	assert.Equal(t, adds[0].Click.Visitor, adds[1].Click.PrevVisitor)
}

func TestTrackBehindProxy(t *testing.T) {
	lb, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	res, err := clientip.New(clientip.RightmostUntrusted(lb), clientip.RemoteAddr())
	require.NoError(t, err)
	e := newTrackEnv(t, &track.Options{Resolver: res})

	// Through the proxy: the client in X-Forwarded-For counts.
	e.tracker.Track(request("GET", "10.1.2.3:5000", firefox, "X-Forwarded-For", "192.0.2.200, 203.0.113.9"), "abc", clickstore.KindClick)
	// Direct, with a forged header: the peer counts, not the header.
	e.tracker.Track(request("GET", "198.51.100.1:5000", firefox, "X-Forwarded-For", "203.0.113.9"), "abc", clickstore.KindClick)

	adds := e.sink.all()
	require.Len(t, adds, 2)
	assert.Equal(t, netip.MustParsePrefix("203.0.113.0/24"), adds[0].Click.Network)
	assert.Equal(t, netip.MustParsePrefix("198.51.100.0/24"), adds[1].Click.Network)
	assert.Equal(t, clickstore.Unique, adds[1].U, "a forged header cannot make a visitor look like another")
}

func TestTrackExclusionsAndOptOut(t *testing.T) {
	var sb netipx.IPSetBuilder
	sb.AddPrefix(netip.MustParsePrefix("192.0.2.0/28"))
	office, err := sb.IPSet()
	require.NoError(t, err)
	e := newTrackEnv(t, &track.Options{Exclude: office, OptOutHeader: "sec-gpc", OptOutParam: "optout"})

	tests := []struct {
		name string
		req  *http.Request
		want track.Outcome
	}{
		{name: "office address", req: request("GET", "192.0.2.3:1", firefox), want: track.Excluded},
		{name: "office address, mapped", req: request("GET", "[::ffff:192.0.2.3]:1", firefox), want: track.Excluded},
		{name: "just outside the office", req: request("GET", "192.0.2.16:1", firefox), want: track.Counted},
		{name: "global privacy control", req: request("GET", "198.51.100.1:1", firefox, "Sec-GPC", "1"), want: track.OptedOut},
		{name: "opt-out header 0", req: request("GET", "198.51.100.2:1", firefox, "Sec-GPC", "0"), want: track.Counted},
		{name: "unresolvable peer", req: request("GET", "not-an-address", firefox), want: track.Unresolved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, e.tracker.Track(tt.req, "abc", clickstore.KindClick).Outcome)
		})
	}
	for _, q := range []struct {
		name, raw string
		want      track.Outcome
	}{
		{name: "opt-out parameter", raw: "optout=1", want: track.OptedOut},
		{name: "opt-out among others", raw: "utm_source=x&optout=yes&a=b", want: track.OptedOut},
		{name: "escaped opt-out", raw: "opt%6Fut=%31", want: track.OptedOut},
		{name: "opt-out 0", raw: "optout=0", want: track.Counted},
		{name: "opt-out empty", raw: "optout=&x=1", want: track.Counted},
		{name: "similar name", raw: "optouts=1&xoptout=1", want: track.Counted},
	} {
		t.Run(q.name, func(t *testing.T) {
			r := request("GET", "198.51.100.3:1", firefox)
			r.URL.RawQuery = q.raw
			assert.Equal(t, q.want, e.tracker.Track(r, "abc", clickstore.KindClick).Outcome)
		})
	}
	st := e.tracker.Stats()
	assert.Equal(t, uint64(2), st.Excluded)
	assert.Equal(t, uint64(4), st.OptedOut)
	assert.Equal(t, uint64(1), st.Unresolved)
	assert.Equal(t, uint64(5), st.Clicks)
	assert.Len(t, e.sink.all(), 5, "only counted clicks reach the sink")
}

func TestTrackBotsAreNeverUnique(t *testing.T) {
	e := newTrackEnv(t, nil)
	v := e.tracker.Track(request("GET", "198.51.100.9:1", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"), "abc", clickstore.KindClick)
	assert.Equal(t, "slack", v.Bot)
	assert.Equal(t, clickstore.Repeat, v.Uniqueness)
	v = e.tracker.Track(request("HEAD", "198.51.100.10:1", firefox), "abc", clickstore.KindClick)
	assert.Equal(t, "head", v.Bot)
	assert.Equal(t, clickstore.Repeat, v.Uniqueness)
	adds := e.sink.all()
	require.Len(t, adds, 2)
	assert.Equal(t, "slack", adds[0].Click.Bot)
}

func TestTrackEnrichSeesFullAddress(t *testing.T) {
	var seen netip.Addr
	e := newTrackEnv(t, &track.Options{Enrich: func(_ *http.Request, a netip.Addr) track.Attributes {
		seen = a
		return track.Attributes{Country: "DE", Device: "tablet"}
	}})
	e.tracker.Track(request("GET", "198.51.100.77:1", firefox, "Referer", "https://News.Example.com:443/a?b"), "abc", clickstore.KindClick)
	assert.Equal(t, netip.MustParseAddr("198.51.100.77"), seen)
	c := e.sink.all()[0].Click
	assert.Equal(t, "DE", c.Country)
	assert.Equal(t, "tablet", c.Device)
	assert.Equal(t, "news.example.com", c.Referrer)
}

// Attributes from the enrichment hook are normalised, so a sloppy hook
// cannot make the store refuse a click.
func TestTrackNormalisesAttributes(t *testing.T) {
	tests := []struct{ name, country, want string }{
		{name: "upper", country: "DE", want: "DE"},
		{name: "lower", country: "fr", want: "FR"},
		{name: "name", country: "Germany", want: ""},
		{name: "digits", country: "12", want: ""},
		{name: "empty", country: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTrackEnv(t, &track.Options{Enrich: func(*http.Request, netip.Addr) track.Attributes {
				return track.Attributes{Country: tt.country}
			}})
			v := e.tracker.Track(request("GET", "198.51.100.77:1", firefox), "abc", clickstore.KindClick)
			assert.Equal(t, clickstore.Unique, v.Uniqueness, "the store accepted the click")
			require.Len(t, e.sink.all(), 1)
			assert.Equal(t, tt.want, e.sink.all()[0].Click.Country)
		})
	}
}

func TestTrackConversions(t *testing.T) {
	e := newTrackEnv(t, nil)
	e.tracker.Track(request("GET", "198.51.100.77:1", firefox), "abc", clickstore.KindClick)
	e.clock.Advance(5 * time.Minute)

	v := e.tracker.Track(request("GET", "198.51.100.77:2", firefox), "", clickstore.KindConversion)
	assert.Equal(t, track.Visit{Link: "abc", Kind: clickstore.KindConversion, Outcome: track.Counted}, v, "any-link conversion finds the click")

	v = e.tracker.Track(request("GET", "198.51.100.77:2", firefox), "xyz", clickstore.KindConversion)
	assert.Equal(t, track.Unattributed, v.Outcome, "no click on that link")

	v = e.tracker.Track(request("GET", "198.51.100.78:2", firefox), "", clickstore.KindConversion)
	assert.Equal(t, track.Unattributed, v.Outcome, "another visitor has no click")

	e.clock.Advance(30 * time.Minute)
	v = e.tracker.Track(request("GET", "198.51.100.77:2", firefox), "abc", clickstore.KindConversion)
	assert.Equal(t, track.Unattributed, v.Outcome, "the click has expired")

	adds := e.sink.all()
	require.Len(t, adds, 2)
	assert.Equal(t, clickstore.KindConversion, adds[1].Click.Kind)
	assert.Equal(t, "abc", adds[1].Click.Link)
	st := e.tracker.Stats()
	assert.Equal(t, uint64(1), st.Conversions)
	assert.Equal(t, uint64(3), st.Unattributed)
}

// If the store fails, the click is still counted, with unknown uniqueness,
// and the failure is counted; the visitor is served.
func TestTrackStoreFailure(t *testing.T) {
	e := newTrackEnv(t, nil)
	require.NoError(t, e.store.Close())
	v := e.tracker.Track(request("GET", "198.51.100.77:1", firefox), "abc", clickstore.KindClick)
	assert.Equal(t, track.Counted, v.Outcome)
	assert.Equal(t, clickstore.UniqueUnknown, v.Uniqueness)
	st := e.tracker.Stats()
	assert.Equal(t, uint64(1), st.StoreFailures)
	assert.Equal(t, uint64(0), st.StoreFull, "a closed store is not a full one")
	assert.Equal(t, uint64(1), st.Clicks)
	assert.Equal(t, uint64(1), st.UniqueUnknown)
	require.Len(t, e.sink.all(), 1)
	assert.Equal(t, clickstore.UniqueUnknown, e.sink.all()[0].U)
}

func TestTrackSinkFailureIsCounted(t *testing.T) {
	e := newTrackEnv(t, nil)
	e.sink.err = errors.New("sink down")
	v := e.tracker.Track(request("GET", "198.51.100.77:1", firefox), "abc", clickstore.KindClick)
	assert.Equal(t, track.Counted, v.Outcome)
	assert.Equal(t, uint64(1), e.tracker.Stats().SinkFailures)
}

func TestNewTrackerValidates(t *testing.T) {
	kr, err := retention.NewKeyring(nil)
	require.NoError(t, err)
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	m, err := clickstore.NewMemory(nil)
	require.NoError(t, err)
	defer m.Close()
	sink := &recordingSink{}
	tests := []struct {
		name    string
		b       *clickstore.Builder
		store   clickstore.Store
		sink    clickstore.Sink
		opts    *track.Options
		wantErr string
	}{
		{name: "nil builder", store: m, sink: sink, wantErr: "track: New: nil *clickstore.Builder"},
		{name: "nil store", b: b, sink: sink, wantErr: "track: New: nil clickstore.Store"},
		{name: "nil sink", b: b, store: m, wantErr: "track: New: nil clickstore.Sink"},
		{name: "bad header", b: b, store: m, sink: sink, opts: &track.Options{OptOutHeader: "Sec GPC"}, wantErr: "track: New: OptOutHeader (7 bytes) is not a header name"},
		{name: "negative cache", b: b, store: m, sink: sink, opts: &track.Options{AgentCache: -1}, wantErr: "track: New: AgentCache -1 is negative"},
		{name: "negative window", b: b, store: m, sink: sink, opts: &track.Options{Window: -time.Second}, wantErr: "track: New: Window -1s is negative"},
		{name: "nil options", b: b, store: m, sink: sink},
		{name: "ok", b: b, store: m, sink: sink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := track.New(tt.b, tt.store, tt.sink, tt.opts)
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				assert.Nil(t, tr)
				return
			}
			require.NoError(t, err)
			assert.NotNil(t, tr)
		})
	}
}

func TestBotLabel(t *testing.T) {
	tests := []struct {
		name, method, ua string
		headers          []string
		want             string
	}{
		{name: "firefox", method: "GET", ua: firefox, want: ""},
		{name: "chrome mobile", method: "GET", ua: "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36", want: ""},
		{name: "slackbot", method: "GET", ua: "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", want: "slack"},
		{name: "twitterbot", method: "GET", ua: "Twitterbot/1.0", want: "twitter"},
		{name: "facebook", method: "GET", ua: "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", want: "facebook"},
		{name: "linkedin", method: "GET", ua: "LinkedInBot/1.0 (compatible; Mozilla/5.0)", want: "linkedin"},
		{name: "discord", method: "GET", ua: "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", want: "discord"},
		{name: "whatsapp", method: "GET", ua: "WhatsApp/2.23.20.0", want: "whatsapp"},
		{name: "telegram", method: "GET", ua: "TelegramBot (like TwitterBot)", want: "telegram"},
		{name: "googlebot", method: "GET", ua: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", want: "google"},
		{name: "bingbot", method: "GET", ua: "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", want: "bing"},
		{name: "curl", method: "GET", ua: "curl/8.4.0", want: "http-client"},
		{name: "wget", method: "GET", ua: "Wget/1.21.4", want: "http-client"},
		{name: "generic bot", method: "GET", ua: "SomeCrawler/3.0", want: "bot"},
		{name: "empty user agent", method: "GET", ua: "", want: "no-user-agent"},
		{name: "head", method: "HEAD", ua: firefox, want: "head"},
		{name: "cors preflight", method: "OPTIONS", ua: firefox, headers: []string{"Access-Control-Request-Method", "POST"}, want: "options"},
		{name: "sec-purpose prefetch", method: "GET", ua: firefox, headers: []string{"Sec-Purpose", "prefetch;prerender"}, want: "prefetch"},
		{name: "purpose prefetch", method: "GET", ua: firefox, headers: []string{"Purpose", "prefetch"}, want: "prefetch"},
		{name: "x-moz prefetch", method: "GET", ua: firefox, headers: []string{"X-Moz", "prefetch"}, want: "prefetch"},
		{name: "cubot phone", method: "GET", ua: "Mozilla/5.0 (Linux; Android 13; CUBOT P80) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.113 Mobile Safari/537.36", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(tt.method, "192.0.2.1:1", tt.ua, tt.headers...)
			if tt.ua == "" {
				r.Header.Del("User-Agent")
			}
			assert.Equal(t, tt.want, track.BotLabel(r))
		})
	}
	assert.Equal(t, "", track.BotLabel(nil))
}

func TestClassifyDevice(t *testing.T) {
	tests := []struct{ name, ua, want string }{
		{name: "linux desktop", ua: firefox, want: "desktop"},
		{name: "iphone", ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Mobile/15E148", want: "mobile"},
		{name: "android phone", ua: "Mozilla/5.0 (Linux; Android 14) Chrome/120.0 Mobile Safari/537.36", want: "mobile"},
		{name: "android tablet", ua: "Mozilla/5.0 (Linux; Android 14; SM-X910) Chrome/120.0 Safari/537.36", want: "tablet"},
		{name: "ipad", ua: "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X)", want: "tablet"},
		{name: "unknown", ua: "SomeClient/1.0", want: ""},
		{name: "empty", ua: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, track.Classify(tt.ua).Device)
		})
	}
}

// Referrers keep the host only, and never an address.
func TestTrackReferrerHost(t *testing.T) {
	tests := []struct{ name, ref, want string }{
		{name: "url", ref: "https://news.example.com/a/b?c=d#e", want: "news.example.com"},
		{name: "port and case", ref: "HTTP://Example.COM:8080/", want: "example.com"},
		{name: "user info", ref: "https://user:pw@example.com/", want: "example.com"},
		{name: "ipv4 literal", ref: "http://198.51.100.7/x", want: ""},
		{name: "ipv4 trailing dot", ref: "http://198.51.100.7./x", want: ""},
		{name: "ipv4 as one number", ref: "http://3325256711/", want: ""},
		{name: "ipv4 in hex", ref: "http://0xC6336407/", want: ""},
		{name: "numeric label inside", ref: "https://123.example.com/", want: "123.example.com"},
		{name: "ipv6 literal", ref: "http://[2001:db8::1]:80/", want: ""},
		{name: "ipv4 in labels", ref: "http://198.51.100.7.nip.io/x", want: ""},
		{name: "ipv4 in labels after a name", ref: "https://app.10.0.0.1.nip.io:8443/", want: ""},
		{name: "ipv4 with dashes", ref: "https://198-51-100-7.sslip.io/", want: ""},
		{name: "ipv4 in a reverse-dns name", ref: "http://ec2-198-51-100-7.compute-1.amazonaws.com/", want: ""},
		{name: "ipv4 run into letters", ref: "http://ip198.51.100.7x.example/", want: ""},
		{name: "ipv4 dots and dashes", ref: "http://host-198.51-100.7.example.net/", want: ""},
		// nip.io's hexadecimal notation
		{name: "ipv4 in hex, in a label", ref: "http://otherapp-c6336407.nip.io/", want: ""},
		{name: "ipv4 in hex, a label", ref: "https://C6336407.nip.io:8443/", want: ""},
		{name: "ipv4 in hex after letters", ref: "http://p5dc5a9f2.dip0.t-ipconnect.de/", want: ""},
		{name: "ipv4 in hex after 0x", ref: "http://0xc633644d.example/", want: ""},
		{name: "ipv4 in zero-padded decimal", ref: "http://198051100077.ip.example.net/", want: ""},
		{name: "ipv6 in 32 hex digits", ref: "http://20010db8000100020000000000000007.ip6.example/", want: ""},
		{name: "twelve digits that are no quad", ref: "https://202511281830.example/", want: "202511281830.example"},
		{name: "twelve digits, an octet past 255", ref: "https://198051100299.example/", want: "198051100299.example"},
		{name: "hex after a longer word", ref: "https://build-5f3a9c1e.example/", want: ""},
		{name: "hex after digits and letters", ref: "https://v2ac5f3a9c1e.example/", want: "v2ac5f3a9c1e.example"},
		{name: "eight hex letters", ref: "https://deadbeef.example/", want: ""},
		{name: "eight hex letters before a name", ref: "https://deadbeef.nip.io/", want: ""},
		{name: "eight hex letters before a name, upper case", ref: "https://DEADBEEF.nip.io/", want: ""},
		{name: "a date, which reads as an address too", ref: "https://20251128.example.com/", want: ""},
		{name: "ipv6 with dashes after a word", ref: "http://ip6-2001-db8--7.example.net/", want: ""},
		{name: "hex of another length", ref: "https://app-5f3a9c1e2.example.com/", want: "app-5f3a9c1e2.example.com"},
		{name: "ipv6 with dashes", ref: "http://2001-db8--7.sslip.io/", want: ""},
		{name: "ipv6 with dashes, all groups", ref: "http://2001-0db8-0001-0002-0000-0000-0000-0007.sslip.io/", want: ""},
		{name: "three numbers", ref: "https://1.2.3.example.com/", want: "1.2.3.example.com"},
		{name: "numbers past 255", ref: "https://2025-11-28-1.example.com/", want: "2025-11-28-1.example.com"},
		{name: "punycode", ref: "https://xn--bcher-kva.example/", want: "xn--bcher-kva.example"},
		{name: "hex words with a dash", ref: "https://cafe-babe.example/", want: "cafe-babe.example"},
		{name: "app", ref: "android-app://com.example.mail/", want: "com.example.mail"},
		{name: "relative", ref: "/just/a/path", want: ""},
		{name: "formula", ref: "http://=cmd|' /C calc'!A0/", want: ""},
		{name: "percent-encoded", ref: "https://ex%61mple.com/", want: ""},
		{name: "empty", ref: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTrackEnv(t, nil)
			e.tracker.Track(request("GET", "198.51.100.77:1", firefox, "Referer", tt.ref), "abc", clickstore.KindClick)
			adds := e.sink.all()
			require.Len(t, adds, 1)
			assert.Equal(t, tt.want, adds[0].Click.Referrer)
		})
	}
}

type discardSink struct{}

func (discardSink) Add(context.Context, clickstore.Click, clickstore.Uniqueness) error { return nil }

// Bad input to Track is a Visit with Outcome Failed, counted, never a panic.
func TestTrackBadInput(t *testing.T) {
	e := newTrackEnv(t, nil)
	tests := []struct {
		name string
		r    *http.Request
		link string
		kind clickstore.Kind
	}{
		{name: "nil request", link: "abc"},
		{name: "unknown kind", r: request("GET", "198.51.100.7:1", firefox), link: "abc", kind: clickstore.KindConversion + 1},
		{name: "empty link", r: request("GET", "198.51.100.7:1", firefox), link: ""},
		{name: "long link", r: request("GET", "198.51.100.7:1", firefox), link: strings.Repeat("l", clickstore.MaxLinkLen+1)},
		{name: "link not UTF-8", r: request("GET", "198.51.100.7:1", firefox), link: "l\xff"}, // a path's %FF
		{name: "link with a NUL", r: request("GET", "198.51.100.7:1", firefox), link: "l\x00"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := e.tracker.Track(tt.r, tt.link, tt.kind)
			assert.Equal(t, track.Failed, v.Outcome)
			assert.Equal(t, uint64(i+1), e.tracker.Stats().BuildFailures)
		})
	}
	assert.Empty(t, e.sink.all())
	assert.Equal(t, "failed", track.Failed.String())
	assert.Equal(t, "Outcome(200)", track.Outcome(200).String())
}
