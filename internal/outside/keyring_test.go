package outside_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
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

// fakeWall is a wall clock a test steps back and forward, apart from the
// runtime's clock (synctest's), which the README says the key timers
// count: "however the wall clock is stepped (the timers count real time)".
type fakeWall struct {
	mu     sync.Mutex
	offset time.Duration
}

func (f *fakeWall) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return time.Now().Add(f.offset)
}

func (f *fakeWall) Step(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.offset += d
}

const agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"

// TestPseudonymDiesWithItsKey checks guarantee 5 from the outside: a
// visitor's pseudonym of epoch e can be computed (as the current or the
// previous one) until epoch e+1 ends, and never after, whatever time the
// caller asks for (e's own time included) and however the wall clock the
// keyring reads is stepped in between: kept, stepped back (stalled at the
// first click's time), stepped forward an hour, or stepped back a day.
// The keyring is built as the README builds it, retention.NewKeyring with
// only a clock, inside a synctest bubble whose runtime clock is the real
// time the timers count. Checked to fail: a Builder over a keyring whose
// Now is the stepped clock and whose keys were kept by the caller
// (computing with the Key of the first call) gives the first pseudonym
// back after the grace.
func TestPseudonymDiesWithItsKey(t *testing.T) {
	steps := map[string]func(w *fakeWall, elapsed time.Duration){
		"wall clock kept":       func(w *fakeWall, elapsed time.Duration) {},
		"wall clock stalled":    func(w *fakeWall, elapsed time.Duration) { w.Step(-15 * time.Minute) }, // stays at t0
		"wall clock +1h at 20m": func(w *fakeWall, elapsed time.Duration) { stepAt(w, elapsed, 30*time.Minute, time.Hour) },
		"wall clock -1d at 20m": func(w *fakeWall, elapsed time.Duration) { stepAt(w, elapsed, 30*time.Minute, -24*time.Hour) },
	}
	addrs := []netip.Addr{visitor4, visitor6, netip.MustParseAddr("2002:c633:644d::1")}
	for name, step := range steps {
		for _, a := range addrs {
			t.Run(name+"/"+a.String(), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					ctx := context.Background()
					wall := &fakeWall{}
					b, keyring := stepKeyring(t, wall, nil)
					t0 := wall.Now()
					window := keyring.Policy().Window()
					epochStart := t0.Truncate(window) // the bubble starts on an epoch boundary
					p0, _, err := b.Pseudonyms(ctx, a, agent, t0)
					require.NoError(t, err)
					require.False(t, p0.IsZero())

					for elapsed := 15 * time.Minute; elapsed <= 3*time.Hour; elapsed += 15 * time.Minute {
						time.Sleep(15 * time.Minute)
						synctest.Wait()
						step(wall, elapsed)
						alive := t0.Add(elapsed).Before(epochStart.Add(2 * window)) // by real time
						for _, at := range []time.Time{t0, wall.Now(), t0.Add(elapsed), epochStart.Add(window)} {
							cur, prev, err := b.Pseudonyms(ctx, a, agent, at)
							got := err == nil && (cur == p0 || prev == p0)
							if !alive {
								assert.False(t, got, "at %v of real time, asked for %v: the pseudonym of a destroyed key", elapsed, at.Sub(t0))
							}
						}
					}
				})
			})
		}
	}
}

// TestKeyAgeUnderClockSteps checks what the keyring's metrics say of
// guarantee 5 (KeyStats.OldestAge: "a key lives for its epoch and one
// more, so it stays below twice the window"; "clickanon_keyring_keys_held")
// for a service that asks for the keys of the current time, as the tracker
// does, once a minute for three hours, with the wall clock kept, stepped
// forward an hour and back a day. (A caller that asks for a time whose
// epoch's key is gone gets a new key for that epoch, already older than
// that by its epoch: rv6-findings.md F3.) Checked to fail: with the
// keyring's Now stalled and the tracker asking for real time, the keys of
// the real epochs are aged by the stalled clock and Held grows.
func TestKeyAgeUnderClockSteps(t *testing.T) {
	for name, step := range map[string]time.Duration{"kept": 0, "forward 1h": time.Hour, "back 1d": -24 * time.Hour} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				wall := &fakeWall{}
				keyring, err := retention.NewKeyring(&retention.KeyringOptions{Now: wall.Now, Logger: slog.New(slog.DiscardHandler)})
				require.NoError(t, err)
				defer keyring.Close()
				window := keyring.Policy().Window()
				for m := range 180 {
					if m == 50 {
						wall.Step(step)
					}
					_, _, err := keyring.Keys(context.Background(), wall.Now())
					require.NoError(t, err)
					st := keyring.Stats()
					assert.Less(t, st.OldestAge, 2*window, "minute %d", m)
					limit := 2
					if step < 0 && m >= 50 && m < 50+60 {
						limit = 3 // the keys of before the step live out their real time
					}
					assert.LessOrEqual(t, st.Held, limit, "minute %d", m)
					time.Sleep(time.Minute)
				}
				assert.Positive(t, keyring.Stats().Destroyed)
			})
		})
	}
}

