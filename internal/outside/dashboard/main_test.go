package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/ltproc"
)

// bin is the linktracker binary, built once in TestMain.
var bin string

// The one browser of the package, started by the first test that needs
// it and stopped by TestMain.
var (
	browserOnce   sync.Once
	browserCtx    context.Context
	browserErr    error
	stopBrowser   = func() {}
	chromiumPath  string
	chromiumError string
)

func TestMain(m *testing.M) {
	var cleanup func()
	var err error
	if bin, cleanup, err = ltproc.Build(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	stopBrowser()
	cleanup()
	os.Exit(code)
}

// firefox is a person's browser; each visitor gets its own variant.
const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

var client = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

// tracker is one running linktracker.
type tracker struct{ *ltproc.Proc }

func start(t *testing.T, args ...string) tracker {
	t.Helper()
	return tracker{ltproc.Start(t, bin, append([]string{"-create-per-minute", "0", "-trusted-proxies", "127.0.0.0/8"}, args...)...)}
}

type answer struct {
	code   int
	header http.Header
	body   string
}

// send makes one request with hdr's headers (none: Go's user agent, a
// bot's).
func (p tracker) send(method, path string, hdr http.Header) answer {
	p.T.Helper()
	r, err := http.NewRequest(method, p.Base+path, nil)
	require.NoError(p.T, err)
	for k, v := range hdr {
		r.Header[k] = v
	}
	res, err := client.Do(r)
	require.NoError(p.T, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(p.T, err)
	return answer{res.StatusCode, res.Header, string(b)}
}

// create makes a link to target and returns its id.
func (p tracker) create(target string) string {
	p.T.Helper()
	b, err := json.Marshal(map[string]string{"url": target})
	require.NoError(p.T, err)
	r, err := http.NewRequest("POST", p.Base+"/api/links", strings.NewReader(string(b)))
	require.NoError(p.T, err)
	res, err := client.Do(r)
	require.NoError(p.T, err)
	defer res.Body.Close()
	var c struct{ ID string }
	require.Equal(p.T, http.StatusCreated, res.StatusCode)
	require.NoError(p.T, json.NewDecoder(res.Body).Decode(&c))
	require.NotEmpty(p.T, c.ID)
	return c.ID
}

type point struct {
	Start      time.Time `json:"start"`
	Clicks     uint64    `json:"clicks"`
	Unique     uint64    `json:"unique_clicks"`
	Suppressed bool      `json:"suppressed"`
}

type series struct {
	Step       string  `json:"step"`
	Clicks     uint64  `json:"clicks"`
	Suppressed uint64  `json:"suppressed_clicks"`
	Points     []point `json:"points"`
}

type cell struct {
	Value  string `json:"value"`
	Clicks uint64 `json:"clicks"`
}

type breakdown struct {
	Dimension  string `json:"dimension"`
	Values     []cell `json:"values"`
	Suppressed uint64 `json:"suppressed_clicks"`
}

type stats struct {
	ID          string      `json:"id"`
	URL         string      `json:"url"`
	Clicks      uint64      `json:"clicks"`
	Unique      uint64      `json:"unique_clicks"`
	Bots        uint64      `json:"bot_clicks"`
	Conversions uint64      `json:"conversions"`
	K           int         `json:"k"`
	Minutes     series      `json:"per_minute"`
	Hours       series      `json:"per_hour"`
	Breakdowns  []breakdown `json:"breakdowns"`
	Privacy     string      `json:"privacy"`
}

// stats reads a link's statistics with every bucket (as the dashboard
// draws them).
func (p tracker) stats(id string) stats {
	p.T.Helper()
	a := p.send("GET", "/api/links/"+id+"/stats?zeros=true", nil)
	for try := 0; a.code == http.StatusServiceUnavailable && try < 3; try++ {
		// The statistics get 2 s (4 -store-timeout) and a machine this
		// loaded can miss that: the API answers 503, and is asked again.
		a = p.send("GET", "/api/links/"+id+"/stats?zeros=true", nil)
	}
	require.Equal(p.T, http.StatusOK, a.code, a.body)
	var s stats
	require.NoError(p.T, json.Unmarshal([]byte(a.body), &s))
	return s
}

// findChromium is the Chromium binary, or "" and why not.
func findChromium() (string, string) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, ""
		}
	}
	return "", "no chromium, chromium-browser or google-chrome in PATH: install Chromium (apt-get install chromium) to test the dashboard in a browser"
}

