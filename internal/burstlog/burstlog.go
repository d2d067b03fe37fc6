// Package burstlog logs the failures of an operation once per burst, so
// that a failure is never silent and an outage does not flood the log.
//
// A burst starts with the first failure after a success (or ever): that
// failure is logged at once. While failures go on, at most one line is
// logged every [Logger].Every (a minute by default), carrying how many
// failures were not logged since the line before. The first success after
// a burst logs one recovery line with the burst's length and failure
// count. Every failure is counted in [Logger.Failures], logged or not.
//
// Error text goes through [Logger].Mask before it is logged, so that no
// address leaves the process in a log line; with no Mask the text is
// withheld and only the error's presence is logged.
//
// Adopting it elsewhere in the module: keep one Logger per operation that
// can fail (a store's Record, a sink's flush), call Fail with each error
// and OK with each success, passing the operation's clock reading.
package burstlog

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultEvery is the least time between two lines about one burst unless
// [Logger].Every says otherwise.
const DefaultEvery = time.Minute

// Logger logs the failures of one operation once per burst (see the
// package documentation).
//
// The zero Logger logs to slog.Default() at most once a minute per burst,
// withholding error text. A Logger is safe for concurrent use; set its
// fields before first use and do not copy it after.
type Logger struct {
	// Logger receives the lines; nil means slog.Default().
	Logger *slog.Logger
	// Every is the least time between two failure lines of one burst; 0
	// or less means DefaultEvery.
	Every time.Duration
	// Mask rewrites an error's text before it is logged, so that no
	// address is logged (e.g. a logmask Masker's MaskString). Nil means
	// the text is not logged at all.
	Mask func(string) string

	// hot mirrors failing for OK's lock-free fast path: a success while
	// no burst is on (the common case, on request paths) costs one atomic
	// load, not a lock every caller contends for.
	hot atomic.Bool

	mu       sync.Mutex
	failing  bool
	start    time.Time // first failure of the current burst
	logged   time.Time // when the last failure line was logged
	burst    uint64    // failures in the current burst
	quiet    uint64    // failures not logged since the last line
	failures uint64    // failures ever
}

// Fail records a failure at now. It logs msg at slog.LevelWarn, with attrs,
// the masked error text ("error"), the failures so far in this burst
// ("failures") and those not logged since the line before ("suppressed"),
// when the failure starts a burst, Every has passed since the last line,
// or now is before the last line's time (a clock stepped back); it
// reports whether it logged.
func (l *Logger) Fail(ctx context.Context, now time.Time, msg string, err error, attrs ...slog.Attr) bool {
	l.mu.Lock()
	l.failures++
	if !l.failing {
		l.failing, l.start, l.burst, l.quiet = true, now, 0, 0
		l.hot.Store(true)
	}
	l.burst++
	// A time before the last line's is a clock stepped back: the time
	// since that line is unknown, so log rather than stay silent until the
	// clock is back where it was.
	if l.burst > 1 && !now.Before(l.logged) && now.Sub(l.logged) < l.every() {
		l.quiet++
		l.mu.Unlock()
		return false
	}
	burst, quiet := l.burst, l.quiet
	l.logged, l.quiet = now, 0
	l.mu.Unlock()

	text := "(error text withheld: no mask)"
	switch {
	case err == nil:
		text = "(no error)"
	case l.Mask != nil:
		text = l.Mask(err.Error())
	}
	attrs = append(attrs,
		slog.String("error", text),
		slog.Uint64("failures", burst),
		slog.Uint64("suppressed", quiet))
	l.logger().LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
	return true
}

// OK records a success at now. If it ends a burst of failures, it logs msg
// at slog.LevelInfo with attrs, the burst's failures ("failures"), those
// never logged ("suppressed") and how long it lasted ("failing_for"), and
// reports true. Outside a burst it takes no lock and does not allocate, so
// it may be called on every success of a hot path.
func (l *Logger) OK(ctx context.Context, now time.Time, msg string, attrs ...slog.Attr) bool {
	if !l.hot.Load() {
		return false
	}
	l.mu.Lock()
	if !l.failing {
		l.mu.Unlock()
		return false
	}
	burst, quiet, start := l.burst, l.quiet, l.start
	l.failing, l.burst, l.quiet = false, 0, 0
	l.hot.Store(false)
	l.mu.Unlock()
	attrs = append(attrs,
		slog.Uint64("failures", burst),
		slog.Uint64("suppressed", quiet),
		slog.Duration("failing_for", max(0, now.Sub(start))))
	l.logger().LogAttrs(ctx, slog.LevelInfo, msg, attrs...)
	return true
}

// Hot reports, reading one atomic, whether a burst may be on: OK does
// nothing while it is false. A caller on a hot path checks it before
// building OK's attributes; keeping a flag of its own beside it instead
// would race with Fail and could leave a burst open.
func (l *Logger) Hot() bool { return l.hot.Load() }

// Failures returns how many failures Fail recorded, logged or not.
func (l *Logger) Failures() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failures
}

// Failing reports whether the last outcome recorded was a failure.
func (l *Logger) Failing() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failing
}

func (l *Logger) every() time.Duration {
	if l.Every > 0 {
		return l.Every
	}
	return DefaultEvery
}

func (l *Logger) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}
