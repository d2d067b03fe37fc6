package sweep_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/retention"
)

// A Memory and a Sweeper running for minutes of bubble time on a store
// clock that, second by second, runs fast (a sixth of the window a
// second), stalls, and jumps forward and back by less than, exactly and
// more than the window: at every sweep Run makes (once at once, then
// once a second, no more, no less) the hook's Held and Oldest are
// exactly the model's and what the store holds (Len), the oldest age is
// below the window, the sweeps' Deleted add up to what was recorded minus
// what is held, and Last says when; once cancelled, Run returns the
// context's error and no goroutine is left. The Sweeper runs on the
// store's clock, on the default time.Now (the bubble's, years behind the
// store's), and on a clock ahead of the store's by less than the window.
func TestRunUnderSteppedClocks(t *testing.T) {
	w := 10 * time.Minute
	pol, err := retention.NewPolicy(w, nil)
	require.NoError(t, err)
	moves := []time.Duration{w / 6, w / 6, w / 6, 0, 0, time.Nanosecond, -time.Second, -(w - time.Nanosecond), -w, -(w + time.Nanosecond), w - time.Nanosecond, w, w + time.Nanosecond, 3 * w}
	const seconds = 240
	for _, sweeperClock := range []string{"store's", "default", "ahead"} {
		t.Run(sweeperClock, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				base := runtime.NumGoroutine()
				rng := rand.New(rand.NewPCG(uint64(len(sweeperClock)), 3))
				// offs[k] is the store's clock during second k of the
				// bubble: it changes only at whole seconds, when sweeps
				// and the store's timer run, so every reader of a second
				// reads the same time.
				offs := make([]time.Duration, seconds+2)
				for k := 1; k < len(offs); k++ {
					offs[k] = offs[k-1] + moves[rng.IntN(len(moves))]
				}
				start := time.Now()
				storeNow := func() time.Time {
					k := int(time.Since(start) / time.Second)
					return t0.Add(offs[min(k, len(offs)-1)])
				}
				m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Policy: pol, Now: storeNow})
				require.NoError(t, err)
				defer m.Close()

				var (
					mu      sync.Mutex
					mdl     = newModel(w, t0)
					reports int
					firsts  int
					deleted int
				)
				opts := &retention.SweeperOptions{Logger: quiet}
				switch sweeperClock {
				case "store's":
					opts.Now = storeNow
				case "ahead":
					opts.Now = func() time.Time { return storeNow().Add(w / 2) }
				}
				sweeperNow := func() time.Time {
					if opts.Now == nil {
						return time.Now()
					}
					return opts.Now()
				}
				var sw *retention.Sweeper
				opts.OnSweep = func(st retention.SweepStats, err error) {
					mu.Lock()
					defer mu.Unlock()
					reports++
					assert.NoError(t, err)
					now := sweeperNow()
					want := mdl.sweep(now, storeNow())
					msg := fmt.Sprintf("second %v, store clock %v", time.Since(start), offs[:min(int(time.Since(start)/time.Second)+1, len(offs))])
					assert.Equal(t, want.Held, st.Held, "%s: held", msg)
					assert.Equal(t, want.Oldest, st.Oldest, "%s: oldest age, exactly", msg)
					assert.Less(t, st.Oldest, w, msg)
					assert.Equal(t, m.Len(), st.Held, "%s: what the store holds", msg)
					deleted += st.Deleted
					assert.Equal(t, firsts, deleted+st.Held, "%s: recorded = reported deleted + held", msg)
				}
				sw, err = retention.NewSweeper(m, opts)
				require.NoError(t, err)

				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- sw.Run(ctx) }()
				time.Sleep(time.Second / 2)
				for sec := range seconds {
					for range rng.IntN(4) {
						k := key{rng.IntN(30), fmt.Sprint("l", rng.IntN(3))}
						mu.Lock()
						want := mdl.record(k, storeNow())
						first, err := m.Record(ctx, clickstoretest.Click(k.visitor, k.link, storeNow()))
						if first {
							firsts++
						}
						mu.Unlock()
						require.NoError(t, err)
						require.Equal(t, want, first, "second %d", sec)
					}
					at, _, _ := sw.Last()
					wantAt := sweeperNow()
					if opts.Now == nil {
						wantAt = start.Add(time.Since(start).Truncate(time.Second))
					}
					assert.True(t, at.Equal(wantAt), "Last: the sweep of this second")
					time.Sleep(time.Second)
				}
				cancel()
				cancel() // twice: harmless
				require.ErrorIs(t, <-done, context.Canceled)
				mu.Lock()
				assert.Equal(t, seconds+1, reports, "once at once and once a second")
				mu.Unlock()
				require.NoError(t, m.Close())
				synctest.Wait()
				assert.LessOrEqual(t, runtime.NumGoroutine(), base, "no goroutine left")
			})
		})
	}
}

