package clickstore_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/internal/testkit"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

func TestMemoryConformance(t *testing.T) {
	clickstoretest.Run(t, func(t *testing.T, cfg clickstoretest.Config) clickstore.Store {
		m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Policy: cfg.Policy, Capacity: cfg.Capacity, Now: cfg.Now})
		require.NoError(t, err)
		return m
	})
}

func TestZeroMemoryConformance(t *testing.T) {
	// The zero Memory reads time.Now, so only the clauses that do not move
	// the clock can run on it; do a smoke check of the same kind.
	var m clickstore.Memory
	ctx := context.Background()
	c := testClick(1, "z")
	c.Time = time.Now()
	first, err := m.Record(ctx, c)
	require.NoError(t, err)
	assert.True(t, first)
	first, err = m.Record(ctx, c)
	require.NoError(t, err)
	assert.False(t, first)
	require.NoError(t, m.Close())
	_, err = m.Record(ctx, c)
	assert.True(t, errors.Is(err, clickstore.ErrClosed))
}

var t0 = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

func pseudonymOf(i int) clickstore.Pseudonym { return clickstoretest.Visitor(i) }

func testClick(i int, link string) clickstore.Click { return clickstoretest.Click(i, link, t0) }

// newBuilder returns a Builder that masks with policy and hashes with a
// fresh keyring of random keys, and that keyring.
func newBuilder(t testing.TB, policy ipmask.Policy) (*clickstore.Builder, *retention.Keyring) {
	t.Helper()
	ring, err := retention.NewKeyring(nil)
	require.NoError(t, err)
	b, err := clickstore.NewBuilder(policy, ring, nil)
	require.NoError(t, err)
	return b, ring
}

func TestNewMemoryErrors(t *testing.T) {
	_, err := clickstore.NewMemory(&clickstore.MemoryOptions{Capacity: -1})
	require.Error(t, err)
	assert.EqualError(t, err, "clickstore: NewMemory: capacity -1 is negative")
}

// Physical deletion: by t+W+1s the record is gone, with nobody calling the
// store, and Close leaves no goroutine (synctest.Test checks that).
func TestMemoryDestroysOnItsOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := clickstore.NewMemory(nil)
		require.NoError(t, err)
		ctx := context.Background()
		for i := range 100 {
			c := testClick(i, "own")
			c.Time = time.Now()
			_, err := m.Record(ctx, c)
			require.NoError(t, err)
		}
		time.Sleep(retention.DefaultWindow - time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, 100, m.Len(), "held until the deadline")
		time.Sleep(time.Second + time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, 0, m.Len(), "physically destroyed by t+W+1s with no call to the store")
		require.NoError(t, m.Close())
	})
}

// A Memory prints and logs as its name and how many clicks it holds,
// with every verb: fmt does not walk its fields, which hold the clicks'
// networks and pseudonyms and which its timer changes while fmt would
// read them (a data race the race detector found in a test that printed
// a store).
func TestMemoryPrintsAsItsName(t *testing.T) {
	m, err := clickstore.NewMemory(nil)
	require.NoError(t, err)
	defer m.Close()
	c := testClick(1, "print")
	c.Time = time.Now()
	_, err = m.Record(context.Background(), c)
	require.NoError(t, err)
	testkit.CheckPrintsAs(t, m, "clickstore.Memory(1 held)")
	var nilMemory *clickstore.Memory
	testkit.CheckPrintsAs(t, nilMemory, "clickstore.Memory(nil)")
}

// With no Now, the store reads the wall clock through the monotonic one
// (internal/wallclock): a click is visible until t+W and not at t+W,
// exactly.
func TestMemoryDefaultClockWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := clickstore.NewMemory(nil)
		require.NoError(t, err)
		defer m.Close()
		ctx := context.Background()
		c := testClick(1, "w")
		c.Time = time.Now()
		_, err = m.Record(ctx, c)
		require.NoError(t, err)
		time.Sleep(retention.DefaultWindow - time.Nanosecond)
		_, ok, err := m.Latest(ctx, c.Visitor, clickstore.Pseudonym{}, "w")
		require.NoError(t, err)
		assert.True(t, ok, "held until t+W")
		first, err := m.Record(ctx, c)
		require.NoError(t, err)
		assert.False(t, first, "a repeat until t+W")
		time.Sleep(time.Nanosecond)
		_, ok, err = m.Latest(ctx, c.Visitor, clickstore.Pseudonym{}, "w")
		require.NoError(t, err)
		assert.False(t, ok, "gone at t+W")
	})
}

func TestMemoryCloseStopsTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := clickstore.NewMemory(nil)
		require.NoError(t, err)
		c := testClick(1, "x")
		c.Time = time.Now()
		_, err = m.Record(context.Background(), c)
		require.NoError(t, err)
		require.NoError(t, m.Close())
		assert.Equal(t, 0, m.Len())
		time.Sleep(2 * retention.DefaultWindow)
		synctest.Wait() // a goroutine left behind would fail the bubble
	})
}

// A stalled clock (the monotonic clock of a suspended machine) cannot extend
// a lifetime when the wall clock moved on, and a wall clock set back cannot
// either.
func TestMemoryClockJumps(t *testing.T) {
	ctx := context.Background()
	base := time.Now() // has a monotonic reading
	tests := []struct {
		name  string
		later time.Time
	}{
		{"wall moved, monotonic stalled", base.Add(0).Round(0).Add(retention.DefaultWindow)},
		{"wall set back, monotonic moved", base.Add(retention.DefaultWindow).Add(-48 * time.Hour).Add(48 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clickstoretest.NewClock(base) // the store's timer reads it too
			m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: clk.Now})
			require.NoError(t, err)
			defer m.Close()
			_, err = m.Record(ctx, testClick(1, "j"))
			require.NoError(t, err)
			clk.Set(tt.later)
			_, ok, err := m.Latest(ctx, pseudonymOf(1), clickstore.Pseudonym{}, "")
			require.NoError(t, err)
			assert.False(t, ok)
		})
	}
}

func TestMemoryRecordAllocs(t *testing.T) {
	ctx := context.Background()
	now := t0
	m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: func() time.Time { return now }})
	require.NoError(t, err)
	defer m.Close()
	for i := range 10_000 {
		_, err := m.Record(ctx, testClick(i, "warm"))
		require.NoError(t, err)
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		c := testClick(i%10_000, "warm")
		_, _ = m.Record(ctx, c) // repeats
		c = testClick(20_000+i, "warm")
		_, _ = m.Record(ctx, c) // new clicks on an interned link
		i++
	})
	assert.Zero(t, allocs)
}

func TestMemoryHeapReturns(t *testing.T) {
	ctx := context.Background()
	now := t0
	var nowMu sync.Mutex // the store's timer reads the clock too; the test writes it under nowMu
	m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: func() time.Time {
		nowMu.Lock()
		defer nowMu.Unlock()
		return now
	}, Capacity: heapClicks})
	require.NoError(t, err)
	defer m.Close()
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	links := make([]string, 1000)
	for i := range links {
		links[i] = fmt.Sprintf("link-%d", i)
	}
	for i := range heapClicks {
		c := testClick(i, links[i%len(links)])
		c.Referrer = links[i%7]
		nowMu.Lock()
		now = t0.Add(time.Duration(i) * time.Microsecond)
		nowMu.Unlock()
		first, err := m.Record(ctx, c)
		require.True(t, err == nil && first, "click %d: %v", i, err)
	}
	full := heap()
	perClick := float64(full-before) / heapClicks
	t.Logf("heap: %d B before, %d B with %d clicks (%.1f B per click)", before, full, heapClicks, perClick)
	assert.Less(t, perClick, 96.0, "a 48-byte record plus its share of index, slabs and interned values")

	nowMu.Lock()
	now = now.Add(retention.DefaultWindow)
	nowMu.Unlock()
	st, err := m.Sweep(ctx, now)
	require.NoError(t, err)
	// The store's timer, which reads the clock every second while clicks
	// are held, may have destroyed some of them before the sweep.
	assert.LessOrEqual(t, st.Deleted, heapClicks)
	assert.Equal(t, 0, st.Held)
	assert.Zero(t, m.Len(), "every click destroyed, by the sweep or the timer")
	after := heap()
	t.Logf("heap after expiry: %d B", after)
	assert.Less(t, int64(after)-int64(before), int64(1<<20), "heap back within 1 MiB of where it started")
}

