package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/metrics"
	"github.com/clickanon/clickanon/retention"
)

// sweepTargets returns an empty Memory store and the same store wrapped by
// Metrics.Sweep: what a sweep costs with and without its metrics.
func sweepTargets(tb testing.TB) (bare, wrapped retention.Sweepable) {
	store, err := clickstore.NewMemory(nil)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = store.Close() })
	m, err := metrics.New(prometheus.NewRegistry(), nil)
	require.NoError(tb, err)
	wrapped, err = m.Sweep("memory", store)
	require.NoError(tb, err)
	return store, wrapped
}

func TestSweepWrapperAllocatesNothing(t *testing.T) {
	bare, wrapped := sweepTargets(t)
	ctx := context.Background()
	now := time.Now()
	base := testing.AllocsPerRun(100, func() { _, _ = bare.Sweep(ctx, now) })
	got := testing.AllocsPerRun(100, func() { _, _ = wrapped.Sweep(ctx, now) })
	assert.Equal(t, base, got, "the wrapper adds no allocation to a sweep")
}

// BenchmarkSweep compares a sweep of an empty Memory store (the common
// case, once a second) with and without Metrics.Sweep around it.
func BenchmarkSweep(b *testing.B) {
	bare, wrapped := sweepTargets(b)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		s    retention.Sweepable
	}{{"bare", bare}, {"wrapped", wrapped}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			now := time.Now()
			for b.Loop() {
				_, _ = bc.s.Sweep(ctx, now)
			}
		})
	}
}

// BenchmarkScrape is what one scrape of a service's metrics costs.
func BenchmarkScrape(b *testing.B) {
	_, reg, _ := newWired(b)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = reg.Gather()
	}
}
