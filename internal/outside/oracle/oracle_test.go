package oracle_test

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// policies are the ones the reference is compared under.
func policies(t *testing.T) []ipmask.Policy {
	var ps []ipmask.Policy
	for _, b := range [][2]int{{24, 48}, {16, 32}, {20, 56}, {0, 0}, {8, 64}, {32, 128}, {28, 112}} {
		p, err := ipmask.New(b[0], b[1])
		require.NoError(t, err)
		ps = append(ps, p)
	}
	return ps
}

// TestAppendMaskAgreesWithReference compares AppendMask and MaskString
// with the reference over generated lines: many seeds, every policy, with
// and without SkipPrivate, lines of one to twelve addresses and decoys
// between ASCII and Unicode separators. Checked to fail: with the expected
// IPv4 text built from the unmasked address, with SkipPrivate passed to
// the reference but not to logmask, and with a decoy the reference says
// stays changed by hand ("v2.0.1" appended to the output).
func TestAppendMaskAgreesWithReference(t *testing.T) {
	for _, p := range policies(t) {
		for _, skip := range []bool{false, true} {
			m, err := logmask.NewMasker(p, &logmask.Options{SkipPrivate: skip})
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(uint64(p.IPv4Bits()), uint64(p.IPv6Bits())))
			fails := 0
			var buf []byte
			for range 1500 {
				l := genLine(r, 1+r.IntN(12))
				in := l.String()
				buf = m.AppendMask(buf[:0], []byte(in))
				if !check(t, p, skip, l, string(buf)) {
					fails++
				}
				assert.Equal(t, string(buf), m.MaskString(in))
				if fails > 5 {
					t.FailNow()
				}
			}
		}
	}
}

// TestManyLinesAgreeWithReference masks several generated lines at once,
// ended by LF or CRLF, through AppendMask, Copy and a Writer, each of
// which must write what the reference says line by line. Checked to fail:
// the same as above, and with a line ending dropped from the input.
func TestManyLinesAgreeWithReference(t *testing.T) {
	p := ipmask.Default
	m, err := logmask.NewMasker(p, nil)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(3, 11))
	for range 200 {
		var ls []line
		var in strings.Builder
		ends := []string{}
		for range 1 + r.IntN(6) {
			l := genLine(r, 1+r.IntN(6))
			ls = append(ls, l)
			end := []string{"\n", "\r\n"}[r.IntN(2)]
			ends = append(ends, end)
			in.WriteString(l.String() + end)
		}
		outs := map[string]string{"AppendMask": string(m.AppendMask(nil, []byte(in.String())))}
		var cp bytes.Buffer
		_, err := logmask.Copy(&cp, strings.NewReader(in.String()), p, nil)
		require.NoError(t, err)
		outs["Copy"] = cp.String()
		var wb bytes.Buffer
		w, err := logmask.NewWriter(&wb, p, nil)
		require.NoError(t, err)
		_, err = w.Write([]byte(in.String()))
		require.NoError(t, err)
		require.NoError(t, w.Close())
		outs["Writer"] = wb.String()
		for name, out := range outs {
			rest := out
			for i, l := range ls {
				j := strings.Index(rest, ends[i])
				if !assert.GreaterOrEqual(t, j, 0, "%s: line end lost: %q", name, out) {
					break
				}
				if !check(t, p, false, l, rest[:j]) {
					t.FailNow()
				}
				rest = rest[j+len(ends[i]):]
			}
			assert.Empty(t, rest, name)
		}
	}
}