func TestBuilder(t *testing.T) {
	ctx := context.Background()
	secret := bytes.Repeat([]byte{7}, 32)
	ring, err := retention.NewKeyring(&retention.KeyringOptions{Rand: bytes.NewReader(append(secret, bytes.Repeat([]byte{9}, 32)...))})
	require.NoError(t, err)
	b, err := clickstore.NewBuilder(ipmask.Default, ring, nil)
	require.NoError(t, err)
	addr := netip.MustParseAddr("192.0.2.123")
	c, err := b.Build(ctx, addr, "Mozilla/5.0", "l1", t0)
	require.NoError(t, err)
	require.NoError(t, c.Validate())

	// The pseudonym is the documented HMAC, computed here with crypto/hmac.
	ua := sha256.Sum256([]byte("Mozilla/5.0"))
	ip := addr.As16()
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("clickanon/visitor/v2\x00"))
	mac.Write(ip[:])
	mac.Write(ua[:16])
	var want clickstore.Pseudonym
	copy(want[:], mac.Sum(nil))
	assert.Equal(t, want, c.Visitor)
	assert.True(t, c.PrevVisitor.IsZero())
	assert.Equal(t, netip.MustParsePrefix("192.0.2.0/24"), c.Network)
	assert.False(t, c.RawAddr.IsValid(), "raw address kept without the option")

	mapped, err := b.Build(ctx, netip.MustParseAddr("::ffff:192.0.2.123"), "Mozilla/5.0", "other", t0)
	require.NoError(t, err)
	assert.Equal(t, c.Visitor, mapped.Visitor, "mapped form and link do not change the pseudonym")
	otherUA, err := b.Build(ctx, addr, "curl", "l1", t0)
	require.NoError(t, err)
	assert.NotEqual(t, c.Visitor, otherUA.Visitor)

	next, err := b.Build(ctx, addr, "Mozilla/5.0", "l1", t0.Add(retention.DefaultWindow))
	require.NoError(t, err)
	assert.Equal(t, c.Visitor, next.PrevVisitor, "after the boundary the old pseudonym is PrevVisitor")
	assert.NotEqual(t, c.Visitor, next.Visitor)

	digest := clickstore.DigestAgent("Mozilla/5.0")
	assert.Equal(t, clickstore.AgentDigest(ua), digest, "the digest is the user agent's SHA-256")
	byDigest, err := b.BuildDigest(ctx, addr, digest, "l1", t0)
	require.NoError(t, err)
	assert.Equal(t, c, byDigest, "BuildDigest builds what Build does")
	assert.Equal(t, ipmask.Default, b.Policy())

	keep, err := clickstore.NewBuilder(ipmask.Default, ring, &clickstore.BuilderOptions{KeepRawAddr: true})
	require.NoError(t, err)
	raw, err := keep.Build(ctx, addr, "", "l1", t0)
	require.NoError(t, err)
	assert.Equal(t, addr, raw.RawAddr)
}

func TestBuilderErrors(t *testing.T) {
	b, _ := newBuilder(t, ipmask.Default)
	ctx := context.Background()
	addr := netip.MustParseAddr("192.0.2.1")
	tests := []struct {
		name string
		addr netip.Addr
		link string
		now  time.Time
	}{
		{"zero address", netip.Addr{}, "l", t0},
		{"empty link", addr, "", t0},
		{"long link", addr, string(make([]byte, clickstore.MaxLinkLen+1)), t0},
		{"zero time", addr, "l", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.Build(ctx, tt.addr, "ua", tt.link, tt.now)
			require.Error(t, err)
			assert.True(t, errors.Is(err, clickstore.ErrInvalidClick), err.Error())
			assert.Contains(t, err.Error(), "clickstore: ")
		})
	}
	_, err := b.BuildDigest(ctx, addr, clickstore.AgentDigest{}, "l", t0)
	assert.ErrorIs(t, err, clickstore.ErrInvalidClick, "a zero digest is no user agent's")
	_, err = b.Build(ctx, netip.Addr{}, "ua", "l", t0)
	assert.EqualError(t, err, "clickstore: address: invalid click: zero address")
	_, err = clickstore.NewBuilder(ipmask.Default, nil, nil)
	assert.EqualError(t, err, "clickstore: NewBuilder: nil keyring")
}

