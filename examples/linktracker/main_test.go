package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

const browser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"

type syncBuffer = testlog.Buffer

// tracker is the app under test, behind a trusted proxy at 10.0.0.1.
type tracker struct {
	t      *testing.T
	app    *app
	h      http.Handler
	logs   *syncBuffer
	clock  *clickstoretest.Clock
	bodies []string // every response body, for the leak check
}

// newTracker starts the app on a fresh SQLite file and, if redisAddr is
// set, on that Redis.
func newTracker(t *testing.T, redisAddr string) *tracker {
	t.Helper()
	return newTrackerWith(t, config{redis: redisAddr, db: "sqlite:" + filepath.Join(t.TempDir(), "links.db")})
}

// newTrackerWith starts the app with cfg, completed with the test's
// proxy, address and clock.
func newTrackerWith(t *testing.T, cfg config) *tracker {
	t.Helper()
	tr := &tracker{t: t, logs: &syncBuffer{}, clock: clickstoretest.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))}
	cfg.addr, cfg.trustedProxies, cfg.now = "127.0.0.1:8080", "10.0.0.0/8", tr.clock.Now
	if cfg.storeTimeout == 0 {
		// The default bound (500 ms a call, 2 s a stats request that
		// flushes first) is for a server; on a machine loaded by the
		// race detector and every other package's tests, a SQLite flush
		// can take longer, and no test here is about that bound.
		cfg.storeTimeout = 5 * time.Second
	}
	a, err := newApp(context.Background(), cfg, slog.New(slog.NewTextHandler(tr.logs, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, a.Close()) })
	tr.app, tr.h = a, a.Handler()
	return tr
}

// do sends a request from client through the trusted proxy.
func (tr *tracker) do(method, target, client, ua string, body io.Reader) *httptest.ResponseRecorder {
	tr.t.Helper()
	return tr.doWith(httptest.NewRequest(method, target, body), client, ua)
}

// doWith sends r from client through the trusted proxy.
func (tr *tracker) doWith(r *http.Request, client, ua string) *httptest.ResponseRecorder {
	tr.t.Helper()
	r.RemoteAddr = "10.0.0.1:40000"
	r.Header.Set("X-Forwarded-For", client)
	r.Header.Set("User-Agent", ua)
	w := httptest.NewRecorder()
	tr.h.ServeHTTP(w, r)
	tr.bodies = append(tr.bodies, w.Body.String())
	return w
}

