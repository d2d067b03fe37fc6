package track_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/retention"
)

// With BuilderOptions.KeepRawAddr the store holds the full address for its
// window, which is what the option is for; the Sink, the durable half,
// gets every click and conversion without it.
func TestSinkNeverGetsTheRawAddress(t *testing.T) {
	kr, err := retention.NewKeyring(nil)
	require.NoError(t, err)
	b, err := clickstore.NewBuilder(ipmask.Default, kr, &clickstore.BuilderOptions{KeepRawAddr: true})
	require.NoError(t, err)
	clock := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	store, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	sink := &recordingSink{}
	tr, err := track.New(b, store, sink, &track.Options{Now: now, NetworkQuota: 1})
	require.NoError(t, err)

	raw := netip.MustParseAddr("198.51.100.77")
	for _, step := range []struct {
		name, remote, ua, link string
		kind                   clickstore.Kind
		want                   track.Visit
	}{
		{"unique click", "198.51.100.77:1", firefox, "abc", clickstore.KindClick,
			track.Visit{Link: "abc", Outcome: track.Counted, Uniqueness: clickstore.Unique}},
		{"repeat", "198.51.100.77:2", firefox, "abc", clickstore.KindClick,
			track.Visit{Link: "abc", Outcome: track.Counted, Uniqueness: clickstore.Repeat}},
		{"bot", "198.51.100.77:3", "curl/8.5.0", "abc", clickstore.KindClick,
			track.Visit{Link: "abc", Outcome: track.Counted, Uniqueness: clickstore.Repeat, Bot: track.LabelHTTPClient}},
		{"over quota", "198.51.100.78:1", firefox, "abc", clickstore.KindClick,
			track.Visit{Link: "abc", Outcome: track.Counted, Uniqueness: clickstore.UniqueUnknown, OverQuota: true}},
		{"conversion", "198.51.100.77:4", firefox, "", clickstore.KindConversion,
			track.Visit{Link: "abc", Kind: clickstore.KindConversion, Outcome: track.Counted}},
	} {
		v := tr.Track(request("GET", step.remote, step.ua), step.link, step.kind)
		assert.Equal(t, step.want, v, step.name)
	}
	var held []netip.Addr
	for c, err := range store.All(context.Background()) {
		require.NoError(t, err)
		held = append(held, c.RawAddr)
	}
	assert.Equal(t, []netip.Addr{raw}, held, "the store keeps what KeepRawAddr asks for")

	adds := sink.all()
	require.Len(t, adds, 5)
	for i, a := range adds {
		assert.False(t, a.Click.RawAddr.IsValid(), "add %d (%v) hands the sink the raw address", i, a.Click.Kind)
		assert.Equal(t, netip.MustParsePrefix("198.51.100.0/24"), a.Click.Network, "add %d", i)
	}
}

// The tracker classifies an agent again once its cache entry is a window
// old: what it knows of an agent lasts no longer than the store's clicks.
func TestTrackerAgentCacheLastsOneWindow(t *testing.T) {
	var classified int
	e := newTrackEnv(t, &track.Options{Window: 10 * time.Minute, Classify: func(ua string) track.Agent {
		classified++
		return track.Classify(ua)
	}})
	t0 := e.clock.Now()
	for _, step := range []struct {
		name       string
		after      time.Duration
		classified int
	}{
		{"first click", 0, 1},
		{"within the window", 10*time.Minute - time.Nanosecond, 1},
		{"a window later", 10 * time.Minute, 2},
	} {
		e.clock.Set(t0.Add(step.after))
		v := e.tracker.Track(request("GET", "198.51.100.77:1", firefox), "abc", clickstore.KindClick)
		assert.Equal(t, track.Counted, v.Outcome, step.name)
		assert.Equal(t, step.classified, classified, step.name)
	}
}

