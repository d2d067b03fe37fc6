package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/redistest"
)

// A link and its counts outlive the process: the app is stopped and
// started again on the same SQLite file, the link still redirects and the
// click before the restart is still counted (Close wrote it).
func TestLinksSurviveRestart(t *testing.T) {
	cfg := config{db: "sqlite:" + filepath.Join(t.TempDir(), "links.db")}
	first := newTrackerWith(t, cfg)
	id := first.create("https://example.com/kept")["id"]
	require.Equal(t, http.StatusFound, first.do("GET", "/l/"+id, "198.51.100.7", browser, nil).Code)
	require.NoError(t, first.app.Close())

	second := newTrackerWith(t, cfg)
	assert.Equal(t, 1, second.app.links.Len(), "the links are loaded at start")
	w := second.do("GET", "/l/"+id, "198.51.100.7", browser, nil)
	assert.Equal(t, http.StatusFound, w.Code)
	assert.Equal(t, "https://example.com/kept", w.Header().Get("Location"))
	assert.Equal(t, uint64(2), second.stats(id).Clicks, "the click before the restart and the one after")
}

// With the database gone, links already known still redirect; an unknown
// one cannot be answered and says so.
func TestDatabaseOutageStillRedirects(t *testing.T) {
	tr := newTrackerWith(t, config{db: "sqlite:" + filepath.Join(t.TempDir(), "links.db"), closeTimeout: 50 * time.Millisecond})
	id := tr.create("https://example.com/")["id"]
	require.NoError(t, tr.app.db.Close())

	w := tr.do("GET", "/l/"+id, "198.51.100.7", browser, nil)
	assert.Equal(t, http.StatusFound, w.Code)
	assert.Equal(t, "https://example.com/", w.Header().Get("Location"))
	assert.Equal(t, uint64(1), tr.app.sink.Stats().Buffered, "the click is counted, in the sink's buffer")
	w = tr.do("GET", "/api/links/"+id+"/stats", "198.51.100.7", browser, nil)
	assert.Equal(t, http.StatusInternalServerError, w.Code, "statistics cannot be read")

	w = tr.do("GET", "/l/abcdefgh", "198.51.100.7", browser, nil)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "an unknown link cannot be told from a new one")
	w = tr.do("POST", "/api/links", "198.51.100.7", browser, strings.NewReader(`{"url":"https://example.com/"}`))
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Error(t, tr.app.links.Refresh(t.Context()), "refresh fails, and keeps what it holds")
	assert.Equal(t, 1, tr.app.links.Len())
	tr.assertNoLeak()
	err := tr.app.Close()
	require.Error(t, err, "the buffered click could not be written: Close says so")
	assert.Equal(t, uint64(1), tr.app.sink.Stats().Dropped, "and counts it as dropped")
}

// A link created on another instance is found on its first click (from the
// database) and by the periodic refresh.
func TestLinksFromOtherInstances(t *testing.T) {
	cfg := config{db: "sqlite:" + filepath.Join(t.TempDir(), "links.db"), closeTimeout: 50 * time.Millisecond}
	a, b := newTrackerWith(t, cfg), newTrackerWith(t, cfg)
	viaClick := a.create("https://example.com/1")["id"]
	viaRefresh := a.create("https://example.com/2")["id"]
	assert.Equal(t, 0, b.app.links.Len())
	assert.Equal(t, http.StatusFound, b.do("GET", "/l/"+viaClick, "198.51.100.7", browser, nil).Code)
	assert.Equal(t, 1, b.app.links.Len())
	require.NoError(t, b.app.links.Refresh(t.Context()))
	assert.Equal(t, 2, b.app.links.Len())
	require.NoError(t, b.app.db.Close())
	assert.Equal(t, http.StatusFound, b.do("GET", "/l/"+viaRefresh, "198.51.100.7", browser, nil).Code)
	assert.ErrorContains(t, b.app.Close(), "not written", "b's clicks could not be written: Close says so")
}