func TestBuildAllocs(t *testing.T) {
	b, _ := newBuilder(t, ipmask.Default)
	ctx := context.Background()
	addr := netip.MustParseAddr("2001:db8::1")
	ua := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
	_, err := b.Build(ctx, addr, ua, "l", t0)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() { _, _ = b.Build(ctx, addr, ua, "l", t0) })
	assert.Zero(t, allocs)
}

func TestPseudonymText(t *testing.T) {
	p := pseudonymOf(3)
	q, err := clickstore.ParsePseudonym(p.String())
	require.NoError(t, err)
	assert.Equal(t, p, q)
	for _, tt := range []struct{ name, in, want string }{
		{"empty", "", "clickstore: pseudonym of 0 bytes: want 32 hex digits"},
		{"short", "xyz", "clickstore: pseudonym of 3 bytes: want 32 hex digits"},
		{"not hex", p.String()[:30] + "zz", "clickstore: pseudonym: byte 31 of 32 is not a hex digit"},
		{"first byte", "g" + p.String()[1:], "clickstore: pseudonym: byte 1 of 32 is not a hex digit"},
	} {
		_, err := clickstore.ParsePseudonym(tt.in)
		assert.EqualError(t, err, tt.want, tt.name)
	}
}

// TestMemoryModel runs random operations against a Memory and against a
// plain map that follows the Store contract, and compares every answer.
// Its visitors all fall in one shard, so that hash chains are long and
// records are linked, unlinked, erased and expired from every position in
// them, across buckets, chunks and index rebuilds.
func TestMemoryModel(t *testing.T) {
	const (
		window   = time.Minute
		visitors = 40
		ops      = 20_000
	)
	ctx := context.Background()
	pol, err := retention.NewPolicy(window, nil)
	require.NoError(t, err)
	now := t0
	var nowMu sync.Mutex // the store's timer reads the clock too; the test writes it under nowMu
	m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Policy: pol, Now: func() time.Time {
		nowMu.Lock()
		defer nowMu.Unlock()
		return now
	}})
	require.NoError(t, err)
	defer m.Close()

	visitor := func(i int) clickstore.Pseudonym {
		var p clickstore.Pseudonym
		binary.LittleEndian.PutUint64(p[:8], uint64(i)<<6|5) // one shard
		binary.LittleEndian.PutUint64(p[8:], uint64(i)*0x9e3779b97f4a7c15+3)
		return p
	}
	links := []string{"a", "b", "c", "d", "e", "f"}
	nets := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("2001:db8:1::/48"),
		netip.MustParsePrefix("2001:db8:1:2::/64"),
		netip.MustParsePrefix("2001:db8:1:2:8000::/65"),
		netip.MustParsePrefix("::ffff:192.0.2.0/120"),
		netip.MustParsePrefix("2001:db8::7/128"),
		netip.MustParsePrefix("2001:db8::8/128"),
	}

	type key struct {
		v    clickstore.Pseudonym
		link string
	}
	type held struct {
		c   clickstore.Click
		put time.Time
	}
	model := map[key]held{}
	live := func(h held, ok bool) bool { return ok && now.Before(h.put.Add(window)) }
	// erase drops the model's clicks that match and counts the live ones.
	erase := func(match func(key) bool) int {
		n := 0
		for k, h := range model {
			if match(k) {
				if live(h, true) {
					n++
				}
				delete(model, k)
			}
		}
		return n
	}
	latest := func(v, prev clickstore.Pseudonym, link string) (held, bool) {
		var best held
		found := false
		for k, h := range model {
			if (k.v == v || (!prev.IsZero() && k.v == prev)) && (link == "" || k.link == link) && live(h, true) && (!found || h.put.After(best.put)) {
				best, found = h, true
			}
		}
		return best, found
	}
	same := func(t *testing.T, want, got clickstore.Click) {
		t.Helper()
		assert.True(t, want.Time.Equal(got.Time), "time %v, want %v", got.Time, want.Time)
		want.Time, got.Time = time.Time{}, time.Time{}
		want.PrevVisitor = clickstore.Pseudonym{}
		assert.Equal(t, want, got)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for op := range ops {
		nowMu.Lock()
		now = now.Add(time.Duration(1 + rng.Int64N(int64(600*time.Millisecond))))
		nowMu.Unlock()
		v := visitor(rng.IntN(visitors))
		link := links[rng.IntN(len(links))]
		switch r := rng.IntN(100); {
		case r < 70:
			c := clickstore.Click{Link: link, Time: now.Add(-time.Duration(rng.IntN(1e9))), Visitor: v, Network: nets[rng.IntN(len(nets))]}
			if rng.IntN(4) == 0 {
				c.PrevVisitor = visitor(rng.IntN(visitors))
			}
			if rng.IntN(4) == 0 {
				c.Country, c.Device = "DE", "mobile"
			}
			h, ok := model[key{c.Visitor, link}]
			want := !live(h, ok)
			if !c.PrevVisitor.IsZero() {
				h, ok := model[key{c.PrevVisitor, link}]
				want = want && !live(h, ok)
			}
			first, err := m.Record(ctx, c)
			require.NoError(t, err)
			require.Equal(t, want, first, "op %d: Record", op)
			if first {
				model[key{c.Visitor, link}] = held{c, now}
			}
		case r < 85:
			prev := clickstore.Pseudonym{}
			if rng.IntN(2) == 0 {
				prev = visitor(rng.IntN(visitors))
			}
			if rng.IntN(2) == 0 {
				link = ""
			}
			want, wantOK := latest(v, prev, link)
			got, ok, err := m.Latest(ctx, v, prev, link)
			require.NoError(t, err)
			require.Equal(t, wantOK, ok, "op %d: Latest", op)
			if ok {
				same(t, want.c, got)
			}
		case r < 92:
			want := erase(func(k key) bool { return k.v == v })
			n, err := m.EraseVisitor(ctx, v)
			require.NoError(t, err)
			require.Equal(t, want, n, "op %d: EraseVisitor", op)
		case r < 94:
			want := erase(func(k key) bool { return k.link == link })
			n, err := m.EraseLink(ctx, link)
			require.NoError(t, err)
			require.Equal(t, want, n, "op %d: EraseLink", op)
		case r < 97:
			nowMu.Lock()
			now = now.Add(time.Duration(rng.Int64N(int64(window))))
			nowMu.Unlock()
		default:
			st, err := m.Sweep(ctx, now)
			require.NoError(t, err)
			want := map[key]held{}
			for k, h := range model {
				if live(h, true) {
					want[k] = h
				}
			}
			require.Equal(t, len(want), st.Held, "op %d: Sweep", op)
			require.Equal(t, len(want), m.Len())
			got := 0
			for c, err := range m.All(ctx) {
				require.NoError(t, err)
				h, ok := want[key{c.Visitor, c.Link}]
				require.True(t, ok, "op %d: All gave %+v, not held", op, c)
				same(t, h.c, c)
				got++
			}
			require.Equal(t, len(want), got, "op %d: All", op)
		}
	}
}

