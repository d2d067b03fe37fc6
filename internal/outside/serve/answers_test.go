package serve_test

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
)

// content is what the ServeContent rows serve: a small file with an ETag.
var (
	content = strings.Repeat("0123456789", 10)
	modTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

func serveContent(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("ETag", `"v1"`)
	http.ServeContent(w, r, "x.txt", modTime, strings.NewReader(content))
}

// Every way a handler can answer a click, over a real connection: the
// click is counted exactly when the final status the client sees is below
// 400, once, and an interim 1xx answer decides nothing.
func TestEveryFinalStatusOverTheWire(t *testing.T) {
	type row struct {
		name    string
		handler http.HandlerFunc
		prep    func(r *http.Request)
		counted bool
	}
	var rows []row
	for _, code := range []int{300, 301, 302, 303, 307, 308} {
		rows = append(rows, row{name: "redirect " + strconv.Itoa(code), counted: true,
			handler: func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "https://example.com/", code) }})
	}
	for _, code := range []int{200, 201, 202, 203, 204, 205, 226, 304, 399} {
		rows = append(rows, row{name: "status " + strconv.Itoa(code), counted: true,
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }})
	}
	for _, code := range []int{400, 401, 403, 404, 405, 410, 416, 429, 451, 500, 502, 503, 599} {
		rows = append(rows, row{name: "status " + strconv.Itoa(code), counted: false,
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", code) }})
	}
	for _, interim := range []int{100, 102, 103} {
		for _, final := range []int{302, 404} {
			rows = append(rows, row{name: strconv.Itoa(interim) + " then " + strconv.Itoa(final), counted: final < 400,
				handler: func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Link", "</style.css>; rel=preload")
					w.WriteHeader(interim)
					w.WriteHeader(final)
				}})
		}
	}
	rows = append(rows,
		row{name: "ServeContent whole", handler: serveContent, counted: true},
		row{name: "ServeContent If-None-Match 304", handler: serveContent, counted: true,
			prep: func(r *http.Request) { r.Header.Set("If-None-Match", `"v1"`) }},
		row{name: "ServeContent If-Modified-Since 304", handler: serveContent, counted: true,
			prep: func(r *http.Request) {
				r.Header.Set("If-Modified-Since", modTime.Add(time.Hour).Format(http.TimeFormat))
			}},
		row{name: "ServeContent Range 206", handler: serveContent, counted: true,
			prep: func(r *http.Request) { r.Header.Set("Range", "bytes=0-9") }},
		row{name: "ServeContent multipart Range 206", handler: serveContent, counted: true,
			prep: func(r *http.Request) { r.Header.Set("Range", "bytes=0-9,20-29") }},
		row{name: "ServeContent unsatisfiable Range 416", handler: serveContent, counted: false,
			prep: func(r *http.Request) { r.Header.Set("Range", "bytes=1000-2000") }},
		row{name: "ServeContent If-Match 412", handler: serveContent, counted: false,
			prep: func(r *http.Request) { r.Header.Set("If-Match", `"v2"`) }},
		row{name: "redirect then ErrAbortHandler", counted: false, handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://example.com/", http.StatusFound)
			panic(http.ErrAbortHandler)
		}},
		row{name: "flushed redirect then panic", counted: false, handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://example.com/", http.StatusFound)
			http.NewResponseController(w).Flush()
			panic("boom")
		}},
	)
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, nil)
			mux := http.NewServeMux()
			mux.Handle("GET /go/{link}", g.tracker.Handler(tc.handler))
			srv := httptest.NewUnstartedServer(mux)
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the panics' stack traces
			srv.Start()
			defer srv.Close()
			r, err := http.NewRequest("GET", srv.URL+"/go/spring-sale", nil)
			require.NoError(t, err)
			r.Header.Set("User-Agent", chrome)
			if tc.prep != nil {
				tc.prep(r)
			}
			if resp, err := client().Do(r); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			srv.Close() // every handler has returned
			s := g.tracker.Stats()
			adds := g.sink.all()
			if tc.counted {
				assert.Equal(t, uint64(1), s.Clicks)
				assert.Equal(t, uint64(1), s.Unique)
				if assert.Len(t, adds, 1) {
					assert.Equal(t, "spring-sale", adds[0].click.Link)
					assert.Empty(t, adds[0].click.Bot, "a GET from a browser is a person's")
				}
			} else {
				assert.Zero(t, s.Clicks)
				assert.Empty(t, adds)
				if !strings.Contains(tc.name, "panic") && !strings.Contains(tc.name, "Abort") {
					assert.Equal(t, uint64(1), s.Unserved, "a status of 400 or more is counted in Unserved")
				}
			}
		})
	}
}