// Made-up links cannot turn into database load: a flood of made-up IDs
// costs at most missLookupsPerMinute lookups a minute, an ID clicked
// again is remembered as absent, and a link created on another instance
// during the flood redirects from the next refresh (or once the budget
// is back, on its first click).
func TestMadeUpLinksSpareTheDatabase(t *testing.T) {
	cfg := config{db: "sqlite:" + filepath.Join(t.TempDir(), "links.db")}
	a, b := newTrackerWith(t, cfg), newTrackerWith(t, cfg)
	click := func(id string) int { return b.do("GET", "/l/"+id, "198.51.100.7", browser, nil).Code }

	for range 5 {
		assert.Equal(t, http.StatusNotFound, click("abcdefgh"))
	}
	assert.Equal(t, uint64(1), b.app.links.asked.Load(), "an ID the database did not have is not asked for again")

	for i := range 2 * missLookupsPerMinute {
		id := fmt.Sprintf("%08d", i+2) // digits 2 to 9 are in the alphabet
		id = strings.NewReplacer("0", "z", "1", "y").Replace(id)
		require.Equal(t, http.StatusNotFound, click(id))
	}
	assert.Equal(t, uint64(missLookupsPerMinute), b.app.links.asked.Load(), "the lookups of a minute, and no more")

	fresh := a.create("https://example.com/new")["id"]
	assert.Equal(t, http.StatusNotFound, click(fresh), "no lookup left this minute")
	require.NoError(t, b.app.links.Refresh(t.Context()))
	assert.Equal(t, http.StatusFound, click(fresh), "the refresh brings it")

	b.clock.Advance(time.Minute)
	another := a.create("https://example.com/another")["id"]
	assert.Equal(t, http.StatusFound, click(another), "a minute later the first click finds it in the database")
	assert.Equal(t, uint64(5+2*missLookupsPerMinute+1), b.app.orphans.Load(), "every click on an unknown link is counted as an orphan")
}

// With Redis down, a visitor is still redirected and the click is counted:
// the keyring hands out a local key for the epoch, and the tracker counts
// the click with its uniqueness unknown.
func TestRedisOutageStillRedirects(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Local: true})
	tr := newTracker(t, srv.Addr())
	id := tr.create("https://example.com/")["id"]
	srv.Kill()

	w := tr.do("GET", "/l/"+id, "198.51.100.7", browser, nil)
	assert.Equal(t, http.StatusFound, w.Code)
	v := tr.app.tracker.Stats()
	assert.Equal(t, uint64(1), v.KeyFallbacks, "the click was made under a local key")
	assert.Equal(t, uint64(1), v.Clicks, "the click is counted")
	assert.Zero(t, v.BuildFailures, "no click is lost")
}

func TestCreateNeedsToken(t *testing.T) {
	tr := newTrackerWith(t, config{db: "sqlite:" + filepath.Join(t.TempDir(), "links.db"), apiToken: "s3cret"})
	tests := []struct {
		name   string
		header string
		want   int
	}{
		{name: "none", header: "", want: http.StatusUnauthorized},
		{name: "wrong", header: "Bearer nope", want: http.StatusUnauthorized},
		{name: "not bearer", header: "Basic s3cret", want: http.StatusUnauthorized},
		{name: "right", header: "Bearer s3cret", want: http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/links", strings.NewReader(`{"url":"https://example.com/"}`))
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			w := tr.doWith(r, "198.51.100.7", browser)
			assert.Equal(t, tt.want, w.Code, w.Body.String())
			assert.NotContains(t, w.Body.String(), "s3cret")
		})
	}
}

// Each network may create create-per-minute links a minute; another
// network is not held back, and a minute later the first may go on.
func TestCreateRateLimitedPerNetwork(t *testing.T) {
	tr := newTrackerWith(t, config{db: "sqlite:" + filepath.Join(t.TempDir(), "links.db"), createPerMinute: 3})
	create := func(client string) int {
		return tr.do("POST", "/api/links", client, browser, strings.NewReader(`{"url":"https://example.com/"}`)).Code
	}
	for i := range 3 {
		require.Equal(t, http.StatusCreated, create(fmt.Sprintf("198.51.100.%d", i+1)), "link %d", i)
	}
	assert.Equal(t, http.StatusTooManyRequests, create("198.51.100.200"), "same /24")
	assert.Equal(t, http.StatusCreated, create("203.0.113.1"), "another network")
	tr.clock.Advance(20 * time.Second)
	assert.Equal(t, http.StatusCreated, create("198.51.100.9"), "one token back after a third of a minute")
	assert.Equal(t, http.StatusTooManyRequests, create("198.51.100.9"))
	tr.assertNoLeak()
}

