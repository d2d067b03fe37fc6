package linkapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clickanon/clickanon/internal/ltproc"
	"github.com/stretchr/testify/require"
)

// bin is the linktracker binary, built once in TestMain.
var bin string

func TestMain(m *testing.M) {
	var cleanup func()
	var err error
	if bin, cleanup, err = ltproc.Build(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// browser is a person's user agent.
const browser = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// tracker is a running linktracker.
type tracker struct {
	*ltproc.Proc
	db string

	mu     sync.Mutex
	bodies []string // every response body, for the leak checks
}

// start runs the binary on a free port with a fresh database (or db, if
// not ""), link creation unlimited, plus args.
func start(t *testing.T, db string, args ...string) *tracker {
	t.Helper()
	if db == "" {
		db = filepath.Join(t.TempDir(), "links.db")
	}
	return &tracker{Proc: ltproc.Start(t, bin, append([]string{"-db", "sqlite:" + db, "-create-per-minute", "0"}, args...)...), db: db}
}

var client = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

// req is one request to the tracker.
type req struct {
	method, path string // path is sent as written (RawPath kept)
	xff          string // X-Forwarded-For, if not ""
	ua           string // "": browser
	body         string
	header       http.Header
}

type resp struct {
	code   int
	header http.Header
	body   string
}

func (p *tracker) do(r req) resp {
	p.T.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	hr, err := http.NewRequest(r.method, p.Base+r.path, strings.NewReader(r.body))
	require.NoError(p.T, err)
	if r.ua == "" {
		r.ua = browser
	}
	hr.Header.Set("User-Agent", r.ua)
	if r.xff != "" {
		hr.Header.Set("X-Forwarded-For", r.xff)
	}
	for k, v := range r.header {
		hr.Header[k] = v
	}
	res, err := client.Do(hr)
	require.NoError(p.T, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(p.T, err)
	p.mu.Lock()
	p.bodies = append(p.bodies, string(b))
	p.mu.Unlock()
	return resp{res.StatusCode, res.Header, string(b)}
}

type created struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	TrackingURL string `json:"tracking_url"`
}

// create makes a link to target and returns what the API answered.
func (p *tracker) create(target string) created {
	p.T.Helper()
	b, err := json.Marshal(map[string]string{"url": target})
	require.NoError(p.T, err)
	r := p.do(req{method: "POST", path: "/api/links", body: string(b)})
	require.Equal(p.T, http.StatusCreated, r.code, "creating a link to %q: %s", target, r.body)
	var c created
	require.NoError(p.T, json.Unmarshal([]byte(r.body), &c))
	require.NotEmpty(p.T, c.ID)
	return c
}

type point struct {
	Clicks     uint64 `json:"clicks"`
	Unique     uint64 `json:"unique_clicks"`
	Suppressed bool   `json:"suppressed"`
}

type series struct {
	Clicks     uint64  `json:"clicks"`
	Suppressed uint64  `json:"suppressed_clicks"`
	Points     []point `json:"points"`
}

type breakdown struct {
	Dimension string `json:"dimension"`
	Values    []struct {
		Value  string `json:"value"`
		Clicks uint64 `json:"clicks"`
		Unique uint64 `json:"unique_clicks"`
	} `json:"values"`
	Suppressed uint64 `json:"suppressed_clicks"`
}

type stats struct {
	URL         string      `json:"url"`
	Clicks      uint64      `json:"clicks"`
	Unique      uint64      `json:"unique_clicks"`
	Bots        uint64      `json:"bot_clicks"`
	Conversions uint64      `json:"conversions"`
	Unknown     uint64      `json:"unknown_uniqueness"`
	K           int         `json:"k"`
	Minutes     series      `json:"per_minute"`
	Hours       series      `json:"per_hour"`
	Breakdowns  []breakdown `json:"breakdowns"`
	Privacy     string      `json:"privacy"`
}

func (p *tracker) stats(id string) stats {
	p.T.Helper()
	r := p.do(req{path: "/api/links/" + id + "/stats"})
	require.Equal(p.T, http.StatusOK, r.code, r.body)
	var s stats
	require.NoError(p.T, json.Unmarshal([]byte(r.body), &s))
	return s
}

// metric is the value of one series in /metrics, 0 when absent.
func (p *tracker) metric(series string) float64 {
	p.T.Helper()
	r := p.do(req{path: "/metrics"})
	require.Equal(p.T, http.StatusOK, r.code)
	for _, line := range strings.Split(r.body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(p.T, err)
			return f
		}
	}
	return 0
}

// stop sends sig and waits for the exit, returning its code.
func (p *tracker) stop(sig os.Signal) int {
	p.T.Helper()
	require.NoError(p.T, p.Cmd.Process.Signal(sig))
	select {
	case <-p.Done:
	case <-time.After(20 * time.Second):
		require.FailNow(p.T, "the linktracker did not exit")
	}
	return p.Cmd.ProcessState.ExitCode()
}

// allBodies is every response body so far.
func (p *tracker) allBodies() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.bodies...)
}

// syscallTERM and syscallINT are the signals a deploy and Ctrl-C send.
var (
	syscallTERM os.Signal = syscall.SIGTERM
	syscallINT  os.Signal = syscall.SIGINT
)
