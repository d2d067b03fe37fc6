package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/retention"
)

// outageMember is an instance whose client and keyring the test closes
// itself, to count goroutines after.
type outageMember struct {
	client  *redis.Client
	keyring *retention.Keyring
	store   *redisstore.Store
}

func (m *outageMember) close() {
	_ = m.store.Close()
	_ = m.keyring.Close()
	_ = m.client.Close()
}

// firstCounter records clicks on a fleet from many goroutines and counts
// the firsts per (visitor, link).
type firstCounter struct {
	mu     sync.Mutex
	firsts map[string]int
	errs   []error
}

func (f *firstCounter) note(c clickstore.Click, first bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.errs = append(f.errs, err)
		return
	}
	if first {
		f.firsts[fmt.Sprint(c.Visitor, c.Link)]++
	}
}

// checkErrText asserts the documented form of a failure's error: the
// package's name first, no server address or port in any verb.
func checkErrText(t *testing.T, err error, addr string) {
	t.Helper()
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		msg := fmt.Sprintf(verb, err)
		assert.NotContains(t, msg, "127.0.0.1", "%s of an error", verb)
		assert.NotContains(t, msg, "127.0.0.1:"+port, "%s of an error", verb)
	}
	assert.True(t, strings.HasPrefix(err.Error(), "redisstore: "), "error %q starts with the package name", err.Error())
}

