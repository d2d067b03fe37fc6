package wallclock

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fake is a machine's two clocks, moved by hand: the wall clock can be
// stepped, and both can advance, or the wall alone (a sleep).
type fake struct {
	mu         sync.Mutex
	wall, mono int64
	walls      int // readings of the wall clock
}

func (f *fake) clock(base time.Time) *Clock {
	f.wall = base.UnixNano()
	return &Clock{
		base: base,
		mono: func() int64 { f.mu.Lock(); defer f.mu.Unlock(); return f.mono },
		both: func() (int64, int64) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.walls++
			return f.wall, f.mono
		},
	}
}

func (f *fake) advance(d time.Duration) {
	f.mu.Lock()
	f.wall += int64(d)
	f.mono += int64(d)
	f.mu.Unlock()
}
func (f *fake) step(d time.Duration) { f.mu.Lock(); f.wall += int64(d); f.mu.Unlock() }

func TestClockFollowsSteps(t *testing.T) {
	base := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		// step is applied after a first reading; then the monotonic
		// clock advances by less than Every, then by Every.
		step time.Duration
		// elapsed is what Elapsed adds to the monotonic time once the
		// step is seen.
		elapsed time.Duration
	}{
		{name: "no step", step: 0, elapsed: 0},
		{name: "wall stepped ahead an hour, or the machine slept an hour", step: time.Hour, elapsed: time.Hour},
		{name: "wall stepped back an hour", step: -time.Hour, elapsed: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f fake
			c := f.clock(base)
			require.Equal(t, base, c.Now())
			f.advance(time.Millisecond)
			f.step(tt.step)

			// Within Every of the last wall reading the step is not
			// seen yet: the clock runs on the monotonic clock.
			assert.Equal(t, base.Add(time.Millisecond), c.Now())
			assert.Equal(t, int64(time.Millisecond), c.Elapsed())

			// Every later, it is.
			f.advance(Every)
			mono := time.Millisecond + Every
			assert.Equal(t, base.Add(mono+tt.step), c.Now(), "Now follows the wall clock")
			assert.Equal(t, int64(mono+tt.elapsed), c.Elapsed(), "Elapsed")
			assert.Equal(t, f.wall, c.Now().UnixNano())

			// And keeps following it on the monotonic clock alone.
			walls := f.walls
			f.advance(Every / 2)
			assert.Equal(t, base.Add(mono+Every/2+tt.step), c.Now())
			assert.Equal(t, walls, f.walls, "the wall clock was read again within Every")
		})
	}
}

// A step ahead taken back leaves Elapsed where the monotonic clock is: it
// goes back only by what the step had added.
func TestClockElapsedStepAheadTakenBack(t *testing.T) {
	var f fake
	c := f.clock(time.Unix(0, 0))
	f.advance(Every)
	f.step(time.Hour)
	require.Equal(t, int64(Every+time.Hour), c.Elapsed())
	f.advance(Every)
	f.step(-time.Hour)
	assert.Equal(t, int64(2*Every), c.Elapsed())
}

// The wall clock is read at most once per Every of monotonic time,
// however often the clock is read.
func TestClockReadsWallOncePerEvery(t *testing.T) {
	var f fake
	c := f.clock(time.Unix(0, 0))
	for range 1000 {
		f.advance(Every / 100)
		c.Now()
		c.Elapsed()
	}
	// 1000 readings over 10 Every: one wall reading each Every.
	assert.Equal(t, 10, f.walls)
}

// The real clock agrees with time.Now, from its first readings and from
// one an hour old, whose first reading reads the wall clock.
func TestClockAgreesWithTimeNow(t *testing.T) {
	c := New()
	checkAgreesWithTimeNow(t, c)
	old := &Clock{base: time.Now().Add(-time.Hour)}
	checkAgreesWithTimeNow(t, old)
	assert.GreaterOrEqual(t, old.checked.Load(), int64(time.Hour), "the wall clock was read")
}

func checkAgreesWithTimeNow(t *testing.T, c *Clock) {
	t.Helper()
	for range 1000 {
		before := time.Now()
		got := c.Now()
		after := time.Now()
		// A millisecond of slack: time.Now reads its two clocks one
		// after the other, so the skew a Clock measures is off by the
		// time between them.
		require.False(t, got.Before(before.Add(-time.Millisecond)), "Now %v before time.Now %v", got, before)
		require.False(t, got.After(after.Add(time.Millisecond)), "Now %v after time.Now %v", got, after)
	}
}

// Readings from many goroutines at once (run with -race).
func TestClockConcurrent(t *testing.T) {
	var f fake
	c := f.clock(time.Unix(0, 0))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				f.advance(100 * time.Microsecond)
				if c.Elapsed() < 0 {
					t.Error("negative Elapsed")
				}
				c.Now()
			}
		})
	}
	wg.Wait()
	f.advance(Every)
	assert.Equal(t, f.wall, c.Now().UnixNano())
}