// Labels from a classifier or an enrichment hook persist in the Sink's
// bot and device breakdowns. A classifier built on a user-agent parser
// takes them from the agent's text, where a client can put an address
// (a device model "198.51.100.7 Build/..."): a label that spells an
// address is dropped, and a bot stays a bot under LabelBot.
func TestTrackLabelsNeverSpellAnAddress(t *testing.T) {
	tests := []struct {
		name, bot, device       string
		wantBot, wantDevice     string
		hookDevice, wantHookDev string
	}{
		{name: "coarse labels", bot: "slack", device: "mobile", wantBot: "slack", wantDevice: "mobile"},
		{name: "models and versions", bot: "googlebot/2.1", device: "SM-G991B", wantBot: "googlebot/2.1", wantDevice: "SM-G991B",
			hookDevice: "iPhone 15 Pro", wantHookDev: "iPhone 15 Pro"},
		{name: "ipv4 in the bot label", bot: "scanner 198.51.100.7", device: "desktop", wantBot: track.LabelBot, wantDevice: "desktop"},
		{name: "ipv4 as the device", device: "198.51.100.7", wantDevice: ""},
		{name: "ipv4 with a port", device: "proxy 198.51.100.7:3128", wantDevice: ""},
		{name: "ipv4 with dashes", bot: "crawler-198-51-100-7", wantBot: track.LabelBot},
		{name: "ipv6", bot: "probe [2001:db8:1::7]", device: "2001:db8:1::7", wantBot: track.LabelBot, wantDevice: ""},
		{name: "ipv6 with dashes", device: "2001-db8-1--7", wantDevice: ""},
		{name: "address past the label limit", bot: strings.Repeat("b", 60) + " 198.51.100.7", wantBot: track.LabelBot},
		{name: "hook device", device: "tablet", wantDevice: "tablet", hookDevice: "Pixel 203.0.113.9", wantHookDev: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTrackEnv(t, &track.Options{
				Classify: func(string) track.Agent { return track.Agent{Bot: tt.bot, Device: tt.device} },
				Enrich: func(*http.Request, netip.Addr) track.Attributes {
					return track.Attributes{Device: tt.hookDevice}
				},
			})
			v := e.tracker.Track(request("GET", "198.51.100.77:1", firefox), "abc", clickstore.KindClick)
			require.Equal(t, track.Counted, v.Outcome)
			adds := e.sink.all()
			require.Len(t, adds, 1)
			c := adds[0].Click
			assert.Equal(t, tt.wantBot, v.Bot, "the Visit's bot label")
			assert.Equal(t, tt.wantBot, c.Bot, "the click's bot label")
			want := tt.wantDevice
			if tt.hookDevice != "" {
				want = tt.wantHookDev
			}
			assert.Equal(t, want, c.Device)
			if tt.wantBot != "" {
				assert.Equal(t, clickstore.Repeat, v.Uniqueness, "a bot is never unique")
			}
			ipmasktest.AssertNoRawIP(t, zeroBits, c.Bot+" "+c.Device+" "+v.Bot)
		})
	}
}