// scripted is a Sweepable whose sweeps succeed, fail, panic, block past
// the interval or block until their context ends, as its plan says; it
// records when each started and how many ran at once.
type scripted struct {
	plan func(i int) string

	mu       sync.Mutex
	n        int
	inFlight int
	most     int
	starts   []time.Time
	ends     []time.Time
}

// count returns how many sweeps have started.
func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// errDown is the failing store's sentinel; its text carries an address.
var errDown = errors.New("dial tcp 198.51.100.7:6379: connect: connection refused")

func (s *scripted) Sweep(ctx context.Context, now time.Time) (retention.SweepStats, error) {
	s.mu.Lock()
	i := s.n
	s.n++
	s.inFlight++
	s.most = max(s.most, s.inFlight)
	s.starts = append(s.starts, time.Now())
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.ends = append(s.ends, time.Now())
		s.mu.Unlock()
	}()
	switch s.plan(i) {
	case "fail":
		return retention.SweepStats{Held: 1}, fmt.Errorf("store at 203.0.113.9: %w", errDown)
	case "panic":
		panic("visitor 192.0.2.33 broke it")
	case "slow":
		time.Sleep(2500 * time.Millisecond)
	case "hang":
		<-ctx.Done()
		return retention.SweepStats{}, ctx.Err()
	}
	return retention.SweepStats{Deleted: 1, Held: 2, Oldest: time.Minute}, nil
}

