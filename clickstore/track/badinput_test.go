package track_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/retention"
)

// okHandler answers 200 and counts the requests it serves.
type okHandler struct{ served int }

func (h *okHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.served++
	w.WriteHeader(http.StatusOK)
}

// A nil Tracker, or one not made by New, does not panic: Track fails,
// Stats are zero, Middleware is an error, and its handlers serve the
// requests uncounted and say so in slog.Default's log.
func TestUnusableTracker(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	for _, tt := range []struct {
		name  string
		t     *track.Tracker
		fault string
	}{
		{name: "nil", t: nil, fault: "nil *Tracker"},
		{name: "zero", t: new(track.Tracker), fault: "Tracker not made by New"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			r := request("GET", "198.51.100.7:1", firefox)
			require.NotPanics(t, func() {
				v := tt.t.Track(r, "go/198.51.100.7", clickstore.KindClick)
				assert.Equal(t, track.Failed, v.Outcome)
				assert.Empty(t, v.Link, "no masker: the link is not handed back")
				assert.Equal(t, track.Stats{}, tt.t.Stats())
			})
			var err error
			require.NotPanics(t, func() {
				_, err = tt.t.Middleware(func(*http.Request) (string, clickstore.Kind, bool) { return "l", clickstore.KindClick, true })
			})
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "track: Tracker.Middleware: "), err.Error())
			assert.Contains(t, err.Error(), tt.fault)

			for _, wrap := range []func(http.Handler) http.Handler{tt.t.Handler, tt.t.ConversionHandler} {
				next := &okHandler{}
				mux := http.NewServeMux()
				mux.Handle("GET /go/{link}", wrap(next))
				w := httptest.NewRecorder()
				require.NotPanics(t, func() { mux.ServeHTTP(w, httptest.NewRequest("GET", "/go/l", nil)) })
				assert.Equal(t, http.StatusOK, w.Code)
				assert.Equal(t, 1, next.served, "the request is served")
				w = httptest.NewRecorder()
				require.NotPanics(t, func() { wrap(nil).ServeHTTP(w, httptest.NewRequest("GET", "/go/l", nil)) })
				assert.Equal(t, http.StatusNotFound, w.Code, "a nil next is NotFoundHandler")
				require.NotPanics(t, func() { wrap(next).ServeHTTP(nil, nil) })
				assert.Equal(t, 1, next.served, "a nil writer and request are not handed on")
			}
			assert.Contains(t, logs.String(), "track: Tracker.Handler of a "+tt.fault)
		})
	}
}

// The tracker's handlers, handed a nil ResponseWriter or Request (as no
// server does, but a caller's code may), neither panic nor call the
// wrapped handler: the request is counted as a build failure, logged,
// and answered 500 when there is a writer.
func TestHandlerNilWriterOrRequest(t *testing.T) {
	var logs bytes.Buffer
	e := newTrackEnv(t, &track.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	mw, err := e.tracker.Middleware(func(*http.Request) (string, clickstore.Kind, bool) { return "l", clickstore.KindClick, true })
	require.NoError(t, err)
	next := &okHandler{}
	handlers := map[string]http.Handler{
		"Handler":           e.tracker.Handler(next),
		"ConversionHandler": e.tracker.ConversionHandler(next),
		"Middleware":        mw(next),
	}
	failures := uint64(0)
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			r := request("GET", "198.51.100.7:1", firefox)
			require.NotPanics(t, func() { h.ServeHTTP(nil, r) }, "nil writer")
			w := httptest.NewRecorder()
			require.NotPanics(t, func() { h.ServeHTTP(w, nil) }, "nil request")
			assert.Equal(t, http.StatusInternalServerError, w.Code)
			require.NotPanics(t, func() { h.ServeHTTP(nil, nil) }, "neither")
			failures += 3
			assert.Equal(t, failures, e.tracker.Stats().BuildFailures)
		})
	}
	assert.Zero(t, next.served, "the wrapped handler never gets a nil writer or request")
	assert.Empty(t, e.sink.all())
	assert.Contains(t, logs.String(), "nil http.ResponseWriter or *http.Request")
}