// Statistics that take longer than their budget (4 -store-timeout) are
// answered 503 with Retry-After, by the API and the dashboard: the client
// may ask again; a server error (500) is for statistics that cannot be
// read (TestDatabaseOutageStillRedirects).
func TestStatsOverBudgetAnswer503(t *testing.T) {
	tr := newTrackerWith(t, config{db: "sqlite:" + filepath.Join(t.TempDir(), "links.db")})
	id := tr.create("https://example.com/")["id"]
	require.Equal(t, http.StatusFound, tr.do("GET", "/l/"+id, "198.51.100.7", browser, nil).Code)
	tr.app.cfg.storeTimeout = time.Nanosecond // a budget no database meets
	for _, path := range []string{"/api/links/" + id + "/stats", "/links/" + id} {
		w := tr.do("GET", path, "198.51.100.7", browser, nil)
		assert.Equal(t, http.StatusServiceUnavailable, w.Code, path)
		assert.Equal(t, "1", w.Header().Get("Retry-After"), path)
	}
	tr.app.cfg.storeTimeout = 5 * time.Second
	assert.Equal(t, http.StatusOK, tr.do("GET", "/api/links/"+id+"/stats", "198.51.100.7", browser, nil).Code)
	tr.assertNoLeak()
}

// A host that reaches the tracker over IPv4 and over an IPv6 address that
// carries its IPv4 one (6to4, Teredo, NAT64) draws on one bucket: its IPv4
// network's.
func TestCreateRateLimitCountsCarriedIPv4(t *testing.T) {
	tr := newTrackerWith(t, config{db: "sqlite:" + filepath.Join(t.TempDir(), "links.db"), createPerMinute: 3})
	create := func(client string) int {
		return tr.do("POST", "/api/links", client, browser, strings.NewReader(`{"url":"https://example.com/"}`)).Code
	}
	require.Equal(t, http.StatusCreated, create("198.51.100.7"))
	require.Equal(t, http.StatusCreated, create("2002:c633:6409::1"), "6to4 of 198.51.100.9")
	require.Equal(t, http.StatusCreated, create("64:ff9b::c633:640a"), "NAT64 of 198.51.100.10")
	assert.Equal(t, http.StatusTooManyRequests, create("2001:0:4136:e378:8000:63bf:39cc:9bf4"), "Teredo of 198.51.100.11: the same /24's fourth link")
	assert.Equal(t, http.StatusTooManyRequests, create("198.51.100.12"))
	assert.Equal(t, http.StatusCreated, create("64:ff9b::cb00:7101"), "NAT64 of another network: not the first's /48")
	assert.Equal(t, http.StatusCreated, create("2001:db8:1::5efe:c633:6401"), "ISATAP: its own IPv6 network")
	tr.assertNoLeak()
}

func TestNetLimiterForgetsFullBuckets(t *testing.T) {
	l := newNetLimiter(60)
	l.maxNets = 2
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b, c := mustPrefix(t, "192.0.2.0/24"), mustPrefix(t, "198.51.100.0/24"), mustPrefix(t, "203.0.113.0/24")
	assert.True(t, l.Allow(a, t0))
	assert.True(t, l.Allow(b, t0))
	assert.False(t, l.Allow(c, t0), "full of networks whose buckets are not full again")
	assert.True(t, l.Allow(c, t0.Add(time.Second)), "a second later a and b are full again and forgotten")
	assert.Len(t, l.nets, 1)
	assert.Nil(t, newNetLimiter(0), "0 is no limit")
	assert.True(t, (*netLimiter)(nil).Allow(a, t0))
}

var _ clickstore.Store = timeoutStore{}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	require.NoError(t, err)
	return p
}

// The token can come from the environment, out of ps; -help never shows
// it.
func TestTokenFromEnvironmentNotInHelp(t *testing.T) {
	t.Setenv("LINKTRACKER_API_TOKEN", "env-s3cret")
	var stdout, stderr syncBuffer
	err := run(t.Context(), []string{"-h"}, &stdout, &stderr)
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, stderr.String(), "LINKTRACKER_API_TOKEN")
	assert.NotContains(t, stderr.String(), "env-s3cret")

	base := startServer(t)
	resp, err := http.Post(base+"/api/links", "application/json", strings.NewReader(`{"url":"https://example.com/"}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the environment's token is required")
}
