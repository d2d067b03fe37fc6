package metrics_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clickanon/clickanon/metrics"
)

// FuzzName: whatever name a caller gives a part, it is either refused with
// an error that does not quote it, or accepted as a label value that is
// neither an address nor a network, and is then refused a second time.
func FuzzName(f *testing.F) {
	for _, s := range []string{"memory", "redis-eu_1", "", "203.0.113.9", "::1", "2001:db8::/32", "fe80", "a b", strings.Repeat("x", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		m, err := metrics.New(prometheus.NewRegistry(), nil)
		if err != nil {
			t.Fatal(err)
		}
		stats := func() metrics.SinkStats { return metrics.SinkStats{} }
		err = m.Sink(name, stats)
		if err != nil {
			// The error depends on the name's length alone, so it cannot
			// quote it (a substring test would flag a name such as '-',
			// which the fixed wording holds).
			want := fmt.Sprintf("metrics: sink name of %d bytes: use 1 to 64 letters, digits, '_' and '-'", len(name))
			spells := fmt.Sprintf("metrics: sink name of %d bytes spells an IP address with '-' or '_' for its '.' or ':', as host names do: choose one that does not", len(name))
			if err.Error() != want && err.Error() != spells {
				t.Fatalf("error %q, want %q or %q", err, want, spells)
			}
			return
		}
		if _, err := netip.ParseAddr(name); err == nil {
			t.Fatalf("accepted an address as a name")
		}
		if _, err := netip.ParsePrefix(name); err == nil {
			t.Fatalf("accepted a network as a name")
		}
		if len(name) == 0 || len(name) > 64 || strings.ContainsAny(name, ".:/% ") {
			t.Fatalf("accepted a name of %d bytes outside the rules", len(name))
		}
		if m.Sink(name, stats) == nil {
			t.Fatal("accepted the same name twice")
		}
	})
}
