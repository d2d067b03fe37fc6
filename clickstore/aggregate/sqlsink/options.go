package sqlsink

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/ipmask"
)

// Defaults used where an [Options] field is zero.
const (
	// DefaultFlushInterval is how often the background loop writes the
	// buffer to the database.
	DefaultFlushInterval = 2 * time.Second

	// DefaultMaxBackoff caps the wait between failed flushes.
	DefaultMaxBackoff = time.Minute

	// DefaultMaxBufferedCells bounds the cells held in memory while they
	// wait to be written (see [Options].MaxBufferedCells). A click touches
	// at most 15 cells (3 granularities times the total and 4 dimensions),
	// and far fewer new ones once its link's buckets are buffered. A
	// buffered cell takes about 470 bytes with a small sketch
	// (BenchmarkBufferedCellBytes), so the default bounds the buffer to
	// about 50 MB; a cell's sketch grows towards 16 KiB only once it has
	// seen thousands of distinct visitors between two flushes.
	DefaultMaxBufferedCells = 100_000

	// DefaultLogEvery is the least time between two log lines about the
	// same kind of failure.
	DefaultLogEvery = time.Minute

	// TokenRetention is how long the token of a written batch is kept to
	// recognize a retry of it. A batch that failed is retried by the
	// instance that built it within minutes; a week is far beyond that.
	TokenRetention = 7 * 24 * time.Hour
)

// Options configures [New] and [Open]. The zero value (or a nil pointer)
// means the defaults. The caller's Options is never modified.
type Options struct {
	// Now is the sink's clock: it decides which buckets are past their
	// retention when a batch is written and paces logging (batch tokens
	// are stamped and swept by the database's clock). nil means
	// time.Now. The background loop's waits are runtime timers.
	Now func() time.Time

	// Logger receives the sink's failures: a warning when flushes start
	// failing and at most one more every LogEvery while they go on, an
	// info line with the increments written once the database is back;
	// the same for clicks refused for a full buffer (with the count
	// dropped); an error at Close for increments lost. Error text is
	// logged with every address in it cut to no bits. nil means
	// slog.Default().
	Logger *slog.Logger

	// LogEvery is the least time between two warnings of one burst of
	// failures; failures in between are counted and the count is logged
	// with the next line ("suppressed").
	// 0 means DefaultLogEvery; negative is an error.
	LogEvery time.Duration

	// FlushInterval is how often the background loop writes the buffer.
	// 0 means DefaultFlushInterval; negative is an error.
	FlushInterval time.Duration

	// MaxBackoff caps the wait after failed flushes, which doubles from
	// FlushInterval on each failure. 0 means DefaultMaxBackoff (or
	// FlushInterval, if that is longer); negative is an error.
	MaxBackoff time.Duration

	// MaxBufferedCells bounds the distinct cells held in memory, counting
	// those of a batch whose commit reply was lost and that waits to be
	// retried. An Add that
	// would need a cell beyond the bound is refused with an error wrapping
	// ErrBufferFull and counted in Stats.Dropped: while the database is
	// down the sink keeps counting clicks on the buckets and values it
	// already holds, and refuses only clicks that need new cells. 0 means
	// DefaultMaxBufferedCells; negative is an error.
	MaxBufferedCells int

	// MinuteRetention, HourRetention and DayRetention are how long a
	// bucket of that granularity is kept after it ends, as in
	// aggregate.Options: 0 means the aggregate package's default,
	// aggregate.KeepForever never deleted, negative is an error. [Sink.Sweep]
	// deletes what is past them.
	MinuteRetention, HourRetention, DayRetention time.Duration

	// NetworkPolicy is the finest network the Network dimension stores:
	// a click whose Network is finer (a /32) is counted under the coarser
	// network the policy keeps for it (see [aggregate.NetworkOf]). The
	// zero Policy means ipmask.Default (/24 and /48); a policy that keeps
	// more bits than ipmask.Default is an error.
	NetworkPolicy ipmask.Policy
}

// config is the validated form of Options.
type config struct {
	now        func() time.Time
	logger     *slog.Logger
	logEvery   time.Duration
	interval   time.Duration
	maxBackoff time.Duration
	maxCells   int
	retention  [aggregate.Day + 1]time.Duration
	networks   ipmask.Policy
}

func newConfig(opts *Options) (config, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	c := config{now: o.Now, logger: o.Logger}
	if c.now == nil {
		c.now = time.Now
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	for _, d := range []struct {
		v    time.Duration
		def  time.Duration
		name string
		dst  *time.Duration
	}{
		{o.LogEvery, DefaultLogEvery, "LogEvery", &c.logEvery},
		{o.FlushInterval, DefaultFlushInterval, "FlushInterval", &c.interval},
		{o.MaxBackoff, DefaultMaxBackoff, "MaxBackoff", &c.maxBackoff},
		{o.MinuteRetention, aggregate.DefaultMinuteRetention, "MinuteRetention", &c.retention[aggregate.Minute]},
		{o.HourRetention, aggregate.DefaultHourRetention, "HourRetention", &c.retention[aggregate.Hour]},
		{o.DayRetention, aggregate.DefaultDayRetention, "DayRetention", &c.retention[aggregate.Day]},
	} {
		switch {
		case d.v < 0:
			return config{}, fmt.Errorf("sqlsink: options: %s %v is negative", d.name, d.v)
		case d.v == 0:
			*d.dst = d.def
		default:
			*d.dst = d.v
		}
	}
	c.maxBackoff = max(c.maxBackoff, c.interval)
	var err error
	if c.networks, err = aggregate.NetworkPolicy(o.NetworkPolicy); err != nil {
		return config{}, fmt.Errorf("sqlsink: options: %w", err)
	}
	switch {
	case o.MaxBufferedCells < 0:
		return config{}, fmt.Errorf("sqlsink: options: MaxBufferedCells %d is negative", o.MaxBufferedCells)
	case o.MaxBufferedCells == 0:
		c.maxCells = DefaultMaxBufferedCells
	default:
		c.maxCells = o.MaxBufferedCells
	}
	return c, nil
}

// expired reports whether the bucket of granularity g starting at start
// (Unix seconds) is past its retention at now, to the nanosecond: now >=
// start + g + retention, as a Rollup decides it.
func (c *config) expired(g aggregate.Granularity, start int64, now time.Time) bool {
	ret := c.retention[g]
	if ret == aggregate.KeepForever {
		return false
	}
	return start+int64(g.Duration()/time.Second) <= now.Add(-ret).Unix()
}
