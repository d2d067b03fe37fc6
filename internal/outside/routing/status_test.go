package routing_test

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// answers are handlers answering in every way net/http lets one: the
// status is set by a 1xx first, by a superfluous WriteHeader, implicitly by
// Write, Flush or io.Copy, by ServeContent's ranges and conditionals, by a
// file server, a reverse proxy (which forwards 1xx and flushes), a
// wrapping middleware that hides the writer, a TimeoutHandler inside the
// route, and WriteHeader's largest code.
func answers(t *testing.T) map[string]http.Handler {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/404":
			http.NotFound(w, r)
		case "/302":
			http.Redirect(w, r, "https://example.com/", http.StatusFound)
		case "/103-404":
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			http.NotFound(w, r)
		case "/stream":
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: 1\n\n")
			http.NewResponseController(w).Flush()
		}
	}))
	t.Cleanup(backend.Close)
	proxyTo := func(path string) http.Handler {
		u, err := url.Parse(backend.URL)
		require.NoError(t, err)
		p := httputil.NewSingleHostReverseProxy(u)
		inner := p.Director
		p.Director = func(r *http.Request) { inner(r); r.URL.Path = path }
		return p
	}
	modTime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	content := func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "a.txt", modTime, strings.NewReader("hello, world"))
	}
	files := http.FileServerFS(fstest.MapFS{"a.txt": {Data: []byte("hello")}, "dir/b.txt": {Data: []byte("b")}})
	type hidden struct{ http.ResponseWriter } // a middleware's writer without Unwrap
	return map[string]http.Handler{
		"nothing":      http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		"103-then-404": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(103); http.NotFound(w, r) }),
		"103-then-302": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(103)
			http.Redirect(w, r, "/x", http.StatusFound)
		}),
		"103-only":       http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(103) }),
		"302-then-404":   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(302); w.WriteHeader(404) }),
		"404-then-302":   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404); w.WriteHeader(302) }),
		"write-then-404": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "x"); w.WriteHeader(404) }),
		"flush-then-404": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.(http.Flusher).Flush(); http.NotFound(w, r) }),
		"rcflush-then-404": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = http.NewResponseController(w).Flush()
			w.WriteHeader(404)
		}),
		"copy": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(w, strings.NewReader("body")) }),
		"copy-after-410": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(410)
			_, _ = io.Copy(w, strings.NewReader("gone"))
		}),
		"error-410":     http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusGone) }),
		"code-999":      http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(999) }),
		"code-399":      http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(399) }),
		"content":       http.HandlerFunc(content),
		"files-hit":     http.StripPrefix("/go/files-hit", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { r.URL.Path = "/a.txt"; files.ServeHTTP(w, r) })),
		"files-miss":    http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { r.URL.Path = "/nope.txt"; files.ServeHTTP(w, r) }),
		"files-dir":     http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { r.URL.Path = "/dir"; files.ServeHTTP(w, r) }),
		"proxy-404":     proxyTo("/404"),
		"proxy-302":     proxyTo("/302"),
		"proxy-103-404": proxyTo("/103-404"),
		"proxy-stream":  proxyTo("/stream"),
		"hidden-404": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(hidden{w}, r)
		}),
		"hidden-flush-404": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = http.NewResponseController(hidden{w}).Flush() // not supported: nothing sent
			http.NotFound(hidden{w}, r)
		}),
		"timeout-inside": http.TimeoutHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // until the TimeoutHandler gives up
		}), time.Millisecond, "late"),
	}
}

// Over real connections, HTTP/1.1 and HTTP/2: whatever way the wrapped
// handler answers, the tracker counts the request exactly when the status
// the client received is below 400, as Handler's documentation says.
func TestCountedExactlyWhenTheClientSawBelow400(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		t.Run(proto, func(t *testing.T) {
			e := newEnv(t, nil, 0)
			hs := answers(t)
			mux := http.NewServeMux()
			mux.Handle("/go/{link}", e.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hs[r.PathValue("link")].ServeHTTP(w, r)
			})))
			srv := httptest.NewUnstartedServer(mux)
			srv.EnableHTTP2 = proto == "HTTP/2"
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the superfluous WriteHeader calls
			srv.StartTLS()
			defer srv.Close()
			client := srv.Client()
			client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			variants := map[string][]http.Header{
				"content": {
					{},
					{"Range": {"bytes=0-1"}},
					{"Range": {"bytes=100-200"}}, // 416
					{"If-Modified-Since": {time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)}}, // 304
					{"If-Match": {`"nope"`}}, // 412
				},
			}
			for name := range hs {
				hdrs := variants[name]
				if hdrs == nil {
					hdrs = []http.Header{{}}
				}
				for _, h := range hdrs {
					before := e.tracker.Stats().Clicks
					r, err := http.NewRequestWithContext(context.Background(), "GET", srv.URL+"/go/"+name, nil)
					require.NoError(t, err)
					for k, v := range h {
						r.Header[k] = v
					}
					r.Header.Set("User-Agent", firefox)
					resp, err := client.Do(r)
					require.NoError(t, err, name)
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					assert.Equal(t, proto == "HTTP/2", resp.ProtoMajor == 2, name)
					// The tracker counts once next returns, before the response
					// ends on the wire; the body read above has ended it.
					got := e.tracker.Stats().Clicks - before
					want := uint64(0)
					if resp.StatusCode < 400 {
						want = 1
					}
					assert.Equal(t, want, got, "%s %v: the client saw %d", name, h, resp.StatusCode)
				}
			}
		})
	}
}

// The same over one HTTP/2 connection pool shared by goroutines sending at
// once, the handlers' writers recycled between them: the clicks counted
// are exactly the responses below 400 the clients received.
func TestCountedExactlyUnderConcurrentHTTP2(t *testing.T) {
	e := newEnv(t, nil, 0)
	hs := answers(t)
	delete(hs, "timeout-inside") // its timer is real time; the sequential test has it
	names := make([]string, 0, len(hs))
	for n := range hs {
		names = append(names, n)
	}
	mux := http.NewServeMux()
	mux.Handle("/go/{link}", e.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs[r.PathValue("link")].ServeHTTP(w, r)
	})))
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	const workers, per = 6, 60
	var below400 atomic.Uint64
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range per {
				name := names[(g*per+i)%len(names)]
				resp, err := client.Get(srv.URL + "/go/" + name)
				if !assert.NoError(t, err, name) {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				assert.Equal(t, 2, resp.ProtoMajor)
				if resp.StatusCode < 400 {
					below400.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, below400.Load(), e.tracker.Stats().Clicks)
	assert.Equal(t, uint64(workers*per)-below400.Load(), e.tracker.Stats().Unserved)
}
