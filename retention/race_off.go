//go:build !race

package retention

// raceDetector is true in a build with the race detector: see race_on.go.
const raceDetector = false
