package compose_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

const agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"

// TestLateCallerKeyDiesWithItsGrace checks guarantee 5 ("a random key that
// exists for one 30-minute epoch plus one of grace, and is then
// destroyed") for the callers the keyring's documentation allows: Keys
// (and so Builder.Pseudonyms and Build) takes the time as data, and a
// service that builds clicks from times it received earlier (a queue, a
// batch, a retry) asks for a time of the current epoch a little behind the
// keyring's clock. With the key of an epoch first asked for late in it
// (at 29 minutes), for times from its first to its last minute, the
// pseudonym of that key is never produced after the epoch's grace ended
// (by the keyring's clock, which is the runtime's here), whatever time is
// asked for then, and the default in-memory store holds no key then. On
// a fake clock (synctest). Checked to fail: it failed before the keyring
// stored a key for what is left of its grace by its own clock (the key
// lived its two windows from the caller's time, up to 28 minutes past the
// grace).
func TestLateCallerKeyDiesWithItsGrace(t *testing.T) {
	for _, lag := range []time.Duration{0, time.Second, time.Minute, 10 * time.Minute, 28 * time.Minute} {
		for _, a := range []netip.Addr{canary4, canary6} {
			t.Run(fmt.Sprintf("lag=%v/%s", lag, a), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					ctx := context.Background()
					keyring, err := retention.NewKeyring(&retention.KeyringOptions{Logger: slog.New(slog.DiscardHandler)})
					require.NoError(t, err)
					defer keyring.Close()
					b, err := clickstore.NewBuilder(ipmask.Default, keyring, nil)
					require.NoError(t, err)
					w := keyring.Policy().Window()
					start := time.Now().Truncate(w) // the bubble starts on an epoch boundary
					time.Sleep(29 * time.Minute)
					asked := time.Now().Add(-lag)
					p, _, err := b.Pseudonyms(ctx, a, agent, asked)
					require.NoError(t, err)
					graceEnd := start.Add(2 * w)
					time.Sleep(graceEnd.Sub(time.Now()))
					synctest.Wait()
					// Nothing was asked since: the store and the cache hold nothing.
					assert.Zero(t, keyring.Stats().Held, "at the end of the grace: a key held")
					for time.Now().Before(graceEnd.Add(35 * time.Minute)) {
						for _, at := range []time.Time{asked, start, start.Add(w - time.Nanosecond), start.Add(w), time.Now()} {
							cur, prev, err := b.Pseudonyms(ctx, a, agent, at)
							require.NoError(t, err)
							assert.NotEqual(t, p, cur, "at %v, asked for %v: the pseudonym of a key past its grace", time.Now().Sub(start), at.Sub(start))
							assert.NotEqual(t, p, prev, "at %v, asked for %v: the pseudonym of a key past its grace", time.Now().Sub(start), at.Sub(start))
						}
						time.Sleep(time.Minute)
						synctest.Wait()
					}
				})
			})
		}
	}
}

// ttlKeys is a retention.KeyStore around the Redis one that records the
// ttl each key was created with, by epoch, and when (the keyring's clock).
type ttlKeys struct {
	*redisstore.KeyStore
	clock func() time.Time
	mu    sync.Mutex
	asked map[int64][]ttlAsk
}

type ttlAsk struct {
	ttl time.Duration
	at  time.Time
}

func (k *ttlKeys) LoadOrCreate(ctx context.Context, epoch int64, candidate [32]byte, ttl time.Duration) ([32]byte, error) {
	k.mu.Lock()
	k.asked[epoch] = append(k.asked[epoch], ttlAsk{ttl, k.clock()})
	k.mu.Unlock()
	return k.KeyStore.LoadOrCreate(ctx, epoch, candidate, ttl)
}

// redisKeys returns the epoch keys the server holds, by epoch, with the
// milliseconds each has left.
func redisKeys(t *testing.T, addr string) map[int64]time.Duration {
	t.Helper()
	names, err := redistest.Do(addr, "KEYS", "{"+redisstore.DefaultPrefix+"}:k:*")
	require.NoError(t, err)
	out := map[int64]time.Duration{}
	for _, name := range strings.Fields(names) {
		e, err := strconv.ParseInt(name[strings.LastIndexByte(name, ':')+1:], 10, 64)
		require.NoError(t, err, name)
		ms, err := redistest.Do(addr, "PTTL", name)
		require.NoError(t, err)
		n, err := strconv.ParseInt(ms, 10, 64)
		require.NoError(t, err)
		if n >= -1 { // -2: gone meanwhile
			out[e] = time.Duration(n) * time.Millisecond
		}
	}
	return out
}