// stepKeyring is a Builder over a keyring on wall's clock, with store (nil:
// the default).
func stepKeyring(t *testing.T, wall *fakeWall, store retention.KeyStore) (*clickstore.Builder, *retention.Keyring) {
	t.Helper()
	keyring, err := retention.NewKeyring(&retention.KeyringOptions{Now: wall.Now, Store: store, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = keyring.Close() })
	b, err := clickstore.NewBuilder(ipmask.Default, keyring, nil)
	require.NoError(t, err)
	return b, keyring
}

// foreverStore is a KeyStore that breaks its contract: it keeps every key
// for ever.
type foreverStore struct {
	mu   sync.Mutex
	keys map[int64][32]byte
}

func (s *foreverStore) LoadOrCreate(_ context.Context, epoch int64, candidate [32]byte, _ time.Duration) ([32]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[epoch]; ok {
		return k, nil
	}
	s.keys[epoch] = candidate
	return candidate, nil
}

func (s *foreverStore) Load(_ context.Context, epoch int64) ([32]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[epoch]
	return k, ok, nil
}

// TestPseudonymCheckHasTeeth runs TestPseudonymDiesWithItsKey's check on a
// keyring whose store keeps its keys for ever: the pseudonym of the first
// epoch comes back two hours later, which the check would report.
func TestPseudonymCheckHasTeeth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wall := &fakeWall{}
		b, _ := stepKeyring(t, wall, &foreverStore{keys: map[int64][32]byte{}})
		t0 := wall.Now()
		p0, _, err := b.Pseudonyms(context.Background(), visitor4, agent, t0)
		require.NoError(t, err)
		time.Sleep(2 * time.Hour)
		cur, _, err := b.Pseudonyms(context.Background(), visitor4, agent, t0)
		require.NoError(t, err)
		assert.Equal(t, p0, cur, "a store that keeps its keys brings the pseudonym back")
	})
}

// stepAt steps w by d once, when elapsed reaches at.
func stepAt(w *fakeWall, elapsed, at, d time.Duration) {
	if elapsed == at {
		w.Step(d)
	}
}

// TestKeyringCloseDestroys checks the README's "Close destroys": after
// Close no pseudonym can be computed, and the keyring holds no key.
// Checked to fail: with Close left out, Pseudonyms succeeds.
func TestKeyringCloseDestroys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		keyring, err := retention.NewKeyring(nil)
		require.NoError(t, err)
		b, err := clickstore.NewBuilder(ipmask.Default, keyring, nil)
		require.NoError(t, err)
		_, _, err = b.Pseudonyms(ctx, visitor4, agent, time.Now())
		require.NoError(t, err)
		require.Positive(t, keyring.Stats().Held)
		require.NoError(t, keyring.Close())
		assert.Zero(t, keyring.Stats().Held)
		_, _, err = b.Pseudonyms(ctx, visitor4, agent, time.Now())
		require.Error(t, err)
		assert.ErrorIs(t, err, retention.ErrClosed)
		_, err = b.Build(ctx, visitor4, agent, "spring", time.Now())
		assert.ErrorIs(t, err, retention.ErrClosed)
		_, _, err = keyring.Keys(ctx, time.Now())
		assert.ErrorIs(t, err, retention.ErrClosed)
	})
}

// secretForms returns the ways a program could print the bytes of secret,
// each cut into runs of 6 bytes, so that a partial print is found too: hex
// in either case, base64, and the decimal and 0x lists fmt prints arrays
// and slices with.
func secretForms(secret [32]byte) []string {
	var out []string
	for i := 0; i+6 <= len(secret); i += 6 {
		run := secret[i : i+6]
		var dec, hx []string
		for _, v := range run {
			dec = append(dec, fmt.Sprint(v))
			hx = append(hx, fmt.Sprintf("0x%x", v))
		}
		out = append(out,
			hex.EncodeToString(run),
			strings.ToUpper(hex.EncodeToString(run)),
			" "+strings.Join(dec, " ")+" ",
			strings.Join(dec, ","),
			strings.Join(hx, ", "),
		)
	}
	out = append(out, base64.StdEncoding.EncodeToString(secret[:])[:16], base64.RawURLEncoding.EncodeToString(secret[:])[:16])
	return out
}

