package clickstore_test

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// A pseudonym can be computed again while its key lives (its epoch, and
// as the previous pseudonym through the grace epoch), and never after:
// Pseudonyms at the visit's own time, asked once the grace is over, gives
// another pseudonym or none, whether clicks went on meanwhile or not, and
// whether or not the wall clock was stepped back to the visit's time.
func TestPseudonymsDieWithTheirKey(t *testing.T) {
	for _, tc := range []struct {
		name   string
		clicks bool // clicks go on through the two windows
		step   bool // the clock runs ahead, then is stepped back
	}{
		{name: "silence"},
		{name: "clicks go on", clicks: true},
		{name: "clock stepped back", step: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				var offset atomic.Int64 // the keyring's timers read it too
				if tc.step {
					offset.Store(int64(3 * time.Hour))
				}
				clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
				ring, err := retention.NewKeyring(&retention.KeyringOptions{Now: clock})
				require.NoError(t, err)
				defer ring.Close()
				b, err := clickstore.NewBuilder(ipmask.Default, ring, nil)
				require.NoError(t, err)
				addr := netip.MustParseAddr("203.0.113.9")
				w := ring.Policy().Window()

				visit := clock()
				p0, _, err := b.Pseudonyms(ctx, addr, "Mozilla/5.0", visit)
				require.NoError(t, err)
				offset.Store(0)

				graceAt := ring.Policy().EpochStart(ring.Policy().Epoch(visit) + 1)
				if !tc.step {
					time.Sleep(graceAt.Sub(clock()))
					_, prev, err := b.Pseudonyms(ctx, addr, "Mozilla/5.0", clock())
					require.NoError(t, err)
					assert.Equal(t, p0, prev, "in the grace epoch, the pseudonym is the previous one")
				}

				for end := time.Now().Add(2*w + time.Second); time.Now().Before(end); {
					time.Sleep(time.Minute)
					if tc.clicks {
						_, _, err := b.Pseudonyms(ctx, addr, "Mozilla/5.0", clock())
						require.NoError(t, err)
					}
				}
				synctest.Wait()
				cur, prev, err := b.Pseudonyms(ctx, addr, "Mozilla/5.0", visit)
				if err == nil {
					assert.NotEqual(t, p0, cur, "the visit's pseudonym was computed again after its key's grace")
					assert.NotEqual(t, p0, prev, "the visit's pseudonym was computed again after its key's grace")
				}
			})
		})
	}
}
