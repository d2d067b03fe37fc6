package routing_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// added is one Add the sink received.
type added struct {
	click clickstore.Click
	u     clickstore.Uniqueness
}

// sink records every Add.
type sink struct {
	mu   sync.Mutex
	adds []added
}

func (s *sink) Add(_ context.Context, c clickstore.Click, u clickstore.Uniqueness) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.adds = append(s.adds, added{c, u})
	return nil
}

func (s *sink) all() []added {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]added(nil), s.adds...)
}

func (s *sink) links() []string {
	var l []string
	for _, a := range s.all() {
		l = append(l, a.click.Link)
	}
	return l
}

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a tracker on a Memory store under a fake clock.
type env struct {
	clock   *clock
	builder *clickstore.Builder
	store   *clickstore.Memory
	sink    *sink
	tracker *track.Tracker
}

// newEnv builds a tracker on a Memory store of the given capacity (0: the
// default), under a fake clock, with the default masking policy.
func newEnv(t testing.TB, opts *track.Options, capacity int) *env {
	t.Helper()
	e := &env{clock: &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}, sink: &sink{}}
	kr, err := retention.NewKeyring(&retention.KeyringOptions{Now: e.clock.now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = kr.Close() })
	e.builder, err = clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	e.store, err = clickstore.NewMemory(&clickstore.MemoryOptions{Now: e.clock.now, Capacity: capacity})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.store.Close() })
	e.tracker = e.another(t, opts)
	return e
}

// another makes one more tracker on e's builder, store and sink.
func (e *env) another(t testing.TB, opts *track.Options) *track.Tracker {
	t.Helper()
	o := track.Options{}
	if opts != nil {
		o = *opts
	}
	o.Now = e.clock.now
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	tr, err := track.New(e.builder, e.store, e.sink, &o)
	require.NoError(t, err)
	return tr
}

// click tracks one click of addr with agent ua on link.
func (e *env) click(tr *track.Tracker, addr netip.Addr, ua, link string) track.Visit {
	r := req("GET", "/go/x", netip.AddrPortFrom(addr, 40000).String(), ua)
	return tr.Track(r, link, clickstore.KindClick)
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

// redirectAll answers every request with a redirect, known link or not.
var redirectAll = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "https://example.com/", http.StatusFound)
})
