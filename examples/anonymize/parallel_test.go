package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// chunky reads its text in pieces of random length, 1 to max bytes, as
// a pipe might hand it over.
type chunky struct {
	r   *rand.Rand
	b   []byte
	max int
}

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.b), 1+c.r.IntN(c.max))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

// sampleLog is a log of n lines of many shapes: addresses of every kind,
// empty lines, CRLF, lines of several times maxLine bytes (which a Writer
// masks in pieces), one of them with an address every few bytes, and no
// newline after the last line.
func sampleLog(r *rand.Rand, n, maxLine int) []byte {
	var b bytes.Buffer
	for i := range n {
		switch i % 7 {
		case 0:
			fmt.Fprintf(&b, "%d.%d.%d.%d - - [11/Jun/2024:08:00:00 +0000] \"GET /c/%d HTTP/1.1\" 200 5\n", r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256), i)
		case 1:
			fmt.Fprintf(&b, "[2001:db8:%x:%x::%x]:443 src=198.51.100.%d\r\n", r.IntN(1<<16), r.IntN(1<<16), r.IntN(1<<16), r.IntN(256))
		case 2:
			b.WriteString("\n")
		case 3:
			if i%5 == 0 {
				for b2 := 0; b2 < 3*maxLine; b2 += 16 {
					fmt.Fprintf(&b, "10.%d.%d.%d,", r.IntN(256), r.IntN(256), r.IntN(256))
				}
			} else {
				b.WriteString(strings.Repeat("x", 2*maxLine+r.IntN(maxLine)))
				b.WriteString(" 203.0.113.9")
			}
			b.WriteString("\n")
		case 4:
			fmt.Fprintf(&b, "ip=2001%%3Adb8%%3A%x%%3A%x%%3A%%3A1 ::ffff:192.0.2.%d\n", r.IntN(1<<16), r.IntN(1<<16), r.IntN(256))
		default:
			fmt.Fprintf(&b, "%s %x:%x::%x\n", strings.Repeat("word ", r.IntN(40)), r.IntN(1<<16), r.IntN(1<<16), r.IntN(1<<16))
		}
	}
	b.WriteString("last 192.0.2.77 without a newline")
	return b.Bytes()
}

// The lines shared out among workers come out exactly as one Writer
// writes them, in order, however the input is cut into reads: a line is
// never split between two workers, and a long line is masked in the same
// pieces.
func TestParallelSameAsOneWriter(t *testing.T) {
	const maxLine = 256
	opts := &logmask.Options{MaxLine: maxLine}
	r := rand.New(rand.NewPCG(1, 2))
	in := sampleLog(r, 3000, maxLine)

	want := oneWriter(t, in, opts)
	require.NotEqual(t, string(in), string(want), "the sample holds addresses")

	for _, workers := range []int{1, 2, 3, 8} {
		for _, maxRead := range []int{1, 7, 300, 5000, 1 << 20} {
			t.Run(fmt.Sprintf("workers=%d/reads<=%d", workers, maxRead), func(t *testing.T) {
				src := &chunky{r: rand.New(rand.NewPCG(uint64(workers), uint64(maxRead))), b: in, max: maxRead}
				assert.Equal(t, string(want), string(onWorkers(t, src, opts, workers)))
			})
		}
	}
}

// oneWriter returns in masked by one Writer with opts.
func oneWriter(t *testing.T, in []byte, opts *logmask.Options) []byte {
	var out bytes.Buffer
	one, err := logmask.NewWriter(&out, ipmask.Default, opts)
	require.NoError(t, err)
	_, err = one.Write(in)
	require.NoError(t, err)
	require.NoError(t, one.Close())
	return out.Bytes()
}

// onWorkers returns what src holds masked by lines with opts on n workers.
func onWorkers(t *testing.T, src io.Reader, opts *logmask.Options, n int) []byte {
	var out bytes.Buffer
	l, err := newLines(&out, ipmask.Default, opts, n)
	require.NoError(t, err)
	rerr, werr := l.readFrom(src)
	require.NoError(t, rerr)
	require.NoError(t, werr)
	require.NoError(t, l.Close())
	return out.Bytes()
}

// The command, with its default of one worker per core, masks a file read
// in uneven pieces as one Writer does.
func TestRunParallelSameAsSequential(t *testing.T) {
	in := sampleLog(rand.New(rand.NewPCG(3, 4)), 2000, 1024)
	var want, got, errOut bytes.Buffer
	_, err := logmask.Copy(&want, bytes.NewReader(in), ipmask.Default, &logmask.Options{MaxLine: 1024})
	require.NoError(t, err)
	for _, j := range []string{"1", "2", "4"} {
		got.Reset()
		src := &chunky{r: rand.New(rand.NewPCG(5, 6)), b: in, max: 4000}
		require.Equal(t, 0, run([]string{"-j", j, "-max-line", "1024"}, src, &got, &errOut), errOut.String())
		assert.Equal(t, want.String(), got.String(), "-j %s", j)
	}
}

// FuzzLines feeds text to 1 to 4 workers in reads of random length: the
// output is what one Writer writes, whatever the lines' lengths against
// MaxLine and wherever the reads cut them.
func FuzzLines(f *testing.F) {
	f.Add([]byte("203.0.113.9 a\n2001:db8:1:2::7 b\n\nlast 198.51.100.7"), uint16(7), uint8(2), uint16(0))
	f.Add([]byte(strings.Repeat("x", 300)+" 203.0.113.9\n10.1.2.3,10.1.2.4\n"+strings.Repeat("1.2.3.4,", 80)), uint16(100), uint8(3), uint16(0))
	f.Add(sampleLog(rand.New(rand.NewPCG(7, 8)), 40, 256), uint16(300), uint8(1), uint16(0))
	f.Fuzz(func(t *testing.T, text []byte, step uint16, workers uint8, maxLine uint16) {
		opts := &logmask.Options{MaxLine: 256 + int(maxLine%1024)}
		want := oneWriter(t, text, opts)
		src := &chunky{r: rand.New(rand.NewPCG(uint64(step), 1)), b: text, max: 1 + int(step%2048)}
		if got := onWorkers(t, src, opts, 1+int(workers%4)); !bytes.Equal(want, got) {
			t.Fatalf("%q in reads of up to %d bytes: %q, one Writer %q", text, 1+int(step%2048), got, want)
		}
	})
}
