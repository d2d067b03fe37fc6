package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clickanon/clickanon/internal/burstlog"
)

// SweepStats reports one sweep: what it deleted and what is still held.
// It is a small comparable value; the zero SweepStats is a sweep of an
// empty store.
type SweepStats struct {
	// Deleted is how many entries this sweep destroyed. A Sweepable that
	// also destroys entries on its own (a timer, a write that finds an
	// expired entry) may count those too, once, in its next sweep, so
	// that the sweeps' Deleted add up to every entry that expired; its
	// documentation says which it does.
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

// Group is a [Sweepable] made of several: one [Sweeper] can then sweep a
// click store, an aggregate rollup and a keyring together. Sweep sweeps
// each member in order, even after one fails or panics (a panic is
// recovered and becomes that member's error); Deleted and Held are the
// sums, Oldest the largest, and the error joins the members' errors, each
// naming the member by its position, with every address in their text
// masked.
//
// A Group is a slice: its zero value (nil) sweeps nothing. It is safe for
// concurrent use when its members are and it is not modified.
type Group []Sweepable

// Sweep implements [Sweepable].
func (g Group) Sweep(ctx context.Context, now time.Time) (SweepStats, error) {
	var st SweepStats
	var errs []error
	if ctx == nil {
		return st, nilContext("sweep")
	}
	for i, s := range g {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("retention: sweep: %w", err))
			break
		}
		if s == nil {
			errs = append(errs, fmt.Errorf("retention: sweep: member %d of the group is nil", i))
			continue
		}
		one, err := sweepSafely(ctx, s, now)
		st.Deleted += one.Deleted
		st.Held += one.Held
		st.Oldest = max(st.Oldest, one.Oldest)
		if err != nil {
			errs = append(errs, foreign(fmt.Sprintf("sweep member %d of the group", i), err))
		}
	}
	return st, errors.Join(errs...)
}

// sweepSafely calls s.Sweep and turns a panic in it into an error, so
// that one member's panic neither stops the sweeps of the others (whose
// entries would outlive their window) nor crashes the process with the
// panic's text, unmasked, on its standard error.
func sweepSafely(ctx context.Context, s Sweepable, now time.Time) (st SweepStats, err error) {
	defer func() {
		if v := recover(); v != nil {
			st, err = SweepStats{}, panicked(v)
		}
	}()
	return s.Sweep(ctx, now)
}

// panicked returns the error of a recovered panic whose value is v; an
// error value stays reachable with errors.Is and errors.As. Its text is
// masked by whoever wraps it with foreign.
func panicked(v any) error {
	if err, ok := v.(error); ok {
		return fmt.Errorf("panic: %w", err)
	}
	return fmt.Errorf("panic: %v", v)
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

	// Logger receives a warning when a sweep fails: the first failure of
	// a run of failures at once, then at most one line a minute with the
	// count of those not logged, and one line when sweeps succeed again.
	// Error text is logged with every address-like run replaced, as in
	// retention's own errors. Nil means slog.Default(); to silence it, pass
	// a logger with slog.DiscardHandler.
	Logger *slog.Logger
}

// Sweeper calls Sweep on a [Sweepable] at a fixed interval until its context
// is done. A failed sweep is never silent: it is logged (once per run of
// failures, see [SweeperOptions].Logger), counted in [Sweeper.Failures],
// and [Sweeper.Last] reports it, for a health check. A sweep that panics
// is a failed sweep: the panic is recovered, its value becomes the error
// (masked like any other), and the next sweep runs on time.
//
// A Sweeper is safe for concurrent use; its zero value is not usable: its
// Run and SweepNow return an error (build one with [NewSweeper]).
type Sweeper struct {
	target   Sweepable
	interval time.Duration
	now      func() time.Time
	onSweep  func(SweepStats, error)
	log      burstlog.Logger

	mu      sync.Mutex
	lastAt  time.Time
	lastSt  SweepStats
	lastErr error
}

