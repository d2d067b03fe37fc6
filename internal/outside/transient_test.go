package outside_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// transientService is the README's tracker with the Memory store on the
// clock now (nil: the wall clock), a store capacity (0: the default), a
// click route and a conversion route, and no sweeper: the README says the
// store drops what expired on its own.
type transientService struct {
	store   *clickstore.Memory
	tracker *track.Tracker
	h       http.Handler
}

func newTransientService(t *testing.T, now func() time.Time, capacity int) *transientService {
	t.Helper()
	keyring, err := retention.NewKeyring(&retention.KeyringOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = keyring.Close() })
	b, err := clickstore.NewBuilder(ipmask.Default, keyring, nil)
	require.NoError(t, err)
	store, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: now, Capacity: capacity})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	stats, err := aggregate.New(nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = stats.Close() })
	tracker, err := track.New(b, store, stats, &track.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) })
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", tracker.Handler(ok))
	mux.Handle("GET /done/{link}", tracker.ConversionHandler(ok))
	return &transientService{store: store, tracker: tracker, h: mux}
}

// visit sends a browser's GET of path from client.
func (s *transientService) visit(client netip.Addr, path string) {
	r := browserRequest(path)
	r.RemoteAddr = netip.AddrPortFrom(client, 4711).String()
	s.h.ServeHTTP(httptest.NewRecorder(), r)
}

// TestNothingOutlivesItsWindow checks guarantee 4 on the whole tracker,
// from the outside, under synctest, with the store's default clock: a
// visitor's click is held until t+30m-1ns (a repeat, a conversion
// attributed) and not at t+30m (a conversion unattributed, a new unique);
// with no sweeper, the store has dropped it within a second after. With
// a clock of the caller's (MemoryOptions.Now) stepped forward a day, the
// clicks go at once: a jump never extends a lifetime. (A wall clock stepped
// back cannot be made from the outside under synctest, where the wall and
// monotonic clocks are one; a Now of the caller's that steps back decides
// lifetimes alone, as MemoryOptions.Now says.) Checked to fail: with the
// window's end taken one nanosecond later (the first sleep 30m), the
// repeat is a unique.
func TestNothingOutlivesItsWindow(t *testing.T) {
	for _, forward := range []bool{false, true} {
		t.Run(fmt.Sprintf("forward=%v", forward), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var now func() time.Time
				wall := &fakeWall{}
				if forward {
					now = wall.Now
				}
				s := newTransientService(t, now, 0)
				for _, v := range []netip.Addr{visitor4, visitor6} {
					s.visit(v, "/go/spring")
				}
				require.Equal(t, uint64(2), s.tracker.Stats().Unique)
				require.Equal(t, 2, s.store.Len())

				if forward {
					wall.Step(24 * time.Hour)
					s.visit(visitor4, "/go/spring")
					assert.Equal(t, uint64(3), s.tracker.Stats().Unique, "a day later by the store's clock")
					return
				}
				time.Sleep(30*time.Minute - time.Nanosecond)
				s.visit(visitor4, "/go/spring")
				s.visit(visitor6, "/done/spring")
				st := s.tracker.Stats()
				assert.Equal(t, uint64(1), st.Repeat, "held at t+30m-1ns")
				assert.Equal(t, uint64(1), st.Conversions, "attributed at t+30m-1ns")
				time.Sleep(time.Nanosecond) // t+30m
				s.visit(visitor6, "/done/spring")
				assert.Equal(t, uint64(1), s.tracker.Stats().Unattributed, "the click is not readable at t+30m")
				time.Sleep(time.Second)
				synctest.Wait()
				assert.Zero(t, s.store.Len(), "dropped within a second, with no sweeper")
				for c, err := range s.store.All(context.Background()) {
					require.NoError(t, err)
					t.Errorf("held past its window: %v", c)
				}
				s.visit(visitor4, "/go/spring")
				assert.Equal(t, uint64(3), s.tracker.Stats().Unique, "the visitor is unique again")
			})
		})
	}
}

// TestFullStoreRefuses checks guarantee 4's "a full store returns an
// error rather than evicting", through the tracker: with room for two
// clicks, a third visitor is counted with its uniqueness unknown and not
// held, and the first two are still held, so their repeats are repeats.
// Checked to fail: a store that evicted the oldest click would count the
// first visitor's repeat as unique.
func TestFullStoreRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTransientService(t, nil, 2)
		a, b, c := visitor4, visitor6, netip.MustParseAddr("203.0.113.50")
		s.visit(a, "/go/spring")
		s.visit(b, "/go/spring")
		s.visit(c, "/go/spring")
		st := s.tracker.Stats()
		assert.Equal(t, uint64(2), st.Unique)
		assert.Equal(t, uint64(1), st.UniqueUnknown)
		assert.Equal(t, uint64(1), st.StoreFull)
		assert.Equal(t, 2, s.store.Len())
		s.visit(a, "/go/spring")
		s.visit(b, "/go/spring")
		assert.Equal(t, uint64(2), s.tracker.Stats().Repeat, "nothing was evicted")
	})
}