// A click sent with Expect: 100-continue and a body (a form posted to a
// tracked route) is counted once when the handler reads the body and
// redirects, and not at all when the handler refuses it without reading.
func TestExpectContinueWithABody(t *testing.T) {
	for _, tc := range []struct {
		name    string
		accept  bool
		size    int
		counted bool
	}{
		{"read small", true, 10, true},
		{"read 1 MiB", true, 1 << 20, true},
		{"refused small", false, 10, false},
		{"refused 1 MiB", false, 1 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, nil)
			var read int64
			mux := http.NewServeMux()
			mux.Handle("POST /go/{link}", g.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tc.accept {
					http.Error(w, "no", http.StatusExpectationFailed)
					return
				}
				read, _ = io.Copy(io.Discard, r.Body)
				http.Redirect(w, r, "https://example.com/thanks", http.StatusSeeOther)
			})))
			srv := httptest.NewServer(mux)
			defer srv.Close()
			tr := &http.Transport{ExpectContinueTimeout: 10 * time.Second}
			defer tr.CloseIdleConnections()
			c := client()
			c.Transport = tr
			r, err := http.NewRequest("POST", srv.URL+"/go/form", bytes.NewReader(make([]byte, tc.size)))
			require.NoError(t, err)
			r.Header.Set("Expect", "100-continue")
			r.Header.Set("User-Agent", chrome)
			if resp, err := c.Do(r); err == nil {
				_ = resp.Body.Close()
			}
			srv.Close()
			s := g.tracker.Stats()
			if tc.counted {
				assert.Equal(t, int64(tc.size), read)
				assert.Equal(t, uint64(1), s.Clicks)
				assert.Len(t, g.sink.all(), 1)
			} else {
				assert.Zero(t, s.Clicks)
				assert.Empty(t, g.sink.all())
			}
		})
	}
}

// A visitor who hangs up while the answer is on its way is counted once,
// as the docs say (counted once answered), whichever moment the client
// goes: after the headers, or halfway through a long body.
func TestClientHangsUpMidResponse(t *testing.T) {
	for _, tc := range []struct {
		name string
		body int // bytes the client reads before it hangs up
	}{{"after the headers", 0}, {"mid body", 4096}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, nil)
			done := make(chan struct{})
			inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "https://example.com/")
				w.WriteHeader(http.StatusFound)
				chunk := make([]byte, 1024)
				for r.Context().Err() == nil {
					if _, err := w.Write(chunk); err != nil {
						break
					}
					http.NewResponseController(w).Flush()
				}
			})
			tracked := g.tracker.Handler(inner)
			mux := http.NewServeMux()
			mux.Handle("GET /go/{link}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(done)
				tracked.ServeHTTP(w, r)
			}))
			srv := httptest.NewServer(mux)
			defer srv.Close()
			resp, err := client().Get(srv.URL + "/go/long")
			require.NoError(t, err)
			_, err = io.CopyN(io.Discard, resp.Body, int64(tc.body))
			require.NoError(t, err)
			_ = resp.Body.Close() // unread body: the connection is closed
			<-done
			s := g.tracker.Stats()
			assert.Equal(t, uint64(1), s.Clicks)
			assert.Len(t, g.sink.all(), 1)
		})
	}
}

var _ = track.Counted
var _ = clickstore.KindClick
