package window_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// filled returns a Memory on the bubble's clock holding n clicks over
// many shards and a few links.
func filled(t *testing.T, n int) *clickstore.Memory {
	t.Helper()
	m, err := clickstore.NewMemory(nil)
	require.NoError(t, err)
	for i := range n {
		_, err := m.Record(context.Background(), clickstoretest.Click(i, fmt.Sprint("l", i%5), time.Now()))
		require.NoError(t, err)
	}
	return m
}

// Close called from inside an All loop (a shutdown that interrupts an
// export, say) ends the iteration: once Close has returned, the loop gets
// no held click, only an error wrapping ErrClosed.
func TestCloseInsideAllEndsIt(t *testing.T) {
	for _, n := range []int{1, 2, 100, 1000, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := filled(t, n)
				closed, after, errs := false, 0, 0
				for c, err := range m.All(context.Background()) {
					switch {
					case err != nil:
						assert.ErrorIs(t, err, clickstore.ErrClosed)
						errs++
					case closed:
						after++
					default:
						require.NotZero(t, c.Visitor)
						require.NoError(t, m.Close())
						closed = true
					}
				}
				assert.Zero(t, after, "All yielded %d held clicks after Close returned", after)
				assert.LessOrEqual(t, errs, 1)
				assert.Zero(t, m.Len())
			})
		})
	}
}

// Close while goroutines run each method: every call either works or
// fails with ErrClosed (nothing else, no panic, no hang), every call that
// starts after Close returned fails with ErrClosed, no click is read after
// Close returned, and the store ends empty with nothing left running.
func TestCloseDuringEveryOperation(t *testing.T) {
	ops := []string{"Record", "Latest", "All", "EraseVisitor", "EraseLink", "Sweep", "Close"}
	for _, op := range ops {
		t.Run(op, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				m := filled(t, 3000)
				var done atomic.Bool // Close has returned
				var calls, refused atomic.Int64
				check := func(started bool, err error) {
					calls.Add(1)
					if err != nil {
						refused.Add(1)
						assert.ErrorIs(t, err, clickstore.ErrClosed)
					} else if started {
						t.Errorf("%s started after Close returned and worked", op)
					}
				}
				var wg sync.WaitGroup
				for g := range 6 {
					wg.Go(func() {
						for i := range 300 {
							started := done.Load()
							v := clickstoretest.Visitor(g*1000 + i)
							switch op {
							case "Record":
								_, err := m.Record(ctx, clickstoretest.Click(5000+g*1000+i, "l1", time.Now()))
								check(started, err)
							case "Latest":
								_, ok, err := m.Latest(ctx, v, clickstore.Pseudonym{}, "")
								check(started, err)
								if ok && started {
									t.Error("Latest found a click after Close returned")
								}
							case "All":
								var err error
								for c, e := range m.All(ctx) {
									if e != nil {
										err = e
										continue
									}
									if done.Load() {
										t.Errorf("All yielded a click after Close returned")
										return
									}
									_ = c
								}
								check(started, err)
							case "EraseVisitor":
								_, err := m.EraseVisitor(ctx, v)
								check(started, err)
							case "EraseLink":
								_, err := m.EraseLink(ctx, fmt.Sprint("l", i%5))
								check(started, err)
							case "Sweep":
								_, err := m.Sweep(ctx, time.Now().Add(time.Duration(i)*time.Minute))
								check(started, err)
							case "Close":
								assert.NoError(t, m.Close())
								done.Store(true)
							}
							if g == 0 && i == 100 {
								assert.NoError(t, m.Close())
								done.Store(true)
							}
						}
					})
				}
				wg.Wait()
				assert.True(t, done.Load())
				if op != "Close" {
					assert.Positive(t, refused.Load(), "no call saw the store closed")
				}
				assert.Zero(t, m.Len())
				// A window later, nothing runs and nothing is held.
				time.Sleep(2 * window)
				synctest.Wait()
				assert.Zero(t, m.Len())
			})
		})
	}
}
