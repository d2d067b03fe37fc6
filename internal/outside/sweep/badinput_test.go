package sweep_test

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// oddTimes are the times a Sweeper's clock may give: the zero time, before
// 1970, around the ends of int64 Unix nanoseconds, and far ahead.
var oddTimes = map[string]time.Time{
	"zero":          {},
	"year 1":        time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
	"1500":          time.Date(1500, 6, 1, 0, 0, 0, 0, time.UTC),
	"first nano":    time.Unix(0, math.MinInt64),
	"before 1970":   time.Unix(0, -1),
	"1970":          time.Unix(0, 0),
	"last nano":     time.Unix(0, math.MaxInt64),
	"after 2262":    time.Unix(0, math.MaxInt64).Add(time.Nanosecond),
	"9999":          time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	"year 300000":   time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC),
	"year -100000":  time.Date(-100000, 1, 1, 0, 0, 0, 0, time.UTC),
	"far in a zone": time.Date(2400, 1, 1, 0, 0, 0, 0, time.FixedZone("X", -12*3600)),
}

// A Sweeper whose clock gives any odd time, over a Group of everything the
// README has a user sweep (a Memory, a Keyring, a MemoryKeyStore, a
// Rollup), each holding something: no panic; every member is swept; a
// member that refuses the time fails the sweep with an error naming
// retention, then the member's position and package, and carrying no
// address; no figure of the report is negative; Last says when by that
// clock; and the click store alone reports nothing older than its window.
func TestSweeperOnOddClocks(t *testing.T) {
	ctx := context.Background()
	for name, at := range oddTimes {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m, err := clickstore.NewMemory(nil)
				require.NoError(t, err)
				defer m.Close()
				ring, err := retention.NewKeyring(&retention.KeyringOptions{Logger: quiet})
				require.NoError(t, err)
				defer ring.Close()
				b, err := clickstore.NewBuilder(ipmask.Default, ring, nil)
				require.NoError(t, err)
				c, err := b.Build(ctx, netip.MustParseAddr("198.51.100.77"), "agent", "l", time.Now())
				require.NoError(t, err)
				_, err = m.Record(ctx, c)
				require.NoError(t, err)
				ks := retention.NewMemoryKeyStore(nil)
				defer ks.Close()
				_, err = ks.LoadOrCreate(ctx, 7, [32]byte{1}, time.Hour)
				require.NoError(t, err)
				r, err := aggregate.New(nil)
				require.NoError(t, err)
				defer r.Close()
				require.NoError(t, r.Add(ctx, c, clickstore.Unique))

				// The Rollup alone: see TestStatisticsSweepOldestIsExact (F2).
				for _, target := range []retention.Sweepable{retention.Group{m, ring, ks, r}, m, ring, ks} {
					sw, err := retention.NewSweeper(target, &retention.SweeperOptions{Logger: quiet, Now: func() time.Time { return at }})
					require.NoError(t, err)
					var st retention.SweepStats
					assert.NotPanics(t, func() { st, err = sw.SweepNow(ctx) })
					if err != nil {
						assert.Regexp(t, `^retention: sweep`, err.Error())
						assert.NotContains(t, err.Error(), "198.51.100")
						if _, isGroup := target.(retention.Group); isGroup {
							assert.Regexp(t, `member \d of the group: (clickstore|retention|aggregate): `, err.Error())
						}
					}
					assert.GreaterOrEqual(t, st.Deleted, 0)
					assert.GreaterOrEqual(t, st.Held, 0)
					assert.GreaterOrEqual(t, st.Oldest, time.Duration(0), "%T", target)
					when, _, _ := sw.Last()
					assert.True(t, when.Equal(at), "Last says when, by the Sweeper's clock")
					if target == retention.Sweepable(m) {
						require.NoError(t, err, "a click store sweeps at any time")
						assert.Less(t, st.Oldest, retention.DefaultWindow)
					}
				}
			})
		})
	}
}

// counting is a Sweepable that counts its sweeps and returns err.
type counting struct {
	mu  sync.Mutex
	n   int
	err error
}

func (c *counting) Sweep(context.Context, time.Time) (retention.SweepStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return retention.SweepStats{Held: 1}, c.err
}