// NewSweeper returns a Sweeper for target; to sweep several things, pass a
// [Group] of them. A nil target, a Group that is empty or has a nil member,
// or a negative interval is an error. A nil opts is valid.
func NewSweeper(target Sweepable, opts *SweeperOptions) (*Sweeper, error) {
	if target == nil {
		return nil, errors.New("retention: NewSweeper: nil target")
	}
	if g, ok := target.(Group); ok {
		if len(g) == 0 {
			return nil, errors.New("retention: NewSweeper: empty Group")
		}
		for i, s := range g {
			if s == nil {
				return nil, fmt.Errorf("retention: NewSweeper: member %d of the Group is nil", i)
			}
		}
	}
	s := &Sweeper{target: target, interval: DefaultSweepInterval, now: time.Now}
	s.log.Mask = scrub
	if opts != nil {
		if opts.Interval < 0 {
			return nil, fmt.Errorf("retention: NewSweeper: interval %v must not be negative", opts.Interval)
		}
		if opts.Interval > 0 {
			s.interval = opts.Interval
		}
		if opts.Now != nil {
			s.now = opts.Now
		}
		s.onSweep = opts.OnSweep
		s.log.Logger = opts.Logger
	}
	return s, nil
}

// Run sweeps once at once and then every interval, until ctx is done; it
// then returns an error wrapping ctx's (errors.Is(err, context.Canceled)
// after a cancel). Errors from Sweep go to OnSweep and the Logger and do
// not stop the sweeper. Errors start with "retention: sweep" and wrap the
// target's, whose text has every address-like run replaced. Run starts no
// goroutine: everything happens in the caller's.
func (s *Sweeper) Run(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.sweepOnce(ctx)
		select {
		case <-ctx.Done():
			return fmt.Errorf("retention: sweep: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// SweepNow sweeps once, reports through OnSweep and the Logger, and returns
// the result. With ctx already done it sweeps nothing and returns an error
// wrapping ctx's.
func (s *Sweeper) SweepNow(ctx context.Context) (SweepStats, error) {
	if err := s.check(ctx); err != nil {
		return SweepStats{}, err
	}
	return s.sweepOnce(ctx)
}

// Last returns when the last sweep started (by the Sweeper's Now), what it
// reported and its error: what a health check needs to say whether the
// store is reachable and swept on time. Before the first sweep, at is the
// zero time. A sweep cut short because its context was done is not
// recorded.
func (s *Sweeper) Last() (at time.Time, st SweepStats, err error) {
	if s == nil {
		return time.Time{}, SweepStats{}, errNilSweeper
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastAt, s.lastSt, s.lastErr
}

// Failures returns how many sweeps have failed since the Sweeper was made
// (sweeps cut short because their context was done are not counted).
func (s *Sweeper) Failures() uint64 {
	if s == nil {
		return 0
	}
	return s.log.Failures()
}

// check returns the error of a call on a nil or zero Sweeper, or with a
// nil ctx.
func (s *Sweeper) check(ctx context.Context) error {
	switch {
	case s == nil:
		return errNilSweeper
	case s.target == nil:
		return errZeroSweeper
	case ctx == nil:
		return nilContext("sweep")
	}
	return nil
}

func (s *Sweeper) sweepOnce(ctx context.Context) (SweepStats, error) {
	if err := ctx.Err(); err != nil {
		return SweepStats{}, fmt.Errorf("retention: sweep: %w", err)
	}
	now := s.now()
	st, err := sweepSafely(ctx, s.target, now)
	if _, group := s.target.(Group); err != nil && !group { // a Group's errors are wrapped already
		err = foreign("sweep", err)
	}
	if s.onSweep != nil {
		s.onSweep(st, err)
	}
	if ctx.Err() != nil && err != nil {
		return st, err // shutting down: not a failure of the target
	}
	s.mu.Lock()
	s.lastAt, s.lastSt, s.lastErr = now, st, err
	s.mu.Unlock()
	if err != nil {
		s.log.Fail(ctx, now, "retention: sweep failed; expired entries may outlive their window until a sweep succeeds", err,
			slog.Int("deleted", st.Deleted), slog.Int("held", st.Held), slog.Duration("oldest", st.Oldest))
	} else {
		s.log.OK(ctx, now, "retention: sweeps succeed again", slog.Int("held", st.Held), slog.Duration("oldest", st.Oldest))
	}
	return st, err
}
