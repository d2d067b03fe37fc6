package track

import (
	"bufio"
	"errors"
	"log/slog"
	"math/bits"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clickanon/clickanon/clickstore"
)

// LinkFunc says which link a request is a click on, or a conversion of, for
// [Tracker.Middleware]. It returns ok = false for a request that is
// neither; the middleware then passes it on untouched. For a conversion,
// link may be "" to attribute it to the latest click the Store holds of the
// visitor on any link (their first on each link: a repeat is counted, not held).
// It is called from many goroutines at once, after routing when the
// middleware is installed on a route, so it must be safe for concurrent
// use. The zero (nil) LinkFunc is refused by Middleware.
type LinkFunc func(r *http.Request) (link string, kind clickstore.Kind, ok bool)

// Handler returns a handler that serves each request with next and then,
// if next answered with a status below 400, counts it as a click on the
// link named by the path wildcard [Options].PathValue ("link" by default):
//
//	mux.Handle("GET /go/{link}", tracker.Handler(redirect))
//
// The link is read with r.PathValue after routing, so only requests that
// matched the route are tracked. Tracking after next answered is what keeps
// made-up links out of the store: next looks the link up anyway, and a
// 404 for an unknown link is not counted (see [Stats].Unserved). A route
// without the wildcard counts nothing. Routers that set path values the
// ServeMux way (chi does) work the same; for others, see
// [Tracker.Middleware]. A request whose route has no such wildcard (or an
// empty one) is served and not counted, and counted in [Stats].NoLink and
// logged, since that is a route set up wrong. A nil next is
// http.NotFoundHandler(). A nil ResponseWriter or Request, which net/http
// never hands a handler, is not served: it is counted in
// [Stats].BuildFailures, logged, and answered 500 when there is a writer.
//
// Inside an http.TimeoutHandler, a request whose handler writes its
// response after the deadline (the visitor got the 503) is not counted
// ([Stats].Unserved); one that writes only a status line past the
// deadline, with no body, cannot be told from an answered one. A handler
// that panics is not counted, nor one that hijacks the connection (with
// http.ResponseController or http.Hijacker): it answers on its own, in a
// status the tracker cannot see ([Stats].Unserved).
//
// The wrapped handler sees the request as it arrived. The click is counted
// once next returns, before the response is complete on the wire (the
// visitor waits for the tracker as long as the store takes to answer),
// with the request's context values but not its cancellation: a visitor
// who hangs up once answered is still counted. The Store and the Sink
// get a context of their own, which they may keep past the call.
func (t *Tracker) Handler(next http.Handler) http.Handler {
	return t.pathHandler(clickstore.KindClick, next)
}

// ConversionHandler is [Tracker.Handler] for conversions (a pixel, a
// sign-up): each request next serves with a status below 400 is counted as
// a conversion attributed to the visitor's click on the link named by the
// path wildcard, or, when the route has no such wildcard, to the latest click
// the Store holds of the visitor on any link (their first on each link: a
// repeat is counted, not held, so clicks on A, B, then A again convert on B).
// A conversion from a bot, a HEAD, an OPTIONS (a CORS preflight) or a
// prefetch (a browser prerendering the page the pixel is on, which the
// visitor may or may not then open)
// is counted and attributed as a click from one is: with its bot label
// (Visit.Bot, clickstore.Click.Bot), so statistics can tell it apart. A
// handler that wants none checks [BotLabel] first.
func (t *Tracker) ConversionHandler(next http.Handler) http.Handler {
	return t.pathHandler(clickstore.KindConversion, next)
}

func (t *Tracker) pathHandler(kind clickstore.Kind, next http.Handler) http.Handler {
	if next == nil {
		next = http.NotFoundHandler()
	}
	if fault := t.unusable(); fault != "" {
		return uncounted(fault, next)
	}
	name := t.opts.PathValue
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if w == nil || r == nil {
			t.notServed(w)
			return
		}
		link := r.PathValue(name)
		if link == "" && kind == clickstore.KindClick {
			// A route without the wildcard: most likely PathValue names
			// another one. Say so rather than count nothing in silence.
			if n := t.count(cNoLink); bits.OnesCount64(n) == 1 {
				t.logger.Warn("track: Tracker.Handler: the route has no path wildcard named by Options.PathValue; nothing is counted", "path_value", name, "requests", n)
			}
			next.ServeHTTP(w, r)
			return
		}
		t.serve(w, r, link, kind, next)
	})
}

