package lifetime_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

const agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"

var slog0 = slog.New(slog.DiscardHandler)

var visitor = netip.MustParseAddr("198.51.100.77")

// keyLife is what the model knows of one key the keyring handed out.
type keyLife struct {
	epoch    int64
	deadReal time.Time // by the runtime's clock: its ttl of real time is over
	dead     bool      // a call was made when it was over, by Now or real time
	foreign  bool      // made before a restart: the new keyring knows not when
}

// lifeModel follows every key a keyring hands out and every pseudonym
// computed under one, and fails the test when a key, or a pseudonym of a
// key, shows up after the key's window plus grace (by the keyring's clock
// at any call, or by the real time since it was made: "the timers count
// real time").
type lifeModel struct {
	t      *testing.T
	policy retention.Policy
	clk    *clickstoretest.Clock
	keys   map[[32]byte]*keyLife
	pseud  map[clickstore.Pseudonym][32]byte // each pseudonym, to the key it was computed under
	trail  []string
	real   bool // a key also dies when its ttl of real time has run
}

func newLifeModel(t *testing.T, policy retention.Policy, clk *clickstoretest.Clock) *lifeModel {
	return &lifeModel{t: t, policy: policy, clk: clk, keys: map[[32]byte]*keyLife{}, pseud: map[clickstore.Pseudonym][32]byte{}}
}

// bury marks dead every key whose grace is over at the keyring's clock
// now, or whose ttl of real time has run.
func (m *lifeModel) bury() {
	now, rt := m.clk.Now(), time.Now()
	for _, k := range m.keys {
		if !now.Before(m.policy.EpochStart(k.epoch+2)) || m.real && !k.foreign && !rt.Before(k.deadReal) {
			k.dead = true
		}
	}
}

// seen checks a key handed out at the keyring's clock and registers it.
func (m *lifeModel) seen(k retention.Key, wantEpoch int64) {
	m.t.Helper()
	if k.IsZero() {
		return
	}
	assert.Equal(m.t, wantEpoch, k.Epoch, "%s: a key of another epoch", m.where())
	s := k.Secret()
	if l, ok := m.keys[s]; ok {
		assert.False(m.t, l.dead, "%s: the key of epoch %d came back after its window plus grace (now epoch %d, real %v past its ttl)", m.where(), l.epoch, m.policy.Epoch(m.clk.Now()), time.Since(l.deadReal))
		assert.Equal(m.t, l.epoch, k.Epoch, "%s: one key for two epochs", m.where())
		return
	}
	ttl := m.policy.EpochStart(k.Epoch + 2).Sub(m.clk.Now())
	m.keys[s] = &keyLife{epoch: k.Epoch, deadReal: time.Now().Add(ttl)}
}

// pseudonym checks a pseudonym computed under key s and registers it.
func (m *lifeModel) pseudonym(p clickstore.Pseudonym, s [32]byte) {
	m.t.Helper()
	if p.IsZero() {
		return
	}
	if old, ok := m.pseud[p]; ok {
		if l := m.keys[old]; l != nil {
			assert.False(m.t, l.dead, "%s: a pseudonym of the destroyed key of epoch %d was produced again", m.where(), l.epoch)
		}
		assert.Equal(m.t, old, s, "%s: one pseudonym under two keys", m.where())
		return
	}
	m.pseud[p] = s
}

func (m *lifeModel) step(format string, args ...any) {
	m.trail = append(m.trail, fmt.Sprintf(format, args...))
}

func (m *lifeModel) where() string {
	start := max(0, len(m.trail)-8)
	return fmt.Sprintf("after %v", m.trail[start:])
}

// ask asks the keyring, and a Builder on it, for the keys and the
// pseudonyms of the keyring's own time, and checks them against the model.
func (m *lifeModel) ask(keyring *retention.Keyring, b *clickstore.Builder) {
	m.t.Helper()
	ctx := context.Background()
	m.bury()
	now := m.clk.Now()
	e := m.policy.Epoch(now)
	cur, prev, err := keyring.Keys(ctx, now)
	require.NoError(m.t, err, m.where())
	require.False(m.t, cur.IsZero())
	m.seen(cur, e)
	m.seen(prev, e-1)
	c, err := b.Build(ctx, visitor, agent, "a-link", now)
	require.NoError(m.t, err)
	m.pseudonym(c.Visitor, cur.Secret())
	if prev.IsZero() {
		assert.True(m.t, c.PrevVisitor.IsZero(), "%s: a previous pseudonym without a previous key", m.where())
	} else {
		m.pseudonym(c.PrevVisitor, prev.Secret())
	}
	// The store is looked into for every epoch the model knows.
}

// look asks store for every epoch the model knows: no key it holds may be
// one the model has buried.
func (m *lifeModel) look(store retention.KeyStore) {
	m.t.Helper()
	m.bury()
	epochs := map[int64]bool{}
	for _, k := range m.keys {
		epochs[k.epoch] = true
	}
	for e := range epochs {
		s, ok, err := store.Load(context.Background(), e)
		require.NoError(m.t, err)
		if !ok {
			continue
		}
		l := m.keys[s]
		if assert.NotNil(m.t, l, "%s: the store holds a key for epoch %d that no keyring handed out", m.where(), e) {
			overdue := m.real && !time.Now().Before(l.deadReal)
			assert.False(m.t, l.dead || overdue, "%s: the store still holds the key of epoch %d after its window plus grace", m.where(), e)
		}
	}
}

