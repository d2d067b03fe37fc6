package sweep_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/retention"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// t0 is where the fake clocks start: a time with no monotonic reading, so
// that stepping it back is a step of the only clock the store sees.
var t0 = time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)

// key is one visitor's clicks on one link: what a store holds once.
type key struct {
	visitor int
	link    string
}

// model is a transient store as the docs describe it: its clock is the
// latest time it has read (it never goes back); a click recorded when it
// reads t is first unless the same key is held with t' + W > t; a sweep at
// now destroys what expired at now or at the store's clock, whichever is
// later, and reports the age of the oldest click held at that instant.
type model struct {
	w    time.Duration
	high time.Time
	put  map[key]time.Time // clicks physically held, by when recorded
}

func newModel(w time.Duration, start time.Time) *model {
	return &model{w: w, high: start, put: map[key]time.Time{}}
}

// read is the store reading its clock.
func (m *model) read(now time.Time) {
	if now.After(m.high) {
		m.high = now
	}
}

func (m *model) record(k key, now time.Time) bool {
	m.read(now)
	if p, ok := m.put[k]; ok && p.Add(m.w).After(m.high) {
		return false
	}
	m.put[k] = m.high
	return true
}

// sweep returns the report a sweep at now must give.
func (m *model) sweep(now time.Time, storeNow time.Time) retention.SweepStats {
	m.read(storeNow)
	at := m.high
	if now.After(at) {
		at = now
	}
	var st retention.SweepStats
	var oldest time.Time
	for k, p := range m.put {
		if !p.Add(m.w).After(at) {
			delete(m.put, k)
			continue
		}
		st.Held++
		if oldest.IsZero() || p.Before(oldest) {
			oldest = p
		}
	}
	if st.Held > 0 {
		st.Oldest = at.Sub(oldest)
	}
	return st
}

// visible returns the keys a read at the store's clock shows.
func (m *model) visible() map[key]bool {
	out := map[key]bool{}
	for k, p := range m.put {
		if p.Add(m.w).After(m.high) {
			out[k] = true
		}
	}
	return out
}

// sweeperClocks are the clocks a Sweeper can be given, as functions of the
// store's clock reading now: the same clock, one that stalls at the start,
// ones behind and ahead by less than, exactly and more than the window, and
// one that runs three times as fast.
func sweeperClocks(w time.Duration) map[string]func(now time.Time) time.Time {
	c := map[string]func(time.Time) time.Time{
		"same":    func(now time.Time) time.Time { return now },
		"stalled": func(time.Time) time.Time { return t0 },
		"fast":    func(now time.Time) time.Time { return t0.Add(3 * now.Sub(t0)) },
	}
	for _, d := range []time.Duration{time.Nanosecond, time.Second, w - time.Nanosecond, w, w + time.Nanosecond, 3 * w} {
		c["behind "+d.String()] = func(now time.Time) time.Time { return now.Add(-d) }
		c["ahead "+d.String()] = func(now time.Time) time.Time { return now.Add(d) }
	}
	return c
}

// steps are the moves of the store's clock between sweeps.
func steps(w time.Duration) []time.Duration {
	return []time.Duration{0, time.Nanosecond, time.Second, w / 3, w - time.Nanosecond, w, w + time.Nanosecond, 2 * w}
}

// underTest is a store and what a model test needs of it.
type underTest struct {
	store clickstore.Store
	// held returns how many clicks the store physically holds, or false
	// if it cannot tell (Redis: its time index is what Sweep reports);
	// a store that can (Memory) reports in its sweeps every click that
	// expired, whoever destroyed it.
	held func() (int, bool)
}

