package sqlsink

import (
	"fmt"
	"io"
	"log/slog"
)

// String returns "sqlsink.Sink(" and its database's dialect ")", e.g.
// "sqlsink.Sink(postgresql)". A Sink prints and logs as that alone: fmt
// would otherwise walk its fields, the buffered cells' links and networks
// among them, while Add and the flush loop change them (a data race).
func (s *Sink) String() string {
	if s == nil {
		return "sqlsink.Sink(nil)"
	}
	return "sqlsink.Sink(" + s.dialect.String() + ")"
}

// Format implements [fmt.Formatter]: every verb prints [Sink.String].
func (s *Sink) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue implements [slog.LogValuer]: a Sink logs as [Sink.String].
func (s *Sink) LogValue() slog.Value { return slog.StringValue(s.String()) }