// A link is stored and persists as the aggregates' key. Where the visitor
// names it (an outbound-link route "/out/{link...}" that redirects to
// any URL, a handler that serves any link), it can hold an address: the
// visitor's own, or another. The tracker keeps the link with every address
// in it masked, as the clientip middleware masks the client's address in
// the URL, so that the middleware's order does not change the link either.
func TestTrackLinksHoldNoAddress(t *testing.T) {
	mask, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	serveAll := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://example.com/", http.StatusFound)
	})
	requests := []struct{ name, remote, path, want string }{
		{"plain link", "198.51.100.77:1", "/out/spring-sale", "spring-sale"},
		{"own ipv4 in an outbound url", "198.51.100.77:1", "/out/198.51.100.77:8080/admin", "198.51.100.0:8080/admin"},
		{"own ipv4 as the link", "198.51.100.77:1", "/out/198.51.100.77", "198.51.100.0"},
		{"own ipv6", "[2001:db8:1:2::7]:1", "/out/2001:db8:1:2::7", "2001:db8:1::"},
		{"another address", "198.51.100.77:1", "/out/https:%2F%2F203.0.113.9/x", "https://203.0.113.0/x"},
		{"version-like text is not an address", "198.51.100.77:1", "/out/release-1.2.3", "release-1.2.3"},
		// Dovecot's session IDs hold an address in base64, found only
		// after a '<': the store refuses a link holding one whole.
		{"a dovecot session id", "198.51.100.77:1", "/out/imap%3Csession=%3CESIzRFVmOTDLAHEJ%3E", ""},
	}
	for _, order := range []string{"no middleware", "clientip outside", "clientip inside"} {
		t.Run(order, func(t *testing.T) {
			e := newTrackEnv(t, nil)
			mux := http.NewServeMux()
			var h http.Handler = mux
			switch order {
			case "no middleware":
				mux.Handle("GET /out/{link...}", e.tracker.Handler(serveAll))
			case "clientip outside":
				mux.Handle("GET /out/{link...}", e.tracker.Handler(serveAll))
				h = mask(mux)
			case "clientip inside":
				mux.Handle("GET /out/{link...}", e.tracker.Handler(mask(serveAll)))
			}
			for _, rq := range requests {
				require.Equal(t, http.StatusFound, get(h, rq.path, rq.remote, firefox), rq.name)
			}
			adds := e.sink.all()
			require.Len(t, adds, len(requests))
			for i, rq := range requests {
				if rq.want != "" {
					assert.Equal(t, rq.want, adds[i].Click.Link, rq.name)
				}
				assert.NoError(t, adds[i].Click.Validate(), "%s: a click every store and sink takes", rq.name)
				ipmasktest.AssertNoRawIP(t, ipmask.Default, adds[i].Click.Link, rq.name)
			}
		})
	}

	// A tracker whose policy keeps every bit still masks links to
	// ipmask.Default, which is what every store and sink takes (Validate
	// refuses a link holding an address finer than that): the click is
	// counted, not lost.
	keepAll, err := ipmask.New(32, 128)
	require.NoError(t, err)
	sink := &recordingSink{}
	tr, err := track.New(newPolicyBuilder(t, keepAll), newTrackEnv(t, nil).store, sink, nil)
	require.NoError(t, err)
	v := tr.Track(request("GET", "198.51.100.77:1", firefox), "out/203.0.113.9/x", clickstore.KindClick)
	assert.Equal(t, track.Visit{Link: "out/203.0.113.0/x", Outcome: track.Counted, Uniqueness: clickstore.Unique}, v, "a keep-every-bit tracker")
	require.Len(t, sink.all(), 1)
	assert.Equal(t, netip.MustParsePrefix("198.51.100.77/32"), sink.all()[0].Click.Network, "its own policy still decides the click's network")

	// Track, called by a handler with a link it chose, and a conversion's
	// link, are masked the same way.
	e := newTrackEnv(t, nil)
	v = e.tracker.Track(request("GET", "198.51.100.77:1", firefox), "198.51.100.77", clickstore.KindClick)
	assert.Equal(t, track.Visit{Link: "198.51.100.0", Outcome: track.Counted, Uniqueness: clickstore.Unique}, v)
	v = e.tracker.Track(request("GET", "198.51.100.77:1", firefox), "198.51.100.77", clickstore.KindConversion)
	assert.Equal(t, track.Visit{Link: "198.51.100.0", Kind: clickstore.KindConversion, Outcome: track.Counted}, v)
}

// Nothing the tracker keeps between requests (its agent cache, its quota)
// holds a key or a pseudonym: two epochs after a click, when its key is
// past its grace, the same visitor's click carries neither pseudonym of
// the first, and the store takes it as a first click.
func TestTrackPseudonymsDieWithTheirKey(t *testing.T) {
	e := newTrackEnv(t, nil)
	e.clock.Set(time.Date(2026, 11, 28, 12, 10, 0, 0, time.UTC)) // 30-minute epochs, aligned
	for range 3 {
		v := e.tracker.Track(request("GET", "203.0.113.5:1", firefox), "abc", clickstore.KindClick)
		require.Equal(t, track.Counted, v.Outcome)
		e.clock.Advance(retention.DefaultWindow)
	}
	adds := e.sink.all()
	require.Len(t, adds, 3)
	first, next, last := adds[0].Click, adds[1].Click, adds[2].Click
	assert.Equal(t, first.Visitor, next.PrevVisitor, "within the grace epoch the visitor is recognised")
	assert.NotEqual(t, first.Visitor, last.Visitor)
	assert.NotEqual(t, first.Visitor, last.PrevVisitor, "the first key is gone: nothing recomputes under it")
	assert.Equal(t, next.Visitor, last.PrevVisitor)
	assert.Equal(t, []clickstore.Uniqueness{clickstore.Unique, clickstore.Unique, clickstore.Unique},
		[]clickstore.Uniqueness{adds[0].U, adds[1].U, adds[2].U}, "each click a window after the last is a first again")
}