// Options that no tracker can work with are errors from New, which say
// what is wrong without quoting the value: an agent cache too big to
// allocate (math.MaxInt made New loop for ever doubling the table's size
// past overflow, 1<<40 asked for terabytes), and a PathValue that no
// ServeMux wildcard can be named (Handler would count nothing).
func TestNewRefusesUnworkableOptions(t *testing.T) {
	e := newTrackEnv(t, nil)
	b := newTestBuilder(t)
	tests := []struct {
		name    string
		opts    track.Options
		wantErr string
	}{
		{name: "agent cache of MaxInt", opts: track.Options{AgentCache: math.MaxInt}, wantErr: "track: New: AgentCache " + strconv.Itoa(math.MaxInt) + " is more than " + strconv.Itoa(track.MaxAgentCache)},
		{name: "agent cache of 1<<40", opts: track.Options{AgentCache: 1 << 40}, wantErr: "track: New: AgentCache 1099511627776 is more than " + strconv.Itoa(track.MaxAgentCache)},
		{name: "path value in braces", opts: track.Options{PathValue: "{link}"}, wantErr: "track: New: PathValue (6 bytes) is not a wildcard name (a Go identifier)"},
		{name: "path value with dots", opts: track.Options{PathValue: "link..."}, wantErr: "track: New: PathValue (7 bytes) is not a wildcard name (a Go identifier)"},
		{name: "path value spelling an address", opts: track.Options{PathValue: "198.51.100.7"}, wantErr: "track: New: PathValue (12 bytes) is not a wildcard name (a Go identifier)"},
		{name: "path value of 1 MiB", opts: track.Options{PathValue: strings.Repeat("l", 1<<20) + "."}, wantErr: "track: New: PathValue (1048577 bytes) is not a wildcard name (a Go identifier)"},
		{name: "path value not UTF-8", opts: track.Options{PathValue: "l\xff"}, wantErr: "track: New: PathValue (2 bytes) is not a wildcard name (a Go identifier)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := track.New(b, e.store, e.sink, &tt.opts)
			assert.EqualError(t, err, tt.wantErr)
			assert.Nil(t, tr)
		})
	}
	for _, ok := range []track.Options{{AgentCache: track.MaxAgentCache}, {PathValue: "linkID_2"}, {PathValue: "ß"}} {
		tr, err := track.New(b, e.store, e.sink, &ok)
		require.NoError(t, err)
		assert.NotNil(t, tr)
	}
}

// A Builder that cannot build (its keyring closed, or one not made by
// NewBuilder) makes every click Failed: that is logged, once per burst,
// with no address in the line, not only counted; a link too long to
// build, the visitor's doing, is counted and not logged.
func TestBuildFailuresAreLogged(t *testing.T) {
	for _, tt := range []struct {
		name    string
		builder func(t *testing.T) *clickstore.Builder
		want    string
	}{
		{name: "closed keyring", builder: func(t *testing.T) *clickstore.Builder {
			kr, err := retention.NewKeyring(nil)
			require.NoError(t, err)
			b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
			require.NoError(t, err)
			require.NoError(t, kr.Close())
			return b
		}, want: "retention"},
		{name: "zero builder", builder: func(*testing.T) *clickstore.Builder { return new(clickstore.Builder) }, want: "not made by NewBuilder"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			e := newTrackEnv(t, nil)
			tr, err := track.New(tt.builder(t), e.store, e.sink, &track.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: e.now})
			require.NoError(t, err)
			for range 3 {
				v := tr.Track(request("GET", "198.51.100.7:1", firefox), "go/198.51.100.7", clickstore.KindClick)
				require.Equal(t, track.Failed, v.Outcome)
			}
			assert.Equal(t, uint64(3), tr.Stats().BuildFailures)
			assert.Equal(t, 1, strings.Count(logs.String(), "track: the click could not be built"), "once for the burst:\n%s", logs.String())
			assert.Contains(t, logs.String(), tt.want)
			ipmasktest.AssertNoRawIP(t, ipmask.Default, logs.String(), "the log")
		})
	}
	var logs bytes.Buffer
	e := newTrackEnv(t, &track.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	v := e.tracker.Track(request("GET", "198.51.100.7:1", firefox), strings.Repeat("l", clickstore.MaxLinkLen+1), clickstore.KindClick)
	require.Equal(t, track.Failed, v.Outcome)
	assert.Empty(t, logs.String(), "a bad link is the visitor's, not a failure to log")
}

