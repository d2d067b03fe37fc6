package retention_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// TestREADMERecipeDestroysKeysOnTime follows "Tracking clicks in an
// existing service" in README.md line by line, with its Sweeper on the
// click store only, on a fake clock, and checks at every second of six
// hours that no key older than its window plus grace exists: the keyring
// destroys its keys without being swept.
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
		stats, err := aggregate.New(nil)
		require.NoError(t, err)
		tracker, err := track.New(builder, store, stats, &track.Options{Resolver: nil})
		require.NoError(t, err)
		redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://example.com/", http.StatusFound)
		})
		mux := http.NewServeMux()
		mux.Handle("GET /go/{link}", tracker.Handler(redirect))
		sweeper, err := retention.NewSweeper(store, nil)
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- sweeper.Run(ctx) }()
		handler := mux

		window := keyring.Policy().Window()
		limit := 2 * window // a key lives for its epoch and one grace epoch
		click := func() {
			req := httptest.NewRequest(http.MethodGet, "/go/spring-sale", nil)
			req.RemoteAddr = "203.0.113.9:50000"
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			require.Equal(t, http.StatusFound, rec.Code)
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
