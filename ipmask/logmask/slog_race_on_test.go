//go:build race

package logmask_test

// raceEnabled is whether the race detector is on (its sync.Pool drops
// buffers, so pooled paths allocate).
const raceEnabled = true