func (tr *tracker) create(url string) map[string]string {
	tr.t.Helper()
	w := tr.do("POST", "/api/links", "192.0.2.1", browser, strings.NewReader(fmt.Sprintf(`{"url": %q}`, url)))
	require.Equal(tr.t, http.StatusCreated, w.Code, w.Body.String())
	var out map[string]string
	var raw map[string]any
	require.NoError(tr.t, json.Unmarshal(w.Body.Bytes(), &raw))
	out = map[string]string{}
	for k, v := range raw {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func (tr *tracker) stats(id string) linkStats {
	tr.t.Helper()
	return tr.statsQuery(id, "")
}

// statsQuery reads /api/links/{id}/stats with the query string q.
func (tr *tracker) statsQuery(id, q string) linkStats {
	tr.t.Helper()
	w := tr.do("GET", "/api/links/"+id+"/stats"+q, "192.0.2.1", browser, nil)
	require.Equal(tr.t, http.StatusOK, w.Code, "%s\nlog:\n%s", w.Body.String(), tr.logs.String())
	var st linkStats
	require.NoError(tr.t, json.Unmarshal(w.Body.Bytes(), &st))
	return st
}

// assertNoLeak proves that no log line and no response body holds an
// unmasked address.
func (tr *tracker) assertNoLeak() {
	tr.t.Helper()
	ipmasktest.AssertNoRawIP(tr.t, ipmask.Default, tr.logs.String(), "log output")
	for i, b := range tr.bodies {
		ipmasktest.AssertNoRawIP(tr.t, ipmask.Default, b, "response body %d", i)
	}
}

// TestAddressInPath sends addresses where the link id goes: a visitor
// chooses the path, so the access log masks what it holds.
func TestAddressInPath(t *testing.T) {
	tr := newTracker(t, "")
	for _, path := range []string{"/l/203.0.113.9", "/c/2001:db8:1:2::7.gif", "/l/%5B2001:db8:1:2::7%5D", "/l/2001%3Adb8%3A1%3A2%3A%3A7"} {
		w := tr.do("GET", path, "198.51.100.7", browser, nil)
		assert.Equal(t, http.StatusNotFound, w.Code, path)
	}
	assert.Contains(t, tr.logs.String(), "path=/l/203.0.113.0 ")
	assert.Contains(t, tr.logs.String(), "path=/c/2001:db8:1::.gif ")
	tr.assertNoLeak()
}

func TestEndToEnd(t *testing.T) {
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			addr := ""
			if backend == "redis" {
				addr = redistest.Start(t, nil).Addr()
			}
			tr := newTracker(t, addr)
			link := tr.create("https://example.com/landing?x=1")
			id := link["id"]
			assert.Equal(t, "http://example.com/l/"+id, link["tracking_url"], "links are built from the Host the client used")

			// 40 visitors from 8 networks click; each clicks twice.
			for i := range 40 {
				client := fmt.Sprintf("198.51.%d.%d", i%8, 10+i)
				for range 2 {
					w := tr.do("GET", "/l/"+id, client, browser, nil)
					require.Equal(t, http.StatusFound, w.Code)
					assert.Equal(t, "https://example.com/landing?x=1", w.Header().Get("Location"))
				}
				tr.clock.Advance(time.Second)
			}
			// A link-preview bot, and a visitor on IPv6 and 6to4.
			tr.do("GET", "/l/"+id, "203.0.113.50", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", nil)
			tr.do("GET", "/l/"+id, "2001:db8:1234:5678::9", browser, nil)
			tr.do("GET", "/l/"+id, "2002:c000:2ff::1", browser, nil)
			// Three visitors convert.
			for i := range 3 {
				w := tr.do("GET", "/c/"+id+".gif", fmt.Sprintf("198.51.%d.%d", i%8, 10+i), browser, nil)
				assert.Equal(t, "image/gif", w.Header().Get("Content-Type"))
			}
			tr.do("GET", "/c/any.gif", "198.51.3.13", browser, nil)
			tr.do("GET", "/c/any.gif", "192.0.2.99", browser, nil) // never clicked: unattributed

			st := tr.stats(id)
			assert.Equal(t, uint64(83), st.Clicks)
			assert.Equal(t, uint64(42), st.UniqueClicks)
			assert.Equal(t, uint64(1), st.BotClicks)
			assert.Equal(t, uint64(4), st.Conversions)
			assert.InDelta(t, 42, float64(st.UniqueVisitors), 1)
			// Sparse series: the one minute and the one hour that had clicks.
			require.Len(t, st.Minutes.Points, 1)
			assert.Equal(t, uint64(83), st.Minutes.Points[0].Clicks)
			assert.Equal(t, uint64(83), st.Minutes.Clicks)
			assert.Zero(t, st.Minutes.SuppressedClicks)
			assert.Equal(t, "minute", st.Minutes.Step)
			assert.Equal(t, time.Hour, st.Minutes.To.Sub(st.Minutes.From))
			require.Len(t, st.Hours.Points, 1)
			assert.Equal(t, 48*time.Hour, st.Hours.To.Sub(st.Hours.From))
			dense := tr.statsQuery(id, "?zeros=true")
			assert.Len(t, dense.Minutes.Points, 60)
			assert.Len(t, dense.Hours.Points, 48)

			var networks breakdown
			for _, b := range st.Breakdowns {
				if b.Dimension == "network" {
					networks = b
				}
			}
			require.NotEmpty(t, networks.Cells, "8 networks with 5 visitors each are published")
			for _, c := range networks.Cells {
				assert.Contains(t, c.Value, "198.51.", "only the busy networks are published")
				assert.Equal(t, uint64(10), c.Clicks)
			}
			assert.Equal(t, uint64(3), networks.Suppressed, "the bot's, the IPv6 and the 6to4 networks are each below k")

			// The dashboard renders the counts and says what is stored.
			w := tr.do("GET", "/links/"+id, "192.0.2.1", browser, nil)
			require.Equal(t, http.StatusOK, w.Code)
			assert.Contains(t, w.Body.String(), "<svg")
			assert.Contains(t, w.Body.String(), `<b id="clicks">83</b>clicks`)
			assert.Contains(t, w.Body.String(), "30 minutes")

			tr.assertNoLeak()
		})
	}
}

