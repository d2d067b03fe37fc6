package track_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/track"
)

// Inside http.TimeoutHandler, a handler that answers after the deadline
// answers no one: the visitor got the 503. Its late redirect is not a
// click.
func TestHandlerInsideTimeoutHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTrackEnv(t, nil)
		slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Has("slow") {
				time.Sleep(2 * time.Second) // the link lookup takes longer than the deadline
			}
			http.Redirect(w, r, "https://example.com/", http.StatusFound)
		})
		mux := http.NewServeMux()
		mux.Handle("GET /go/{link}", e.tracker.Handler(slow))
		done := make(chan struct{}, 2)
		h := http.TimeoutHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() { done <- struct{}{} }()
			mux.ServeHTTP(w, r)
		}), time.Second, "timeout")

		assert.Equal(t, http.StatusFound, get(h, "/go/spring-sale", "198.51.100.7:1", firefox))
		<-done
		assert.Equal(t, http.StatusServiceUnavailable, get(h, "/go/spring-sale?slow", "198.51.100.8:1", firefox))
		<-done // the handler has finished, and the tracker with it
		st := e.tracker.Stats()
		assert.Equal(t, uint64(1), st.Clicks, "the answered request only")
		assert.Equal(t, uint64(1), st.Unserved, "the late one is unserved")
		require.Len(t, e.sink.all(), 1)
	})
}

// A handler that panics is not counted, and the tracker's pooled writer
// lets go of the request's writer all the same.
func TestHandlerPanics(t *testing.T) {
	e := newTrackEnv(t, nil)
	var seen http.ResponseWriter
	h := e.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = w
		panic(http.ErrAbortHandler)
	}))
	r := httptest.NewRequest("GET", "/go/abc", nil)
	r.SetPathValue("link", "abc")
	r.RemoteAddr = "198.51.100.7:1"
	func() {
		defer func() { assert.Equal(t, http.ErrAbortHandler, recover()) }()
		h.ServeHTTP(httptest.NewRecorder(), r)
	}()
	assert.Equal(t, track.Stats{}, e.tracker.Stats())
	assert.Empty(t, e.sink.all())
	u, ok := seen.(interface{ Unwrap() http.ResponseWriter })
	require.True(t, ok)
	assert.Nil(t, u.Unwrap(), "the pooled writer still holds the request's writer, and through it the request")
}

// What the wrapped handler writes decides whether the click counts: the
// final status, not an informational one before it, and a response with
// no status written is a 200.
func TestHandlerStatusDecides(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		code    int
		counted bool
	}{
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://example.com/", http.StatusFound)
		}, http.StatusFound, true},
		{"nothing written", func(http.ResponseWriter, *http.Request) {}, http.StatusOK, true},
		{"flush only", func(w http.ResponseWriter, _ *http.Request) {
			_ = http.NewResponseController(w).Flush()
		}, http.StatusOK, true},
		{"early hints, then a redirect", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("Location", "https://example.com/")
			w.WriteHeader(http.StatusFound)
		}, http.StatusFound, true},
		{"early hints, then not found", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusNotFound)
		}, http.StatusNotFound, false},
		{"gone", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) }, http.StatusGone, false},
		{"a second status is ignored", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusFound)
		}, http.StatusNotFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTrackEnv(t, nil)
			mux := http.NewServeMux()
			mux.Handle("GET /go/{link}", e.tracker.Handler(tt.handler))
			srv := httptest.NewServer(mux) // a real connection: 1xx and flushes go on the wire
			t.Cleanup(srv.Close)
			client := srv.Client()
			client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := client.Get(srv.URL + "/go/abc")
			require.NoError(t, err)
			_, err = io.Copy(io.Discard, resp.Body) // the body ends once the handler, and the tracker, returned
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, tt.code, resp.StatusCode)
			st := e.tracker.Stats()
			if tt.counted {
				assert.Equal(t, uint64(1), st.Clicks)
				assert.Zero(t, st.Unserved)
			} else {
				assert.Zero(t, st.Clicks)
				assert.Equal(t, uint64(1), st.Unserved)
			}
		})
	}
}
