package retention

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The store's timer zeroes a key's bytes at its deadline, with no call and
// no sweep, and stops when nothing is held.
func TestMemoryKeyStoreTimerZeroesKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewMemoryKeyStore(nil)
		_, err := s.LoadOrCreate(context.Background(), 1, [32]byte{7}, time.Minute)
		require.NoError(t, err)
		_, err = s.LoadOrCreate(context.Background(), 2, [32]byte{8}, 2*time.Minute)
		require.NoError(t, err)
		s.mu.Lock()
		k1, k2 := s.keys[1], s.keys[2]
		s.mu.Unlock()

		time.Sleep(time.Minute - time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, KeyStats{Held: 2, OldestEpoch: 1}, s.Stats())
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, KeyStats{Held: 1, OldestEpoch: 2, Destroyed: 1}, s.Stats())
		s.mu.Lock()
		assert.Equal(t, [32]byte{}, k1.secret, "a destroyed key is zeroed")
		assert.Equal(t, [32]byte{8}, k2.secret)
		s.mu.Unlock()

		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Equal(t, KeyStats{Destroyed: 2}, s.Stats())
		s.mu.Lock()
		assert.Equal(t, [32]byte{}, k2.secret)
		assert.True(t, s.armedFor.IsZero(), "no timer armed while nothing is held")
		s.mu.Unlock()
	})
}

// Close zeroes the cache and every key of the default store.
func TestKeyringCloseZeroes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := NewKeyring(nil)
		require.NoError(t, err)
		ctx := context.Background()
		_, _, err = r.Keys(ctx, time.Now())
		require.NoError(t, err)
		_, _, err = r.Keys(ctx, time.Now().Add(r.Policy().Window()))
		require.NoError(t, err)
		r.mem.mu.Lock()
		var held []*memKey
		for _, k := range r.mem.keys {
			held = append(held, k)
		}
		r.mem.mu.Unlock()
		require.Len(t, held, 2)

		require.NoError(t, r.Close())
		require.NoError(t, r.Close(), "idempotent")
		for _, k := range held {
			assert.Equal(t, [32]byte{}, k.secret)
		}
		r.mu.RLock()
		require.NotNil(t, r.c)
		assert.Equal(t, Key{}, r.c.cur, "zeroed in place")
		assert.Equal(t, Key{}, r.c.prev)
		r.mu.RUnlock()
		assert.Equal(t, KeyStats{Destroyed: 2}, r.Stats())
		_, _, err = r.Keys(ctx, time.Now())
		assert.ErrorIs(t, err, ErrClosed)
	})
}

func TestScrub(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"nothing", "connection refused", "connection refused"},
		{"ipv4 and port", "dial tcp 10.1.2.3:6379: connect: refused", "dial tcp 0.0.0.0:6379: connect: refused"},
		{"ipv6 bracketed", "dial [2001:db8::1]:443 failed", "dial [::]:443 failed"},
		{"zone", "fe80::1%eth0 down", ":: down"},
		{"mapped", "from ::ffff:203.0.113.9", "from 0.0.0.0"},
		{"percent-encoded", "ip=2001%3Adb8%3A%3A1", "ip=%3A%3A"},
		// FuzzScrub found this passing the scrubber retention had of its
		// own, which knew no hyphenated quads.
		{"hyphenated quad in a host name", "00-0-0-010.0 and ec2-203-0-113-9.compute-1.amazonaws.com", "00-0-0-0.0 and ec2-0-0-0-0.compute-1.amazonaws.com"},
		{"version kept", "v1.2.3 and 1.5s", "v1.2.3 and 1.5s"},
		{"single colon kept", "epoch 5: bad", "epoch 5: bad"},
		{"clock time kept", "at 12:34:56 bad", "at 12:34:56 bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, scrub(tt.in))
		})
	}
}

// stringErr is an error whose Go syntax (%#v) quotes its text, as a
// string-typed driver reply does.
type stringErr string

func (e stringErr) Error() string { return string(e) }

// A callee's error that names an address is scrubbed in every verb,
// %#v and %+v included, and stays reachable with errors.As.
func TestForeignErrorFormatsScrubbed(t *testing.T) {
	err := foreign("key store: load", stringErr("MOVED 3999 203.0.113.9:6381"))
	for _, verb := range []string{"%v", "%s", "%q", "%+v", "%#v", "%x"} {
		out := fmt.Sprintf(verb, err)
		assert.NotContains(t, out, "203.0.113.9", verb)
		assert.NotContains(t, out, hex.EncodeToString([]byte("203.0.113.9")), verb)
		assert.Contains(t, fmt.Sprintf("%v", err), "retention: key store: load: MOVED 3999", verb)
	}
	var se stringErr
	assert.True(t, errors.As(err, &se), "the callee's error stays reachable")
}
