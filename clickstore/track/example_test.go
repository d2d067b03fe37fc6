package track_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// links is the service's own table of links.
var links = map[string]string{"spring-sale": "https://example.com/sale"}

// redirect is the service's handler: it answers 404 for a link it does not
// know, so the tracker does not count it.
func redirect(w http.ResponseWriter, r *http.Request) {
	to, ok := links[r.PathValue("link")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}

// exampleTracker makes a tracker on a Memory store and an aggregate
// Rollup, the way the example of Tracker.Handler shows in full.
func exampleTracker(opts *track.Options) (*track.Tracker, func()) {
	keyring, _ := retention.NewKeyring(nil)
	builder, _ := clickstore.NewBuilder(ipmask.Default, keyring, nil)
	store, _ := clickstore.NewMemory(nil)
	stats, _ := aggregate.New(nil)
	tracker, _ := track.New(builder, store, stats, opts)
	return tracker, func() { store.Close() }
}

// Counting the clicks of an existing ServeMux route: the tracker reads the
// {link} wildcard after routing and counts the request once the handler
// served it.
func ExampleTracker_Handler() {
	keyring, _ := retention.NewKeyring(nil)                           // random keys, destroyed after their window
	builder, _ := clickstore.NewBuilder(ipmask.Default, keyring, nil) // /24 and /48 networks, keyed pseudonyms
	store, _ := clickstore.NewMemory(nil)                             // the 30-minute buffer
	defer store.Close()
	stats, _ := aggregate.New(nil) // what persists: counts
	tracker, _ := track.New(builder, store, stats, nil)

	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", tracker.Handler(http.HandlerFunc(redirect)))

	for _, c := range []struct{ path, ua string }{
		{"/go/spring-sale", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"},
		{"/go/spring-sale", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"},
		{"/go/spring-sale", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"},
		{"/go/made-up", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"},
	} {
		r := httptest.NewRequest("GET", c.path, nil)
		r.RemoteAddr = "198.51.100.7:5000"
		r.Header.Set("User-Agent", c.ua)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(c.path, w.Code)
	}
	st := tracker.Stats()
	fmt.Println("clicks:", st.Clicks, "unique:", st.Unique, "bots:", st.Bots, "not served:", st.Unserved)

	now := time.Now()
	cells, _ := stats.Cells(context.Background(), aggregate.Query{Link: "spring-sale", Granularity: aggregate.Day, From: now.Add(-24 * time.Hour), To: now.Add(24 * time.Hour)})
	for _, c := range cells {
		if c.Dimension == aggregate.Network {
			fmt.Println(c.Value, c.Clicks, "clicks")
		}
	}
	// Output:
	// /go/spring-sale 302
	// /go/spring-sale 302
	// /go/spring-sale 302
	// /go/made-up 404
	// clicks: 3 unique: 1 bots: 1 not served: 1
	// 198.51.100.0/24 3 clicks
}

// With chi, Handler works as it does on a ServeMux, since chi sets path
// values; Middleware with a LinkFunc fits any router, here installed on the
// route so that it runs after routing.
func ExampleTracker_Middleware() {
	tracker, done := exampleTracker(nil) // as in the example of Tracker.Handler
	defer done()

	trackLink, _ := tracker.Middleware(func(r *http.Request) (string, clickstore.Kind, bool) {
		link := chi.URLParam(r, "link")
		return link, clickstore.KindClick, link != ""
	})
	router := chi.NewRouter()
	router.With(trackLink).Get("/l/{link}", redirect)                               // the middleware form
	router.Method("GET", "/go/{link}", tracker.Handler(http.HandlerFunc(redirect))) // the handler form

	for _, path := range []string{"/l/spring-sale", "/go/spring-sale", "/l/made-up", "/elsewhere"} {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = "203.0.113.9:5000"
		r.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)")
		w := httptest.NewRecorder()
		router.ServeHTTP(w, r)
		fmt.Println(path, w.Code)
	}
	st := tracker.Stats()
	fmt.Println("clicks:", st.Clicks, "unique:", st.Unique, "repeat:", st.Repeat, "not served:", st.Unserved)
	// Output:
	// /l/spring-sale 302
	// /go/spring-sale 302
	// /l/made-up 404
	// /elsewhere 404
	// clicks: 2 unique: 1 repeat: 1 not served: 1
}

func ExampleClassify() {
	for _, ua := range []string{
		"Mozilla/5.0 (Linux; Android 13; CUBOT P80) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.113 Mobile Safari/537.36",
		"Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1",
		"WhatsApp/2.23.20.0 A",
		"axios/1.7.7",
		"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
		"",
	} {
		a := track.Classify(ua)
		fmt.Printf("%q %q\n", a.Bot, a.Device)
	}
	// Output:
	// "" "mobile"
	// "" "tablet"
	// "whatsapp" ""
	// "http-client" ""
	// "crawler" ""
	// "no-user-agent" ""
}

// A handler that looks the link up itself calls Track once it knows the
// link exists, and reads what the tracker did.
func ExampleTracker_Track() {
	tracker, done := exampleTracker(&track.Options{OptOutHeader: "Sec-GPC"}) // as in the example of Tracker.Handler
	defer done()

	click := func(w http.ResponseWriter, r *http.Request) {
		link := r.PathValue("link")
		to, ok := links[link]
		if !ok {
			http.NotFound(w, r)
			return
		}
		v := tracker.Track(r, link, clickstore.KindClick)
		fmt.Printf("%v %v %q\n", v.Outcome, v.Uniqueness, v.Bot)
		http.Redirect(w, r, to, http.StatusFound)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /go/{link}", click)

	for _, h := range []http.Header{
		{"User-Agent": {"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)"}},
		{"User-Agent": {"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)"}},
		{"User-Agent": {"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)"}, "Sec-Gpc": {"1"}},
		{"User-Agent": {"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)"}, "Sec-Purpose": {"prefetch"}},
		{"User-Agent": {"WhatsApp/2.23.20.0 A"}},
	} {
		r := httptest.NewRequest("GET", "/go/spring-sale", nil)
		r.RemoteAddr = "192.0.2.44:5000"
		r.Header = h
		mux.ServeHTTP(httptest.NewRecorder(), r)
	}
	// Output:
	// counted unique ""
	// counted repeat ""
	// opted-out unknown ""
	// counted repeat "prefetch"
	// counted repeat "whatsapp"
}

// A conversion pixel: counted once the handler served it, attributed to
// the visitor's latest click on the link.
func ExampleTracker_ConversionHandler() {
	tracker, done := exampleTracker(nil) // as in the example of Tracker.Handler
	defer done()

	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", tracker.Handler(http.HandlerFunc(redirect)))
	mux.Handle("GET /pixel/{link}", tracker.ConversionHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/gif")
		w.WriteHeader(http.StatusOK)
	})))
	for _, path := range []string{"/pixel/spring-sale", "/go/spring-sale", "/pixel/spring-sale"} {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = "192.0.2.44:5000"
		r.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
		mux.ServeHTTP(httptest.NewRecorder(), r)
	}
	st := tracker.Stats()
	fmt.Println("clicks:", st.Clicks, "conversions:", st.Conversions, "unattributed:", st.Unattributed)
	// Output:
	// clicks: 1 conversions: 1 unattributed: 1
}

func ExampleBotLabel() {
	get := httptest.NewRequest("GET", "/go/spring-sale", nil)
	get.Header.Set("User-Agent", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36")
	head := httptest.NewRequest("HEAD", "/go/spring-sale", nil)
	head.Header = get.Header
	slack := httptest.NewRequest("GET", "/go/spring-sale", nil)
	slack.Header.Set("User-Agent", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")
	fmt.Printf("%q %q %q\n", track.BotLabel(get), track.BotLabel(head), track.BotLabel(slack))
	// Output:
	// "" "head" "slack"
}

// A key store outage (Redis down) loses no click: a local key stands in,
// clicks are counted with unknown uniqueness, and once the key store is
// back uniqueness is exact again.
func ExampleStats_keyFallbacks() {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	keys := clickstoretest.NewOutageKeyStore(clock) // stands for a shared store on Redis
	defer keys.Close()
	quiet := slog.New(slog.DiscardHandler)
	keyring, _ := retention.NewKeyring(&retention.KeyringOptions{Store: keys, Now: clock, Logger: quiet})
	defer keyring.Close()
	builder, _ := clickstore.NewBuilder(ipmask.Default, keyring, nil)
	store, _ := clickstore.NewMemory(&clickstore.MemoryOptions{Now: clock})
	defer store.Close()
	stats, _ := aggregate.New(nil)
	tracker, _ := track.New(builder, store, stats, &track.Options{Now: clock, Logger: quiet})

	click := func() {
		r := httptest.NewRequest("GET", "/go/spring-sale", nil)
		r.RemoteAddr = "192.0.2.44:5000"
		r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")
		v := tracker.Track(r, "spring-sale", clickstore.KindClick)
		fmt.Println(v.Outcome, v.Uniqueness)
	}
	keys.Down(nil)
	click()
	click()
	keys.Up()
	now = now.Add(time.Second) // the keyring asks its store again
	click()
	click()
	st := tracker.Stats()
	fmt.Println(st.Clicks, st.KeyFallbacks, st.BuildFailures)
	// Output:
	// counted unknown
	// counted unknown
	// counted unique
	// counted repeat
	// 4 2 0
}
