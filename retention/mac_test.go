package retention

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Key.MAC is HMAC-SHA256 under the key's secret, for messages around every
// block boundary, whether it resumes from the key's states or not.
func TestKeyMAC(t *testing.T) {
	r, err := NewKeyring(nil)
	require.NoError(t, err)
	defer r.Close()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	_, _, err = r.Keys(context.Background(), now.Add(-DefaultWindow))
	require.NoError(t, err)
	cur, prev, err := r.Keys(context.Background(), now)
	require.NoError(t, err)
	require.False(t, prev.IsZero(), "a previous key, read back from the store")
	rng := rand.New(rand.NewPCG(1, 2))
	msg := make([]byte, 200)
	for i := range msg {
		msg[i] = byte(rng.Uint32())
	}
	rows := []struct {
		name string
		key  Key
	}{
		{"current", cur},
		{"previous", prev},
		{"without states", Key{Epoch: cur.Epoch, secret: cur.secret}},
		{"states whose first words are zero (as by chance)", func() Key {
			k := cur
			clear(k.pads.inner[:8])
			clear(k.pads.outer[:8])
			return k
		}()},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			for n := range len(msg) {
				secret := row.key.Secret()
				m := hmac.New(sha256.New, secret[:])
				m.Write(msg[:n])
				got := row.key.MAC(msg[:n])
				if !assert.Equal(t, m.Sum(nil), got[:], "%d bytes", n) {
					return
				}
			}
		})
	}
	assert.NotEqual(t, macPads{}, cur.pads, "a keyring's key carries its states")
	assert.NotEqual(t, cur.pads, prev.pads)
}

// The states are zeroed with the key they are derived from.
func TestKeyMACStatesDestroyed(t *testing.T) {
	r, err := NewKeyring(nil)
	require.NoError(t, err)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	cur, _, err := r.Keys(context.Background(), now)
	require.NoError(t, err)
	require.NotEqual(t, macPads{}, cur.pads)
	require.NoError(t, r.Close())
	r.mu.RLock()
	defer r.mu.RUnlock()
	require.NotNil(t, r.c)
	assert.Equal(t, Key{}, r.c.cur, "secret and states zeroed")
}

func TestKeyMACAllocs(t *testing.T) {
	k := newKey(1, [32]byte{1, 2, 3})
	for _, n := range []int{53, maxOneBlock, maxOneBlock + 1, 69} { // a pseudonym's is 53 bytes
		msg := make([]byte, n)
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = k.MAC(msg) }), "%d bytes", n)
	}
}

func BenchmarkKeyMAC(b *testing.B) {
	k := newKey(1, [32]byte{1, 2, 3})
	msg := make([]byte, 53) // a pseudonym's: domain, address, agent digest
	b.Run("baseline=hashing-the-key-blocks", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = k.slowMAC(msg)
		}
	})
	b.Run("from-states", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = k.MAC(msg)
		}
	})
}

// FuzzKeyMAC holds Key.MAC to crypto/hmac for any secret and message, from
// the key's states or without them (the zero Key's MAC is zero).
func FuzzKeyMAC(f *testing.F) {
	f.Add([]byte{1, 2, 3}, []byte(""))
	f.Add(bytes.Repeat([]byte{0xff}, 32), make([]byte, 55))
	f.Fuzz(func(t *testing.T, seed, msg []byte) {
		var secret [32]byte
		copy(secret[:], seed)
		k := newKey(7, secret)
		m := hmac.New(sha256.New, secret[:])
		m.Write(msg)
		want := m.Sum(nil)
		if k.IsZero() {
			if got := k.MAC(msg); got != ([sha256.Size]byte{}) {
				t.Fatalf("MAC of %d bytes under the zero Key: not zero", len(msg))
			}
		} else if got := k.MAC(msg); !bytes.Equal(got[:], want) {
			t.Fatalf("MAC of %d bytes: not HMAC-SHA256", len(msg))
		}
		if got := k.slowMAC(msg); !bytes.Equal(got[:], want) {
			t.Fatalf("slowMAC of %d bytes: not HMAC-SHA256", len(msg))
		}
		if !k.IsZero() && k.pads == (macPads{}) {
			t.Fatal("a key without its states")
		}
	})
}