// TestFleetThroughOutages checks the documented failures on a fleet of
// three instances (README: "Going multi-instance"; package doc: Failures,
// Redis restarts) with concurrent traffic through each, in the modes a
// fleet runs (plain, Capacity, clicks with a previous pseudonym, batches):
//
//   - SCRIPT FLUSH again and again mid-traffic: the scripts are loaded
//     again (EVALSHA falls back to EVAL), so no call fails and every
//     (visitor, link) still has exactly one first;
//   - writes held past the caller's Timeout (CLIENT PAUSE WRITE, a server
//     that answers late): the calls fail, and no
//     click is counted first twice: a retry after the pause is first only
//     if the timed-out call did not hold it;
//   - redis-server killed mid-traffic and started empty: every call fails
//     with an error that starts with the package's name and holds no
//     server address, nothing panics, each instance recovers by itself
//     (at most one ErrKeyChanged each), and fresh pairs again get exactly
//     one first across the fleet;
//   - after Close of everything, no goroutine is left.
//
// Checked to fail: with every click's link suffixed by its instance's
// number (as if an instance did not share state), the exact-one counts
// are reported; with the retry after the pause made a fresh visitor, the
// at-most-one check reports the pairs; with the store left open, the
// goroutine check reports it.
func TestFleetThroughOutages(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Local: true})
	ctx := context.Background()
	before := runtime.NumGoroutine()
	p := prefix()
	var fleet []*outageMember
	for i := range 3 {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true, MaxRetries: 1, DialTimeout: 200 * time.Millisecond})
		ks, err := redisstore.NewKeyStore(c, &redisstore.KeyStoreOptions{Prefix: p})
		require.NoError(t, err)
		kr, err := retention.NewKeyring(&retention.KeyringOptions{Store: ks, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		o := &redisstore.Options{Prefix: p, Keyring: kr, KeyStore: ks, Timeout: 150 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
		if i == 1 {
			o.Capacity = 1 << 20
		}
		s, err := redisstore.New(ctx, c, o)
		require.NoError(t, err)
		fleet = append(fleet, &outageMember{client: c, keyring: kr, store: s})
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			for _, m := range fleet {
				m.close()
			}
		}
	})
	now := time.Now()
	mk := func(round, v, l int) clickstore.Click {
		c := clickOf(visitor(round*1000+v), fmt.Sprint("l", l), now)
		if v%3 == 0 {
			c.PrevVisitor = visitor(round*1000 + v + 500) // never held: the script path
		}
		return c
	}
	// traffic records every pair of round from 4 goroutines per
	// instance, half of them in batches, while during() runs.
	traffic := func(round, visitors, links int, during func()) *firstCounter {
		f := &firstCounter{firsts: map[string]int{}}
		var wg sync.WaitGroup
		for g := range 4 * len(fleet) {
			in := fleet[g%len(fleet)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range visitors * links {
					j := (k*5 + g*11) % (visitors * links)
					c := mk(round, j/links, j%links)
					if g%2 == 1 {
						us, err := in.store.RecordBatch(ctx, []clickstore.Click{c})
						f.note(c, err == nil && us[0] == clickstore.Unique, err)
						if err != nil {
							return // one error per goroutine is enough
						}
						continue
					}
					first, err := in.store.Record(ctx, c)
					f.note(c, first, err)
					if err != nil {
						return
					}
				}
			}()
		}
		if during != nil {
			during()
		}
		wg.Wait()
		return f
	}
	exact := func(f *firstCounter, round, visitors, links int) {
		t.Helper()
		for v := range visitors {
			for l := range links {
				c := mk(round, v, l)
				assert.Equal(t, 1, f.firsts[fmt.Sprint(c.Visitor, c.Link)], "round %d visitor %d link %d", round, v, l)
			}
		}
	}

	// SCRIPT FLUSH mid-traffic.
	f := traffic(1, 30, 4, func() {
		for range 20 {
			_, err := redistest.Do(srv.Addr(), "SCRIPT", "FLUSH")
			require.NoError(t, err)
			time.Sleep(2 * time.Millisecond) // spreads the flushes over the traffic; not a timed assertion
		}
	})
	for _, err := range f.errs {
		assert.NoError(t, err, "a lost script is loaded again")
	}
	exact(f, 1, 30, 4)

	// Writes held past the Timeout.
	_, err := redistest.Do(srv.Addr(), "CLIENT", "PAUSE", "3000", "WRITE")
	require.NoError(t, err)
	var timedOut []clickstore.Click
	for i, in := range fleet {
		for v := range 2 {
			c := mk(2, v+10*i, 0)
			first, err := in.store.Record(ctx, c)
			if assert.Error(t, err, "a reply later than the Timeout is an error") {
				checkErrText(t, err, srv.Addr())
				assert.False(t, first)
				timedOut = append(timedOut, c)
			}
		}
	}
	_, err = redistest.Do(srv.Addr(), "CLIENT", "UNPAUSE")
	require.NoError(t, err)
	for i, c := range timedOut {
		firsts := 0
		for _, in := range fleet {
			first, err := in.store.Record(ctx, c)
			require.NoError(t, err)
			if first {
				firsts++
			}
		}
		assert.LessOrEqual(t, firsts, 1, "timed-out click %d is first at most once after", i)
	}

	// The server killed mid-traffic, started empty.
	var killed atomic.Bool
	f = traffic(3, 20, 3, func() {
		time.Sleep(5 * time.Millisecond)
		srv.Kill()
		killed.Store(true)
	})
	require.True(t, killed.Load())
	require.NotEmpty(t, f.errs, "the traffic met the dead server")
	for _, err := range f.errs {
		checkErrText(t, err, srv.Addr())
	}
	for _, in := range fleet {
		_, err := in.store.Record(ctx, mk(4, 0, 0))
		require.Error(t, err, "a dead server is an error")
		checkErrText(t, err, srv.Addr())
		_, _, err = in.store.Latest(ctx, visitor(1), clickstore.Pseudonym{}, "")
		require.Error(t, err)
		checkErrText(t, err, srv.Addr())
	}
	srv.Restart()
	for i, in := range fleet {
		keyChanged := 0
		var err error
		for try := range 100 {
			_, err = in.store.Record(ctx, mk(5, i, try))
			if err == nil {
				break
			}
			if errors.Is(err, redisstore.ErrKeyChanged) {
				keyChanged++
			}
			time.Sleep(10 * time.Millisecond) // the client redials; not a timed assertion
		}
		require.NoError(t, err, "instance %d recovers", i)
		assert.LessOrEqual(t, keyChanged, 1, "instance %d reports the lost key once", i)
	}
	f = traffic(6, 25, 3, nil)
	assert.Empty(t, f.errs)
	exact(f, 6, 25, 3)

	for _, m := range fleet {
		m.close()
	}
	closed = true
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left after Close")
}
