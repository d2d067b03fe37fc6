package cputime_test

import (
	"crypto/sha256"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/cputime"
)

// A thread that works for a while has used more CPU time afterwards.
func TestThreadCountsWork(t *testing.T) {
	if runtime.GOOS != "linux" {
		_, ok := cputime.Thread()
		assert.False(t, ok, "only Linux is measured")
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, ok := cputime.Thread()
	require.True(t, ok)
	sum := sha256.Sum256(nil)
	for range 200_000 {
		sum = sha256.Sum256(sum[:])
	}
	after, ok := cputime.Thread()
	require.True(t, ok)
	assert.Greater(t, after, before, "200,000 hashes take CPU time (last byte %d)", sum[0])
}
