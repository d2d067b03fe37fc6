package metrics_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/testkit"
	"github.com/clickanon/clickanon/metrics"
)

// A Metrics prints and logs as its name and how many parts were added,
// with every verb, also while parts are added: fmt walking its fields
// read the parts' list while an add changed it (a data race).
func TestMetricsPrintsAsItsName(t *testing.T) {
	m, err := metrics.New(prometheus.NewRegistry(), nil)
	require.NoError(t, err)
	testkit.CheckPrintsAs(t, m, "metrics.Metrics(0 parts)")
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 20 {
			require.NoError(t, m.Store(fmt.Sprint("s", i), func() metrics.StoreStats { return metrics.StoreStats{} }))
		}
	})
	for range 50 {
		_ = fmt.Sprintf("%+v", m)
	}
	wg.Wait()
	testkit.CheckPrintsAs(t, m, "metrics.Metrics(20 parts)")
	var nilMetrics *metrics.Metrics
	testkit.CheckPrintsAs(t, nilMetrics, "metrics.Metrics(nil)")
}
