package track_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
)

// flood sends n clicks on link from n different visitors of 203.0.113.0/24
// (a different user agent each) and returns the visits.
func flood(e *trackEnv, n int, link string) []track.Visit {
	out := make([]track.Visit, n)
	for i := range out {
		remote := fmt.Sprintf("203.0.113.%d:1", 1+i%254)
		out[i] = e.tracker.Track(request("GET", remote, fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) Flood/%d", i)), link, clickstore.KindClick)
	}
	return out
}

// A flood from one /24 fills its quota, not the store: a visitor from
// another network still gets an exact unique, then repeat, answer, where
// without the quota the store would be full.
func TestNetworkQuotaKeepsRoomForOthers(t *testing.T) {
	const capacity, quota, flooded = 150, 100, 1000
	e := newTrackEnvCap(t, &track.Options{NetworkQuota: quota}, capacity)

	visits := flood(e, flooded, "abc")
	for i, v := range visits {
		require.Equal(t, track.Counted, v.Outcome)
		if i < quota {
			require.Equal(t, clickstore.Unique, v.Uniqueness, "click %d is within the quota", i)
			require.False(t, v.OverQuota)
		} else {
			require.Equal(t, clickstore.UniqueUnknown, v.Uniqueness, "click %d is past the quota", i)
			require.True(t, v.OverQuota)
		}
	}
	assert.Equal(t, quota, held(t, e.store), "the store holds the network's quota and no more")

	other := request("GET", "198.51.100.7:1", firefox)
	v := e.tracker.Track(other, "abc", clickstore.KindClick)
	assert.Equal(t, clickstore.Unique, v.Uniqueness)
	assert.False(t, v.OverQuota)
	v = e.tracker.Track(other, "abc", clickstore.KindClick)
	assert.Equal(t, clickstore.Repeat, v.Uniqueness)

	st := e.tracker.Stats()
	assert.Equal(t, uint64(flooded+2), st.Clicks, "the flood is counted")
	assert.Equal(t, uint64(flooded-quota), st.OverQuota)
	assert.Equal(t, uint64(flooded-quota), st.UniqueUnknown)
	assert.Equal(t, uint64(quota+1), st.Unique)
	assert.Zero(t, st.StoreFull)
	adds := e.sink.all()
	require.Len(t, adds, flooded+2)
	assert.Equal(t, clickstore.UniqueUnknown, adds[flooded-1].U, "the sink gets the flood's clicks, uniqueness unknown")

	// Without a quota the same flood fills the store, and the other
	// network's visitor gets no answer: the store refuses rather than
	// evicts, and the tracker counts the refusals.
	e = newTrackEnvCap(t, &track.Options{NetworkQuota: -1}, capacity)
	flood(e, flooded, "abc")
	v = e.tracker.Track(other, "abc", clickstore.KindClick)
	assert.Equal(t, clickstore.UniqueUnknown, v.Uniqueness)
	assert.Equal(t, capacity, held(t, e.store))
	st = e.tracker.Stats()
	assert.Equal(t, uint64(flooded-capacity+1), st.StoreFull)
	assert.Equal(t, st.StoreFull, st.StoreFailures)
}

// The quota counts the clicks the store holds: once the window has passed
// for the flood's clicks, the network may have clicks held again.
func TestNetworkQuotaFreesAfterTheWindow(t *testing.T) {
	e := newTrackEnv(t, &track.Options{NetworkQuota: 10})
	flood(e, 10, "abc")
	v := flood(e, 1, "xyz")[0]
	require.True(t, v.OverQuota)

	e.clock.Advance(20 * time.Minute)
	v = e.tracker.Track(request("GET", "203.0.113.200:1", firefox), "abc", clickstore.KindClick)
	assert.True(t, v.OverQuota, "the flood's clicks are still held 20 minutes on")

	// The window is 30 minutes; the quota counts in eighths of it, erring
	// towards the store, so it frees within 30 + 30/8 minutes.
	e.clock.Advance(10*time.Minute + 30*time.Minute/8)
	v = e.tracker.Track(request("GET", "203.0.113.200:1", firefox), "abc", clickstore.KindClick)
	assert.False(t, v.OverQuota)
	assert.Equal(t, clickstore.Unique, v.Uniqueness)
}

// Networks are told apart as the Builder's policy masks: a /48 for IPv6.
func TestNetworkQuotaPerIPv6Network(t *testing.T) {
	e := newTrackEnv(t, &track.Options{NetworkQuota: 2})
	track := func(addr string) track.Visit {
		r := request("GET", netip.AddrPortFrom(netip.MustParseAddr(addr), 1).String(), firefox)
		return e.tracker.Track(r, "abc", clickstore.KindClick)
	}
	assert.False(t, track("2001:db8:1:1::1").OverQuota)
	assert.False(t, track("2001:db8:1:2::1").OverQuota)
	assert.True(t, track("2001:db8:1:ffff::1").OverQuota, "the same /48")
	assert.False(t, track("2001:db8:2::1").OverQuota, "another /48")
	assert.Equal(t, clickstore.Repeat, track("2001:db8:1:1::1").Uniqueness, "a visitor the store holds is told a repeat, over the quota too")
}

// An IPv6 address that carries a visitor's IPv4 address (a SIIT or NAT64
// translator in front of an IPv6-only service, IPv4-compatible, Teredo,
// 6to4) masks to a network that every such visitor shares (64:ff9b::/48):
// the quota tells them apart by their IPv4 network instead, as the policy
// would mask the IPv4 address, so that one IPv4 network's flood does not
// put every IPv4 visitor over the quota.
func TestNetworkQuotaPerEmbeddedIPv4Network(t *testing.T) {
	for _, form := range []struct{ name, a, b, c, other string }{
		{"nat64", "64:ff9b::198.51.100.7", "64:ff9b::198.51.100.8", "64:ff9b::198.51.100.9", "64:ff9b::203.0.113.7"},
		{"ipv4-compatible", "::198.51.100.7", "::198.51.100.8", "::198.51.100.9", "::203.0.113.7"},
		// Teredo's client address is XOR-obfuscated in the last 32 bits.
		{"teredo", "2001:0:4136:e378:8000:39cc:9bcb:f6f8", "2001:0:4136:e378:8000:39cc:9bcb:f6f7", "2001:0:4136:e378:8000:39cc:9bcb:f6f6", "2001:0:4136:e378:8000:39cc:34ff:8ef8"},
		{"6to4", "2002:c633:6407::1", "2002:c633:6408::1", "2002:c633:6409::1", "2002:cb00:7107::1"},
	} {
		t.Run(form.name, func(t *testing.T) {
			e := newTrackEnv(t, &track.Options{NetworkQuota: 2})
			track := func(addr string) track.Visit {
				r := request("GET", netip.AddrPortFrom(netip.MustParseAddr(addr), 1).String(), firefox)
				return e.tracker.Track(r, "abc", clickstore.KindClick)
			}
			assert.Equal(t, clickstore.Unique, track(form.a).Uniqueness)
			assert.Equal(t, clickstore.Unique, track(form.b).Uniqueness)
			assert.True(t, track(form.c).OverQuota, "the third visitor of one IPv4 /24")
			other := track(form.other)
			assert.False(t, other.OverQuota, "another IPv4 network under the same IPv6 prefix")
			assert.Equal(t, clickstore.Unique, other.Uniqueness)
		})
	}
}

// Under concurrent floods from several networks, each network's held
// clicks stay within its quota, give or take the clicks in flight.
func TestNetworkQuotaConcurrent(t *testing.T) {
	const quota, workers, perWorker = 50, 8, 200
	e := newTrackEnv(t, &track.Options{NetworkQuota: quota})
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range perWorker {
				remote := fmt.Sprintf("192.0.%d.%d:1", w%2, 1+i%250)
				e.tracker.Track(request("GET", remote, fmt.Sprintf("Mozilla/5.0 Flood/%d/%d", w, i)), "abc", clickstore.KindClick)
			}
		}()
	}
	for range workers {
		<-done
	}
	perNet := map[netip.Prefix]int{}
	for c, err := range e.store.All(t.Context()) {
		require.NoError(t, err)
		perNet[c.Network]++
	}
	require.Len(t, perNet, 2)
	for p, n := range perNet {
		assert.GreaterOrEqual(t, n, quota, p)
		assert.LessOrEqual(t, n, quota+workers, p)
	}
	st := e.tracker.Stats()
	assert.Equal(t, uint64(workers*perWorker), st.Clicks)
	assert.Equal(t, st.Clicks, st.Unique+st.OverQuota)
}
