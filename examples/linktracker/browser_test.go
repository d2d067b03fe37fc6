package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// findChromium returns the path of a Chromium or Chrome binary, failing
// the test in CI (CI=true) and skipping it elsewhere when there is none.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium, chromium-browser or google-chrome in PATH: install Chromium (apt-get install chromium; .ci/run does) to test the dashboard in a browser"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startServer runs the tracker as main does, on a free loopback port and a
// fresh database, and returns its base URL. It is stopped at the end of
// the test.
func startServer(t *testing.T, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	args := append([]string{"-addr", "127.0.0.1:0", "-db", "sqlite:" + filepath.Join(t.TempDir(), "links.db")}, extra...)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	var base string
	require.Eventually(t, func() bool {
		line, _, _ := strings.Cut(stdout.String(), "\n")
		rest, ok := strings.CutPrefix(line, "linktracker listening on ")
		base, _, _ = strings.Cut(rest, " ")
		return ok
	}, 10*time.Second, 10*time.Millisecond, "the tracker did not start: %s", &stderr)
	return base
}

// TestDashboardInBrowser loads a link's dashboard in headless Chromium and
// checks what a person would see: the totals the stats API reports, a
// drawn chart, and no console error. The screenshot is kept in the test's
// temporary directory (go test -run Browser -v prints where).
func TestDashboardInBrowser(t *testing.T) {
	chromium := findChromium(t)
	base := startServer(t)

	// A link, six visitors (browsers) clicking from this machine, one of
	// them twice, and a curl-like bot.
	resp, err := http.Post(base+"/api/links", "application/json", strings.NewReader(`{"url":"https://example.com/"}`))
	require.NoError(t, err)
	var link struct{ ID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&link))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	click := func(ua string) {
		req, err := http.NewRequest("GET", base+"/l/"+link.ID, nil)
		require.NoError(t, err)
		req.Header.Set("User-Agent", ua)
		resp, err := noRedirect.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode)
	}
	for i := range 6 {
		click(fmt.Sprintf("%s visitor/%d", browser, i))
	}
	click(browser + " visitor/0")
	click("curl/8.5.0")

	resp, err = http.Get(base + "/api/links/" + link.ID + "/stats")
	require.NoError(t, err)
	var st linkStats
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	resp.Body.Close()
	require.Equal(t, uint64(8), st.Clicks)

	// The browser: headless, and as root only without the sandbox.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.WindowSize(900, 1400),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	// Listen starts the browser (no timeout on that first call: it would
	// stop the browser); every later step has one.
	var mu sync.Mutex
	var consoleErrors []string
	require.NoError(t, chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				consoleErrors = append(consoleErrors, "console."+string(ev.Type))
			}
		case *runtime.EventExceptionThrown:
			consoleErrors = append(consoleErrors, "exception: "+ev.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				consoleErrors = append(consoleErrors, "log: "+ev.Entry.Text)
			}
		}
	}), "starting Chromium")
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/links/"+link.ID),
		chromedp.WaitVisible(chromedp.CSS("#totals")),
	), "loading the dashboard")
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return s
	}
	number := func(js string) float64 {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](js))
		require.NoError(t, err, js)
		return v
	}
	points, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("svg polyline.clicks"), "points"))
	require.NoError(t, err)
	screenshot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	require.NoError(t, err)

	shot := filepath.Join(t.TempDir(), "dashboard.png")
	require.NoError(t, os.WriteFile(shot, screenshot, 0o644))
	t.Logf("screenshot: %s (%d bytes)", shot, len(screenshot))
	assert.Greater(t, len(screenshot), 1000, "a screenshot of a page, not an empty image")

	assert.Equal(t, fmt.Sprint(st.Clicks), text("#clicks"), "the page shows the API's clicks")
	assert.Equal(t, fmt.Sprint(st.UniqueClicks), text("#unique"), "the page shows the API's unique clicks")
	assert.Contains(t, text("#minute-caption"), fmt.Sprintf("%d clicks in the last hour", st.Minutes.Clicks))
	assert.Equal(t, 2.0, number(`document.querySelectorAll("svg").length`), "a chart per minute and one per hour")
	assert.Len(t, strings.Fields(points.Value), 60, "a point for every minute of the hour")
	assert.Greater(t, number(`document.querySelector("svg polyline.clicks").getTotalLength()`), 600.0, "the line is drawn across the chart")
	assert.Less(t, number(`Math.min(...Array.from(document.querySelector("svg polyline.clicks").points, p => p.y))`), 176.0,
		"the line rises above the baseline where the clicks are")
	assert.Greater(t, number(`document.querySelector("svg").getBoundingClientRect().width`), 100.0, "the chart has a size on the page")
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, consoleErrors, "the page logs no error")
}