// flakySink fails every other Add, so that the tracker's burst logs flip
// between failing and working under concurrency.
type flakySink struct{ n, failed atomic.Uint64 }

func (s *flakySink) Add(context.Context, clickstore.Click, clickstore.Uniqueness) error {
	if s.n.Add(1)%2 == 0 {
		s.failed.Add(1)
		return errors.New("sink: down for 198.51.100.7")
	}
	return nil
}

// A Tracker is safe for concurrent use, as its doc says: its handlers,
// Track, conversions and Stats at once, with a Sink that fails every
// other call (run with -race). Every request ends in one outcome, every
// Add is counted once, and no log line holds an address.
func TestTrackerConcurrentUse(t *testing.T) {
	const workers, perWorker = 4, 150
	var logs testlog.Buffer
	sink := &flakySink{}
	e := newTrackEnv(t, nil)
	tr, err := track.New(newTestBuilder(t), e.store, sink, &track.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: e.now})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusFound) })))
	mux.Handle("GET /px/{link}", tr.ConversionHandler(nil)) // 404: not served, not counted
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				remote := fmt.Sprintf("198.51.%d.%d:1", w, 1+i%50)
				switch i % 3 {
				case 0:
					r := request("GET", remote, firefox)
					r.URL.Path = "/go/l" + strconv.Itoa(i%5)
					mux.ServeHTTP(httptest.NewRecorder(), r)
				case 1:
					tr.Track(request("GET", remote, firefox), "", clickstore.KindConversion)
				default:
					r := request("GET", remote, firefox)
					r.URL.Path = "/px/l1"
					mux.ServeHTTP(httptest.NewRecorder(), r)
					_ = tr.Stats()
				}
			}
		})
	}
	wg.Wait()
	st := tr.Stats()
	const each = workers * perWorker / 3
	assert.Equal(t, uint64(each), st.Clicks)
	assert.Equal(t, st.Clicks, st.Unique+st.Repeat+st.UniqueUnknown)
	assert.Equal(t, uint64(each), st.Conversions+st.Unattributed)
	assert.Equal(t, uint64(each), st.Unserved)
	assert.Equal(t, sink.n.Load(), st.Clicks+st.Conversions, "one Add per click and conversion")
	assert.Equal(t, sink.failed.Load(), st.SinkFailures)
	assert.Contains(t, logs.String(), "track: the sink failed")
	ipmasktest.AssertNoRawIP(t, ipmask.Default, logs.String(), "the log")
}

// A nil pointer in the Store or Sink interface (a nil *clickstore.Memory,
// a nil *aggregate.Rollup) is as nil as a nil interface: New says so,
// rather than a tracker whose every click fails in the store or sink.
func TestNewTypedNilStoreOrSink(t *testing.T) {
	e := newTrackEnv(t, nil)
	b := newTestBuilder(t)
	_, err := track.New(b, (*clickstore.Memory)(nil), e.sink, nil)
	assert.EqualError(t, err, "track: New: nil clickstore.Store (a nil *clickstore.Memory)")
	_, err = track.New(b, e.store, (*aggregate.Rollup)(nil), nil)
	assert.EqualError(t, err, "track: New: nil clickstore.Sink (a nil *aggregate.Rollup)")
}