func TestUnknownLinksAndBadInput(t *testing.T) {
	tr := newTracker(t, "")
	tests := []struct {
		name         string
		method, path string
		body         string
		want         int
		wantBody     string
	}{
		{name: "index", method: "GET", path: "/", want: http.StatusOK, wantBody: "http://example.com/api/links"},
		{name: "unknown link", method: "GET", path: "/l/abcdefgh", want: http.StatusNotFound},
		{name: "malformed id", method: "GET", path: "/l/..%2f", want: http.StatusNotFound},
		{name: "unknown stats", method: "GET", path: "/api/links/abcdefgh/stats", want: http.StatusNotFound},
		{name: "unknown dashboard", method: "GET", path: "/links/abcdefgh", want: http.StatusNotFound},
		{name: "pixel without gif", method: "GET", path: "/c/abcdefgh", want: http.StatusNotFound},
		{name: "ftp url", method: "POST", path: "/api/links", body: `{"url":"ftp://example.com/"}`, want: http.StatusBadRequest, wantBody: "only http and https"},
		{name: "javascript url", method: "POST", path: "/api/links", body: `{"url":"javascript:alert(1)"}`, want: http.StatusBadRequest, wantBody: "only http and https"},
		{name: "no host", method: "POST", path: "/api/links", body: `{"url":"https:///path"}`, want: http.StatusBadRequest, wantBody: "has no host"},
		{name: "not json", method: "POST", path: "/api/links", body: `url=https://example.com`, want: http.StatusBadRequest, wantBody: "body must be JSON"},
		{name: "unknown field", method: "POST", path: "/api/links", body: `{"url":"https://example.com","x":1}`, want: http.StatusBadRequest},
		{name: "wrong method", method: "DELETE", path: "/api/links", want: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tr.do(tt.method, tt.path, "198.51.100.7", browser, strings.NewReader(tt.body))
			assert.Equal(t, tt.want, w.Code, w.Body.String())
			assert.Contains(t, w.Body.String(), tt.wantBody)
		})
	}
	assert.Equal(t, uint64(2), tr.app.orphans.Load(), "clicks on unknown links are counted as orphans")
	tr.assertNoLeak()
}

// Behind proxies that name the client in another header than
// X-Forwarded-For (-client-ip-header), the client is the one that header
// names when a trusted proxy sent it, and the peer otherwise.
func TestClientIPHeader(t *testing.T) {
	tests := []struct {
		name, header string
		value        string
	}{
		{name: "default", header: "", value: "2001:db8:1::7"},
		{name: "X-Forwarded-For", header: "X-Forwarded-For", value: "2001:db8:1::7"},
		{name: "Forwarded", header: "Forwarded", value: `for="[2001:db8:1::7]:4711";proto=https`},
		{name: "CF-Connecting-IP", header: "CF-Connecting-IP", value: "2001:db8:1::7"},
		{name: "lower case", header: "x-real-ip", value: "2001:db8:1::7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := newResolver("10.0.0.0/8", tt.header)
			require.NoError(t, err)
			name := tt.header
			if name == "" {
				name = "X-Forwarded-For"
			}
			for peer, want := range map[string]string{"10.0.0.1": "2001:db8:1::7", "198.51.100.7": "198.51.100.7"} {
				req := httptest.NewRequest("GET", "/", nil)
				req.RemoteAddr = peer + ":5555"
				req.Header.Set(name, tt.value)
				got, err := r.ResolveRequest(req)
				require.NoError(t, err)
				assert.Equal(t, want, got.String(), "from %s", peer)
			}
		})
	}
}

