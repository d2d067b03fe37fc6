package oracle_test

import (
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// TestAllocationPromises checks the documented allocation promises, by
// counts only, on the generated lines and real formats above:
// AppendMask "does not allocate when dst has room" (no percent-encoded
// colon in these lines), MaskString of text that holds no address returns
// it "without allocating", and a Writer masks line after line with no
// allocation per line once its buffers exist. Checked to fail: with dst
// given no room (nil), and with a decoy line that holds an address.
func TestAllocationPromises(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m, err := logmask.NewMasker(ipmask.Default, nil)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(1, 1))
	var lines []string
	for range 200 {
		lines = append(lines, genLine(r, 1+r.IntN(10)).String()+"\n")
	}
	for _, tmpls := range formats {
		for _, tmpl := range tmpls {
			lines = append(lines, fill(r, ipmask.Default, tmpl).String()+"\n")
		}
	}
	dst := make([]byte, 0, 1<<16)
	for _, l := range lines {
		b := []byte(l)
		assert.Zero(t, testing.AllocsPerRun(5, func() { dst = m.AppendMask(dst[:0], b) }), "AppendMask %q", l)
	}
	var plain []string
	for range 100 {
		var b strings.Builder
		for range 1 + r.IntN(10) {
			b.WriteString(decoys[r.IntN(len(decoys))])
			b.WriteString(seps[r.IntN(len(seps))])
		}
		plain = append(plain, b.String())
	}
	for _, s := range plain {
		require.Equal(t, s, m.MaskString(s))
		assert.Zero(t, testing.AllocsPerRun(5, func() { _ = m.MaskString(s) }), "MaskString %q", s)
	}
	w, err := logmask.NewWriter(io.Discard, ipmask.Default, nil)
	require.NoError(t, err)
	all := []byte(strings.Join(lines, ""))
	_, err = w.Write(all) // the buffers
	require.NoError(t, err)
	var halves [][]byte
	for _, l := range lines {
		halves = append(halves, []byte(l[:len(l)/2]), []byte(l[len(l)/2:]))
	}
	allocs := testing.AllocsPerRun(10, func() {
		for _, h := range halves {
			_, _ = w.Write(h)
		}
	})
	assert.Zero(t, allocs, "Writer, %d lines", len(lines))
}
