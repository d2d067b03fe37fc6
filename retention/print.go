package retention

import (
	"fmt"
	"io"
	"log/slog"
)

// String returns "retention.Sweeper(every " and its interval ")", e.g.
// "retention.Sweeper(every 1m0s)". A Sweeper prints and logs as that
// alone: fmt would otherwise walk its fields, its last sweep's outcome and
// failure log among them, while Run changes them (a data race).
func (s *Sweeper) String() string {
	if s == nil {
		return "retention.Sweeper(nil)"
	}
	return "retention.Sweeper(every " + s.interval.String() + ")"
}

// Format implements [fmt.Formatter]: every verb prints [Sweeper.String].
func (s *Sweeper) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue implements [slog.LogValuer]: a Sweeper logs as
// [Sweeper.String].
func (s *Sweeper) LogValue() slog.Value { return slog.StringValue(s.String()) }
