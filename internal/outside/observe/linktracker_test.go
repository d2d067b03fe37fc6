package observe_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/ltproc"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// The linktracker binary, built once for the test binary.
var tracker struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if tracker.dir != "" {
		_ = os.RemoveAll(tracker.dir)
	}
	os.Exit(code)
}

func trackerPath(t *testing.T) string {
	t.Helper()
	tracker.once.Do(func() {
		if tracker.dir, tracker.err = os.MkdirTemp("", "observe-linktracker-"); tracker.err != nil {
			return
		}
		tracker.path = filepath.Join(tracker.dir, "linktracker")
		cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", tracker.path, "github.com/clickanon/clickanon/examples/linktracker")
		if out, err := cmd.CombinedOutput(); err != nil {
			tracker.err = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	require.NoError(t, tracker.err)
	return tracker.path
}

// running is a linktracker process reached over loopback, which it trusts
// as a proxy naming the visitor in X-Forwarded-For.
type running struct {
	*ltproc.Proc
	bodies []string // every response body, for the leak check
}

func startTracker(t *testing.T, args ...string) *running {
	t.Helper()
	return &running{Proc: ltproc.Start(t, trackerPath(t), append([]string{"-trusted-proxies", "127.0.0.1/32"}, args...)...)}
}

var noFollow = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

// do sends a request as visitor (through the trusted proxy) and returns
// the status and the body.
func (p *running) do(method, path, visitor, body string) (int, string) {
	p.T.Helper()
	req, err := http.NewRequest(method, p.Base+path, strings.NewReader(body))
	require.NoError(p.T, err)
	if visitor != "" {
		req.Header.Set("X-Forwarded-For", visitor)
	}
	req.Header.Set("User-Agent", browserUA)
	resp, err := noFollow.Do(req)
	require.NoError(p.T, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(p.T, err)
	p.bodies = append(p.bodies, string(b))
	return resp.StatusCode, string(b)
}

type storeHealth struct {
	Name      string     `json:"name"`
	Reachable bool       `json:"reachable"`
	LastSweep *time.Time `json:"last_sweep"`
	Failures  uint64     `json:"sweep_failures"`
	Held      *int       `json:"held"`
}

type healthBody struct {
	Status   string        `json:"status"`
	Database bool          `json:"database_reachable"`
	Stores   []storeHealth `json:"stores"`
}

func (p *running) health() (int, healthBody) {
	p.T.Helper()
	code, body := p.do("GET", "/healthz", "", "")
	var h healthBody
	require.NoError(p.T, json.Unmarshal([]byte(body), &h), body)
	return code, h
}

func (h healthBody) store(name string) (storeHealth, bool) {
	for _, s := range h.Stores {
		if s.Name == name {
			return s, true
		}
	}
	return storeHealth{}, false
}

// metric returns the value of series in /metrics, or -1 if absent.
func (p *running) metric(series string) float64 {
	p.T.Helper()
	_, body := p.do("GET", "/metrics", "", "")
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	require.NoError(p.T, err)
	return v
}

// canaries are visitors of every address class, as a proxy names them.
func canaries() []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range ipmasktest.Cases() {
		if s := c.Addr.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// TestLinktrackerDoneMeans is the "Done means", run on the real
// binary from outside: a linktracker on Redis, visited by canary clients
// of every address class through the trusted proxy (and one the proxy
// names in a form that does not parse), swept on its own clock; then
// Redis dies (a store failure), comes back empty (a restart that lost the
// window's clicks) and the tracker carries on. /healthz says each store
// is reachable and when it last swept, then that Redis is not, then that
// it is again; /metrics holds the figures (clicks, sweeps, held, sweep
// errors, restarts); the log says each failure once, as a warning, says
// what the restart lost, and says recovery; and no log line, /metrics,
// /healthz or response body holds a raw canary address. Checked to fail:
// the visitors' addresses themselves are a leak (teeth), each figure is
// compared by value, and the go-redis lines are counted (finding F5).
func TestLinktrackerDoneMeans(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Local: true})
	p := startTracker(t, "-redis", srv.Addr(), "-store-timeout", "300ms")
	visitors := canaries()
	require.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, strings.Join(visitors, " ")), "teeth")

	code, body := p.do("POST", "/api/links", visitors[0], `{"url":"https://example.com/landing"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var link struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(body), &link))
	people := map[netip.Addr]bool{} // an IPv4-mapped address is its IPv4 visitor
	for _, v := range visitors {
		code, _ := p.do("GET", "/l/"+link.ID, v, "")
		require.Equal(t, http.StatusFound, code, v)
		people[netip.MustParseAddr(v).Unmap()] = true
	}
	code, _ = p.do("GET", "/l/"+link.ID, "203.0.113.9:x", "")
	assert.Equal(t, http.StatusFound, code, "a malformed header still redirects")

	// Swept on its own: every store reachable, with a time of last sweep.
	var h healthBody
	p.Eventually("a sweep of every store", func() bool {
		code, h = p.health()
		for _, s := range h.Stores {
			if s.LastSweep == nil {
				return false
			}
		}
		return len(h.Stores) > 0
	})
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok", h.Status)
	assert.True(t, h.Database)
	redis, ok := h.store("redis")
	require.True(t, ok, "/healthz names the Redis store: %+v", h)
	assert.True(t, redis.Reachable)
	assert.WithinDuration(t, time.Now(), *redis.LastSweep, 10*time.Second)
	n, unique := float64(len(visitors)), float64(len(people))
	assert.Equal(t, unique, p.metric(`clickanon_tracker_clicks_total{tracker="linktracker",uniqueness="unique"}`))
	assert.Equal(t, n-unique, p.metric(`clickanon_tracker_clicks_total{tracker="linktracker",uniqueness="repeat"}`))
	assert.Equal(t, n, p.metric(`clickanon_tracker_requests_total{outcome="counted",tracker="linktracker"}`))
	assert.Equal(t, 1.0, p.metric(`clickanon_tracker_requests_total{outcome="unresolved",tracker="linktracker"}`))
	// Resolutions, not requests: the access log resolves the client too.
	assert.Positive(t, p.metric(`clickanon_clientip_resolutions_total{outcome="malformed",resolver="linktracker"}`))
	assert.Positive(t, p.metric(`clickanon_store_sweeps_total{store="redis"}`))
	p.Eventually("the held clicks in /metrics", func() bool {
		return p.metric(`clickanon_store_held{store="redis"}`) == unique
	})

	// Redis dies: clicks still redirect; /healthz says Redis is not
	// reachable; the failures are logged once, as warnings.
	srv.Kill()
	for _, v := range visitors[:3] {
		code, _ := p.do("GET", "/l/"+link.ID, v, "")
		require.Equal(t, http.StatusFound, code, "a click survives the store's death")
	}
	p.Eventually("/healthz to see Redis gone", func() bool {
		code, h = p.health()
		s, _ := h.store("redis")
		return !s.Reachable
	})
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "unavailable", h.Status)
	assert.Positive(t, p.metric(`clickanon_store_sweep_errors_total{store="redis"}`))
	p.Eventually("another failed sweep", func() bool { return p.metric(`clickanon_store_sweep_errors_total{store="redis"}`) >= 2 })
	assert.Equal(t, 1, strings.Count(p.Stderr.String(), "retention: sweep failed"), "once per burst, not per failed sweep:\n%s", p.Stderr.String())

	// Redis comes back empty: the tracker says what was lost, recovers,
	// and /healthz is ok again.
	srv.Restart()
	p.Eventually("/healthz to see Redis back", func() bool {
		code, h = p.health()
		s, _ := h.store("redis")
		return code == http.StatusOK && s.Reachable
	})
	for _, v := range visitors[:3] {
		code, _ := p.do("GET", "/l/"+link.ID, v, "")
		require.Equal(t, http.StatusFound, code)
	}
	p.Eventually("the recovery line", func() bool { return strings.Contains(p.Stderr.String(), "sweeps succeed again") })
	// The first click that reaches the emptied Redis finds its epoch key
	// gone; on a loaded machine the three above may all have met the
	// pool still dialling (uniqueness unknown), so click until one does.
	i := 0
	p.Eventually("the restart counted", func() bool {
		if p.metric(`clickanon_store_restarts_total{store="redis"}`) >= 1 {
			return true
		}
		code, _ := p.do("GET", "/l/"+link.ID, visitors[i%3], "")
		require.Equal(t, http.StatusFound, code)
		i++
		return false
	})
	logs := p.Stderr.String()
	var restart string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "restarted") {
			restart = line
		}
	}
	if assert.NotEmpty(t, restart, "a warning says Redis restarted:\n%s", logs) {
		assert.Contains(t, restart, "lost", "and what was lost")
	}

	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	<-p.Done
	logs = p.Stderr.String()
	ipmasktest.AssertNoRawIP(t, ipmask.Default, logs, "the log")
	// The tracker's own loopback address is in its URLs; no visitor's is.
	var addrs []netip.Addr
	for a := range people {
		addrs = append(addrs, a)
	}
	ipmasktest.AssertNoRawIPOf(t, ipmask.Default, p.Stdout.String(), addrs, "stdout")
	for i, b := range p.bodies {
		ipmasktest.AssertNoRawIPOf(t, ipmask.Default, b, addrs, "response %d", i)
	}
	assert.Contains(t, logs, "203.0.113.0/24", "the access log keeps the network")

	// Once per burst: go-redis's own lines (a pool that cannot dial,
	// routed to the log by the linktracker) come at every dial, several a
	// second for as long as Redis is away.
	assert.LessOrEqual(t, strings.Count(logs, `msg="redis client"`), 2, "go-redis's lines are rate-limited too:\n%s", logs)
}
