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