// A Sweeper whose target fails, panics and is slow keeps sweeping: sweeps
// never overlap, the next one starts within an interval of a slow one's
// end, every failure (panics included) is counted and reported through
// the hook and Last with a "retention: sweep" error that reaches the
// target's sentinel and carries no address, a success after failures
// clears Last's error, and a sweep cut short by cancellation (a hang
// until the context ends) is neither a failure nor Last's.
func TestRunThroughFailingSlowAndHangingSweeps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := runtime.NumGoroutine()
		plan := []string{"ok", "fail", "fail", "panic", "ok", "slow", "ok", "fail", "slow", "slow", "panic", "ok", "ok"}
		target := &scripted{plan: func(i int) string {
			if i < len(plan) {
				return plan[i]
			}
			return "hang"
		}}
		var (
			mu   sync.Mutex
			errs []error
		)
		sw, err := retention.NewSweeper(target, &retention.SweeperOptions{
			Logger: quiet,
			OnSweep: func(_ retention.SweepStats, err error) {
				mu.Lock()
				defer mu.Unlock()
				errs = append(errs, err)
			},
		})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- sw.Run(ctx) }()
		for {
			time.Sleep(100 * time.Millisecond)
			if target.count() > len(plan) {
				break // hanging in the last sweep
			}
		}
		_, _, lastErr := sw.Last()
		assert.NoError(t, lastErr, "the last finished sweep succeeded")
		failed := uint64(0)
		for _, p := range plan {
			if p == "fail" || p == "panic" {
				failed++
			}
		}
		assert.Equal(t, failed, sw.Failures())
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		assert.Equal(t, failed, sw.Failures(), "a sweep cut short by cancellation is no failure")
		at, st, lastErr := sw.Last()
		assert.NoError(t, lastErr, "a sweep cut short by cancellation is not Last's")
		assert.Equal(t, retention.SweepStats{Deleted: 1, Held: 2, Oldest: time.Minute}, st)
		assert.True(t, at.Equal(target.starts[len(plan)-1]), "Last is the last finished sweep's")

		assert.Equal(t, 1, target.most, "sweeps never overlap")
		for i := 1; i < len(target.starts); i++ {
			gap := target.starts[i].Sub(target.ends[i-1])
			assert.LessOrEqual(t, gap, time.Second, "sweep %d starts within an interval of the one before it ending", i)
			assert.GreaterOrEqual(t, gap, time.Duration(0))
		}
		mu.Lock()
		require.Len(t, errs, len(plan)+1, "the hook hears of every sweep, the cancelled one too")
		for i, err := range errs[:len(plan)] {
			if plan[i] != "fail" && plan[i] != "panic" {
				assert.NoError(t, err, "sweep %d", i)
				continue
			}
			require.Error(t, err, "sweep %d", i)
			assert.Regexp(t, `^retention: sweep`, err.Error())
			assert.NotContains(t, err.Error(), "198.51.100.7")
			assert.NotContains(t, err.Error(), "203.0.113.9")
			assert.NotContains(t, err.Error(), "192.0.2.33")
			assert.NotContains(t, fmt.Sprintf("%+v %#v %q", err, err, err), "198.51.100.7")
			if plan[i] == "fail" {
				assert.ErrorIs(t, err, errDown, "sweep %d", i)
			}
		}
		mu.Unlock()
		synctest.Wait()
		assert.LessOrEqual(t, runtime.NumGoroutine(), base, "no goroutine left")
	})
}

// Run with a context already done sweeps nothing and returns its error at
// once; a Sweeper stopped can be run again, and sweeps at once; cancelling
// mid-sweep ends Run as soon as the sweep returns.
func TestRunStopAndRunAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		target := &scripted{plan: func(int) string { return "ok" }}
		sw, err := retention.NewSweeper(target, &retention.SweeperOptions{Logger: quiet, Interval: time.Minute})
		require.NoError(t, err)
		done, cancel := context.WithCancel(context.Background())
		cancel()
		for _, f := range []func() error{
			func() error { return sw.Run(done) },
			func() error { _, err := sw.SweepNow(done); return err },
		} {
			err := f()
			require.ErrorIs(t, err, context.Canceled)
			assert.Regexp(t, `^retention: `, err.Error(), "an error starts with the package name")
		}
		assert.Equal(t, 0, target.count(), "a done context sweeps nothing")

		for round := range 3 {
			ctx, cancel := context.WithCancel(context.Background())
			ran := make(chan error, 1)
			go func() { ran <- sw.Run(ctx) }()
			synctest.Wait()
			assert.Equal(t, 2*round+1, target.count(), "round %d: Run sweeps at once", round)
			time.Sleep(time.Minute)
			synctest.Wait()
			assert.Equal(t, 2*round+2, target.count(), "round %d: and after an interval", round)
			cancel()
			cancel()
			require.ErrorIs(t, <-ran, context.Canceled)
		}
	})
}