// A link is stored and shown as given, so one whose URL holds its
// creator's own address, in any form, is refused; the refusal does not
// repeat it. Another address (a server's) and a loopback creator's own
// (a tracker tried out on one machine) are the link's business.
func TestCreateRefusesCreatorsOwnAddress(t *testing.T) {
	tr := newTracker(t, "")
	tests := []struct {
		name, client, body string
		want               int
	}{
		{name: "ipv4 in the query", client: "198.51.100.77", body: `{"url":"https://example.com/?ip=198.51.100.77"}`, want: http.StatusBadRequest},
		{name: "ipv4 as the host", client: "198.51.100.77", body: `{"url":"http://198.51.100.77:8080/"}`, want: http.StatusBadRequest},
		{name: "ipv4 spelled in a host name", client: "198.51.100.77", body: `{"url":"https://ec2-198-51-100-77.compute-1.amazonaws.com/"}`, want: http.StatusBadRequest},
		{name: "ipv4 in its 6to4 form", client: "198.51.100.77", body: `{"url":"https://example.com/?ip=2002:c633:644d::1"}`, want: http.StatusBadRequest},
		{name: "ipv6 percent-encoded", client: "2001:db8:1:2::7", body: `{"url":"https://example.com/?ip=2001%3Adb8%3A1%3A2%3A%3A7"}`, want: http.StatusBadRequest},
		{name: "ipv6 in a geo target", client: "2001:db8:1:2::7", body: `{"url":"https://example.com/","geo":{"continents":{"EU":"https://example.eu/[2001:db8:1:2::7]"}}}`, want: http.StatusBadRequest},
		{name: "6to4 client, its ipv4 in the path", client: "2002:c633:644d::1", body: `{"url":"https://example.com/198.51.100.77/"}`, want: http.StatusBadRequest},
		{name: "another address", client: "198.51.100.77", body: `{"url":"http://203.0.113.9/"}`, want: http.StatusCreated},
		{name: "a neighbour's address", client: "198.51.100.77", body: `{"url":"https://example.com/?ip=198.51.100.78"}`, want: http.StatusCreated},
		{name: "loopback", client: "127.0.0.1", body: `{"url":"http://127.0.0.1:3000/"}`, want: http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tr.do("POST", "/api/links", tt.client, browser, strings.NewReader(tt.body))
			assert.Equal(t, tt.want, w.Code, w.Body.String())
			if tt.want == http.StatusBadRequest {
				assert.Contains(t, w.Body.String(), "holds your own IP address")
				ipmasktest.AssertNoRawIP(t, ipmask.Default, w.Body.String())
			}
		})
	}
}

