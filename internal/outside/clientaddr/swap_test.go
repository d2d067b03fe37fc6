package clientaddr_test

import (
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask/clientip"
)

// TestSwapNeverMixesInLongChains checks the Resolver doc's "each Trusted
// set is read once per resolution, so a set replaced while a request is
// resolved gives the answer of the old set or of the new one, never of a
// mix" for chains of any length: a chain whose strategies use several
// Trusted sets (one per CDN, one per load balancer) before, between and
// after two that share one set. The shared set is swapped, concurrently, between one that
// trusts the peer and one that does not; every answer must be the one the
// chain gives under the old set alone or under the new set alone. Under
// the first the single header answers, under the second the peer; a
// resolution that read the set once per strategy could find the peer
// untrusted for the header and trusted for X-Forwarded-For, and answer
// what X-Forwarded-For says, which neither set gives. Checked to fail:
// with the chain's shared set loaded twice (the fifth distinct set in the
// chain, before the fix), mixed answers appear in the rows with 4 and 6
// sets before (in 7 runs of 8: a race is caught, not forced).
func TestSwapNeverMixesInLongChains(t *testing.T) {
	others := func(n int) []clientip.Strategy {
		var out []clientip.Strategy
		for range n {
			o, err := clientip.NewTrusted("192.0.2.0/24")
			require.NoError(t, err)
			out = append(out, clientip.SingleHeader(o, "X-Other"))
		}
		return out
	}
	for _, before := range []int{0, 1, 3, 4, 6} {
		t.Run("other sets before="+string(rune('0'+before)), func(t *testing.T) {
			shared, err := clientip.NewTrusted("10.0.0.0/8")
			require.NoError(t, err)
			// Other sets before the shared one's first use, and between
			// its two uses (which widens the window a swap must hit).
			chain := others(before)
			chain = append(chain, clientip.SingleHeader(shared, "X-Client"))
			chain = append(chain, others(8)...)
			chain = append(chain, clientip.RightmostUntrusted(shared), clientip.RemoteAddr())
			res, err := clientip.New(chain...)
			require.NoError(t, err)
			h := http.Header{"X-Client": {"198.51.100.1"}, "X-Forwarded-For": {"203.0.113.7"}, "X-Other": {"203.0.113.99"}}
			const peer = "10.0.0.1:4711"
			want := map[netip.Addr]bool{netip.MustParseAddr("198.51.100.1"): true, netip.MustParseAddr("10.0.0.1"): true}

			var stop atomic.Bool
			var swapper sync.WaitGroup
			swapper.Go(func() {
				for i := 0; !stop.Load(); i++ {
					set := "10.0.0.0/8"
					if i%2 == 1 {
						set = "172.16.0.0/12"
					}
					assert.NoError(t, shared.Update(set))
				}
			})
			var mixed atomic.Int64
			var walkers sync.WaitGroup
			for range 2 {
				walkers.Go(func() {
					for range 20000 {
						got, err := res.Resolve(h, peer)
						if !assert.NoError(t, err) {
							return
						}
						if !want[got] {
							mixed.Add(1)
						}
					}
				})
			}
			walkers.Wait()
			stop.Store(true)
			swapper.Wait()
			assert.Zero(t, mixed.Load(), "answers of neither set alone")
		})
	}
}
