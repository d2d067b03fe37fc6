package masklog_test

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

// TestWriterNoAllocPerLine checks the issue's "0 allocations per line in
// steady state" on generated logs of every class and address form (also
// percent-encoded once and twice, CRLF, binary junk), written line by
// line and in odd chunks, with the default MaxLine and with a short one
// that cuts long lines into pieces, in free-text and field mode. Skipped
// under -race, whose sync.Pool drops buffers. Checked to fail: giving the
// Writer a fresh copy of each chunk (one allocation per call) fails it.
func TestWriterNoAllocPerLine(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts do not hold under the race detector")
	}
	r := rand.New(rand.NewPCG(2, 2))
	text, _ := genLog(r, 200)
	long := strings.Repeat("GET /r?ip=2001%3Adb8%3A1%3A2%3A%3A7 203.0.113.9 x=2001%253Adb8%253A%253A1 ", 30) + "\n"
	var lines [][]byte
	for _, l := range strings.SplitAfter(text+long, "\n") {
		lines = append(lines, []byte(l))
	}
	for _, tc := range []struct {
		name string
		opts *logmask.Options
	}{
		{"default", nil},
		{"short MaxLine", &logmask.Options{MaxLine: 300}},
		{"field mode", &logmask.Options{Fields: []int{1, 2}}},
	} {
		w, err := logmask.NewWriter(io.Discard, ipmask.Default, tc.opts)
		require.NoError(t, err)
		_, err = io.WriteString(w, text+long) // warm up
		require.NoError(t, err)
		b := []byte(text + long)
		perLine := testing.AllocsPerRun(5, func() {
			for _, l := range lines {
				_, _ = w.Write(l)
			}
		})
		chunks := testing.AllocsPerRun(5, func() {
			for i := 0; i < len(b); i += 97 {
				_, _ = w.Write(b[i:min(len(b), i+97)])
			}
		})
		assert.Zero(t, perLine, "%s: line by line", tc.name)
		assert.Zero(t, chunks, "%s: chunks", tc.name)
	}
}
