package aggregate

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/clickanon/clickanon/ipmask"
)

// Granularity is the width of a time bucket. Buckets are aligned to UTC:
// a minute bucket starts at second 0, an hour bucket at minute 0 and a day
// bucket at 00:00 UTC.
//
// A Granularity is a small comparable value. The zero Granularity is not a
// valid bucket width; where a [Query] leaves it zero, Day is meant.
type Granularity uint8

// The granularities a [Rollup] keeps, finest first.
const (
	Minute Granularity = iota + 1
	Hour
	Day
)

// granularities lists the valid granularities, finest first.
var granularities = [...]Granularity{Minute, Hour, Day}

// Duration returns the width of a bucket: a minute, an hour or 24 hours, or
// 0 for an invalid Granularity.
func (g Granularity) Duration() time.Duration {
	switch g {
	case Minute:
		return time.Minute
	case Hour:
		return time.Hour
	case Day:
		return 24 * time.Hour
	}
	return 0
}

// String returns "minute", "hour" or "day", or "Granularity(N)".
func (g Granularity) String() string {
	switch g {
	case Minute:
		return "minute"
	case Hour:
		return "hour"
	case Day:
		return "day"
	}
	return fmt.Sprintf("Granularity(%d)", uint8(g))
}

// Start returns the start of the bucket of width g that t falls in, in UTC.
// It returns the zero Time for an invalid Granularity.
func (g Granularity) Start(t time.Time) time.Time {
	d := g.Duration()
	if d == 0 {
		return time.Time{}
	}
	return t.Truncate(d).UTC()
}

// Dimension is a coarse attribute that a bucket's counts are broken down
// by.
//
// A Dimension is a small comparable value. The zero Dimension, Total, is no
// breakdown at all: the bucket's (or range's) totals.
type Dimension uint8

// The dimensions, in the order reports list them.
const (
	Total    Dimension = iota // no breakdown
	Country                   // Click.Country, two upper-case letters (ISO 3166-1, or EU, AP...) or ""
	Network                   // Click.Network, the masked network, e.g. 192.0.2.0/24
	Referrer                  // Click.Referrer, the referring host or ""
	Device                    // Click.Device, the device class or ""
)

// String returns "total", "country", "network", "referrer" or "device", or
// "Dimension(N)".
func (d Dimension) String() string {
	switch d {
	case Total:
		return "total"
	case Country:
		return "country"
	case Network:
		return "network"
	case Referrer:
		return "referrer"
	case Device:
		return "device"
	}
	return fmt.Sprintf("Dimension(%d)", uint8(d))
}

// Defaults used where an [Options] field is zero.
const (
	// DefaultPrecision is the HyperLogLog precision p: 2^14 registers, a
	// standard error of 1.04/sqrt(2^14) ≈ 0.81% on distinct-visitor
	// estimates, and at most 16 KiB per sketch. A cell's sketch is sparse
	// and near-exact up to 2^p/64 distinct visitors (256 at p = 14), then
	// dense: 2^p bytes, one register update per click.
	DefaultPrecision = 14

	// DefaultMaxValues is how many distinct values of one dimension a
	// bucket tracks before further values are counted under "other".
	DefaultMaxValues = 100

	// DefaultMinuteRetention is how long minute buckets are kept after
	// they end.
	DefaultMinuteRetention = 48 * time.Hour

	// DefaultHourRetention is how long hour buckets are kept after they
	// end.
	DefaultHourRetention = 90 * 24 * time.Hour

	// DefaultDayRetention is how long day buckets are kept after they end:
	// for ever.
	DefaultDayRetention = KeepForever

	// KeepForever, as a retention, means a bucket is never swept.
	KeepForever = time.Duration(math.MaxInt64)

	// MaxMaxValues is the largest MaxValues that New accepts.
	MaxMaxValues = 1 << 16
)

