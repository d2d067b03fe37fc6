package retention_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/testkit"
	"github.com/clickanon/clickanon/retention"
)

// A nil context is a caller's bug that Go lets through the type checker:
// each method that takes one says so in an error rather than panic on
// ctx.Err (Keys used to panic with the keyring's fill lock held, so that
// every later call, behind an http.Server that recovers handler panics,
// hung for good).
func TestNilContext(t *testing.T) {
	var nilCtx context.Context
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var kr retention.Keyring
	var ks retention.MemoryKeyStore
	sw, err := retention.NewSweeper(&ks, nil)
	require.NoError(t, err)
	testkit.CheckBadCalls(t, "retention", []testkit.BadCall{
		{Name: "Keyring.Keys", Call: func() error { _, _, err := kr.Keys(nilCtx, now); return err }, Want: "nil context"},
		{Name: "Keyring.Sweep", Call: func() error { _, err := kr.Sweep(nilCtx, now); return err }, Want: "nil context"},
		{Name: "MemoryKeyStore.Load", Call: func() error { _, _, err := ks.Load(nilCtx, 1); return err }, Want: "nil context"},
		{Name: "MemoryKeyStore.LoadOrCreate", Call: func() error {
			_, err := ks.LoadOrCreate(nilCtx, 1, [32]byte{1}, time.Minute)
			return err
		}, Want: "nil context"},
		{Name: "MemoryKeyStore.Sweep", Call: func() error { _, err := ks.Sweep(nilCtx, now); return err }, Want: "nil context"},
		{Name: "Group.Sweep", Call: func() error { _, err := retention.Group{&ks}.Sweep(nilCtx, now); return err }, Want: "nil context"},
		{Name: "Sweeper.SweepNow", Call: func() error { _, err := sw.SweepNow(nilCtx); return err }, Want: "nil context"},
		{Name: "Sweeper.Run", Call: func() error { return sw.Run(nilCtx) }, Want: "nil context"},
	})
	// The keyring still answers: no lock was left held.
	cur, _, err := kr.Keys(context.Background(), now)
	require.NoError(t, err)
	assert.False(t, cur.IsZero())
}

// Methods on a nil pointer return an error (or, where they return no
// error, the zero answer) rather than panic with a nil dereference.
func TestNilReceiver(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var kr *retention.Keyring
	var ks *retention.MemoryKeyStore
	var sw *retention.Sweeper
	testkit.CheckBadCalls(t, "retention", []testkit.BadCall{
		{Name: "Keyring.Keys", Call: func() error { _, _, err := kr.Keys(ctx, now); return err }, Want: "nil *Keyring"},
		{Name: "Keyring.Sweep", Call: func() error { _, err := kr.Sweep(ctx, now); return err }, Want: "nil *Keyring"},
		{Name: "Keyring.Close", Call: kr.Close, Want: "nil *Keyring"},
		{Name: "MemoryKeyStore.Load", Call: func() error { _, _, err := ks.Load(ctx, 1); return err }, Want: "nil *MemoryKeyStore"},
		{Name: "MemoryKeyStore.LoadOrCreate", Call: func() error {
			_, err := ks.LoadOrCreate(ctx, 1, [32]byte{1}, time.Minute)
			return err
		}, Want: "nil *MemoryKeyStore"},
		{Name: "MemoryKeyStore.Sweep", Call: func() error { _, err := ks.Sweep(ctx, now); return err }, Want: "nil *MemoryKeyStore"},
		{Name: "MemoryKeyStore.Close", Call: ks.Close, Want: "nil *MemoryKeyStore"},
		{Name: "Sweeper.Run", Call: func() error { return sw.Run(ctx) }, Want: "nil *Sweeper"},
		{Name: "Sweeper.SweepNow", Call: func() error { _, err := sw.SweepNow(ctx); return err }, Want: "nil *Sweeper"},
		{Name: "Sweeper.Last", Call: func() error { _, _, err := sw.Last(); return err }, Want: "nil *Sweeper"},
		{Name: "Sweeper.Run of the zero Sweeper", Call: func() error { return new(retention.Sweeper).Run(ctx) }, Want: "not made by NewSweeper"},
		{Name: "Sweeper.SweepNow of the zero Sweeper", Call: func() error {
			_, err := new(retention.Sweeper).SweepNow(ctx)
			return err
		}, Want: "not made by NewSweeper"},
	})
	assert.NotPanics(t, func() {
		assert.Equal(t, retention.KeyStats{}, kr.Stats())
		assert.Equal(t, retention.KeyStats{}, ks.Stats())
		assert.Equal(t, retention.Policy{}, kr.Policy())
		assert.Equal(t, "retention.Keyring(nil)", kr.String())
		assert.Equal(t, uint64(0), sw.Failures())
	})
}

// The zero Key is "no key": its MAC must not be HMAC under 32 zero bytes,
// which anyone can compute (a pseudonym of an IPv4 address under it is
// brute-forced in minutes). It is all zero bytes, the same for every
// message, so it tells no visitor from another.
func TestZeroKeyMAC(t *testing.T) {
	var k retention.Key
	msg := []byte("clickanon/visitor/v2\x00 192.0.2.7 and an agent")
	unkeyed := hmac.New(sha256.New, make([]byte, 32))
	unkeyed.Write(msg)
	sum := k.MAC(msg)
	assert.NotEqual(t, unkeyed.Sum(nil), sum[:], "the zero Key computed an unkeyed MAC")
	assert.Equal(t, [sha256.Size]byte{}, k.MAC(msg))
	assert.Equal(t, [sha256.Size]byte{}, retention.Key{Epoch: 7}.MAC(nil))
}

// A sweep at a time past 2262, where Unix nanoseconds overflow and epoch
// numbers with them, destroys every cached key, as every epoch is over
// then; it used to compare a wrapped epoch number and keep them.
func TestKeyringSweepFarFuture(t *testing.T) {
	ctx := context.Background()
	// Near the real clock: the default key store destroys keys on timers
	// that count real time, and would destroy keys of a past date before
	// the sweep under test counts them.
	now := time.Now()
	for _, at := range []time.Time{
		time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
	} {
		t.Run(at.Format("2006"), func(t *testing.T) {
			var kr retention.Keyring
			defer kr.Close()
			_, _, err := kr.Keys(ctx, now)
			require.NoError(t, err)
			_, prev, err := kr.Keys(ctx, now.Add(retention.DefaultWindow))
			require.NoError(t, err)
			require.False(t, prev.IsZero())
			st, err := kr.Sweep(ctx, at)
			require.NoError(t, err)
			assert.Zero(t, st.Held, "keys still cached")
			assert.Equal(t, 4, st.Deleted, "two keys, cached and stored")
		})
	}
}

// A sweep at a time before 1678 (a zeroed or corrupt clock) ends no
// epoch: the keys in service stay.
func TestKeyringSweepFarPast(t *testing.T) {
	ctx := context.Background()
	// Near the real clock: the default key store destroys keys on timers
	// that count real time, and would destroy keys of a past date before
	// the sweep under test counts them.
	now := time.Now()
	var kr retention.Keyring
	defer kr.Close()
	cur, _, err := kr.Keys(ctx, now)
	require.NoError(t, err)
	st, err := kr.Sweep(ctx, time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	assert.Zero(t, st.Deleted)
	again, _, err := kr.Keys(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, cur.MAC([]byte("x")), again.MAC([]byte("x")), "the same key")
}
