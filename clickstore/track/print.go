package track

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// String returns "track.Tracker(" and how many clicks it has counted
// ")", e.g. "track.Tracker(12 clicks)". A Tracker prints and logs as that
// alone: fmt would otherwise walk its fields, its failure logs and quota
// among them, while requests change them (a data race).
func (t *Tracker) String() string {
	if t == nil {
		return "track.Tracker(nil)"
	}
	return "track.Tracker(" + strconv.FormatUint(t.Stats().Clicks, 10) + " clicks)"
}

// Format implements [fmt.Formatter]: every verb prints [Tracker.String].
func (t *Tracker) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, t.String()) }

// LogValue implements [slog.LogValuer]: a Tracker logs as
// [Tracker.String].
func (t *Tracker) LogValue() slog.Value { return slog.StringValue(t.String()) }
