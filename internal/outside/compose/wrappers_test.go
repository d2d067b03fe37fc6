package compose_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/logmask"
	"github.com/clickanon/clickanon/retention"
)

// wrapper is one of net/http's own handler wrappers a service puts
// around its routes, each of which hands the next handler a copy of the
// request or a changed one.
type wrapper struct {
	wrap  func(http.Handler) http.Handler
	strip bool // it removes the /app prefix
}

var wrappers = map[string]wrapper{
	"AllowQuerySemicolons": {wrap: http.AllowQuerySemicolons},
	"StripPrefix":          {wrap: func(h http.Handler) http.Handler { return http.StripPrefix("/app", h) }, strip: true},
	"TimeoutHandler":       {wrap: func(h http.Handler) http.Handler { return http.TimeoutHandler(h, time.Minute, "timeout") }},
	"MaxBytesHandler":      {wrap: func(h http.Handler) http.Handler { return http.MaxBytesHandler(h, 1<<20) }},
	"all four": {wrap: func(h http.Handler) http.Handler {
		return http.MaxBytesHandler(http.TimeoutHandler(http.AllowQuerySemicolons(http.StripPrefix("/app", h)), time.Minute, "timeout"), 1<<20)
	}, strip: true},
}

// TestNetHTTPWrappersEverywhere checks guarantee 7 and "both orders count
// the same visitors" with each of net/http's request-copying wrappers
// (AllowQuerySemicolons, StripPrefix, TimeoutHandler, MaxBytesHandler,
// and all four) in each place a service puts one: in front of the masking
// middleware, between it and the router, and on the route inside the
// tracker with the middleware behind it; with a user's access log
// outermost through the logmask slog handler. Three visitors of one
// network, each twice, write their own address in the query
// (semicolon-separated, as AllowQuerySemicolons reads it), the path and a
// cookie: the route handler sees no form of it in RemoteAddr, the URL,
// RequestURI, the form it parses, the header or the context, the access
// log holds none, and the tracker counts three unique and three repeats.
// Checked to fail: with the wrapper in front of a middleware given
// NoRewrite, the handler sees the raw query; with the tracker behind a
// foreign masking wrapper (RemoteAddr masked), the three are not three.
func TestNetHTTPWrappersEverywhere(t *testing.T) {
	for wname, wr := range wrappers {
		for _, place := range []string{"outside the middleware", "between middleware and router", "inside the tracker"} {
			for fam, group := range groupOf {
				t.Run(fmt.Sprintf("%s/%s/%s", wname, place, fam), func(t *testing.T) {
					var logs testlog.Buffer
					mh, err := logmask.NewHandler(slog.NewTextHandler(&logs, nil), ipmask.Default, nil)
					require.NoError(t, err)
					log := slog.New(mh)
					keyring, err := retention.NewKeyring(&retention.KeyringOptions{Logger: log})
					require.NoError(t, err)
					defer keyring.Close()
					builder, err := clickstore.NewBuilder(ipmask.Default, keyring, nil)
					require.NoError(t, err)
					store, err := clickstore.NewMemory(nil)
					require.NoError(t, err)
					defer store.Close()
					stats, err := aggregate.New(nil)
					require.NoError(t, err)
					defer stats.Close()
					tracker, err := track.New(builder, store, stats, &track.Options{Logger: log})
					require.NoError(t, err)
					mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
					require.NoError(t, err)

					var mu sync.Mutex
					var seen strings.Builder
					final := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						_ = r.ParseForm() // a semicolon in the query is an error, unless AllowQuerySemicolons ran; the rest is parsed
						dump, _ := httputil.DumpRequest(r, false)
						mu.Lock()
						fmt.Fprintf(&seen, "%s\n%s\n%s\n%s\n%v\n%v\n%s\n%s\n", r.RemoteAddr, r.URL, r.URL.RawQuery, r.RequestURI, r.Form, r.Context(), r.PathValue("link"), dump)
						mu.Unlock()
						w.WriteHeader(http.StatusFound)
					})
					pattern := "GET /app/go/{link}"
					if wr.strip && place != "inside the tracker" {
						pattern = "GET /go/{link}"
					}
					mux := http.NewServeMux()
					var h http.Handler
					switch place {
					case "outside the middleware":
						mux.Handle(pattern, tracker.Handler(final))
						h = wr.wrap(mw(mux))
					case "between middleware and router":
						mux.Handle(pattern, tracker.Handler(final))
						h = mw(wr.wrap(mux))
					case "inside the tracker":
						mux.Handle(pattern, tracker.Handler(wr.wrap(mw(final))))
						h = mux
					}
					h = accessLog(log, h)

					for range 2 {
						for _, v := range group {
							s := v.String()
							target := "/app/go/" + url.PathEscape(s) + "?a=1;ip=" + url.QueryEscape(s) + ";b=%5B" + url.QueryEscape(s) + "%5D"
							r := httptest.NewRequest(http.MethodGet, target, nil)
							r.RemoteAddr = netip.AddrPortFrom(v, 51234).String()
							r.Header.Set("Cookie", "ip="+s)
							r.Header.Set("User-Agent", agent)
							w := httptest.NewRecorder()
							h.ServeHTTP(w, r)
							require.Equal(t, http.StatusFound, w.Code, w.Body.String())
						}
					}
					st := tracker.Stats()
					assert.Equal(t, uint64(3), st.Unique, "three visitors of one network are three")
					assert.Equal(t, uint64(3), st.Repeat)
					mu.Lock()
					defer mu.Unlock()
					assertNoForms(t, seen.String(), "what the route handler saw", group...)
					assertNoForms(t, logs.String(), "the access log", group...)
					for c, err := range store.All(t.Context()) {
						require.NoError(t, err)
						assertNoForms(t, c.Link, "a stored link", group...)
					}
				})
			}
		}
	}
}

// accessLog is a user's access log, outermost: it logs the request as it
// arrived and as it is once served.
func accessLog(l *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.Info("request", "remote", r.RemoteAddr, "method", r.Method, "uri", r.RequestURI, "url", r.URL, "header", r.Header)
		next.ServeHTTP(w, r)
		l.Info("served", "remote", r.RemoteAddr, "uri", r.RequestURI, "url", r.URL, "ctx", r.Context())
	})
}
