package operate_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/ltproc"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// The linktracker binary, built once for the test binary.
var binary struct {
	path string
	err  error
}

func TestMain(m *testing.M) {
	var cleanup func()
	binary.path, cleanup, binary.err = ltproc.Build("-ldflags=-s -w")
	code := m.Run()
	if cleanup != nil {
		cleanup()
	}
	os.Exit(code)
}

func binPath(t *testing.T) string {
	t.Helper()
	require.NoError(t, binary.err)
	return binary.path
}

// proc is a linktracker that trusts loopback as the proxy naming the
// visitor in X-Forwarded-For, with every answer kept for the leak check.
type proc struct {
	*ltproc.Proc
	mu     sync.Mutex
	bodies []string
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return &proc{Proc: ltproc.Start(t, binPath(t), append([]string{"-trusted-proxies", "127.0.0.1/32"}, args...)...)}
}

var client = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

const browserUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// do sends a request, naming xff in X-Forwarded-For when it is not empty;
// it is safe to call from several goroutines, but only the test's own
// goroutine may fail the test, so it returns the error.
func (p *proc) do(method, path, xff, ua, body string) (int, string, error) {
	req, err := http.NewRequest(method, p.Base+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	if ua == "" {
		ua = browserUA
	}
	req.Header.Set("User-Agent", ua)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	p.mu.Lock()
	p.bodies = append(p.bodies, string(b))
	p.mu.Unlock()
	return resp.StatusCode, string(b), err
}

func (p *proc) must(method, path, xff, body string) (int, string) {
	p.T.Helper()
	code, b, err := p.do(method, path, xff, "", body)
	require.NoError(p.T, err)
	return code, b
}

func (p *proc) createLink(url string) string {
	p.T.Helper()
	code, body := p.must("POST", "/api/links", "", `{"url":"`+url+`"}`)
	require.Equal(p.T, http.StatusCreated, code, body)
	var l struct{ ID string }
	require.NoError(p.T, json.Unmarshal([]byte(body), &l))
	return l.ID
}

type linkStats struct {
	Clicks            uint64 `json:"clicks"`
	UniqueClicks      uint64 `json:"unique_clicks"`
	BotClicks         uint64 `json:"bot_clicks"`
	UnknownUniqueness uint64 `json:"unknown_uniqueness"`
}

func (p *proc) stats(id string) (int, linkStats) {
	p.T.Helper()
	code, body := p.must("GET", "/api/links/"+id+"/stats", "", "")
	var s linkStats
	if code == http.StatusOK {
		require.NoError(p.T, json.Unmarshal([]byte(body), &s), body)
	}
	return code, s
}

type storeHealth struct {
	Name      string     `json:"name"`
	Reachable bool       `json:"reachable"`
	LastSweep *time.Time `json:"last_sweep"`
	Failures  uint64     `json:"sweep_failures"`
	Failing   bool       `json:"last_sweep_failed"`
}

type health struct {
	Status   string        `json:"status"`
	Database bool          `json:"database_reachable"`
	Stores   []storeHealth `json:"stores"`
}

func (p *proc) health() (int, health) {
	p.T.Helper()
	code, body := p.must("GET", "/healthz", "", "")
	var h health
	require.NoError(p.T, json.Unmarshal([]byte(body), &h), body)
	return code, h
}

// family is one metric of an exposition: its HELP, TYPE and samples.
type family struct {
	help, typ string
	samples   map[string]float64 // series (name{labels}) -> value
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$`)

// parseExposition reads Prometheus's text format as /metrics writes it.
func parseExposition(body string) (map[string]*family, error) {
	fams := map[string]*family{}
	get := func(name string) *family {
		f := fams[name]
		if f == nil {
			f = &family{samples: map[string]float64{}}
			fams[name] = f
		}
		return f
	}
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		switch {
		case strings.HasPrefix(line, "# HELP "):
			name, help, _ := strings.Cut(strings.TrimPrefix(line, "# HELP "), " ")
			get(name).help = help
		case strings.HasPrefix(line, "# TYPE "):
			name, typ, _ := strings.Cut(strings.TrimPrefix(line, "# TYPE "), " ")
			get(name).typ = typ
		default:
			m := sampleLine.FindStringSubmatch(line)
			if m == nil {
				return nil, fmt.Errorf("not a sample line: %q", line)
			}
			v, err := strconv.ParseFloat(m[3], 64)
			if err != nil {
				return nil, err
			}
			name := m[1]
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suffix); ok && fams[base] != nil && fams[base].typ == "histogram" {
					name = base
				}
			}
			get(name).samples[m[1]+m[2]] = v
		}
	}
	return fams, nil
}

// scrape gets and parses /metrics; safe from any goroutine.
func (p *proc) scrape() (map[string]*family, string, error) {
	code, body, err := p.do("GET", "/metrics", "", "", "")
	if err != nil {
		return nil, body, err
	}
	if code != http.StatusOK {
		return nil, body, fmt.Errorf("/metrics answered %d", code)
	}
	f, err := parseExposition(body)
	return f, body, err
}

// value is one series' value in /metrics, -1 when absent.
func (p *proc) value(series string) float64 {
	p.T.Helper()
	fams, _, err := p.scrape()
	require.NoError(p.T, err)
	for _, f := range fams {
		if v, ok := f.samples[series]; ok {
			return v
		}
	}
	return -1
}

// monotonic checks that no counter series in now is below its value in
// before (counters, and histograms' _count, _sum and _bucket series).
// scrapeUntil scrapes p's /metrics again and again until stop is closed,
// comparing each scrape with the one before (monotonic); the first error
// goes to errs and ends it. It returns how many scrapes it made.
func (p *proc) scrapeUntil(stop <-chan struct{}, errs chan<- error) int {
	var before map[string]*family
	for n := 0; ; n++ {
		select {
		case <-stop:
			return n
		default:
		}
		now, _, err := p.scrape()
		if err == nil && before != nil {
			err = monotonic(before, now)
		}
		if err != nil {
			errs <- err
			return n
		}
		before = now
	}
}

func monotonic(before, now map[string]*family) error {
	for name, f := range now {
		if f.typ != "counter" && f.typ != "histogram" {
			continue
		}
		b := before[name]
		if b == nil {
			continue
		}
		for s, v := range f.samples {
			if old, ok := b.samples[s]; ok && v < old {
				return fmt.Errorf("%s went back from %v to %v", s, old, v)
			}
		}
		for s := range b.samples {
			if _, ok := f.samples[s]; !ok {
				return fmt.Errorf("%s disappeared", s)
			}
		}
	}
	return nil
}

// addrsOf is every address in the visitors' header values, as a
// leak check's needles.
func addrsOf(t *testing.T, visitors []visitor) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	for _, v := range visitors {
		out = append(out, v.addrs...)
	}
	require.NotEmpty(t, out)
	return out
}

// noLeak checks the whole stderr, stdout after its first line, every
// answer, for any of addrs (and stderr for any address at all).
func (p *proc) noLeak(t *testing.T, addrs []netip.Addr) {
	pol := ipmask.Default
	t.Helper()
	ipmasktest.AssertNoRawIP(t, pol, p.Stderr.String(), "stderr")
	ipmasktest.AssertNoRawIPOf(t, pol, p.Stdout.String(), addrs, "stdout")
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, b := range p.bodies {
		ipmasktest.AssertNoRawIPOf(t, pol, b, addrs, "answer %d", i)
	}
}
