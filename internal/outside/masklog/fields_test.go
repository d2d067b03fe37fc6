package masklog_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// TestFieldModeClasses checks field mode as the issue and Options.Fields
// state it ("only these columns are masked, and a value in one of them
// that is not an address list is replaced by Placeholder; other columns
// pass through untouched"; "a '\r' ending a line is kept"): lines of five
// columns with random address forms, lists of them, quoted lists, host
// names, "unknown", empty and percent-encoded values, split by five
// delimiters, LF or CRLF, with one or two masked columns. Each masked
// column comes out as the placeholder or holds no raw address, and is the
// placeholder exactly where the value is not an address list; every other
// column is byte for byte as it was. Checked to fail: masking the column
// after the one the test expects fails both checks.
func TestFieldModeClasses(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 5))
	const ph = "MASKED"
	for _, delim := range []byte{' ', '\t', '|', ';', ','} {
		for round := range 150 {
			fs := append(forms4(r), forms6(r)...)
			// pick returns the text of a form that field mode's doc calls
			// an address (with a zone, [v6], [v6]:port or v4:port).
			pick := func() string {
				for {
					f := fs[r.IntN(len(fs))]
					if strings.Contains(f.name, "pct") || strings.Contains(f.name, "tcpdump") || strings.Contains(f.name, "twice") || strings.Contains(f.name, "url zone") ||
						strings.IndexByte(f.text, delim) >= 0 {
						continue
					}
					return f.text
				}
			}
			value := func() (string, bool) { // the text, and whether it is an address list
				switch r.IntN(7) {
				case 0:
					return []string{"unknown", "host.example.net", "-", "", "ip-10-0-0-5"}[r.IntN(5)], false
				case 1:
					return pctColon(v6(r).String(), 1), false
				case 2:
					if delim != ',' {
						return `"` + pick() + "," + pick() + `"`, true
					}
				}
				return pick(), true
			}
			cols := make([]string, 5)
			isAddr := make([]bool, 5)
			for i := range cols {
				cols[i], isAddr[i] = value()
			}
			masked := []int{1 + r.IntN(5)}
			if round%2 == 1 {
				masked = append(masked, 1+(masked[0]%5))
			}
			eol := "\n"
			if round%3 == 0 {
				eol = "\r\n"
			}
			line := strings.Join(cols, string(delim)) + eol
			m, err := logmask.NewMasker(ipmask.Default, &logmask.Options{Fields: masked, Delim: delim, Placeholder: ph})
			require.NoError(t, err)
			out := m.MaskString(line)
			require.True(t, strings.HasSuffix(out, eol), "line ending kept: %q", out)
			got := strings.Split(strings.TrimSuffix(out, eol), string(delim))
			require.Len(t, got, 5, "%q -> %q", line, out)
			for i := range cols {
				desc := fmt.Sprintf("column %d of %q -> %q (masked %v)", i+1, line, out, masked)
				isMasked := i+1 == masked[0] || len(masked) > 1 && i+1 == masked[1]
				switch {
				case !isMasked:
					assert.Equal(t, cols[i], got[i], desc)
				case !isAddr[i]:
					assert.Equal(t, ph, got[i], desc)
				default:
					assert.NotEqual(t, ph, got[i], "an address list is masked, not replaced: "+desc)
					assert.Empty(t, ipmasktest.Leaks(ipmask.Default, got[i]), desc)
				}
			}
		}
	}
}
