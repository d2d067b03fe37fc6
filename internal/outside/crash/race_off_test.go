//go:build !race

package crash_test

// raceOn is set when the tests run with the race detector (see
// race_on_test.go).
const raceOn = false