// TestRedisRecipeKeysDieWithTheirGrace follows the README's Redis recipe
// line by line (a KeyStore, a keyring on it, redisstore.New with both),
// with the keyring's and store's clock a fake one (clickstoretest.Clock)
// that the test moves a minute at a time for three hours, jumping forward
// an hour, back a day and back twenty minutes, across a process restart
// (a new KeyStore, Keyring and Store on the same Redis, as a deploy does),
// with clicks recorded every minute at the clock's time and at times up
// to 28 minutes behind it (a queue): every epoch key in Redis is created
// with a ttl that ends no later than its grace epoch by the keyring's
// clock at creation (and no later than two windows), is never extended
// (its PTTL only falls; the restarted instance loads it and does not
// create another: the same pseudonym across the restart), and the
// keyring holds no key older than its window plus grace while asked at
// its own time. Redis counts its TTLs in real time, which a fake clock
// cannot move, so the test checks the TTL Redis holds rather than waiting
// for it. Checked to fail: before the keyring stored a key for what is
// left of its grace by its own clock, a key first asked for by a click 28
// minutes behind got a ttl 28 minutes past its grace.
func TestRedisRecipeKeysDieWithTheirGrace(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, nil)
	clock := clickstoretest.NewClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	quiet := slog.New(slog.DiscardHandler)

	type instance struct {
		keys    *ttlKeys
		keyring *retention.Keyring
		store   *redisstore.Store
		builder *clickstore.Builder
	}
	start := func() *instance {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = client.Close() })
		rk, err := redisstore.NewKeyStore(client, nil)
		require.NoError(t, err)
		keys := &ttlKeys{KeyStore: rk, clock: clock.Now, asked: map[int64][]ttlAsk{}}
		keyring, err := retention.NewKeyring(&retention.KeyringOptions{Store: keys, Now: clock.Now, Logger: quiet})
		require.NoError(t, err)
		store, err := redisstore.New(ctx, client, &redisstore.Options{Keyring: keyring, KeyStore: rk, Timeout: 2 * time.Second, Now: clock.Now, Logger: quiet})
		require.NoError(t, err)
		b, err := clickstore.NewBuilder(ipmask.Default, keyring, nil)
		require.NoError(t, err)
		return &instance{keys, keyring, store, b}
	}
	stop := func(in *instance) {
		require.NoError(t, in.store.Close())
		require.NoError(t, in.keyring.Close())
	}

	in := start()
	w := in.keyring.Policy().Window()
	firstTTL := map[int64]time.Duration{}
	lastPTTL := map[int64]time.Duration{}
	check := func(minute int) {
		in.keys.mu.Lock()
		for e, asks := range in.keys.asked {
			for _, a := range asks {
				graceEnd := in.keyring.Policy().EpochStart(e + 2)
				assert.LessOrEqual(t, a.ttl, 2*w, "minute %d: epoch %d's key asked with a ttl over two windows", minute, e)
				if left := graceEnd.Sub(a.at); left > 0 {
					assert.LessOrEqual(t, a.ttl, left, "minute %d: epoch %d's key asked with a ttl past its grace by the keyring's clock", minute, e)
				}
			}
		}
		in.keys.mu.Unlock()
		for e, pttl := range redisKeys(t, srv.Addr()) {
			assert.NotEqual(t, time.Duration(-1), pttl, "epoch %d's key has no expiry", e)
			if prev, ok := lastPTTL[e]; ok {
				assert.LessOrEqual(t, pttl, prev, "minute %d: epoch %d's key was extended", minute, e)
			} else {
				firstTTL[e] = pttl
			}
			lastPTTL[e] = pttl
		}
		st := in.keyring.Stats()
		assert.Less(t, st.OldestAge, 2*w, "minute %d: a key held past its window and grace", minute)
	}

	var restartP, beforeP clickstore.Pseudonym
	for m := range 180 {
		switch m {
		case 50:
			clock.Advance(time.Hour)
		case 100:
			clock.Advance(-24 * time.Hour)
		case 140:
			clock.Advance(-20 * time.Minute)
		case 90: // a deploy: the process is replaced
			p, _, err := in.builder.Pseudonyms(ctx, canary4, agent, clock.Now())
			require.NoError(t, err)
			beforeP = p
			stop(in)
			in = start()
			restartP, _, err = in.builder.Pseudonyms(ctx, canary4, agent, clock.Now())
			require.NoError(t, err)
			assert.Equal(t, beforeP, restartP, "the restarted instance loads the epoch's key")
		}
		now := clock.Now()
		for _, lag := range []time.Duration{0, time.Minute, 28 * time.Minute} {
			c, err := in.builder.Build(ctx, canary4, agent, "spring", now.Add(-lag))
			require.NoError(t, err)
			_, err = in.store.Record(ctx, c)
			if err != nil {
				// a click older than the store's clock minus its window is refused: not this test's matter
				require.ErrorContains(t, err, "redisstore")
			}
		}
		check(m)
		clock.Advance(time.Minute)
	}
	stop(in)
	require.NotEmpty(t, firstTTL)
}
