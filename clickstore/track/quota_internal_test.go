package track

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// The quota forgets a network once none of its clicks can be held, so its
// memory follows the networks active within the window, not all it saw.
func TestQuotaForgetsQuietNetworks(t *testing.T) {
	const window = 30 * time.Minute
	q := newQuota(3, window)
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for i := range 1000 {
		q.add(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24), t0)
	}
	assert.Equal(t, 1000, q.networks())

	busy := netip.MustParsePrefix("192.0.2.0/24")
	for range 3 {
		assert.True(t, q.allow(busy, t0))
		q.add(busy, t0)
	}
	assert.False(t, q.allow(busy, t0), "at the quota")
	assert.False(t, q.allow(busy, t0.Add(window-time.Nanosecond)), "still held")
	assert.True(t, q.allow(busy, t0.Add(window+window/quotaSlots)), "all expired a slot after the window")

	// Every shard sweeps as its next add comes a window and a slot later.
	later := t0.Add(window + 2*window/quotaSlots)
	for i := range 256 {
		q.add(netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i), 0}), 24), later)
	}
	assert.Equal(t, 256, q.networks(), "only the networks active within the window are kept")

	// A clock that goes back counts in the newest slot and keeps counting.
	q.add(busy, later)
	q.add(busy, later.Add(-time.Hour))
	assert.Equal(t, uint32(2), func() uint32 {
		sh := q.shard(busy)
		c := sh.nets[busy]
		return c.held(later.UnixNano() / q.slot)
	}())
}

// allow answers as the count under the lock says, whether it takes the
// shortcut of the shard's peak or not, through floods, quiet spells and a
// clock that goes back.
func TestQuotaPeakAgreesWithCounts(t *testing.T) {
	const window = 30 * time.Minute
	q := newQuota(5, window)
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	locked := func(p netip.Prefix, now time.Time) bool {
		sh := q.shard(p)
		sh.mu.Lock()
		defer sh.mu.Unlock()
		c, ok := sh.nets[p]
		return !ok || c.held(now.UnixNano()/q.slot) < q.limit
	}
	rng := rand.New(rand.NewPCG(3, 4))
	now := t0
	shortcuts := 0
	for i := range 20000 {
		switch rng.IntN(10) {
		case 0:
			now = now.Add(time.Duration(rng.IntN(int(window / 2)))) // a quiet spell
		case 1:
			now = now.Add(-time.Duration(rng.IntN(int(window / 4)))) // the clock goes back
		}
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(40)), 0}), 24)
		want := locked(p, now)
		if q.shard(p).peak.Load() < q.limit {
			shortcuts++
		}
		if !assert.Equal(t, want, q.allow(p, now), "step %d", i) {
			return
		}
		if want {
			q.add(p, now)
		}
	}
	assert.Positive(t, shortcuts, "some answers took the shortcut")
	assert.Less(t, shortcuts, 20000, "some needed the lock")
}

// A flood from many networks, IPv6 /48s each with one click, grows the
// quota no further than the store lets it: a network is counted once the
// store holds its click, so a full store (clickstore.ErrFull) stops the
// quota's growth too, and its memory follows the store's capacity.
func TestQuotaGrowsNoFurtherThanTheStore(t *testing.T) {
	const capacity = 500
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	kr, err := retention.NewKeyring(&retention.KeyringOptions{Now: clock})
	require.NoError(t, err)
	t.Cleanup(func() { _ = kr.Close() })
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	store, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: clock, Capacity: capacity})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	tr, err := New(b, store, discard{}, &Options{Now: clock, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ua := "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
	for i := range 4 * capacity {
		r := httptest.NewRequest("GET", "/go/abc", nil)
		r.Header.Set("User-Agent", ua)
		r.RemoteAddr = netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i), 7: 1}), 1).String()
		tr.Track(r, "abc", clickstore.KindClick)
	}
	st := tr.Stats()
	require.Equal(t, uint64(capacity), st.Unique, "the store took its capacity")
	require.Equal(t, uint64(3*capacity), st.StoreFull)
	assert.Equal(t, capacity, tr.quota.networks())
}

type discard struct{}

func (discard) Add(context.Context, clickstore.Click, clickstore.Uniqueness) error { return nil }