// Options configures [New]. The zero value (or a nil pointer) means the
// defaults: every granularity and every dimension on, networks kept by
// ipmask.Default, DefaultMaxValues, DefaultPrecision and the default
// retentions. New copies what it needs;
// the caller's Options is never modified.
type Options struct {
	// NoMinute, NoHour and NoDay turn a granularity off: its buckets are
	// not kept. At least one granularity must stay on.
	NoMinute, NoHour, NoDay bool

	// MinuteRetention, HourRetention and DayRetention are how long a bucket
	// of that granularity is kept after it ends, before [Rollup.Sweep]
	// drops it. 0 means the default; KeepForever means never dropped;
	// negative is an error. A retention is kept to the nanosecond, a
	// fraction of a second included: Sweep drops a bucket at the instant
	// it runs out, never before; the Rollup's own timer, at the next
	// whole second.
	MinuteRetention, HourRetention, DayRetention time.Duration

	// NoCountry, NoNetwork, NoReferrer and NoDevice turn a dimension's
	// breakdown off.
	NoCountry, NoNetwork, NoReferrer, NoDevice bool

	// MaxValues caps the distinct values of one dimension per bucket;
	// clicks with further values are counted in the dimension's "other"
	// cell, never dropped. 0 means DefaultMaxValues; negative or above
	// MaxMaxValues is an error.
	MaxValues int

	// NetworkPolicy is the finest network the Network dimension keeps: a
	// click whose Network is finer (a /32 from a hand-built Click or a
	// Builder whose policy keeps every bit) is counted under the coarser
	// network the policy keeps for it (see [NetworkOf]). The zero Policy
	// means ipmask.Default (/24 and /48); a policy that keeps more bits
	// than ipmask.Default is an error.
	NetworkPolicy ipmask.Policy

	// Precision is the HyperLogLog precision, from 8 to 18. 0 means
	// DefaultPrecision. The standard error of an estimate is
	// 1.04/sqrt(2^Precision). A cell of up to 2^Precision/64 distinct
	// visitors is counted near-exactly, so [Publish] holds back every cell
	// of fewer than K visitors for K up to 2^Precision/64 + 1 (5 at
	// precision 8, DefaultK, whence the lower bound; 257 at the default);
	// below 8 a cell of 4 visitors could be estimated as 5 and published.
	Precision uint8

	// Now is the clock the Rollup's own expiry reads (see [Rollup]); nil
	// means time.Now.
	Now func() time.Time
}

// defaultNow is the clock of Rollups whose Options leave Now nil. Tests of
// this package set it to their fixed clock.
var defaultNow = time.Now

// config is the validated form of Options.
type config struct {
	on        [Day + 1]bool          // indexed by Granularity
	retention [Day + 1]time.Duration // indexed by Granularity
	dims      [Device + 1]bool       // indexed by Dimension; Total unused
	maxValues int
	precision uint8
	networks  ipmask.Policy
	now       func() time.Time
}

func newConfig(o *Options) (config, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	var c config
	c.now = opts.Now
	if c.now == nil {
		c.now = defaultNow
	}
	c.on[Minute], c.on[Hour], c.on[Day] = !opts.NoMinute, !opts.NoHour, !opts.NoDay
	if !c.on[Minute] && !c.on[Hour] && !c.on[Day] {
		return config{}, errors.New("aggregate: options: NoMinute, NoHour and NoDay are all set: every granularity is off")
	}
	for _, r := range []struct {
		g    Granularity
		v    time.Duration
		def  time.Duration
		name string
	}{
		{Minute, opts.MinuteRetention, DefaultMinuteRetention, "MinuteRetention"},
		{Hour, opts.HourRetention, DefaultHourRetention, "HourRetention"},
		{Day, opts.DayRetention, DefaultDayRetention, "DayRetention"},
	} {
		switch {
		case r.v < 0:
			return config{}, fmt.Errorf("aggregate: options: %s %v is negative", r.name, r.v)
		case r.v == 0:
			c.retention[r.g] = r.def
		default:
			c.retention[r.g] = r.v
		}
	}
	c.dims[Country], c.dims[Network], c.dims[Referrer], c.dims[Device] = !opts.NoCountry, !opts.NoNetwork, !opts.NoReferrer, !opts.NoDevice
	switch {
	case opts.MaxValues < 0 || opts.MaxValues > MaxMaxValues:
		return config{}, fmt.Errorf("aggregate: options: MaxValues %d: want 0 to %d", opts.MaxValues, MaxMaxValues)
	case opts.MaxValues == 0:
		c.maxValues = DefaultMaxValues
	default:
		c.maxValues = opts.MaxValues
	}
	var err error
	if c.networks, err = NetworkPolicy(opts.NetworkPolicy); err != nil {
		return config{}, err // it names the option and the package
	}
	switch {
	case opts.Precision == 0:
		c.precision = DefaultPrecision
	case opts.Precision < 8 || opts.Precision > 18:
		return config{}, fmt.Errorf("aggregate: options: Precision %d: want 8 to 18", opts.Precision)
	default:
		c.precision = opts.Precision
	}
	return c, nil
}