// Every network reads back as it was recorded, whatever its family and
// length, alone or sharing its shard with others of the same network, and
// erasing or expiring one click leaves the others' networks intact.
func TestMemoryNetworks(t *testing.T) {
	tests := []struct {
		name    string
		network string
	}{
		{"IPv4 /0", "0.0.0.0/0"},
		{"IPv4 /8", "10.0.0.0/8"},
		{"IPv4 /24", "192.0.2.0/24"},
		{"IPv4 /31", "255.255.255.254/31"},
		{"IPv4 /32", "255.255.255.255/32"},
		{"IPv6 /0", "::/0"},
		{"IPv6 /1", "8000::/1"},
		{"IPv6 /48", "2001:db8:1::/48"},
		{"IPv6 /56", "2001:db8:1:ff00::/56"},
		{"IPv6 /63", "ffff:ffff:ffff:fffe::/63"},
		{"IPv6 /64", "ffff:ffff:ffff:ffff::/64"},
		{"IPv6 /64 zero", "::/64"},
		{"IPv6 /65", "2001:db8:1:2:8000::/65"},
		{"IPv6 /96", "2001:db8:1:2:3:4::/96"},
		{"IPv6 /128", "2001:db8::1/128"},
		{"IPv6 /128 all ones", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"},
		{"IPv4-mapped /96", "::ffff:0.0.0.0/96"},
		{"IPv4-mapped /120", "::ffff:192.0.2.0/120"},
		{"IPv6 /32 zero", "::/32"},
	}
	ctx := context.Background()
	clk := clickstoretest.NewClock(t0) // the store's timer reads it too
	m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: clk.Now})
	require.NoError(t, err)
	defer m.Close()
	want := map[clickstore.Pseudonym]clickstore.Click{}
	for i, tt := range tests {
		for j := range 3 { // three clicks per network, two in one shard
			c := testClick(1000*i+j, "n")
			if j == 2 {
				c.Visitor = pseudonymOf(1000*i + 1)
				c.Link = "other"
			}
			c.Network = netip.MustParsePrefix(tt.network)
			c.Country = "FR"
			first, err := m.Record(ctx, c)
			require.NoError(t, err, tt.name)
			require.True(t, first, tt.name)
			want[c.Visitor] = c
		}
	}
	check := func(stage string) {
		for i, tt := range tests {
			for j := range 2 {
				v := pseudonymOf(1000*i + j)
				w, held := want[v]
				got, ok, err := m.Latest(ctx, v, clickstore.Pseudonym{}, "")
				require.NoError(t, err)
				require.Equal(t, held, ok, "%s: %s", stage, tt.name)
				if held {
					assert.Equal(t, w.Network, got.Network, "%s: %s", stage, tt.name)
					assert.Equal(t, w.Network.String(), tt.network, "%s: %s", stage, tt.name)
				}
			}
		}
		n := 0
		for c, err := range m.All(ctx) {
			require.NoError(t, err)
			assert.Equal(t, want[c.Visitor].Network, c.Network, stage)
			n++
		}
		assert.Equal(t, m.Len(), n, stage)
	}
	check("recorded")
	for i := range tests {
		v := pseudonymOf(1000 * i)
		_, err := m.EraseVisitor(ctx, v)
		require.NoError(t, err)
		delete(want, v)
	}
	check("one erased")
	clk.Advance(retention.DefaultWindow / 2)
	for i, tt := range tests {
		c := testClick(1000*i, "n")
		c.Network = netip.MustParsePrefix(tt.network)
		c.Time = clk.Now()
		_, err := m.Record(ctx, c)
		require.NoError(t, err)
		want[c.Visitor] = c
	}
	clk.Advance(retention.DefaultWindow / 2)
	_, err = m.Sweep(ctx, clk.Now())
	require.NoError(t, err)
	for i := range tests {
		delete(want, pseudonymOf(1000*i+1))
	}
	check("older ones expired")
	assert.Equal(t, len(tests), m.Len())
}

