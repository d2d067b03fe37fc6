package retention_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/testkit"
	"github.com/clickanon/clickanon/retention"
)

// A Sweeper prints and logs as its name and interval, with every verb,
// also while it sweeps: fmt walking its fields read its last sweep's
// outcome while SweepNow changed it (a data race).
func TestSweeperPrintsAsItsName(t *testing.T) {
	kr, err := retention.NewKeyring(nil)
	require.NoError(t, err)
	defer kr.Close()
	s, err := retention.NewSweeper(kr, &retention.SweeperOptions{Interval: time.Minute, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	testkit.CheckPrintsAs(t, s, "retention.Sweeper(every 1m0s)")
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 50 {
			_, _ = s.SweepNow(context.Background())
		}
	})
	for range 50 {
		_ = fmt.Sprintf("%+v", s)
	}
	wg.Wait()
	testkit.CheckPrintsAs(t, s, "retention.Sweeper(every 1m0s)")
	var nilSweeper *retention.Sweeper
	testkit.CheckPrintsAs(t, nilSweeper, "retention.Sweeper(nil)")
}
