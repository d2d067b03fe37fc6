package tracking_test

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// sink records every Add, in order.
type sink struct {
	mu        sync.Mutex
	links     []string
	us        []clickstore.Uniqueness
	countries []string
}

func (s *sink) Add(_ context.Context, c clickstore.Click, u clickstore.Uniqueness) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.links = append(s.links, c.Link)
	s.us = append(s.us, u)
	s.countries = append(s.countries, c.Country)
	return nil
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.links)
}

type env struct {
	mu      sync.Mutex
	clock   time.Time
	store   *clickstore.Memory
	sink    *sink
	tracker *track.Tracker
}

func (e *env) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clock
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.clock = e.clock.Add(d)
	e.mu.Unlock()
}

// newEnv builds a tracker on a Memory store of the given capacity (0: the
// default), under a fake clock, with the default masking policy.
func newEnv(t testing.TB, opts *track.Options, capacity int) *env {
	t.Helper()
	return newEnvSink(t, opts, capacity, nil)
}

// newEnvSink is newEnv counting in s instead of e.sink, when s is not nil.
func newEnvSink(t testing.TB, opts *track.Options, capacity int, s clickstore.Sink) *env {
	t.Helper()
	return newEnvPolicy(t, opts, capacity, s, ipmask.Default)
}

// newEnvPolicy is newEnvSink with a Builder masking by p.
func newEnvPolicy(t testing.TB, opts *track.Options, capacity int, s clickstore.Sink, p ipmask.Policy) *env {
	t.Helper()
	e := &env{clock: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), sink: &sink{}}
	kr, err := retention.NewKeyring(&retention.KeyringOptions{Now: e.now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = kr.Close() })
	b, err := clickstore.NewBuilder(p, kr, nil)
	require.NoError(t, err)
	e.store, err = clickstore.NewMemory(&clickstore.MemoryOptions{Now: e.now, Capacity: capacity})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.store.Close() })
	o := track.Options{}
	if opts != nil {
		o = *opts
	}
	o.Now = e.now
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if s == nil {
		s = e.sink
	}
	e.tracker, err = track.New(b, e.store, s, &o)
	require.NoError(t, err)
	return e
}

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

func req(method, target, remote, ua string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = remote
	if ua != "" {
		r.Header.Set("User-Agent", ua)
	}
	return r
}

// serve runs r through h and returns the status.
func serve(h http.Handler, r *http.Request) int {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
