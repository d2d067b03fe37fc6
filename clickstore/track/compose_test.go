package track_test

import (
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