// runModel drives a store with a clock stepped forward, back and not at
// all, by less than, exactly and more than the window, records clicks in
// between, and has a Sweeper on the given clock sweep it after each step;
// each sweep's report, through SweepNow, the OnSweep hook and Last, must
// be the model's exactly, and for a Memory the sweeps' Deleted must add up
// to what was recorded minus what is held (Records destroy expired clicks
// too: the next sweep reports them).
func runModel(t *testing.T, seed uint64, rounds int, sweeperAt func(time.Time) time.Time, open func(t *testing.T, clk *clickstoretest.Clock) underTest) {
	ctx := context.Background()
	w := 10 * time.Minute
	clk := clickstoretest.NewClock(t0)
	u := open(t, clk)
	// The store's clock starts when it first reads it: a Memory when it is
	// made, a Redis store at its first call. Read it once at t0 for both.
	_, err := u.store.Sweep(ctx, t0)
	require.NoError(t, err)
	mdl := newModel(w, t0)

	var hooked []retention.SweepStats
	sw, err := retention.NewSweeper(u.store, &retention.SweeperOptions{
		Now:     func() time.Time { return sweeperAt(clk.Now()) },
		OnSweep: func(st retention.SweepStats, err error) { assert.NoError(t, err); hooked = append(hooked, st) },
		Logger:  quiet,
	})
	require.NoError(t, err)

	rng := rand.New(rand.NewPCG(seed, 5))
	sizes := steps(w)
	firsts, deleted := 0, 0
	var trail []string
	for round := range rounds {
		d := sizes[rng.IntN(len(sizes))]
		if rng.IntN(3) == 0 {
			d = -d
		}
		clk.Advance(d)
		trail = append(trail, fmt.Sprint(d))
		for range rng.IntN(7) {
			k := key{rng.IntN(30), fmt.Sprint("l", rng.IntN(3))}
			first, err := u.store.Record(ctx, clickstoretest.Click(k.visitor, k.link, clk.Now()))
			require.NoError(t, err)
			want := mdl.record(k, clk.Now())
			require.Equal(t, want, first, "round %d, clock moves %v: first of %v", round, trail, k)
			if first {
				firsts++
			}
		}
		_, canTell := u.held()
		sweptAt := sweeperAt(clk.Now())
		want := mdl.sweep(sweptAt, clk.Now())
		st, err := sw.SweepNow(ctx)
		require.NoError(t, err)
		msg := fmt.Sprintf("round %d, clock moves %v", round, trail)
		assert.Equal(t, want.Held, st.Held, "%s: held", msg)
		assert.Equal(t, want.Oldest, st.Oldest, "%s: the oldest held click's age, exactly", msg)
		assert.Less(t, st.Oldest, w, "%s: nothing held is as old as the window", msg)
		require.NotEmpty(t, hooked)
		assert.Equal(t, st, hooked[len(hooked)-1], "%s: the hook reports what SweepNow returned", msg)
		at, last, lastErr := sw.Last()
		assert.True(t, at.Equal(sweptAt), "%s: Last is when the sweep started by the Sweeper's clock", msg)
		assert.Equal(t, st, last, msg)
		assert.NoError(t, lastErr, msg)
		deleted += st.Deleted
		if canTell {
			after, _ := u.held()
			assert.Equal(t, after, st.Held, "%s: Held is what the store holds", msg)
			assert.Equal(t, firsts, deleted+st.Held, "%s: what was recorded is what the sweeps report deleted plus what is held", msg)
		} else {
			// A Record may replace an expired click of its key, which no
			// sweep then reports: sweeps never report more than that.
			assert.LessOrEqual(t, deleted+st.Held, firsts, "%s: sweeps report no more than was recorded", msg)
		}

		vis := map[key]bool{}
		for c, err := range u.store.All(ctx) {
			require.NoError(t, err)
			i := visitorIndex(t, c.Visitor)
			vis[key{i, c.Link}] = true
		}
		assert.Equal(t, mdl.visible(), vis, "%s: what All shows", msg)
		if t.Failed() {
			return
		}
	}
}

// visitorIndex returns i for clickstoretest.Visitor(i), i below 30.
func visitorIndex(t *testing.T, v clickstore.Pseudonym) int {
	for i := range 30 {
		if clickstoretest.Visitor(i) == v {
			return i
		}
	}
	t.Fatalf("a click of a visitor never recorded")
	return -1
}

// A Memory on a stepped clock, swept by a Sweeper on every clock a user
// may give it: each sweep reports exactly what the model holds, the exact
// age of the oldest click held (never the window or more), what it
// destroyed, and what was recorded adds up to what was destroyed plus
// what is held. Run in a bubble whose time stands still, so the store's
// own timer does not destroy clicks behind the counts.
func TestMemorySweepReportsAreExact(t *testing.T) {
	pol, err := retention.NewPolicy(10*time.Minute, nil)
	require.NoError(t, err)
	for name, at := range sweeperClocks(pol.Window()) {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				runModel(t, uint64(len(name)), 150, at, func(t *testing.T, clk *clickstoretest.Clock) underTest {
					m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Policy: pol, Now: clk.Now})
					require.NoError(t, err)
					t.Cleanup(func() { _ = m.Close() })
					return underTest{store: m, held: func() (int, bool) { return m.Len(), true }}
				})
			})
		})
	}
}

