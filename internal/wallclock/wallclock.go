// Package wallclock reads the time of day on hot paths for the price of
// the monotonic clock alone.
//
// time.Now reads two clocks, the wall clock and the monotonic one; on
// virtual machines each reading can cost tens of nanoseconds (55 ns for
// time.Now against 30 for time.Since on the 2-core machine BENCHMARKS.md
// was measured on). A Clock reads the wall clock once in a while, keeps how
// far it was from the monotonic clock then, and otherwise reads only the
// monotonic clock. The two move together (NTP slews both); they part only
// when the wall clock is stepped or the machine sleeps, and a Clock sees
// that at its next wall reading, at most [Every] of monotonic time later.
package wallclock

import (
	"sync/atomic"
	"time"
)

// Every is how much monotonic time may pass between two readings of the
// wall clock: how long a step of the wall clock may go unseen.
const Every = 10 * time.Millisecond

// Clock is the wall clock read through the monotonic clock. Its zero value
// is not ready: use [New]. A Clock is safe for concurrent use.
type Clock struct {
	base    time.Time    // a reading of time.Now, with its monotonic part
	skew    atomic.Int64 // wall clock minus base+monotonic, at the last wall reading
	checked atomic.Int64 // monotonic nanoseconds since base at the last wall reading

	// mono reads the monotonic nanoseconds since base; both reads them
	// and the wall clock's Unix nanoseconds at one instant. Nil, as New
	// leaves them, means the machine's clocks, read with no indirect
	// call; a test sets them.
	mono func() int64
	both func() (wall, mono int64)
}

// New returns a Clock that starts now.
func New() *Clock { return &Clock{base: time.Now()} }

// Now returns the time of day: what time.Now would give, but for a step of
// the wall clock (or a sleep of the machine) in the last [Every] of
// monotonic time. Its monotonic reading is the real one.
func (c *Clock) Now() time.Time {
	m, s := c.offsets()
	return c.base.Add(time.Duration(m + s))
}

// Elapsed returns the nanoseconds since the Clock started, advancing with
// the monotonic clock, and with the wall clock where the wall clock is
// ahead of it (stepped ahead, or the machine slept): time the wall clock
// says has passed counts even if the monotonic clock missed it. A step
// back of the wall clock takes back only what a step ahead had added.
func (c *Clock) Elapsed() int64 {
	m, s := c.offsets()
	return m + max(s, 0)
}

// offsets returns the monotonic nanoseconds since base and the skew of the
// wall clock, reading the wall clock when the last reading is older than
// Every.
func (c *Clock) offsets() (mono, skew int64) {
	if c.mono == nil {
		mono = int64(time.Since(c.base))
	} else {
		mono = c.mono()
	}
	if mono-c.checked.Load() < int64(Every) {
		return mono, c.skew.Load()
	}
	var wall int64
	if c.both == nil {
		t := time.Now()
		wall, mono = t.UnixNano(), int64(t.Sub(c.base))
	} else {
		wall, mono = c.both()
	}
	skew = wall - c.base.UnixNano() - mono
	c.skew.Store(skew)
	c.checked.Store(mono)
	return mono, skew
}
