package tracking_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// answer is a handler for a link that does not exist, or one that does,
// answering in one of the ways real handlers answer.
type answer struct {
	name    string
	handler http.HandlerFunc
	counted bool // whether the visitor was told the link exists (a status below 400)
}

func statusAnswers() []answer {
	var as []answer
	for _, code := range []int{200, 201, 202, 204, 206, 300, 301, 302, 303, 304, 307, 308,
		400, 401, 403, 404, 405, 406, 409, 410, 418, 422, 429, 451, 499, 500, 501, 502, 503, 504, 599} {
		as = append(as, answer{fmt.Sprintf("WriteHeader %d", code), func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
		}, code < 400})
		if code >= 300 && code < 400 && code != 304 {
			as = append(as, answer{fmt.Sprintf("http.Redirect %d", code), func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://example.com/", code)
			}, true})
		}
		if code >= 400 {
			as = append(as, answer{fmt.Sprintf("http.Error %d", code), func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "no such link", code)
			}, false})
		}
	}
	return append(as,
		answer{"http.NotFound", http.NotFound, false},
		answer{"redirect to a not-found page", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "/404")
			w.WriteHeader(http.StatusNotFound)
		}, false},
		answer{"header set, nothing written", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Link", "none")
		}, true},
		answer{"404 written after a body", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "hello") // the visitor got a 200
			w.WriteHeader(http.StatusNotFound)
		}, true},
		answer{"404 after a flush", func(w http.ResponseWriter, _ *http.Request) {
			_ = http.NewResponseController(w).Flush() // the visitor got a 200
			w.WriteHeader(http.StatusNotFound)
		}, true},
		answer{"http.Flusher, then 404", func(w http.ResponseWriter, _ *http.Request) {
			w.(http.Flusher).Flush()
			w.WriteHeader(http.StatusNotFound)
		}, true},
		answer{"ServeContent", func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "x.txt", time.Time{}, strings.NewReader("hello"))
		}, true},
		answer{"ServeContent, range not satisfiable", func(w http.ResponseWriter, r *http.Request) {
			r.Header.Set("Range", "bytes=100-200")
			http.ServeContent(w, r, "x.txt", time.Time{}, strings.NewReader("hello"))
		}, false},
		answer{"ServeContent, not modified", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"x"`)
			r.Header.Set("If-None-Match", `"x"`)
			http.ServeContent(w, r, "x.txt", time.Time{}, strings.NewReader("hello"))
		}, true},
		answer{"io.Copy of a body", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.Copy(w, strings.NewReader(strings.Repeat("x", 100_000)))
		}, true},
		answer{"1xx then 404", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusNotFound)
		}, false},
		answer{"hijacked, answers 404 itself", func(w http.ResponseWriter, _ *http.Request) {
			c, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			_, _ = buf.WriteString("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			_ = buf.Flush()
			_ = c.Close()
		}, false},
		answer{"hijacked through http.Hijacker, answers 404 itself", func(w http.ResponseWriter, r *http.Request) {
			hj, ok := w.(http.Hijacker)
			if !ok { // the tracker hid the connection's Hijacker: answer so that this row fails
				http.Redirect(w, r, "https://example.com/", http.StatusFound)
				return
			}
			c, buf, err := hj.Hijack()
			if err != nil {
				panic(err)
			}
			_, _ = buf.WriteString("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			_ = buf.Flush()
			_ = c.Close()
		}, false},
		answer{"panics before writing", func(http.ResponseWriter, *http.Request) {
			panic(http.ErrAbortHandler)
		}, false},
		answer{"panics after a redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://example.com/", http.StatusFound)
			panic(http.ErrAbortHandler)
		}, false},
	)
}

// Whatever way a handler answers, over a real connection, with GET and
// HEAD: the click is counted exactly when the visitor was answered with a
// status below 400, so made-up links the handler refuses never reach the
// store or the counts.
func TestAnswersDecideOverRealConnections(t *testing.T) {
	for _, a := range statusAnswers() {
		for _, method := range []string{"GET", "HEAD"} {
			t.Run(a.name+" "+method, func(t *testing.T) {
				e := newEnv(t, nil, 0)
				done := make(chan struct{}, 1)
				mux := http.NewServeMux()
				mux.Handle("/go/{link}", e.tracker.Handler(a.handler))
				srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					defer func() { done <- struct{}{} }()
					mux.ServeHTTP(w, r)
				}))
				srv.Config.ErrorLog = discardLog()
				srv.Start()
				t.Cleanup(srv.Close)
				raw(t, srv.Listener.Addr().String(), method, "/go/made-up-link")
				<-done // the handler, and the tracker after it, have returned
				st := e.tracker.Stats()
				if a.counted {
					assert.Equal(t, uint64(1), st.Clicks)
					assert.Equal(t, 1, e.sink.count())
					if method == "GET" {
						assert.Equal(t, 1, e.store.Len(), "held in the store")
					} else {
						assert.Zero(t, e.store.Len(), "a HEAD is a bot's, never held")
					}
				} else {
					if !strings.HasPrefix(a.name, "panics") { // a panic is counted nowhere
						assert.Equal(t, uint64(1), st.Unserved, "Stats.Unserved")
					}
					assert.Zero(t, st.Clicks, "counted")
					assert.Zero(t, e.sink.count(), "in the sink")
					assert.Zero(t, e.store.Len(), "in the store")
				}
			})
		}
	}
}

// raw sends one request on its own connection and reads the answer's
// status line (or nothing, when the handler hung up).
func raw(t *testing.T, addr, method, path string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: links.example\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n", method, path, firefox)
	require.NoError(t, err)
	_, _ = bufio.NewReader(c).ReadString('\n')
}
