//go:build !race

package observe_test

// raceEnabled is whether the race detector is on: its sync.Pool drops
// buffers on purpose, so pooled paths allocate.
const raceEnabled = false
