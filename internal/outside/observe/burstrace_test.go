package observe_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// gatedStore holds each Record until the test opens the gate, then fails
// those on the link "fail".
type gatedStore struct {
	*clickstore.Memory
	arrived *sync.WaitGroup
	gate    *chan struct{}
	mu      *sync.Mutex
}

func (s gatedStore) Record(ctx context.Context, c clickstore.Click) (bool, error) {
	s.mu.Lock()
	gate := *s.gate
	s.mu.Unlock()
	if gate != nil {
		s.arrived.Done()
		<-gate
	}
	if c.Link == "fail" {
		return false, canaryErr
	}
	if gate != nil {
		return true, nil // as quick as a failure
	}
	return s.Memory.Record(ctx, c)
}

// TestBurstEndsUnderConcurrentRequests races, round after round, one
// request whose store call fails against one whose store call succeeds
// (both held at the store until both are there, then let go together),
// after a failure that opened a burst. Whatever the order, a success
// alone afterwards must leave no burst open: a failure alone five seconds
// later starts a new burst and is logged at once. A burst that the race
// left open swallows that failure (it is within a minute of the burst's
// last line) and every failure for a minute after it, and its recovery
// is never logged: an outage nobody hears of. Checked to fail: on the
// tracker as it is (finding F4) it fails in about half the runs under
// -race (whose scheduling widens the window), seldom without; with the
// fix proposed for F4 it passed 8 runs of 8 under -race.
func TestBurstEndsUnderConcurrentRequests(t *testing.T) {
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	discard := slog.New(slog.DiscardHandler)
	kr, err := retention.NewKeyring(&retention.KeyringOptions{Now: now, Logger: discard})
	require.NoError(t, err)
	defer kr.Close()
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	mem, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: now, Capacity: 1 << 20})
	require.NoError(t, err)
	defer mem.Close()
	rollup, err := aggregate.New(nil)
	require.NoError(t, err)
	var arrived sync.WaitGroup
	var gate chan struct{}
	var mu sync.Mutex
	setGate := func(g chan struct{}) { mu.Lock(); gate = g; mu.Unlock() }
	var buf lockedBuf
	tr, err := track.New(b, gatedStore{mem, &arrived, &gate, &mu}, rollup, &track.Options{Now: now, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	require.NoError(t, err)
	var seq atomic.Uint64
	click := func(link string) {
		n := seq.Add(1)
		r := httptest.NewRequest("GET", "/c/"+link, nil)
		r.RemoteAddr = fmt.Sprintf("198.51.%d.%d:1", n/250%250, n%250+1)
		r.Header.Set("User-Agent", browserUA)
		tr.Track(r, link, clickstore.KindClick)
	}
	const racers = 6
	for round := range 500 {
		clock.Add(int64(2 * time.Minute)) // past the rate limit of the round before
		click("fail")                     // opens a burst
		g := make(chan struct{})
		setGate(g)
		arrived.Add(racers + 1)
		var wg sync.WaitGroup
		for range racers {
			wg.Go(func() { click("fail") })
		}
		wg.Go(func() { click("ok") })
		arrived.Wait()
		setGate(nil)
		close(g)
		wg.Wait()
		click("ok") // the burst is over, whatever the order above
		lines := len(buf.records(t))
		clock.Add(int64(5 * time.Second))
		click("fail")
		require.Greater(t, len(buf.records(t)), lines, "round %d: a failure after the burst ended was not logged:\n%s", round, buf.String())
		click("ok")
		buf.mu.Lock()
		buf.b.Reset()
		buf.mu.Unlock()
	}
}
