package retention_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// TestREADMERecipeDestroysKeysOnTime follows the parts of "Tracking clicks
// in an existing service" in README.md that hold keys and clicks (a
// default Keyring, a Builder, a Memory store, and a Sweeper on the click
// store only), recording each click as the tracker does, on a fake clock,
// and checks at every second of six hours that no key older than its
// window plus grace exists: the keyring destroys its keys without being
// swept. It uses the Builder and the Store directly rather than the
// tracker, so that it states retention's promise whatever the tracker's
// API.
func TestREADMERecipeDestroysKeysOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()

		keyring, err := retention.NewKeyring(nil)
		require.NoError(t, err)
		builder, err := clickstore.NewBuilder(ipmask.Default, keyring, nil)
		require.NoError(t, err)
		store, err := clickstore.NewMemory(nil)
		require.NoError(t, err)
		sweeper, err := retention.NewSweeper(store, nil)
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- sweeper.Run(ctx) }()

		window := keyring.Policy().Window()
		limit := 2 * window // a key lives for its epoch and one grace epoch
		visitor := netip.MustParseAddr("203.0.113.9")
		click := func() {
			c, err := builder.Build(ctx, visitor, "Mozilla/5.0", "spring-sale", time.Now())
			require.NoError(t, err)
			_, err = store.Record(ctx, c)
			require.NoError(t, err)
		}

		start := time.Now()
		maxHeld, maxAge := 0, time.Duration(0)
		for sec := 0; sec < 6*3600; sec++ {
			if sec < 2*3600 && sec%97 == 0 { // clicks for two hours, then silence
				click()
			}
			time.Sleep(time.Second)
			synctest.Wait()
			st := keyring.Stats()
			require.Less(t, st.OldestAge, limit, "at %v: a key of epoch %d outlived its window plus grace", time.Since(start), st.OldestEpoch)
			require.LessOrEqual(t, st.Held, 3, "at %v", time.Since(start))
			maxHeld, maxAge = max(maxHeld, st.Held), max(maxAge, st.OldestAge)
		}
		st := keyring.Stats()
		assert.Zero(t, st.Held, "four hours after the last click no key is held")
		assert.Zero(t, st.OldestAge)
		// Two hours of clicks span at least four epochs, each with its own key.
		assert.GreaterOrEqual(t, st.Destroyed, uint64(2*time.Hour/window))
		assert.GreaterOrEqual(t, maxHeld, 2, "the previous key is held through its grace")
		assert.Greater(t, maxAge, window, "a key is looked up during its grace")
		sw, err := keyring.Sweep(ctx, time.Now())
		require.NoError(t, err)
		assert.Zero(t, sw.Deleted, "nothing left for a sweep to destroy")

		cancel()
		<-done
		require.NoError(t, store.Close())
	})
}