// TestKeysDieUnderAnySequenceOfSteps drives a keyring, as a user wires it
// (a clock in KeyringOptions.Now, the default store or a MemoryKeyStore on
// the same clock that outlives the keyring), through random sequences of:
// time passing on both clocks, the wall clock stepped alone forward or
// back by less than, exactly and more than a window (and two), the wall
// clock stalled while real time passes, jumps to one nanosecond before
// and exactly onto an epoch boundary, and restarts (the keyring closed, a
// new one made on the same store). After every step it asks for the keys
// and the pseudonyms of the keyring's time, and looks into the store for
// every epoch it knows: a key must never be seen, nor a pseudonym under
// it be produced, once its epoch plus grace is over by the keyring's
// clock at a call or by the real time since it was made.
//
// Checked to fail: with the model's deadline moved one window later in
// bury (a key must live a window more) the test passes, and moved one
// window earlier (no grace) it fails at the first grace epoch; a store
// that keeps its keys for ever (foreverStore) fails it at the first look
// two epochs later.
func TestKeysDieUnderAnySequenceOfSteps(t *testing.T) {
	testSteps(t, false)
}

// TestKeysDieByRealTimeUnderAnySequenceOfSteps is the same with the real
// time since a key was made counted too, as README's guarantee 5 says
// ("however the wall clock is stepped (the timers count real time)"):
// in the keyring's answers for the keys it gave out before (a keyring
// restarted on a shared store does not know when the keys it finds there
// were made, and holds them by its clock, as the Keyring doc says), and
// in the store for all. Checked to fail: before the fix in Keyring.miss
// it failed on every seed (a previous key cached until the clock ended
// its grace epoch, after the clock stood still or stepped back), and it
// fails again with the store look's real-time check made strict (+1ns).
func TestKeysDieByRealTimeUnderAnySequenceOfSteps(t *testing.T) {
	//t.Skip("FINDING F2: a Keyring caches the previous epoch's key until the end of the current epoch by Now, past that key's ttl of real time when Now stood still or was stepped back since the key was made, or when the key was made by another keyring (a restart); see the report")
	testSteps(t, true)
}

func testSteps(t *testing.T, real bool) {
	for _, shared := range []bool{false, true} {
		for seed := range uint64(6) {
			t.Run(fmt.Sprintf("shared=%v/seed=%d", shared, seed), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					runSteps(t, seed, real, func(clk *clickstoretest.Clock) retention.KeyStore {
						if !shared {
							return nil
						}
						s := retention.NewMemoryKeyStore(&retention.MemoryKeyStoreOptions{Now: clk.Now})
						t.Cleanup(func() { _ = s.Close() })
						return s
					})
				})
			})
		}
	}
}

func runSteps(t *testing.T, seed uint64, real bool, newStore func(*clickstoretest.Clock) retention.KeyStore) {
	policy, err := retention.NewPolicy(time.Minute, nil)
	require.NoError(t, err)
	w := policy.Window()
	clk := clickstoretest.NewClock(time.Now())
	store := newStore(clk)
	m := newLifeModel(t, policy, clk)
	m.real = real
	open := func() (*retention.Keyring, *clickstore.Builder) {
		keyring, err := retention.NewKeyring(&retention.KeyringOptions{Policy: policy, Store: store, Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		b, err := clickstore.NewBuilder(ipmask.Default, keyring, nil)
		require.NoError(t, err)
		return keyring, b
	}
	keyring, b := open()
	defer func() { _ = keyring.Close() }()
	sizes := []time.Duration{time.Nanosecond, w / 3, w - time.Nanosecond, w, w + time.Nanosecond, 2 * w, 3 * w}
	rng := rand.New(rand.NewPCG(seed, 5))
	for range 120 {
		d := sizes[rng.IntN(len(sizes))]
		switch rng.IntN(8) {
		case 0, 1: // time passes
			time.Sleep(d)
			clk.Advance(d)
			m.step("both +%v", d)
		case 2: // the wall clock stepped forward
			clk.Advance(d)
			m.step("wall +%v", d)
		case 3: // the wall clock stepped back
			clk.Advance(-d)
			m.step("wall -%v", d)
		case 4: // the wall clock stalls while real time passes
			time.Sleep(d)
			m.step("real +%v", d)
		case 5: // to the last instant of an epoch, or onto a boundary
			next := policy.EpochStart(policy.Epoch(clk.Now()) + 1)
			if rng.IntN(2) == 0 {
				next = next.Add(-time.Nanosecond)
			}
			time.Sleep(next.Sub(clk.Now()))
			clk.Set(next)
			m.step("both to %v", next.Sub(policy.EpochStart(policy.Epoch(next))))
		case 6: // a restart on the same store
			require.NoError(t, keyring.Close())
			keyring, b = open()
			for _, k := range m.keys {
				k.foreign = true
			}
			m.step("restart")
		case 7: // nothing: only the timers' work
			m.step("ask")
		}
		synctest.Wait()
		if store != nil {
			m.look(store)
		}
		m.ask(keyring, b)
	}
}
