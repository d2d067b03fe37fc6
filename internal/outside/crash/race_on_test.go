//go:build race

package crash_test

// raceOn is set when the tests run with the race detector, which slows
// SQLite and the sketches down several times: the tests then take smaller
// samples of the same classes of input.
const raceOn = true
