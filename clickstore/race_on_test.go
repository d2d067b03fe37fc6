//go:build race

package clickstore_test

// heapClicks is smaller under the race detector, which is ten times slower.
const heapClicks = 100_000