// A link a visitor names may hold an address percent-encoded where the
// server's one decoding of the path leaves it so (/out/198%252E51...
// arrives as 198%2E51...), or encoded more: it is masked as a plain one
// is, the encoded part replaced by its decoded text masked and escaped
// again, whichever stage of decoding shows the address; a link without an
// address keeps its encoding.
func TestTrackLinksHoldNoPercentEncodedAddress(t *testing.T) {
	e := newTrackEnv(t, nil)
	tests := []struct{ name, link, want string }{
		{name: "dots encoded", link: "out/198%2E51%2E100%2E77", want: "out/198.51.100.0"},
		{name: "digits encoded", link: "out/%31%39%38.51.100.77/x", want: "out/%31%39%38.51.100.0/x"}, // masked as 38.51.100.77 first: decoded, 198.51.100.0
		// logmask reads a colon encoded twice and masks the address in
		// place, its colons written as they were.
		{name: "ipv6 colons encoded twice", link: "out/2001%253Adb8%253A1%253A2%253A%253A7", want: "out/2001%253Adb8%253A1%253A%253A"},
		{name: "a whole url encoded, its address twice", link: "out/https%3A%2F%2Fexample.com%2F%3Fip%3D198%252E51%252E100%252E77", want: "out/https:%2F%2Fexample.com%2F%3Fip=198.51.100.0"},
		// This decodes to %30%25%37%30%3A%25%33%41%31, then to 0%70:%3A1,
		// which logmask reads as 70::1 (a store refuses it), and then to
		// 0p::1, which holds none.
		{name: "an address at one stage of decoding only", link: "out/%2530%2525%2537%2530%253A%2525%2533%2541%2531", want: "out/0p::1"},
		{name: "no address", link: "out/100%25-off%2Fsale", want: "out/100%25-off%2Fsale"},
		{name: "a stray percent sign", link: "out/50%-off", want: "out/50%-off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := e.tracker.Track(request("GET", "203.0.113.9:1", firefox), tt.link, clickstore.KindClick)
			assert.Equal(t, track.Counted, v.Outcome)
			assert.Equal(t, tt.want, v.Link)
		})
	}
	for _, a := range e.sink.all() {
		assert.NoError(t, a.Click.Validate())
		ipmasktest.AssertNoRawIP(t, ipmask.Default, a.Click.Link)
	}
}

// A bot label or device class that holds an address percent-encoded is
// not kept, as one that holds it plainly is not: the bot label becomes
// LabelBot, the device class "".
func TestTrackLabelsHoldNoPercentEncodedAddress(t *testing.T) {
	const encoded = "model-198%2E51%2E100%2E77"
	e := newTrackEnv(t, &track.Options{
		Classify: func(string) track.Agent { return track.Agent{Bot: "bot/" + encoded} },
		Enrich:   func(*http.Request, netip.Addr) track.Attributes { return track.Attributes{Device: encoded} },
	})
	v := e.tracker.Track(request("GET", "203.0.113.9:1", firefox), "l", clickstore.KindClick)
	require.Equal(t, track.Counted, v.Outcome)
	assert.Equal(t, track.LabelBot, v.Bot)
	adds := e.sink.all()
	require.Len(t, adds, 1)
	assert.Equal(t, track.LabelBot, adds[0].Click.Bot)
	assert.Empty(t, adds[0].Click.Device)
}

// A link far longer than any that can be kept (past 128 KiB: a 1 MiB
// path under /out/{link...}) is Failed without being masked or decoded,
// which costs milliseconds and a copy of it per request: no allocation,
// and no text of it handed back in the Visit.
func TestTrackHugeLinkIsNotRead(t *testing.T) {
	e := newTrackEnv(t, nil)
	r := request("GET", "203.0.113.9:1", firefox)
	for _, link := range []string{strings.Repeat("198.51.100.7/", 1<<16), strings.Repeat("%2E1", 1<<18)} {
		var v track.Visit
		allocs := testing.AllocsPerRun(10, func() { v = e.tracker.Track(r, link, clickstore.KindClick) })
		assert.Equal(t, track.Failed, v.Outcome)
		assert.Zero(t, len(v.Link), "no text of the link") // its length: the link is 1 MiB
		assert.Zero(t, allocs)
	}
	v := e.tracker.Track(r, strings.Repeat("l", 128<<10), clickstore.KindClick)
	assert.Equal(t, track.Failed, v.Outcome, "too long, once masked")
	assert.Equal(t, 128<<10, len(v.Link), "read, at the bound")
}

// Reading a link for percent-encoded addresses costs no allocation when
// it holds none: Track's promise (nothing allocated once the agent and
// the keys are cached) holds for encoded links too.
func TestTrackEncodedLinkAllocatesNothing(t *testing.T) {
	e := newTrackEnv(t, nil)
	r := request("GET", "203.0.113.9:1", firefox)
	for _, link := range []string{"out/https%3A%2F%2Fexample.com%2Fx", "out/100%25-off", "out/a%20b", "out/%2531%2539%2538"} {
		e.tracker.Track(r, link, clickstore.KindClick) // classifies the agent, makes the key
		allocs := testing.AllocsPerRun(50, func() { e.tracker.Track(r, link, clickstore.KindClick) })
		assert.Zero(t, allocs, link)
	}
}
