package routing_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/retention"
)

type traceKey struct{}

// keepingSink keeps the context of every Add, as a sink that hands clicks
// to a goroutine does (a queue, an exporter that reads a trace ID from the
// context later).
type keepingSink struct {
	mu   sync.Mutex
	ctxs []context.Context
	ids  []string
}

func (s *keepingSink) Add(ctx context.Context, c clickstore.Click, _ clickstore.Uniqueness) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ctxs = append(s.ctxs, ctx)
	id, _ := ctx.Value(traceKey{}).(string)
	s.ids = append(s.ids, id)
	return nil
}

// The context the tracker hands the Sink is a context: its values are the
// request's, and stay so after the call returns, whatever requests the
// handler serves afterwards, with no cancellation, also once the request's
// own context is cancelled (the visitor hung up). Through Handler,
// ConversionHandler and Middleware.
func TestTheSinksContextStaysTheRequests(t *testing.T) {
	kr, err := retention.NewKeyring(nil)
	require.NoError(t, err)
	defer kr.Close()
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	store, err := clickstore.NewMemory(nil)
	require.NoError(t, err)
	defer store.Close()
	s := &keepingSink{}
	tr, err := track.New(b, store, s, nil)
	require.NoError(t, err)
	mw, err := tr.Middleware(func(r *http.Request) (string, clickstore.Kind, bool) {
		return "mw", clickstore.KindClick, r.URL.Path == "/mw"
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", tr.Handler(redirectAll))
	mux.Handle("GET /px/{link}", tr.ConversionHandler(redirectAll))
	mux.Handle("GET /mw", mw(redirectAll))
	traced := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(context.WithValue(r.Context(), traceKey{}, r.Header.Get("X-Trace")))
		cancel() // the visitor hangs up: the click is counted anyway
		mux.ServeHTTP(w, r.WithContext(ctx))
	})
	const n = 300
	for i := range n {
		path := [3]string{"/go/abc", "/px/abc", "/mw"}[i%3]
		r := req("GET", path, fmt.Sprintf("198.51.100.%d:1", 1+(i/3)%250), firefox) // a conversion after its click
		r.Header.Set("X-Trace", fmt.Sprint("trace-", i))
		require.Equal(t, http.StatusFound, serve(traced, r))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Len(t, s.ctxs, n)
	for i, ctx := range s.ctxs {
		assert.Equal(t, fmt.Sprint("trace-", i), s.ids[i], "Add %d, during the call", i)
		var got any
		assert.NotPanics(t, func() { got = ctx.Value(traceKey{}) }, "Add %d: the kept context's Value", i)
		assert.Equal(t, fmt.Sprint("trace-", i), got, "Add %d, after the call and %d more requests", i, n-1-i)
		assert.NoError(t, ctx.Err(), "Add %d", i)
		assert.Nil(t, ctx.Done(), "Add %d", i)
		if i < 10 { // printed, as a sink's debug log might: no form of the visitor's address
			ipmasktest.AssertNoRawIP(t, ipmask.Default, fmt.Sprintf("%v %+v %#v %s", ctx, ctx, ctx, ctx), "the kept context printed")
		}
	}
}
