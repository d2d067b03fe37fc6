//go:build !race

package masklog_test

// raceEnabled is whether the race detector is on: its sync.Pool drops
// buffers, so allocation counts do not hold.
const raceEnabled = false
