package clientip

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// String returns "clientip.Resolver(" and how many strategies it tries
// ")", e.g. "clientip.Resolver(2 strategies)". A Resolver prints and logs
// as that alone: fmt would otherwise read its counters without the atomic
// loads that requests' updates need (a data race).
func (r *Resolver) String() string {
	if r == nil {
		return "clientip.Resolver(nil)"
	}
	return "clientip.Resolver(" + strconv.Itoa(len(r.strategies)) + " strategies)"
}

// Format implements [fmt.Formatter]: every verb prints [Resolver.String].
func (r *Resolver) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, r.String()) }

// LogValue implements [slog.LogValuer]: a Resolver logs as
// [Resolver.String].
func (r *Resolver) LogValue() slog.Value { return slog.StringValue(r.String()) }

// String returns "clientip.Trusted(" and how many address ranges it holds
// ")", e.g. "clientip.Trusted(3 ranges)": a proxy's address is never
// printed. A Trusted prints and logs as that alone: fmt would otherwise
// read its set without the atomic load that Store and Update need (a data
// race).
func (t *Trusted) String() string {
	if t == nil {
		return "clientip.Trusted(nil)"
	}
	n := 0
	if s := t.set.Load(); s != nil {
		n = len(s.v4) + len(s.v6)
	}
	return "clientip.Trusted(" + strconv.Itoa(n) + " ranges)"
}

// Format implements [fmt.Formatter]: every verb prints [Trusted.String].
func (t *Trusted) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, t.String()) }

// LogValue implements [slog.LogValuer]: a Trusted logs as [Trusted.String].
func (t *Trusted) LogValue() slog.Value { return slog.StringValue(t.String()) }