// The same on redisstore.Store, on a real redis-server: each sweep's Held
// and Oldest are the model's exactly, whatever the sweeper's clock.
func TestRedisSweepReportsAreExact(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer client.Close()
	pol, err := retention.NewPolicy(10*time.Minute, nil)
	require.NoError(t, err)
	clocks := sweeperClocks(pol.Window())
	for _, name := range []string{"same", "stalled", "fast", "behind 10m0s", "ahead 1s", "ahead 9m59.999999999s", "ahead 30m0s"} {
		t.Run(name, func(t *testing.T) {
			runModel(t, uint64(len(name)), 40, clocks[name], func(t *testing.T, clk *clickstoretest.Clock) underTest {
				s, err := redisstore.New(context.Background(), client, &redisstore.Options{
					Prefix: "sweep-" + strings.ReplaceAll(name, " ", "-") + ":", Policy: pol, Now: clk.Now, Logger: quiet,
				})
				require.NoError(t, err)
				t.Cleanup(func() { _ = s.Close() })
				return underTest{store: s, held: func() (int, bool) { return 0, false }}
			})
		})
	}
}

// A Sweeper on every instance of a fleet sharing one Redis (the README:
// "Run a retention.Sweeper on the store on every instance; it is
// idempotent"), all sweeping at once after each clock step: each expired
// click is reported deleted by exactly one of them, every report's Held
// and Oldest are those of one instant of the sweep (never an age of the
// window or more), and what is left is exactly the model's.
func TestRedisFleetSweepsCountEachClickOnce(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer client.Close()
	ctx := context.Background()
	pol, err := retention.NewPolicy(10*time.Minute, nil)
	require.NoError(t, err)
	w := pol.Window()
	clk := clickstoretest.NewClock(t0)
	var fleet []*redisstore.Store
	var sweepers []*retention.Sweeper
	for range 4 {
		s, err := redisstore.New(ctx, client, &redisstore.Options{Prefix: "fleet:", Policy: pol, Now: clk.Now, Logger: quiet})
		require.NoError(t, err)
		defer s.Close()
		fleet = append(fleet, s)
		sw, err := retention.NewSweeper(s, &retention.SweeperOptions{Now: clk.Now, Logger: quiet})
		require.NoError(t, err)
		sweepers = append(sweepers, sw)
		_, err = s.Sweep(ctx, clk.Now()) // each store's clock starts at t0
		require.NoError(t, err)
	}
	mdl := newModel(w, t0)
	rng := rand.New(rand.NewPCG(4, 4))
	firsts, deleted := 0, 0
	for round := range 25 {
		for i := range 30 {
			k := key{rng.IntN(30), fmt.Sprint("l", rng.IntN(3))}
			first, err := fleet[i%len(fleet)].Record(ctx, clickstoretest.Click(k.visitor, k.link, clk.Now()))
			require.NoError(t, err)
			require.Equal(t, mdl.record(k, clk.Now()), first, "round %d", round)
			if first {
				firsts++
			}
		}
		for _, s := range fleet {
			require.NoError(t, s.Flush(ctx))
		}
		clk.Advance([]time.Duration{time.Second, w / 3, w - time.Nanosecond, w, 2 * w}[rng.IntN(5)])
		want := mdl.sweep(clk.Now(), clk.Now())
		got := sweepAtOnce(t, ctx, sweepers, 8)
		sum := 0
		for _, st := range got {
			sum += st.Deleted
			assert.GreaterOrEqual(t, st.Held, want.Held, "round %d", round)
			assert.Less(t, st.Oldest, w, "round %d", round)
		}
		deleted += sum
		st, err := sweepers[0].SweepNow(ctx)
		require.NoError(t, err)
		assert.Zero(t, st.Deleted, "round %d: nothing left to delete", round)
		assert.Equal(t, want.Held, st.Held, "round %d", round)
		assert.Equal(t, want.Oldest, st.Oldest, "round %d", round)
		// A Record replacing an expired click of its key deletes it
		// unreported; sweeps never report more than was recorded.
		assert.LessOrEqual(t, deleted+st.Held, firsts, "round %d: a click counted deleted twice", round)
		assert.Equal(t, mdl.visible(), visibleKeys(t, fleet[round%len(fleet)], 30), "round %d", round)
	}
}
