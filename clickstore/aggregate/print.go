package aggregate

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// String returns "aggregate.Rollup(" and how many time buckets it holds
// ")", e.g. "aggregate.Rollup(3 buckets)". A Rollup prints and logs as
// that alone: fmt would otherwise walk its shards, their maps and
// sketches, while Add and the retention timer change them (a data race),
// and print kilobytes.
func (r *Rollup) String() string {
	if r == nil {
		return "aggregate.Rollup(nil)"
	}
	n := 0
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return "aggregate.Rollup(" + strconv.Itoa(n) + " buckets)"
}

// Format implements [fmt.Formatter]: every verb prints [Rollup.String].
func (r *Rollup) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, r.String()) }

// LogValue implements [slog.LogValuer]: a Rollup logs as [Rollup.String].
func (r *Rollup) LogValue() slog.Value { return slog.StringValue(r.String()) }
