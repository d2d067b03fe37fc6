package clickstoretest_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/internal/testkit"
)

// A Clock prints and logs as its name and time, also while another
// goroutine moves it: fmt walking its fields read the time unlocked.
func TestClockPrintsAsItsTime(t *testing.T) {
	c := clickstoretest.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 5, time.UTC))
	testkit.CheckPrintsAs(t, c, "clickstoretest.Clock(2026-12-01T12:00:00.000000005Z)")
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 100 {
			c.Advance(time.Second)
		}
	})
	for range 50 {
		_ = fmt.Sprintf("%+v", c)
	}
	wg.Wait()
	testkit.CheckPrintsAs(t, c, "clickstoretest.Clock(2026-12-01T12:01:40.000000005Z)")
	var nilClock *clickstoretest.Clock
	testkit.CheckPrintsAs(t, nilClock, "clickstoretest.Clock(nil)")
}
