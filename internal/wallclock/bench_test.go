package wallclock

import (
	"testing"
	"time"
)

var (
	sinkTime  time.Time
	sinkInt64 int64
)

// BenchmarkNow compares a Clock's readings with time.Now, the baseline
// they replace on the tracker's and the memory store's paths.
func BenchmarkNow(b *testing.B) {
	b.Run("time.Now", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkTime = time.Now()
		}
	})
	c := New()
	b.Run("Clock.Now", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkTime = c.Now()
		}
	})
	b.Run("Clock.Elapsed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkInt64 = c.Elapsed()
		}
	})
}