// Networks too long for a record are interned per shard; they must go with
// their last click even while the shard holds others. The heap left after
// a burst of clicks on /128 networks expires is compared with the heap left
// after the same burst on /48 networks, which records hold themselves.
func TestMemoryLongNetworksReleased(t *testing.T) {
	ctx := context.Background()
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	const n = heapClicks / 10
	residue := func(bits int) int64 {
		clk := clickstoretest.NewClock(t0) // the store's timer reads it too
		m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: clk.Now})
		require.NoError(t, err)
		defer m.Close()
		before := heap()
		for i := range n {
			c := testClick(i, "burst")
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0xd, 0xb8, 12: byte(i >> 16), byte(i >> 8), byte(i), 1})
			c.Network = netip.PrefixFrom(a, bits).Masked()
			_, err := m.Record(ctx, c)
			require.NoError(t, err)
		}
		clk.Advance(retention.DefaultWindow / 2)
		for i := range 64 { // one click left on every shard
			c := testClick(n+i, "anchor")
			c.Network = netip.MustParsePrefix("2001:db8::/48")
			_, err := m.Record(ctx, c)
			require.NoError(t, err)
		}
		clk.Advance(retention.DefaultWindow / 2)
		st, err := m.Sweep(ctx, clk.Now())
		require.NoError(t, err)
		// The store's own timer may have destroyed some of the burst
		// before this Sweep (it reads the clock once a second): what is
		// held is what counts.
		require.LessOrEqual(t, st.Deleted, n)
		require.Equal(t, 64, st.Held)
		require.Equal(t, 64, m.Len())
		return int64(heap()) - int64(before)
	}
	short, long := residue(48), residue(128)
	t.Logf("heap left after expiry: %d B with /48 networks, %d B with /128", short, long)
	assert.Less(t, long-short, int64(1<<20), "long networks are given back with their clicks")
}