func (c *counting) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// A Sweeper on stores that are closed (a Memory, a Redis store, alone or
// in a Group beside a member that works): every sweep fails, with an
// error that begins with "retention: sweep" and reaches the store's
// ErrClosed, is counted in Failures and shown by Last; the working member
// of a Group is still swept every time. A closed Rollup still sweeps, as
// its Close says. A typed nil store, which Go lets a caller pass, is
// refused by NewSweeper or fails each sweep the same way, never panics.
func TestSweepingClosedAndNilStores(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer client.Close()
	ctx := context.Background()

	closedMemory := func(t *testing.T) (retention.Sweepable, error) {
		m, err := clickstore.NewMemory(nil)
		require.NoError(t, err)
		_, err = m.Record(ctx, clickstoretest.Click(1, "l", time.Now()))
		require.NoError(t, err)
		require.NoError(t, m.Close())
		require.NoError(t, m.Close(), "Close twice")
		return m, clickstore.ErrClosed
	}
	closedRedis := func(t *testing.T) (retention.Sweepable, error) {
		s, err := redisstore.New(ctx, client, &redisstore.Options{Prefix: "closed:" + strings.ReplaceAll(t.Name(), "/", ":"), Logger: quiet})
		require.NoError(t, err)
		require.NoError(t, s.Close())
		require.NoError(t, s.Close(), "Close twice")
		return s, clickstore.ErrClosed
	}
	closedRollup := func(t *testing.T) (retention.Sweepable, error) {
		r, err := aggregate.New(nil)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		return r, nil
	}
	for name, open := range map[string]func(t *testing.T) (retention.Sweepable, error){
		"Memory": closedMemory, "redisstore": closedRedis, "Rollup": closedRollup,
	} {
		for _, group := range []bool{false, true} {
			t.Run(fmt.Sprint(name, " group=", group), func(t *testing.T) {
				store, sentinel := open(t)
				works := &counting{}
				var target retention.Sweepable = store
				if group {
					target = retention.Group{store, works}
				}
				const sweeps = 5
				sw, err := retention.NewSweeper(target, &retention.SweeperOptions{Logger: quiet})
				require.NoError(t, err)
				if sentinel == nil {
					// A closed Rollup still sweeps: its Close only stops
					// its own timer.
					for i := range sweeps {
						_, err := sw.SweepNow(ctx)
						require.NoError(t, err, "sweep %d of a closed Rollup", i)
					}
					assert.Zero(t, sw.Failures())
					return
				}
				for i := range sweeps {
					_, err := sw.SweepNow(ctx)
					require.Error(t, err, "sweep %d of a closed store", i)
					assert.Regexp(t, `^retention: sweep`, err.Error())
					assert.ErrorIs(t, err, sentinel)
				}
				assert.Equal(t, uint64(sweeps), sw.Failures())
				_, _, lastErr := sw.Last()
				assert.Error(t, lastErr)
				if group {
					assert.Equal(t, sweeps, works.count(), "the working member is swept every time")
				}
			})
		}
	}

	t.Run("typed nil", func(t *testing.T) {
		for name, target := range map[string]retention.Sweepable{
			"*Memory":           (*clickstore.Memory)(nil),
			"*redisstore.Store": (*redisstore.Store)(nil),
			"*Rollup":           (*aggregate.Rollup)(nil),
			"*Keyring":          (*retention.Keyring)(nil),
			"*MemoryKeyStore":   (*retention.MemoryKeyStore)(nil),
		} {
			for _, tgt := range []retention.Sweepable{target, retention.Group{target}} {
				var sw *retention.Sweeper
				var err error
				require.NotPanics(t, func() { sw, err = retention.NewSweeper(tgt, &retention.SweeperOptions{Logger: quiet}) }, name)
				if err != nil {
					assert.Regexp(t, `^retention: `, err.Error(), name)
					continue
				}
				require.NotPanics(t, func() { _, err = sw.SweepNow(ctx) }, name)
				require.Error(t, err, "%s: a sweep of a nil store fails", name)
				assert.Regexp(t, `^retention: sweep`, err.Error(), name)
				assert.Equal(t, uint64(1), sw.Failures(), name)
			}
		}
	})
}