// The interval's bounds: 0 means a second; a nanosecond, an odd 1.5 s and
// the largest Duration are kept to: Run sweeps once at once and then once
// per interval, no more, no less, over a span of bubble time.
func TestRunInterval(t *testing.T) {
	for _, tc := range []struct {
		interval, every, span time.Duration
	}{
		{0, time.Second, 10*time.Second + time.Second/2},
		{time.Nanosecond, time.Nanosecond, 2000 * time.Nanosecond},
		{time.Microsecond, time.Microsecond, 3*time.Millisecond + time.Microsecond/2},
		{1500 * time.Millisecond, 1500 * time.Millisecond, 9*time.Second + time.Second/2},
		{time.Duration(1<<63 - 1), time.Duration(1<<63 - 1), 200 * 365 * 24 * time.Hour},
	} {
		t.Run(tc.interval.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				target := &scripted{plan: func(int) string { return "ok" }}
				sw, err := retention.NewSweeper(target, &retention.SweeperOptions{Logger: quiet, Interval: tc.interval})
				require.NoError(t, err)
				ctx, cancel := context.WithCancel(context.Background())
				ran := make(chan error, 1)
				go func() { ran <- sw.Run(ctx) }()
				time.Sleep(tc.span)
				cancel()
				require.ErrorIs(t, <-ran, context.Canceled)
				want := int(tc.span/tc.every) + 1
				if tc.span%tc.every == 0 {
					// The last tick and the cancellation fall on one
					// instant: either may come first.
					assert.InDelta(t, want, target.count(), 1, "sweeps in %v", tc.span)
					return
				}
				assert.Equal(t, want, target.count(), "sweeps in %v", tc.span)
			})
		})
	}
}

// Many Sweepers, and many calls of one, on one Memory at once, between
// steps of its clock forward and back: the sweeps' Deleted add up to what
// was recorded minus what is held (no click counted twice, none left
// out), each reports Held
// and Oldest of an instant between the clock step and the end (no less
// than at the end, below the window), and the store ends holding exactly
// the model's clicks.
func TestManySweepersOnOneStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := 10 * time.Minute
		pol, err := retention.NewPolicy(w, nil)
		require.NoError(t, err)
		clk := clickstoretest.NewClock(t0)
		m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Policy: pol, Now: clk.Now})
		require.NoError(t, err)
		defer m.Close()
		ctx := context.Background()
		mdl := newModel(w, t0)
		var sweepers []*retention.Sweeper
		for i := range 6 {
			sw, err := retention.NewSweeper(m, &retention.SweeperOptions{Logger: quiet, Now: func() time.Time { return clk.Now().Add(time.Duration(i-3) * time.Second) }})
			require.NoError(t, err)
			sweepers = append(sweepers, sw)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		sizes := steps(w)
		firsts, deleted := 0, 0
		for round := range 60 {
			for range 40 {
				k := key{rng.IntN(200), fmt.Sprint("l", rng.IntN(3))}
				first, err := m.Record(ctx, clickstoretest.Click(k.visitor, k.link, clk.Now()))
				require.NoError(t, err)
				require.Equal(t, mdl.record(k, clk.Now()), first)
				if first {
					firsts++
				}
			}
			d := sizes[rng.IntN(len(sizes))]
			if rng.IntN(3) == 0 {
				d = -d
			}
			clk.Advance(d)
			got := sweepAtOnce(t, ctx, sweepers, 24)
			// The latest instant any of them swept at decides what is left.
			want := mdl.sweep(clk.Now().Add(2*time.Second), clk.Now())
			after := m.Len()
			for _, st := range got {
				deleted += st.Deleted
				assert.GreaterOrEqual(t, st.Held, after, "round %d", round)
				assert.Less(t, st.Oldest, w, "round %d", round)
				assert.GreaterOrEqual(t, st.Oldest, want.Oldest-5*time.Second, "round %d: no sweep claims an oldest age younger than what is held", round)
			}
			assert.Equal(t, firsts, deleted+after, "round %d: each destroyed click is counted once", round)
			assert.Equal(t, want.Held, after, "round %d: held", round)
			assert.Equal(t, mdl.visible(), visibleKeys(t, m, 200), "round %d", round)
		}
	})
}