// theBrowser starts the package's browser once; a test without one fails.
func theBrowser(t *testing.T) context.Context {
	t.Helper()
	browserOnce.Do(func() {
		if chromiumPath, chromiumError = findChromium(); chromiumPath == "" {
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(chromiumPath),
			chromedp.NoSandbox, // we run as root
			chromedp.DisableGPU,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.NoFirstRun,
			chromedp.WindowSize(900, 1400),
		)
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, cancelBrowser := chromedp.NewContext(actx)
		stopBrowser = func() { cancelBrowser(); cancelAlloc() }
		// The first action starts the browser: no timeout on it, which
		// would stop the browser when it ends.
		browserErr = chromedp.Do(bctx)
		browserCtx = bctx
	})
	if chromiumPath == "" {
		require.FailNow(t, chromiumError) // fail, not skip: the dashboard is untested without it
	}
	require.NoError(t, browserErr, "starting Chromium")
	return browserCtx
}

// tab is one browser tab and what it saw: console messages, responses,
// failed requests and dialogs.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu        sync.Mutex
	console   []string // every console message, log entry and exception, "type: text"
	errors    []string // those that are errors
	responses []*network.EventResponseReceived
	failed    []string
	dialogs   []string
}

// alertHook replaces the dialogs a script could open with recorders, in
// every document the tab loads, before its own scripts run.
const alertHook = `(() => {
	window.__ran = [];
	for (const f of ["alert", "confirm", "prompt", "print", "open"]) {
		window[f] = (...a) => { window.__ran.push(f + ":" + a.join(",")); };
	}
})();`

// newTab opens a tab with the alert hook, closed at the test's end.
func newTab(t *testing.T, scripts bool) *tab {
	t.Helper()
	bctx := theBrowser(t)
	tctx, cancel := chromedp.NewContext(bctx)
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: tctx}
	require.NoError(t, chromedp.Listen(tctx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			msg := string(ev.Type) + ": " + strings.Join(parts, " ")
			tb.console = append(tb.console, msg)
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				tb.errors = append(tb.errors, msg)
			}
		case *runtime.EventExceptionThrown:
			msg := "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			tb.console = append(tb.console, msg)
			tb.errors = append(tb.errors, msg)
		case *cdplog.EventEntryAdded:
			msg := "log " + string(ev.Entry.Level) + ": " + ev.Entry.Text + " " + ev.Entry.URL
			tb.console = append(tb.console, msg)
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				tb.errors = append(tb.errors, msg)
			}
		case *network.EventResponseReceived:
			tb.responses = append(tb.responses, ev)
		case *network.EventLoadingFailed:
			tb.failed = append(tb.failed, string(ev.Type)+": "+ev.ErrorText)
		case *page.EventJavascriptDialogOpening:
			tb.dialogs = append(tb.dialogs, string(ev.Type)+": "+ev.Message)
			go func() {
				_, _ = chromedp.Call(tctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		}
	}), "opening a tab")
	_, err := chromedp.Call(tctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: alertHook})
	require.NoError(t, err)
	if !scripts {
		_, err := chromedp.Call(tctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		require.NoError(t, err)
	}
	return tb
}

// reset forgets what the tab saw so far.
func (tb *tab) reset() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.console, tb.errors, tb.responses, tb.failed, tb.dialogs = nil, nil, nil, nil, nil
}

// open navigates to url and returns the main document's response.
func (tb *tab) open(url string) *network.Response {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	require.NoError(tb.t, err, "loading the page")
	require.NotNil(tb.t, res)
	return res
}

// eval evaluates js in the page into a T.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	require.NoError(tb.t, err, js)
	return v
}

// bodies is the body of every response the tab received since the last
// reset, as text.
func (tb *tab) bodies() []string {
	tb.t.Helper()
	tb.mu.Lock()
	rs := append([]*network.EventResponseReceived(nil), tb.responses...)
	tb.mu.Unlock()
	var out []string
	for _, r := range rs {
		ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
		b, err := chromedp.Call(ctx, network.GetResponseBody, network.GetResponseBodyParams{RequestID: r.RequestID})
		cancel()
		if err == nil {
			out = append(out, string(b.Body))
		}
	}
	return out
}

// seen is a copy of what the tab saw.
func (tb *tab) seen() (console, errors, failed, dialogs []string, responses []*network.EventResponseReceived) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.console...), append([]string(nil), tb.errors...), append([]string(nil), tb.failed...),
		append([]string(nil), tb.dialogs...), append([]*network.EventResponseReceived(nil), tb.responses...)
}
