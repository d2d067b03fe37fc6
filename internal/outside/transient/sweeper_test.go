package transient_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/retention"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSweeperProvesRetention: a Sweeper over a Memory (alone, and in a
// Group with a Keyring) under steady traffic, a new visitor every
// 700 ms for two windows, reports through its hook, at every sweep, the
// age of the oldest click held: never W or more, and, once the store is
// full of a window's traffic, within a second of W ("oldest held entry is
// 29m59s old"); Held matches the store's Len (up to the one click a
// Record or the store's timer adds or destroys at the same instant); Run returns the
// context's error when it is cancelled and leaves nothing running
// (synctest). Checked to fail: a Memory kept for W+1s (its Policy set one
// second longer than the check's W) reports an oldest age of W or more;
// with the traffic every 1.2 s instead, the oldest age falls below W-1s.
func TestSweeperProvesRetention(t *testing.T) {
	w := 5 * time.Minute
	for _, group := range []bool{false, true} {
		t.Run(fmt.Sprint("group=", group), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				pol, err := retention.NewPolicy(w, nil)
				require.NoError(t, err)
				m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Policy: pol})
				require.NoError(t, err)
				defer m.Close()
				var target retention.Sweepable = m
				var ring *retention.Keyring
				if group {
					ring, err = retention.NewKeyring(&retention.KeyringOptions{Policy: pol})
					require.NoError(t, err)
					defer ring.Close()
					target = retention.Group{m, ring}
				}
				var (
					mu      sync.Mutex
					reports []retention.SweepStats
					lens    []int
				)
				start := time.Now()
				sw, err := retention.NewSweeper(target, &retention.SweeperOptions{
					Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
					OnSweep: func(st retention.SweepStats, err error) {
						assert.NoError(t, err)
						mu.Lock()
						defer mu.Unlock()
						reports = append(reports, st)
						lens = append(lens, m.Len())
					},
				})
				require.NoError(t, err)
				done := make(chan error, 1)
				go func() { done <- sw.Run(ctx) }()

				recorded := 0
				for i := 0; time.Since(start) < 2*w; i++ {
					time.Sleep(700 * time.Millisecond)
					if ring != nil {
						_, _, err := ring.Keys(ctx, time.Now())
						require.NoError(t, err)
					}
					_, err := m.Record(ctx, click(pseudonym(i), "l", time.Now()))
					require.NoError(t, err)
					recorded++
				}
				synctest.Wait()
				cancel()
				require.ErrorIs(t, <-done, context.Canceled)

				mu.Lock()
				defer mu.Unlock()
				require.Greater(t, len(reports), int(2*w/time.Second)-2, "about one sweep a second")
				deleted := 0
				for i, st := range reports {
					deleted += st.Deleted
					if !group {
						// Len is read in the hook, after the sweep: at the
						// same instant the store's own timer (once a
						// second) may destroy a click, or a Record (every
						// 700 ms) add one.
						assert.InDelta(t, lens[i], st.Held, 1, "sweep %d", i)
						assert.Less(t, st.Oldest, w, "sweep %d: oldest held is younger than the window", i)
						if i > int(w/time.Second)+2 {
							assert.GreaterOrEqual(t, st.Oldest, w-time.Second, "sweep %d: a window's traffic is held", i)
						}
					} else {
						// The keyring's keys live for their epoch and one more.
						assert.Less(t, st.Oldest, 2*w, "sweep %d", i)
					}
				}
				assert.LessOrEqual(t, deleted, recorded, "a sweep reports only what it destroyed (Records and the store's timer destroy the rest)")
			})
		})
	}
}