// sweepAtOnce runs n sweeps at once, taking the sweepers in turn, and
// returns their reports.
func sweepAtOnce(t *testing.T, ctx context.Context, sweepers []*retention.Sweeper, n int) []retention.SweepStats {
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got []retention.SweepStats
	)
	for i := range n {
		wg.Go(func() {
			st, err := sweepers[i%len(sweepers)].SweepNow(ctx)
			assert.NoError(t, err)
			mu.Lock()
			got = append(got, st)
			mu.Unlock()
		})
	}
	wg.Wait()
	return got
}

// visibleKeys reads what All shows of the first n visitors.
func visibleKeys(t *testing.T, s clickstore.Store, n int) map[key]bool {
	idx := map[clickstore.Pseudonym]int{}
	for i := range n {
		idx[clickstoretest.Visitor(i)] = i
	}
	out := map[key]bool{}
	for c, err := range s.All(context.Background()) {
		require.NoError(t, err)
		i, ok := idx[c.Visitor]
		require.True(t, ok, "a click of a visitor never recorded")
		out[key{i, c.Link}] = true
	}
	return out
}

// The README's wiring, as written: clickstore.NewMemory(nil),
// retention.NewSweeper(store, nil), go sweeper.Run(ctx), on the default
// clocks (the bubble's time.Now, so the store's wall clock runs with the
// runtime's), under traffic at uneven instants for two and a half
// windows: at every sweep, once a second, the hook's Held and Oldest are
// exactly what the model holds and its oldest age at that instant ("oldest
// held entry is 29m59.6s old", never 30m), Held is what the store holds,
// and the sweeps' Deleted add up to what was recorded minus what is held,
// though the store's own timer destroys most clicks before a sweep comes.
func TestReadmeWiringReportsExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := retention.DefaultWindow
		store, err := clickstore.NewMemory(nil)
		require.NoError(t, err)
		defer store.Close()
		var (
			mu      sync.Mutex
			mdl     = newModel(w, time.Now())
			reports int
			oldest  time.Duration
			firsts  int
			deleted int
		)
		sweeper, err := retention.NewSweeper(store, &retention.SweeperOptions{
			Logger: quiet,
			OnSweep: func(st retention.SweepStats, err error) {
				mu.Lock()
				defer mu.Unlock()
				reports++
				assert.NoError(t, err)
				want := mdl.sweep(time.Now(), time.Now())
				assert.Equal(t, want.Held, st.Held, "sweep %d: held", reports)
				assert.Equal(t, want.Oldest, st.Oldest, "sweep %d: oldest age, exactly", reports)
				assert.Equal(t, store.Len(), st.Held, "sweep %d", reports)
				deleted += st.Deleted
				assert.Equal(t, firsts, deleted+st.Held, "sweep %d: the sweeps report every click destroyed (most by the store's own timer)", reports)
				oldest = max(oldest, st.Oldest)
			},
		})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- sweeper.Run(ctx) }()

		rng := rand.New(rand.NewPCG(9, 9))
		start := time.Now()
		for i, sec := 0, time.Duration(0); sec < 5*w/2; i++ {
			// Uneven gaps, never on a whole second (when sweeps run).
			at := start.Add(sec + time.Duration(1+rng.Int64N(int64(time.Second-1))))
			if at.After(time.Now()) {
				time.Sleep(time.Until(at))
			}
			sec += time.Duration(rng.IntN(3)) * time.Second
			k := key{rng.IntN(300), fmt.Sprint("l", rng.IntN(2))}
			mu.Lock()
			want := mdl.record(k, time.Now())
			first, err := store.Record(ctx, clickstoretest.Click(k.visitor, k.link, time.Now()))
			if first {
				firsts++
			}
			mu.Unlock()
			require.NoError(t, err)
			require.Equal(t, want, first, "click %d", i)
		}
		time.Sleep(time.Until(start.Add(5*w/2 + time.Second/2)))
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, int(5*w/2/time.Second)+1, reports, "once at once and once a second")
		assert.Greater(t, oldest, w-2*time.Second, "a window's traffic was held")
		assert.Less(t, oldest, w)
	})
}
