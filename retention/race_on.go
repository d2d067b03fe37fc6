//go:build race

package retention

// raceDetector is true in a build with the race detector, under which
// crypto/sha256's AppendBinary allocates (its padding slice escapes), so
// that Key.MAC takes its general path there: see Key.mac.
const raceDetector = true
