package journey_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/ltproc"
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

// firefox is a person's browser; each visitor gets its own variant.
const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

var client = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

// inst is one running linktracker.
type inst struct{ *ltproc.Proc }

func start(t *testing.T, args ...string) inst {
	t.Helper()
	return inst{ltproc.Start(t, bin, args...)}
}

type answer struct {
	code   int
	header http.Header
	body   string
}

// send makes one request; hdr holds the headers (User-Agent included:
// none set means Go's, a bot's).
func (p inst) send(method, path, body string, hdr http.Header) answer {
	p.T.Helper()
	a, err := p.try(method, path, body, hdr)
	require.NoError(p.T, err)
	return a
}

func (p inst) try(method, path, body string, hdr http.Header) (answer, error) {
	r, err := http.NewRequest(method, p.Base+path, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	for k, v := range hdr {
		r.Header[k] = v
	}
	res, err := client.Do(r)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, string(b)}, err
}

// create makes a link and returns its id.
func (p inst) create(target string, hdr http.Header) string {
	p.T.Helper()
	b, err := json.Marshal(map[string]string{"url": target})
	require.NoError(p.T, err)
	a := p.send("POST", "/api/links", string(b), hdr)
	require.Equal(p.T, http.StatusCreated, a.code, a.body)
	var c struct{ ID string }
	require.NoError(p.T, json.Unmarshal([]byte(a.body), &c))
	require.NotEmpty(p.T, c.ID)
	return c.ID
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

type cell struct {
	Value  string `json:"value"`
	Clicks uint64 `json:"clicks"`
	Unique uint64 `json:"unique_clicks"`
}

type breakdown struct {
	Dimension  string `json:"dimension"`
	Values     []cell `json:"values"`
	Suppressed uint64 `json:"suppressed_clicks"`
}

type stats struct {
	Clicks      uint64      `json:"clicks"`
	Unique      uint64      `json:"unique_clicks"`
	Bots        uint64      `json:"bot_clicks"`
	Conversions uint64      `json:"conversions"`
	Unknown     uint64      `json:"unknown_uniqueness"`
	K           int         `json:"k"`
	Minutes     series      `json:"per_minute"`
	Hours       series      `json:"per_hour"`
	Breakdowns  []breakdown `json:"breakdowns"`
}

func (p inst) stats(id string) stats {
	p.T.Helper()
	a := p.send("GET", "/api/links/"+id+"/stats", "", nil)
	require.Equal(p.T, http.StatusOK, a.code, a.body)
	var s stats
	require.NoError(p.T, json.Unmarshal([]byte(a.body), &s))
	return s
}

// metric is one series' value in /metrics, 0 when absent.
func (p inst) metric(name string) float64 {
	p.T.Helper()
	a := p.send("GET", "/metrics", "", nil)
	require.Equal(p.T, http.StatusOK, a.code)
	for _, line := range strings.Split(a.body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(p.T, err)
			return f
		}
	}
	return 0
}

// stop sends SIGTERM and waits for a clean exit.
func (p inst) stop() {
	p.T.Helper()
	require.NoError(p.T, p.Cmd.Process.Signal(os.Signal(sigterm)))
	select {
	case <-p.Done:
	case <-time.After(20 * time.Second):
		require.FailNow(p.T, "the linktracker did not exit on SIGTERM")
	}
	require.Equal(p.T, 0, p.Cmd.ProcessState.ExitCode(), "exit status after SIGTERM")
}
