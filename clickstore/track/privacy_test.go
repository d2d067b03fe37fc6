package track_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// With BuilderOptions.KeepRawAddr the store holds the full address for its
// window, which is what the option is for; the Sink, the durable half,
// gets every click and conversion without it.
func TestSinkNeverGetsTheRawAddress(t *testing.T) {
	kr, err := retention.NewKeyring(nil)
	require.NoError(t, err)
	b, err := clickstore.NewBuilder(ipmask.Default, kr, &clickstore.BuilderOptions{KeepRawAddr: true})
	require.NoError(t, err)
	clock := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	store, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	sink := &recordingSink{}
	tr, err := track.New(b, store, sink, &track.Options{Now: now, NetworkQuota: 1})
	require.NoError(t, err)

	raw := netip.MustParseAddr("198.51.100.77")
	for _, step := range []struct {
		name, remote, ua, link string
		kind                   clickstore.Kind
		want                   track.Visit
	}{
		{"unique click", "198.51.100.77:1", firefox, "abc", clickstore.KindClick,
			track.Visit{Link: "abc", Outcome: track.Counted, Uniqueness: clickstore.Unique}},
		{"repeat", "198.51.100.77:2", firefox, "abc", clickstore.KindClick,
			track.Visit{Link: "abc", Outcome: track.Counted, Uniqueness: clickstore.Repeat}},
		{"bot", "198.51.100.77:3", "curl/8.5.0", "abc", clickstore.KindClick,
			track.Visit{Link: "abc", Outcome: track.Counted, Uniqueness: clickstore.Repeat, Bot: track.LabelHTTPClient}},
		{"over quota", "198.51.100.78:1", firefox, "abc", clickstore.KindClick,
			track.Visit{Link: "abc", Outcome: track.Counted, Uniqueness: clickstore.UniqueUnknown, OverQuota: true}},
		{"conversion", "198.51.100.77:4", firefox, "", clickstore.KindConversion,
			track.Visit{Link: "abc", Kind: clickstore.KindConversion, Outcome: track.Counted}},
	} {
		v := tr.Track(request("GET", step.remote, step.ua), step.link, step.kind)
		assert.Equal(t, step.want, v, step.name)
	}
	var held []netip.Addr
	for c, err := range store.All(context.Background()) {
		require.NoError(t, err)
		held = append(held, c.RawAddr)
	}
	assert.Equal(t, []netip.Addr{raw}, held, "the store keeps what KeepRawAddr asks for")

	adds := sink.all()
	require.Len(t, adds, 5)
	for i, a := range adds {
		assert.False(t, a.Click.RawAddr.IsValid(), "add %d (%v) hands the sink the raw address", i, a.Click.Kind)
		assert.Equal(t, netip.MustParsePrefix("198.51.100.0/24"), a.Click.Network, "add %d", i)
	}
}

// The tracker classifies an agent again once its cache entry is a window
// old: what it knows of an agent lasts no longer than the store's clicks.
func TestTrackerAgentCacheLastsOneWindow(t *testing.T) {
	var classified int
	e := newTrackEnv(t, &track.Options{Window: 10 * time.Minute, Classify: func(ua string) track.Agent {
		classified++
		return track.Classify(ua)
	}})
	t0 := e.clock
	for _, step := range []struct {
		name       string
		after      time.Duration
		classified int
	}{
		{"first click", 0, 1},
		{"within the window", 10*time.Minute - time.Nanosecond, 1},
		{"a window later", 10 * time.Minute, 2},
	} {
		e.clock = t0.Add(step.after)
		v := e.tracker.Track(request("GET", "198.51.100.77:1", firefox), "abc", clickstore.KindClick)
		assert.Equal(t, track.Counted, v.Outcome, step.name)
		assert.Equal(t, step.classified, classified, step.name)
	}
}