// A client that is not the trusted proxy cannot choose the address that is
// counted by sending X-Forwarded-For itself.
func TestSpoofedHeaderFromUntrustedPeer(t *testing.T) {
	tr := newTracker(t, "")
	id := tr.create("https://example.com/")["id"]
	for i := range 6 {
		r := httptest.NewRequest("GET", "/l/"+id, nil)
		r.RemoteAddr = "203.0.113.77:5555" // direct, not the proxy
		r.Header.Set("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
		r.Header.Set("User-Agent", browser)
		tr.h.ServeHTTP(httptest.NewRecorder(), r)
	}
	st := tr.stats(id)
	assert.Equal(t, uint64(6), st.Clicks)
	assert.Equal(t, uint64(1), st.UniqueClicks, "every click is the peer's: one visitor")
}

// run serves on the address it is given, prints the URL and the demo link,
// and shuts down gracefully when its context ends.
func TestRunGracefulShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	db := "sqlite:" + filepath.Join(t.TempDir(), "links.db")
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-demo", "-db", db}, &stdout, &stderr) }()

	var url string
	require.Eventually(t, func() bool {
		for _, line := range strings.Split(stdout.String(), "\n") {
			if u, ok := strings.CutPrefix(line, "demo link: "); ok {
				url = u
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusFound, resp.StatusCode)

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	assert.Contains(t, stdout.String(), "shutting down")
	ipmasktest.AssertNoRawIP(t, ipmask.Default, stderr.String())

	// The click was written on shutdown (the sink's 2-second loop may not
	// have run): a new instance on the file counts it.
	id := url[strings.LastIndex(url, "/")+1:]
	after := newTrackerWith(t, config{db: db})
	after.clock.Set(time.Now()) // the click was made at the real time
	assert.Equal(t, uint64(1), after.stats(id).Clicks, "written on shutdown")
}

func TestRunFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "bad proxies", args: []string{"-addr", "127.0.0.1:0", "-trusted-proxies", "10.0.0.0/33"}, wantErr: "-trusted-proxies"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "1 unexpected arguments"},
		{name: "bad db", args: []string{"-addr", "127.0.0.1:0", "-db", "mysql://u:secret@h/d"}, wantErr: "-db: want sqlite:PATH or a postgres:// URL"},
		{name: "bad redis", args: []string{"-addr", "127.0.0.1:0", "-redis", "h:1,,h:2"}, wantErr: "-redis: entry 2 is not host:port"},
		{name: "negative flush interval", args: []string{"-addr", "127.0.0.1:0", "-db", "sqlite:" + filepath.Join(t.TempDir(), "l.db"), "-flush-interval", "-1s"}, wantErr: "-flush-interval: must be more than 0"},
		{name: "negative limit", args: []string{"-addr", "127.0.0.1:0", "-create-per-minute", "-1"}, wantErr: "-create-per-minute"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "flag provided but not defined"},
		{name: "client header without proxies", args: []string{"-addr", "127.0.0.1:0", "-client-ip-header", "CF-Connecting-IP"}, wantErr: "-client-ip-header: needs -trusted-proxies"},
		{name: "client header not a name", args: []string{"-addr", "127.0.0.1:0", "-trusted-proxies", "10.0.0.0/8", "-client-ip-header", "X_Real_IP"}, wantErr: "-client-ip-header: clientip"},
		{name: "missing geoip", args: []string{"-addr", "127.0.0.1:0", "-db", "sqlite:" + filepath.Join(t.TempDir(), "l.db"), "-geoip", filepath.Join(t.TempDir(), "none.mmdb")}, wantErr: "-geoip: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			require.Error(t, err)
			assert.Contains(t, err.Error()+stderr.String(), tt.wantErr)
		})
	}
}

// Two instances on one Redis act as one tracker: a link made on one
// redirects on the other, a visitor's repeat click on the other instance is
// still a repeat, and both report the same counts.
func TestTwoInstancesShareRedis(t *testing.T) {
	cfg := config{redis: redistest.Start(t, nil).Addr(), db: "sqlite:" + filepath.Join(t.TempDir(), "links.db")}
	a, b := newTrackerWith(t, cfg), newTrackerWith(t, cfg) // their clocks read the same instant
	id := a.create("https://example.com/")["id"]

	for i := range 10 {
		client := fmt.Sprintf("198.51.100.%d", 10+i)
		w := a.do("GET", "/l/"+id, client, browser, nil)
		require.Equal(t, http.StatusFound, w.Code)
		w = b.do("GET", "/l/"+id, client, browser, nil)
		require.Equal(t, http.StatusFound, w.Code, "the link made on a redirects on b")
	}
	// Each instance writes its counts every 2 s; b's are written now, and
	// a's by the stats read.
	require.NoError(t, b.app.sink.Flush(t.Context()))
	sa, sb := a.stats(id), b.stats(id)
	assert.Equal(t, uint64(20), sa.Clicks, "a reads b's counts in the database")
	assert.Equal(t, uint64(10), sa.UniqueClicks, "a repeat on the other instance is a repeat")
	sb.Privacy, sa.Privacy = "", ""
	assert.Equal(t, sa, sb, "both instances report the same")
	a.assertNoLeak()
	b.assertNoLeak()
}

