package retention

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SweepStats reports one sweep: what it deleted and what is still held.
// It is a small comparable value; the zero SweepStats is a sweep of an
// empty store.
type SweepStats struct {
	// Deleted is how many entries this sweep destroyed.
	Deleted int
	// Held is how many entries are still held after the sweep.
	Held int
	// Oldest is the age of the oldest entry still held, 0 if none: the
	// figure that proves retention ("oldest held entry is 29m59s old").
	Oldest time.Duration
}

// Sweepable is anything whose expired entries a [Sweeper] can destroy.
// Sweep must destroy every entry that has expired at now, report what it
// did, and be safe to call from any goroutine.
type Sweepable interface {
	Sweep(ctx context.Context, now time.Time) (SweepStats, error)
}

// DefaultSweepInterval is how often a [Sweeper] sweeps unless told
// otherwise: once a second, the granularity the in-memory stores promise
// for physical deletion.
const DefaultSweepInterval = time.Second

// SweeperOptions configures [NewSweeper]. The zero value (or a nil pointer)
// means the defaults.
type SweeperOptions struct {
	// Interval is the time between sweeps; 0 means DefaultSweepInterval.
	// Negative is an error.
	Interval time.Duration

	// Now is the clock passed to Sweep; nil means time.Now.
	Now func() time.Time

	// OnSweep, if not nil, is called after every sweep with its result,
	// from the goroutine running [Sweeper.Run]. It must not block for long.
	OnSweep func(SweepStats, error)
}

// Sweeper calls Sweep on a [Sweepable] at a fixed interval until its context
// is done.
//
// A Sweeper is safe for concurrent use; its zero value is not usable (build
// one with [NewSweeper]).
type Sweeper struct {
	target   Sweepable
	interval time.Duration
	now      func() time.Time
	onSweep  func(SweepStats, error)
}

// NewSweeper returns a Sweeper for target. A nil target or a negative
// interval is an error. A nil opts is valid.
func NewSweeper(target Sweepable, opts *SweeperOptions) (*Sweeper, error) {
	if target == nil {
		return nil, errors.New("retention: NewSweeper: nil target")
	}
	s := &Sweeper{target: target, interval: DefaultSweepInterval, now: time.Now}
	if opts != nil {
		if opts.Interval < 0 {
			return nil, fmt.Errorf("retention: NewSweeper: interval %q must not be negative", opts.Interval)
		}
		if opts.Interval > 0 {
			s.interval = opts.Interval
		}
		if opts.Now != nil {
			s.now = opts.Now
		}
		s.onSweep = opts.OnSweep
	}
	return s, nil
}

// Run sweeps once at once and then every interval, until ctx is done; it
// then returns ctx's error. Errors from Sweep go to OnSweep and do not stop
// the sweeper. Run starts no goroutine: everything happens in the caller's.
func (s *Sweeper) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.sweepOnce(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// SweepNow sweeps once, reports through OnSweep, and returns the result.
func (s *Sweeper) SweepNow(ctx context.Context) (SweepStats, error) {
	return s.sweepOnce(ctx)
}

func (s *Sweeper) sweepOnce(ctx context.Context) (SweepStats, error) {
	if err := ctx.Err(); err != nil {
		return SweepStats{}, err
	}
	st, err := s.target.Sweep(ctx, s.now())
	if s.onSweep != nil {
		s.onSweep(st, err)
	}
	return st, err
}
