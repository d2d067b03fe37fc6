package track_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/internal/testkit"
)

// A Tracker prints and logs as its name and how many clicks it counted,
// with every verb, also while it tracks: fmt walking its fields read its
// failure logs and quota while requests changed them (a data race).
func TestTrackerPrintsAsItsName(t *testing.T) {
	e := newTrackEnv(t, nil)
	testkit.CheckPrintsAs(t, e.tracker, "track.Tracker(0 clicks)")
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 100 {
			e.tracker.Track(request("GET", "198.51.100."+strconv.Itoa(i)+":4711", firefox), "abc", clickstore.KindClick)
		}
	})
	for range 50 {
		_ = fmt.Sprintf("%+v", e.tracker)
	}
	wg.Wait()
	testkit.CheckPrintsAs(t, e.tracker, "track.Tracker(100 clicks)")
	var nilTracker *track.Tracker
	testkit.CheckPrintsAs(t, nilTracker, "track.Tracker(nil)")
}
