package metrics

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// String returns "metrics.Metrics(" and how many parts were added to it
// ")", e.g. "metrics.Metrics(3 parts)". A Metrics prints and logs as that
// alone: fmt would otherwise walk its fields while a part is added (a
// data race).
func (m *Metrics) String() string {
	if m == nil {
		return "metrics.Metrics(nil)"
	}
	m.mu.Lock()
	n := len(m.sources)
	m.mu.Unlock()
	return "metrics.Metrics(" + strconv.Itoa(n) + " parts)"
}

// Format implements [fmt.Formatter]: every verb prints [Metrics.String].
func (m *Metrics) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, m.String()) }

// LogValue implements [slog.LogValuer]: a Metrics logs as [Metrics.String].
func (m *Metrics) LogValue() slog.Value { return slog.StringValue(m.String()) }
