package track_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/track"
)

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
