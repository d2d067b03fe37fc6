package oracle_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// writeChunks writes text to a new Writer in random pieces, some of one
// byte, and returns what it wrote.
func writeChunks(t *testing.T, r *rand.Rand, p ipmask.Policy, opts *logmask.Options, text string) string {
	t.Helper()
	var out bytes.Buffer
	w, err := logmask.NewWriter(&out, p, opts)
	require.NoError(t, err)
	for len(text) > 0 {
		n := 1 + r.IntN(min(len(text), []int{1, 7, 64, 300, 5000}[r.IntN(5)]))
		k, err := w.Write([]byte(text[:n]))
		require.NoError(t, err)
		require.Equal(t, n, k)
		text = text[n:]
	}
	require.NoError(t, w.Close())
	return out.String()
}

// TestWriterCutAnywhereAgreesWithReference writes generated lines to a
// Writer cut at random points (inside addresses, zones, ports, UTF-8
// sequences, CRLF) and checks the result, line by line, against the
// reference, and against AppendMask of the whole text. Checked to fail:
// with the reference's expected IPv4 text made from the unmasked address,
// and with a line's '\n' dropped before comparing.
func TestWriterCutAnywhereAgreesWithReference(t *testing.T) {
	for _, p := range policies(t)[:4] {
		for _, skip := range []bool{false, true} {
			opts := &logmask.Options{SkipPrivate: skip}
			m, err := logmask.NewMasker(p, opts)
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(uint64(p.IPv4Bits())+7, uint64(p.IPv6Bits())))
			for range 60 {
				var ls []line
				var in strings.Builder
				for range 1 + r.IntN(8) {
					l := genLine(r, 1+r.IntN(8))
					ls = append(ls, l)
					in.WriteString(l.String() + "\n")
				}
				out := writeChunks(t, r, p, opts, in.String())
				require.Equal(t, string(m.AppendMask(nil, []byte(in.String()))), out)
				got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				require.Len(t, got, len(ls))
				for i, l := range ls {
					if !check(t, p, skip, l, got[i]) {
						t.FailNow()
					}
				}
			}
		}
	}
}

// TestWriterLongLinesAgreeWithReference writes lines of up to 20 times
// MaxLine made of generated pieces, which hold a byte that cannot touch
// an address every few bytes: the documentation promises that the Writer
// then cuts only there, "so the result is the same as if the line had
// been masked whole". Checked to fail: with MaxLine's cut moved by
// hand (the expected text masked in MaxLine pieces instead).
func TestWriterLongLinesAgreeWithReference(t *testing.T) {
	for _, maxLine := range []int{256, 300, 1000} {
		p := ipmask.Default
		opts := &logmask.Options{MaxLine: maxLine}
		r := rand.New(rand.NewPCG(uint64(maxLine), 1))
		for range 40 {
			var l line
			for len(l.String()) < maxLine*(1+r.IntN(20)) {
				l = append(l, genLine(r, 8)...)
				l = append(l, lit(" "))
			}
			out := writeChunks(t, r, p, opts, l.String()+"\n")
			if !check(t, p, false, l, strings.TrimSuffix(out, "\n")) {
				t.FailNow()
			}
		}
	}
}

// TestWriterStretchLongerThanMaxLine writes lines whose text around an
// address has no byte that cannot touch one for more than MaxLine bytes
// (letters, digits, '.', '-', ':', as in a long percent-encoded query
// string or a dotted chain), with the address at every offset from the
// cut. The documentation: "At worst the pieces are masked more than the
// whole line would have been, never less." So no piece of the output may
// show more of the address than the policy keeps: not its text, nor its
// text with the ':' and '.' the Writer turns into '_' read back. Checked
// to fail: FINDING F1 (before its fix, "2001_db8_1_2__7",
// "ec2-203-0-113-9_compute-1" and "p5dc5a9f2_dip0" came through).
func TestWriterStretchLongerThanMaxLine(t *testing.T) {
	const maxLine = 256
	p := ipmask.Default
	r := rand.New(rand.NewPCG(5, 5))
	type sample struct{ text, raw string }
	samples := func() []sample {
		a := pub4(r).As4()
		a[3] = byte(1 + r.IntN(254))
		b := pub6(r).As16()
		b[15] |= 1
		b[6], b[7] = 0x12, 0x34
		v6 := fmt.Sprintf("%x:%x:%x:%x::%x", uint16(b[0])<<8|uint16(b[1]), uint16(b[2])<<8|uint16(b[3]), uint16(b[4])<<8|uint16(b[5]), 0x1234, uint16(b[14])<<8|uint16(b[15]))
		return []sample{
			{fmt.Sprintf("ec2-%d-%d-%d-%d.compute-1.amazonaws.com", a[0], a[1], a[2], a[3]), fmt.Sprintf("%d-%d-%d-%d", a[0], a[1], a[2], a[3])},
			{fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa", a[3], a[2], a[1], a[0]), fmt.Sprintf("%d.%d.%d.%d", a[3], a[2], a[1], a[0])},
			{fmt.Sprintf("p%02x%02x%02x%02x.dip0.t-ipconnect.de", a[0], a[1], a[2], a[3]), fmt.Sprintf("%02x%02x%02x%02x", a[0], a[1], a[2], a[3])},
			{fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3]), fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3])},
			{v6, v6},
			{"[" + v6 + "]:443", v6},
		}
	}
	pads := []string{"k", "1", "x.", "x-", "-", "a1", ":", "0.", "%3A", "kk:"}
	for _, pad := range pads {
		for _, s := range samples() {
			for n := maxLine - len(s.text) - 8; n <= maxLine+4; n++ {
				text := strings.Repeat(pad, n/len(pad)+1)[:n] + "." + s.text + "." + strings.Repeat(pad, 100) + " end\n"
				out := writeChunks(t, r, p, &logmask.Options{MaxLine: maxLine}, text)
				read := strings.NewReplacer("%3A", ":", "_", ":").Replace(out)
				readDots := strings.ReplaceAll(out, "_", ".")
				readDashes := strings.ReplaceAll(out, "_", "-")
				for _, o := range []string{out, read, readDots, readDashes} {
					if !assert.NotContains(t, o, s.raw, "pad %q, %d bytes before %q:\n%q", pad, n, s.text, out[max(0, n-20):]) {
						t.FailNow()
					}
				}
			}
		}
	}
}
