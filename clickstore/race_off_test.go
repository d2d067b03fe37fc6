//go:build !race

package clickstore_test

const heapClicks = 1_000_000
