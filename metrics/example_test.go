package metrics_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/metrics"
	"github.com/clickanon/clickanon/retention"
)

// The store's sweeps prove the retention promise: the oldest click held is
// younger than the window. The keyring's figures prove that keys die.
func Example() {
	ctx := context.Background()
	clock := time.Date(2026, 1, 1, 12, 10, 0, 0, time.UTC)
	now := func() time.Time { return clock }

	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
	m, _ := metrics.New(reg, &metrics.Options{Now: now})

	keyring, _ := retention.NewKeyring(&retention.KeyringOptions{Now: now})
	defer keyring.Close()
	_ = m.Keyring("local", keyring)
	store, _ := clickstore.NewMemory(&clickstore.MemoryOptions{Now: now})
	defer store.Close()
	swept, _ := m.Sweep("memory", store)
	sweeper, _ := retention.NewSweeper(swept, &retention.SweeperOptions{Now: now, Logger: slog.Default()})

	builder, _ := clickstore.NewBuilder(ipmask.Default, keyring, nil)
	c, _ := builder.Build(ctx, netip.MustParseAddr("198.51.100.7"), "Mozilla/5.0", "spring-sale", clock)
	_, _ = store.Record(ctx, c)

	clock = clock.Add(10 * time.Minute)
	_, _ = sweeper.SweepNow(ctx) // Run does this every second
	print(reg, "clickanon_store_held", "clickanon_store_oldest_age_seconds", "clickanon_keyring_oldest_key_age_seconds")

	clock = clock.Add(time.Hour)
	_, _ = sweeper.SweepNow(ctx)
	_, _ = keyring.Sweep(ctx, clock) // the keyring's own timers do this on time
	print(reg, "clickanon_store_swept_total", "clickanon_store_held", "clickanon_keyring_keys_destroyed_total")
	// Output:
	// clickanon_store_held{store="memory"} 1
	// clickanon_store_oldest_age_seconds{store="memory"} 600
	// clickanon_keyring_oldest_key_age_seconds{keyring="local"} 1200
	// clickanon_store_swept_total{store="memory"} 1
	// clickanon_store_held{store="memory"} 0
	// clickanon_keyring_keys_destroyed_total{keyring="local"} 1
}

// print writes the named series of reg, in the order named.
func print(reg prometheus.Gatherer, names ...string) {
	mfs, _ := reg.Gather()
	for _, name := range names {
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, mt := range mf.GetMetric() {
				var labels []string
				for _, lp := range mt.GetLabel() {
					labels = append(labels, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
				}
				v := mt.GetGauge().GetValue() + mt.GetCounter().GetValue()
				fmt.Printf("%s{%s} %g\n", name, strings.Join(labels, ","), v)
			}
		}
	}
}

// A sink's figures come through a function, so that package metrics does
// not import the sink's package and its database drivers.
func ExampleMetrics_Sink() {
	reg := prometheus.NewRegistry()
	m, _ := metrics.New(reg, nil)
	stats := metrics.SinkStats{Flushes: 3, Written: 120, Buffered: 7} // sink.Stats(), field by field
	_ = m.Sink("sql", func() metrics.SinkStats { return stats })
	print(reg, "clickanon_sink_flushes_total", "clickanon_sink_written_total", "clickanon_sink_buffered")

	err := m.Sink("10.0.0.1", func() metrics.SinkStats { return stats })
	fmt.Println(err) // a name that could be an address is refused, and not quoted
	// Output:
	// clickanon_sink_flushes_total{sink="sql"} 3
	// clickanon_sink_written_total{sink="sql"} 120
	// clickanon_sink_buffered{sink="sql"} 7
	// metrics: sink name of 8 bytes: use 1 to 64 letters, digits, '_' and '-'
}

func ExampleMetrics_Resolver() {
	reg := prometheus.NewRegistry()
	m, _ := metrics.New(reg, nil)
	resolver, _ := clientip.New(clientip.RemoteAddr())
	_ = m.Resolver("web", resolver)
	_, _ = resolver.Resolve(nil, "198.51.100.7:443")
	_, _ = resolver.Resolve(nil, "not an address")
	print(reg, "clickanon_clientip_resolutions_total")
	// Output:
	// clickanon_clientip_resolutions_total{outcome="malformed",resolver="web"} 1
	// clickanon_clientip_resolutions_total{outcome="no-addr",resolver="web"} 0
	// clickanon_clientip_resolutions_total{outcome="resolved",resolver="web"} 1
	// clickanon_clientip_resolutions_total{outcome="untrusted",resolver="web"} 0
}