// A newcomer's three test clicks from one machine: the totals say 3, the
// series and breakdowns say why they show nothing per bucket or value, and
// the numbers add up.
func TestFewClicksAreExplained(t *testing.T) {
	tr := newTracker(t, "")
	id := tr.create("https://example.com/")["id"]
	for range 3 {
		require.Equal(t, http.StatusFound, tr.do("GET", "/l/"+id, "198.51.100.7", browser, nil).Code)
	}
	st := tr.stats(id)
	assert.Equal(t, uint64(3), st.Clicks)
	assert.Equal(t, uint64(1), st.UniqueClicks)
	for _, s := range []series{st.Minutes, st.Hours} {
		assert.Equal(t, uint64(3), s.Clicks, s.Step)
		assert.Equal(t, uint64(3), s.SuppressedClicks, s.Step)
		require.Len(t, s.Points, 1, s.Step)
		assert.True(t, s.Points[0].Suppressed, s.Step)
		assert.Zero(t, s.Points[0].Clicks, "a suppressed bucket withholds its counts")
	}
	for _, b := range st.Breakdowns {
		assert.Empty(t, b.Cells, b.Dimension)
		assert.Equal(t, uint64(3), b.Suppressed, b.Dimension)
	}

	body := tr.do("GET", "/links/"+id, "192.0.2.1", browser, nil).Body.String()
	assert.Contains(t, body, `<b id="clicks">3</b>`)
	assert.Contains(t, body, "3 clicks in the last hour, 3 of them in minutes with fewer than 5 visitors")
	assert.Contains(t, body, "once at least 5 different visitors are in it")
	assert.Equal(t, 2, strings.Count(body, `<rect class="suppressed"`), "one grey band per chart")
}

// -exclude: clicks and conversions from the networks and addresses it
// lists are redirected but never counted; everyone else's are.
func TestExcludedNetworksNotCounted(t *testing.T) {
	tr := newTrackerWith(t, config{db: "sqlite:" + filepath.Join(t.TempDir(), "links.db"), exclude: " 198.51.100.0/24 ,2001:db8:1::/48, 203.0.113.7"})
	id := tr.create("https://example.com/")["id"]
	for _, client := range []string{"198.51.100.7", "198.51.100.200", "2001:db8:1::9", "203.0.113.7"} {
		w := tr.do("GET", "/l/"+id, client, browser, nil)
		assert.Equal(t, http.StatusFound, w.Code, "%s is redirected", client)
		tr.do("GET", "/c/"+id+".gif", client, browser, nil)
	}
	for _, client := range []string{"198.51.101.7", "2001:db8:2::9", "203.0.113.8"} {
		require.Equal(t, http.StatusFound, tr.do("GET", "/l/"+id, client, browser, nil).Code)
	}
	tr.do("GET", "/c/"+id+".gif", "203.0.113.8", browser, nil)
	st := tr.stats(id)
	assert.Equal(t, uint64(3), st.Clicks, "only the clients -exclude does not list")
	assert.Equal(t, uint64(3), st.UniqueClicks)
	assert.Equal(t, uint64(1), st.Conversions)
	assert.Equal(t, uint64(8), tr.app.tracker.Stats().Excluded, "the excluded clicks and pixels, seen and not counted")
	tr.assertNoLeak()
}
