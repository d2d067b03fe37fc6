package serve_test

import (
	"log/slog"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// The window's edge, the quota's and a restart, on the default clocks of
// every part (the tracker's wall clock read by monotonic time, the
// keyring's, the store's), in a testing/synctest bubble: a visitor's
// repeat a nanosecond before the window ends is a repeat, also across a
// key rotation; one at the window's end is unique again; a tracker made
// anew on the same store and builder (a restart) tells the visitors the
// store holds that they are repeats, and its quota counts from none; the
// quota of a network at its limit does not free before the store forgot
// its clicks, and has freed an eighth of a window after. Each start offset
// puts the window's end in another place relative to the keys' epochs.
func TestWindowEdgeAndRestartOnDefaultClocks(t *testing.T) {
	const w = retention.DefaultWindow
	for _, offset := range []time.Duration{0, time.Nanosecond, 10 * time.Minute, w/2 + 7*time.Second, w - time.Nanosecond} {
		t.Run(offset.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				time.Sleep(offset)
				kr, err := retention.NewKeyring(nil)
				require.NoError(t, err)
				defer func() { _ = kr.Close() }()
				b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
				require.NoError(t, err)
				store, err := clickstore.NewMemory(nil)
				require.NoError(t, err)
				defer func() { _ = store.Close() }()
				sink := &sink{}
				start := func() *track.Tracker {
					tr, err := track.New(b, store, sink, &track.Options{NetworkQuota: 3, Logger: slog.New(slog.DiscardHandler)})
					require.NoError(t, err)
					return tr
				}
				click := func(tr *track.Tracker, addr, link string) track.Visit {
					r := httptest.NewRequest("GET", "/go/"+link, nil)
					r.RemoteAddr = addr + ":4711"
					r.Header.Set("User-Agent", chrome)
					v := tr.Track(r, link, clickstore.KindClick)
					require.Equal(t, track.Counted, v.Outcome)
					return v
				}
				tr := start()
				// t0: three visitors of 198.51.100.0/24 fill its quota.
				for _, a := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
					assert.Equal(t, clickstore.Unique, click(tr, a, "sale").Uniqueness, a)
				}
				over := click(tr, "198.51.100.4", "sale")
				assert.True(t, over.OverQuota)
				assert.Equal(t, clickstore.UniqueUnknown, over.Uniqueness)
				assert.Equal(t, clickstore.Unique, click(tr, "203.0.113.1", "other").Uniqueness)
				assert.Equal(t, clickstore.Unique, click(tr, "203.0.113.2", "other").Uniqueness)

				time.Sleep(w - time.Nanosecond) // t0+W-1ns
				assert.Equal(t, clickstore.Repeat, click(tr, "198.51.100.1", "sale").Uniqueness, "a repeat before the window ends")
				assert.Equal(t, clickstore.Repeat, click(tr, "203.0.113.1", "other").Uniqueness)
				v := click(tr, "198.51.100.5", "sale")
				assert.True(t, v.OverQuota, "the quota freed while the store still holds the network's clicks")

				// A restart: the same store and builder, a new tracker.
				tr2 := start()
				assert.Equal(t, clickstore.Repeat, click(tr2, "198.51.100.2", "sale").Uniqueness, "a restart forgot a visitor the store holds")
				assert.Equal(t, clickstore.Unique, click(tr2, "198.51.100.6", "sale").Uniqueness, "a new tracker's quota counts from none")

				time.Sleep(time.Nanosecond) // t0+W
				assert.Equal(t, clickstore.Unique, click(tr2, "203.0.113.2", "other").Uniqueness, "a click outlived its window")
				// The network's quota may still count its clicks here (up
				// to an eighth of a window more); the store has forgotten
				// them.
				v = click(tr, "198.51.100.3", "sale")
				assert.NotEqual(t, clickstore.Repeat, v.Uniqueness, "a click outlived its window")
				if !v.OverQuota {
					assert.Equal(t, clickstore.Unique, v.Uniqueness)
				}

				time.Sleep(w / 8) // t0+W+W/8
				v = click(tr, "198.51.100.7", "sale")
				assert.False(t, v.OverQuota, "the quota has not freed an eighth of a window after the store forgot")
				assert.Equal(t, clickstore.Unique, v.Uniqueness)

				s := tr.Stats()
				assert.Equal(t, s.Clicks, s.Unique+s.Repeat+s.UniqueUnknown)
				assert.Len(t, sink.all(), int(s.Clicks+tr2.Stats().Clicks))
			})
		})
	}
}
