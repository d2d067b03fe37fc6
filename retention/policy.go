package retention

import (
	"fmt"
	"math"
	"time"
)

// DefaultWindow is how long transient data lives unless a [Policy] says
// otherwise: 30 minutes, the window within which a repeat click by the same
// visitor on the same link is not unique.
const DefaultWindow = 30 * time.Minute

// MaxWindow is the longest window [NewPolicy] accepts without
// [PolicyOptions.AllowLongRetention]. A day is long enough for any
// unique-visitor or attribution window a click counter needs, and short
// enough that the transient buffer stays transient: anything kept longer is
// a log, and should be designed and documented as one.
const MaxWindow = 24 * time.Hour

// PolicyOptions adjusts [NewPolicy]. The zero value (or a nil pointer) means
// the defaults.
type PolicyOptions struct {
	// AllowLongRetention lets NewPolicy accept a window above MaxWindow.
	// Set it only when keeping data that long is a documented decision.
	AllowLongRetention bool
}

// Policy is a retention window: how long one piece of transient data (a
// click, a pseudonym key's epoch) lives.
//
// A Policy is a small comparable value, safe to copy and to use from many
// goroutines at once. The zero Policy means [DefaultWindow]. Build any other
// with [NewPolicy], which enforces the [MaxWindow] cap.
type Policy struct {
	window time.Duration // 0 means DefaultWindow
}

// NewPolicy returns a Policy with the given window. A window that is zero or
// negative is an error, and so is one above [MaxWindow] unless
// opts.AllowLongRetention is set. A nil opts is valid.
func NewPolicy(window time.Duration, opts *PolicyOptions) (Policy, error) {
	if window <= 0 {
		return Policy{}, fmt.Errorf("retention: window %v must be positive", window)
	}
	if window > MaxWindow && (opts == nil || !opts.AllowLongRetention) {
		return Policy{}, fmt.Errorf("retention: window %v is above the %s maximum (set PolicyOptions.AllowLongRetention to keep data that long)", window, MaxWindow)
	}
	return Policy{window: window}, nil
}

// Window returns how long data lives under p.
func (p Policy) Window() time.Duration {
	if p.window == 0 {
		return DefaultWindow
	}
	return p.window
}

// Epoch returns the number of the window-long epoch that t falls in:
// floor(t's Unix nanoseconds / window). Epoch 0 starts at the Unix epoch;
// times before it give negative epochs. Times outside the years 1678 to 2262
// (where Unix nanoseconds do not fit an int64) give meaningless numbers.
func (p Policy) Epoch(t time.Time) int64 {
	w := int64(p.Window())
	n := t.UnixNano()
	e := n / w
	if n%w < 0 {
		e-- // floor, not truncation, for times before 1970
	}
	return e
}

// defines reports whether p's epochs are defined at t: t's Unix
// nanoseconds fit an int64, and so does the end of the grace epoch after
// t's epoch.
func (p Policy) defines(t time.Time) bool {
	if !time.Unix(0, t.UnixNano()).Equal(t) {
		return false
	}
	ttl := p.EpochStart(p.Epoch(t) + 2).Sub(t)
	return ttl > 0 && ttl <= 2*p.Window()
}

// sweepEpoch is Epoch for a sweep at t: past 2262, where Epoch's number
// wraps, every epoch is over (math.MaxInt64); before 1678 none is
// (math.MinInt64).
func (p Policy) sweepEpoch(t time.Time) int64 {
	switch {
	case t.After(lastNano):
		return math.MaxInt64
	case t.Before(firstNano):
		return math.MinInt64
	}
	return p.Epoch(t)
}

// firstNano and lastNano are the first and last instants whose Unix
// nanoseconds fit an int64, in 1677 and 2262.
var (
	firstNano = time.Unix(0, math.MinInt64)
	lastNano  = time.Unix(0, math.MaxInt64)
)

// EpochStart returns the instant epoch e begins. Epochs that begin outside
// the years 1678 to 2262 (those Epoch gives for such times) give
// meaningless instants, as Epoch gives meaningless numbers there.
func (p Policy) EpochStart(e int64) time.Time {
	return time.Unix(0, e*int64(p.Window()))
}

// String returns the window, e.g. "retention 30m0s".
func (p Policy) String() string {
	return "retention " + p.Window().String()
}
