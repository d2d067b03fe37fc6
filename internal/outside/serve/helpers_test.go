package serve_test

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// got is one Add the sink received.
type got struct {
	click clickstore.Click
	u     clickstore.Uniqueness
}

// sink records every Add, safe for concurrent use. Like a database's
// driver, it refuses an Add whose context is done.
type sink struct {
	mu   sync.Mutex
	adds []got
}

func (s *sink) Add(ctx context.Context, c clickstore.Click, u clickstore.Uniqueness) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.adds = append(s.adds, got{c, u})
	return nil
}

func (s *sink) all() []got {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]got(nil), s.adds...)
}

// last returns the latest Add.
func (s *sink) last() got {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.adds) == 0 {
		return got{}
	}
	return s.adds[len(s.adds)-1]
}

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rig is a tracker on a Memory store and a recording sink, under a fake
// clock unless real is set.
type rig struct {
	clock   *fakeClock
	store   *clickstore.Memory
	sink    *sink
	tracker *track.Tracker
}

func newRig(t testing.TB, opts *track.Options) *rig {
	t.Helper()
	g := &rig{clock: &fakeClock{t: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}, sink: &sink{}}
	kr, err := retention.NewKeyring(&retention.KeyringOptions{Now: g.clock.now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = kr.Close() })
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	g.store, err = clickstore.NewMemory(&clickstore.MemoryOptions{Now: g.clock.now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.store.Close() })
	o := track.Options{}
	if opts != nil {
		o = *opts
	}
	o.Now = g.clock.now
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	g.tracker, err = track.New(b, g.store, g.sink, &o)
	require.NoError(t, err)
	return g
}

const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// client is an HTTP client that does not follow redirects, so that each
// request is one round trip.
func client() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
