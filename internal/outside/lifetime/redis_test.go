package lifetime_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/retention"
)

// TestRedisKeysNeverOutliveTheirGrace drives keyrings on one redisstore
// KeyStore (a fleet, and restarts: a new Keyring on the same store) with a
// wall clock stepped forward and back by less than, exactly and more than
// a window, and looks into Redis itself after every step: every key there
// has an expiry, at most two windows after it was first seen
// ("a key is never kept longer than two of its epochs", KeyStoreOptions),
// and an expiry never moves later from one look to the next (a clock
// stepped back, a second keyring or a restarted one asking for an older
// time does not push it later). Checked to fail: with the bound made half
// a window shorter it fails (a key made at an epoch start); with the keyring's
// Keys followed by an EXPIRE of 2W on the current key, the
// never-later check fails.
func TestRedisKeysNeverOutliveTheirGrace(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Local: true})
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer client.Close()
	policy, err := retention.NewPolicy(10*time.Minute, nil)
	require.NoError(t, err)
	w := policy.Window()
	ks, err := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: "life", Policy: policy})
	require.NoError(t, err)

	clk := clickstoretest.NewClock(time.Now())
	open := func() *retention.Keyring {
		kr, err := retention.NewKeyring(&retention.KeyringOptions{Policy: policy, Store: ks, Now: clk.Now, Logger: slog0})
		require.NoError(t, err)
		return kr
	}
	fleet := []*retention.Keyring{open(), open()}
	defer func() {
		for _, kr := range fleet {
			_ = kr.Close()
		}
	}()
	type seen struct {
		bound time.Time // the latest real time it may still exist
		last  time.Time // its expiry at the last look, real time
	}
	keys := map[string]*seen{}
	sizes := []time.Duration{time.Second, w / 2, w - time.Second, w, w + time.Second, 2 * w}
	rng := rand.New(rand.NewPCG(5, 11))
	var trail []string
	for i := range 80 {
		d := sizes[rng.IntN(len(sizes))]
		switch rng.IntN(4) {
		case 0:
			clk.Advance(d)
			trail = append(trail, fmt.Sprintf("+%v", d))
		case 1:
			clk.Advance(-d)
			trail = append(trail, fmt.Sprintf("-%v", d))
		case 2:
			j := rng.IntN(len(fleet))
			require.NoError(t, fleet[j].Close())
			fleet[j] = open()
			trail = append(trail, "restart")
		case 3:
			trail = append(trail, "ask")
		}
		kr := fleet[i%len(fleet)]
		now := clk.Now()
		cur, _, err := kr.Keys(ctx, now)
		require.NoError(t, err)
		require.Equal(t, policy.Epoch(now), cur.Epoch)

		names, err := client.Keys(ctx, "*").Result()
		require.NoError(t, err)
		rt := time.Now()
		for _, name := range names {
			pttl, err := client.PTTL(ctx, name).Result()
			require.NoError(t, err)
			if !assert.Positive(t, pttl, "%v: key %s has no expiry", trail, name) {
				continue
			}
			exp := rt.Add(pttl)
			s := keys[name]
			if s == nil {
				// First seen now: a key is never kept longer than two of
				// its epochs (KeyStoreOptions.Policy), from when it was
				// made, which is no later than now.
				s = &seen{bound: rt.Add(2*w + time.Second), last: exp}
				keys[name] = s
			}
			assert.False(t, exp.After(s.bound), "%v: key %s expires %v after its bound", trail, name, exp.Sub(s.bound))
			assert.False(t, exp.After(s.last.Add(250*time.Millisecond)), "%v: key %s's expiry moved later by %v", trail, name, exp.Sub(s.last))
			s.last = exp
		}
	}
}