// Middleware returns net/http middleware for routers that do not set path
// values: for each request link names, it serves the request with the
// wrapped handler and then, if that answered with a status below 400,
// counts it as Handler does. Requests link does not name pass through
// untouched. A nil link is an error.
func (t *Tracker) Middleware(link LinkFunc) (func(http.Handler) http.Handler, error) {
	if fault := t.unusable(); fault != "" {
		return nil, errors.New("track: Tracker.Middleware: " + fault)
	}
	if link == nil {
		return nil, errors.New("track: Tracker.Middleware: nil LinkFunc")
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			next = http.NotFoundHandler()
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if w == nil || r == nil {
				t.notServed(w)
				return
			}
			l, kind, ok := link(r)
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			t.serve(w, r, l, kind, next)
		})
	}, nil
}

// notServed answers a request handed to the tracker's handler with a nil
// writer or a nil request, which no handler can serve: it is counted as a
// build failure and logged, and answered 500 when there is a writer.
func (t *Tracker) notServed(w http.ResponseWriter) {
	if n := t.count(cBuildFailures); bits.OnesCount64(n) == 1 {
		t.logger.Warn("track: a handler of the tracker got a nil http.ResponseWriter or *http.Request; the request is not served and not counted", "requests", n)
	}
	if w != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}
}

// uncounted is the handler of a nil Tracker, or one not made by New:
// it serves each request with next and counts nothing, and says so in
// slog.Default's log (at the first, second, fourth... request), since
// such a tracker has no logger of its own.
func uncounted(fault string, next http.Handler) http.Handler {
	var n atomic.Uint64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := n.Add(1); bits.OnesCount64(c) == 1 {
			slog.Default().Warn("track: Tracker.Handler of a "+fault+": requests are served and not counted", "requests", c)
		}
		if w == nil || r == nil {
			if w != nil {
				http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serve serves r with next through a writer that notes the status, then
// tracks r if next served it.
func (t *Tracker) serve(w http.ResponseWriter, r *http.Request, link string, kind clickstore.Kind, next http.Handler) {
	sw := writers.Get().(*statusWriter)
	defer sw.release() // also when next panics: the pool must not keep w
	sw.ResponseWriter = w
	next.ServeHTTP(sw, r)
	sw.ResponseWriter = nil
	if sw.status >= http.StatusBadRequest || sw.timedOut || sw.hijacked {
		t.count(cUnserved)
		return
	}
	// The response is written: a client that hangs up now must not make
	// the store or the sink give up on the click. The context they get
	// is the request's without its cancellation, which they may keep
	// past the call (a queue, an exporter reading a trace ID later).
	t.track(detached{r}, r, link, kind)
}

// detached is context.WithoutCancel(r.Context()) without its allocation
// (which, on a click path that otherwise allocates nothing, cost a
// tracked click about 150 ns in collections): a struct of one pointer is
// held in an interface as it is. It reads the values of its own request,
// which is never pooled or reused, for as long as anyone keeps it, and
// has no deadline and no cancellation.
type detached struct{ r *http.Request }

func (detached) Deadline() (time.Time, bool) { return time.Time{}, false }
func (detached) Done() <-chan struct{}       { return nil }
func (detached) Err() error                  { return nil }
func (d detached) Value(key any) any         { return d.r.Context().Value(key) }

func (detached) String() string { return "track.detached" }

// writers recycles statusWriters: a handler must not use its
// ResponseWriter after it returns, so one is free again once next is done.
var writers = sync.Pool{New: func() any { return new(statusWriter) }}

// statusWriter notes the status a handler answers with. Unwrap lets
// http.ResponseController reach the connection's own writer (to flush or
// set deadlines); Flush is there for handlers that still assert
// http.Flusher, Hijack for those that assert http.Hijacker, and to note that
// the handler answers on its own.
type statusWriter struct {
	http.ResponseWriter
	status int // 0 until the handler writes; a response with no write is 200
	// timedOut is set when a write failed with http.ErrHandlerTimeout:
	// an http.TimeoutHandler around the tracker answered 503 instead.
	timedOut bool
	// hijacked is set once the handler took the connection over: what it
	// answers there, the tracker cannot see.
	hijacked bool
}

// release empties w, so that the pool holds no request's writer, and
// returns it to the pool.
func (w *statusWriter) release() {
	*w = statusWriter{}
	writers.Put(w)
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	if err != nil && errors.Is(err, http.ErrHandlerTimeout) {
		w.timedOut = true
	}
	return n, err
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack hands the connection over through the connection's own writer
// (an error wrapping http.ErrNotSupported where it cannot be hijacked, as
// in HTTP/2).
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