// TestNoKeyInWhatIsPrinted checks guarantee 5's "no key in what a keyring
// prints or logs", and goes beyond the keyring to everything that holds it
// or its keys, as a developer prints them when debugging: the Keyring, the
// Keys it hands out, the Builder, the Tracker, the Memory store and the
// Rollup, a struct of the service holding them all, and errors after
// Close, with every fmt verb, slog's text and JSON handlers and
// encoding/json. Checked to fail: the secret printed with %x is found.
func TestNoKeyInWhatIsPrinted(t *testing.T) {
	ctx := context.Background()
	d := newDeployment(t, nil, nil, nil)
	now := time.Now()
	cur, prev, err := d.keyring.Keys(ctx, now)
	require.NoError(t, err)
	_, err = d.builder.Build(ctx, visitor4, agent, "spring", now)
	require.NoError(t, err)
	service := struct {
		Keyring *retention.Keyring
		Builder *clickstore.Builder
		Tracker *track.Tracker
		Store   *clickstore.Memory
		Stats   *aggregate.Rollup
		Current retention.Key
		Keys    []retention.Key
	}{d.keyring, d.builder, d.tracker, d.store, d.stats, cur, []retention.Key{cur, prev}}

	var out bytes.Buffer
	values := []any{d.keyring, d.builder, d.tracker, d.store, d.stats, cur, prev, &cur, service, &service}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		j, _ := json.Marshal(v)
		out.Write(j)
	}
	for _, h := range []slog.Handler{slog.NewTextHandler(&out, nil), slog.NewJSONHandler(&out, nil)} {
		slog.New(h).Info("debug", "keyring", d.keyring, "key", cur, "prev", prev, "service", service, "builder", d.builder)
	}
	require.NoError(t, d.keyring.Close())
	_, _, err = d.keyring.Keys(ctx, now)
	require.Error(t, err)
	fmt.Fprintf(&out, "%v %+v %#v\n", err, err, err)

	require.True(t, bytes.Contains([]byte(fmt.Sprintf("%x", cur.Secret())), []byte(secretForms(cur.Secret())[0])), "the search finds a printed secret")
	for _, k := range []retention.Key{cur, prev} {
		if k.IsZero() {
			continue
		}
		for _, f := range secretForms(k.Secret()) {
			assert.NotContains(t, out.String(), f, "key bytes printed")
		}
	}
	assert.False(t, errors.Is(err, retention.ErrLocalKey))
}

// TestNoDateDerivedPseudonym checks guarantee 5's "no date-derived or
// unkeyed hash anywhere" from the outside: two keyrings made at the same
// instant, in two bubbles whose clocks agree (two instances of a service
// that share no key store), give the same visitor different pseudonyms,
// which a key derived from the date, the window or a constant would not;
// and within one keyring the pseudonym is stable in its epoch and changes
// at the next. Checked to fail: two Builders over one keyring agree.
func TestNoDateDerivedPseudonym(t *testing.T) {
	pseudonym := func() (now, later clickstore.Pseudonym) {
		synctest.Test(t, func(t *testing.T) {
			keyring, err := retention.NewKeyring(nil)
			require.NoError(t, err)
			defer keyring.Close()
			b, err := clickstore.NewBuilder(ipmask.Default, keyring, nil)
			require.NoError(t, err)
			p1, _, err := b.Pseudonyms(context.Background(), visitor4, agent, time.Now())
			require.NoError(t, err)
			p2, _, err := b.Pseudonyms(context.Background(), visitor4, agent, time.Now().Add(29*time.Minute))
			require.NoError(t, err)
			assert.Equal(t, p1, p2, "stable within its epoch")
			time.Sleep(30 * time.Minute)
			p3, _, err := b.Pseudonyms(context.Background(), visitor4, agent, time.Now())
			require.NoError(t, err)
			now, later = p1, p3
		})
		return now, later
	}
	a, aNext := pseudonym()
	b, _ := pseudonym()
	assert.NotEqual(t, a, b, "two keyrings at one instant share no key")
	assert.NotEqual(t, a, aNext, "a new epoch, a new pseudonym")
}
