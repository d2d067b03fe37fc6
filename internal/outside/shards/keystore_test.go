package shards_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
)

// TestKeyLostWhileInstancesRun checks the KeyStore's promises when Redis
// loses the epoch key under running instances ("after a Redis restart
// (which loses the key) or once another instance has created a new key,
// Record returns an error wrapping ErrKeyChanged ... so that instances
// converge on one key at their next click"), for a FLUSHALL and for a
// restart, each while three instances record with four goroutines each:
// every instance reports ErrKeyChanged (no other error but the restart's
// dropped connections), afterwards all three compute the same pseudonyms,
// and no click built after its instance reported the change carries a
// pseudonym of the destroyed key, nor does the previous-epoch pseudonym
// (Builder.Pseudonyms) bring one back.
//
// Checked to fail: with one instance on a KeyStore of another prefix
// (its own key), the convergence check fails; with the flush left out,
// the ErrKeyChanged check fails.
func TestKeyLostWhileInstancesRun(t *testing.T) {
	for _, how := range []string{"FLUSHALL", "restart"} {
		t.Run(how, func(t *testing.T) {
			srv := startRedis(t)
			ctx := context.Background()
			p := prefix()
			now := time.Now() // the keyrings' clock: the epoch of this instant
			var ins [3]*instance
			for i := range ins {
				ins[i] = join(t, plainClient(t, srv.Addr()), p, nil, nil)
			}
			addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}) }
			const addrs = 64
			old := map[clickstore.Pseudonym]bool{}
			for i := range addrs {
				var v clickstore.Pseudonym
				for _, in := range ins {
					c, err := in.builder.Build(ctx, addr(i), "ua", "l", now)
					require.NoError(t, err)
					if v.IsZero() {
						v = c.Visitor
					}
					require.Equal(t, v, c.Visitor, "before the loss the instances agree")
				}
				old[v] = true
			}

			var changed [3]atomic.Bool
			var lost atomic.Bool
			var stop atomic.Bool
			var mu sync.Mutex
			var other []error
			var wg sync.WaitGroup
			var recorded atomic.Int64
			for i, in := range ins {
				for g := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for k := 0; !stop.Load() || !changed[i].Load(); k++ {
							if k > 20000 {
								t.Errorf("instance %d: no ErrKeyChanged after the key was lost", i)
								return
							}
							after := changed[i].Load()
							c, err := in.builder.Build(ctx, addr((g*16+k)%addrs), "ua", fmt.Sprint("l", k%5), now)
							if err != nil {
								continue // a keyring that cannot reach Redis
							}
							if after {
								assert.False(t, old[c.Visitor], "instance %d built a pseudonym of the destroyed key", i)
							}
							_, err = in.store.Record(ctx, c)
							recorded.Add(1)
							switch {
							case err == nil:
							case errors.Is(err, redisstore.ErrKeyChanged):
								assert.True(t, lost.Load(), "ErrKeyChanged before the key was lost")
								changed[i].Store(true)
							default:
								mu.Lock()
								other = append(other, err)
								mu.Unlock()
							}
						}
					}()
				}
			}
			for recorded.Load() < 200 {
				waitABit()
			}
			lost.Store(true)
			if how == "FLUSHALL" {
				_, err := redisstoreDo(srv.Addr(), "FLUSHALL")
				require.NoError(t, err)
			} else {
				srv.Restart()
			}
			stop.Store(true)
			wg.Wait()
			for i := range changed {
				assert.True(t, changed[i].Load(), "instance %d reports ErrKeyChanged", i)
			}
			if how == "FLUSHALL" {
				assert.Empty(t, other, "a flush gives no other error")
			}
			for i := range addrs {
				var v clickstore.Pseudonym
				for j, in := range ins {
					cur, prev, err := in.builder.Pseudonyms(ctx, addr(i), "ua", now)
					require.NoError(t, err)
					assert.False(t, old[cur], "instance %d: the destroyed key's pseudonym", j)
					assert.False(t, old[prev], "instance %d: the destroyed key's pseudonym as previous", j)
					if v.IsZero() {
						v = cur
					}
					assert.Equal(t, v, cur, "the instances converge on one key")
				}
			}
		})
	}
}
