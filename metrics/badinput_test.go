package metrics_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/metrics"
	"github.com/clickanon/clickanon/retention"
)

// Adding a part to a nil Metrics, or to one not made by New, is an error
// that names the method and the fault, not a nil dereference or a write
// to a nil map.
func TestUnusableMetrics(t *testing.T) {
	s := newService(t)
	for _, tt := range []struct {
		name  string
		m     *metrics.Metrics
		fault string
	}{
		{name: "nil", m: nil, fault: "nil *Metrics"},
		{name: "zero", m: new(metrics.Metrics), fault: "Metrics not made by New"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m
			for _, c := range []struct {
				method string
				call   func() error
			}{
				{"Tracker", func() error { return m.Tracker("t", s.tracker) }},
				{"Resolver", func() error { return m.Resolver("r", s.resolver) }},
				{"Keyring", func() error { return m.Keyring("k", s.keyring) }},
				{"Sink", func() error { return m.Sink("s", func() metrics.SinkStats { return metrics.SinkStats{} }) }},
				{"Store", func() error { return m.Store("s", func() metrics.StoreStats { return metrics.StoreStats{} }) }},
				{"Sweep", func() error { _, err := m.Sweep("memory", s.store); return err }},
			} {
				var err error
				require.NotPanics(t, func() { err = c.call() }, c.method)
				if assert.Error(t, err, c.method) {
					assert.True(t, strings.HasPrefix(err.Error(), "metrics: "+c.method+": "), err.Error())
					assert.Contains(t, err.Error(), tt.fault)
				}
			}
		})
	}
}

// A sweep at a time past 2262 or before 1678, where time.Time.UnixNano is
// undefined, still sets the last-sweep gauge to that time in Unix
// seconds.
func TestSweepTimestampOutsideUnixNano(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2300, 1, 1, 0, 0, 0, 500_000_000, time.UTC),
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		t.Run(at.Format("2006"), func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m, err := metrics.New(reg, nil)
			require.NoError(t, err)
			swept, err := m.Sweep("memory", sweepFunc(func(context.Context, time.Time) (retention.SweepStats, error) {
				return retention.SweepStats{}, nil
			}))
			require.NoError(t, err)
			_, err = swept.Sweep(context.Background(), at)
			require.NoError(t, err)
			want := float64(at.Unix()) + float64(at.Nanosecond())/1e9
			assert.InDelta(t, want, get(t, reg, "clickanon_store_last_sweep_timestamp_seconds", "store", "memory"), 1)
		})
	}
}

// sweepFunc is a retention.Sweepable from a function.
type sweepFunc func(context.Context, time.Time) (retention.SweepStats, error)

func (f sweepFunc) Sweep(ctx context.Context, now time.Time) (retention.SweepStats, error) {
	return f(ctx, now)
}

// A nil *prometheus.Registry in the Registerer interface is as nil as a
// nil interface: an error from New, not a panic inside Register.
func TestNewTypedNilRegisterer(t *testing.T) {
	var reg *prometheus.Registry
	var err error
	require.NotPanics(t, func() { _, err = metrics.New(reg, nil) })
	assert.EqualError(t, err, "metrics: New: nil Registerer (a nil *prometheus.Registry)")
}
