package metrics_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/metrics"
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
