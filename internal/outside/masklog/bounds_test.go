package masklog_test

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// countingWriter counts what it is given and keeps nothing.
type countingWriter struct{ n int }

func (c *countingWriter) Write(b []byte) (int, error) { c.n += len(b); return len(b), nil }

// TestWriterMemoryBounded checks the issue's "a maximum line length with a
// defined, tested behaviour for longer lines (no unbounded memory)" and
// the Writer doc's "A Writer holds at most MaxLine bytes of input":
// megabytes of one line with no newline, of text, of IPv4 addresses
// (whose masked form has their length) and of address-like digits,
// written in chunks of many sizes, reach the destination as they are
// written, so that after each Write no more than MaxLine bytes are held
// back; Close writes the rest. Checked to fail: a Writer holding 64 times
// MaxLine (its line limit multiplied in Write) fails the held-back bound.
func TestWriterMemoryBounded(t *testing.T) {
	unit := map[string]string{
		"text":      "GET /index.html HTTP/1.1 curl/8.5.0 ",
		"addresses": "203.0.113.9 198.51.100.7,10.1.2.3 ",
		"digits":    "1234567890.1234567890:",
	}
	for name, u := range unit {
		for _, maxLine := range []int{256, 4096, logmask.DefaultMaxLine} {
			var dst countingWriter
			opts := &logmask.Options{MaxLine: maxLine}
			if maxLine == logmask.DefaultMaxLine {
				opts = nil
			}
			w, err := logmask.NewWriter(&dst, ipmask.Default, opts)
			require.NoError(t, err)
			chunk := []byte(strings.Repeat(u, 1+70000/len(u)))
			written := 0
			for i := 0; written < 3<<20; i++ {
				c := chunk[:len(u)*(1+(i*7919)%(len(chunk)/len(u)))] // whole units: the stream is u repeated
				n, err := w.Write(c)
				require.NoError(t, err)
				require.Equal(t, len(c), n)
				written += n
				if !assert.LessOrEqual(t, written-dst.n, maxLine, "%s, MaxLine %d: held back after %d bytes", name, maxLine, written) {
					break
				}
			}
			require.NoError(t, w.Close())
			if name != "digits" {
				assert.Equal(t, written, dst.n, "%s: all written on Close", name)
			}
		}
	}
}

// TestAssertNoRawIPOfClasses checks AssertNoRawIPOf's doc ("only the
// addresses in data that p does not mask and that p masks to what it
// masks one of addrs to are reported") on random binary data holding the
// canaries in random forms and other addresses beside them: every
// canary's form is reported, no other address is, and data holding only
// other addresses (and random bytes that read as some address) passes.
// Checked to fail: passing the other addresses as canaries reports them.
func TestAssertNoRawIPOfClasses(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	p := ipmask.Default
	for round := range 200 {
		canary4, canary6 := v4(r), v6(r)
		other4, other6 := v4(r), v6(r)
		if p.Mask(other4) == p.Mask(canary4) || p.Mask(other6) == p.Mask(canary6) {
			continue
		}
		junk := func() string {
			b := make([]byte, r.IntN(40))
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			return string(b)
		}
		canaryText := []string{canary4.String(), "[" + canary6.String() + "]:443", "::ffff:" + canary4.String(), canary6.StringExpanded()}[round%4]
		otherText := []string{other4.String(), other6.String(), "x=" + other4.String() + ":80"}[round%3]
		data := junk() + " " + otherText + " " + junk() + " " + canaryText + " " + junk()
		canaries := []netip.Addr{canary4, canary6}
		tb := record(func(tb *recTB) { ipmasktest.AssertNoRawIPOf(tb, p, []byte(data), canaries) })
		if assert.Len(t, tb.errs, 1, "%q", data) {
			assert.Contains(t, tb.errs[0], "1 raw IP address(es)", "%q", data)
			assert.Contains(t, tb.errs[0], canaryText[strings.IndexAny(canaryText, "0123456789abcdef:"):][:4])
		}
		clean := junk() + " " + otherText + " " + junk()
		tb = record(func(tb *recTB) { ipmasktest.AssertNoRawIPOf(tb, p, clean, canaries) })
		assert.Empty(t, tb.errs, "%q", clean)
	}
}

// TestReplaceAttrIgnoresFields checks Masker.ReplaceAttr's doc ("It masks
// in free-text mode, whatever m's Fields say"): a Masker built for field
// mode, used as a built-in handler's ReplaceAttr, masks addresses anywhere
// in the message and attributes, in every form. Checked to fail: a
// ReplaceAttr that masks with MaskString (field mode) leaves most of them.
func TestReplaceAttrIgnoresFields(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	m, err := logmask.NewMasker(ipmask.Default, &logmask.Options{Fields: []int{1}, Placeholder: "-"})
	require.NoError(t, err)
	for range 50 {
		fs := append(forms4(r), forms6(r)...)
		var buf bytes.Buffer
		l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: m.ReplaceAttr}))
		for _, f := range fs {
			l.Info("first "+f.text, "peer", "from "+f.text+" ok", slog.Group("g", slog.String("ip", "x "+f.text)))
		}
		out := buf.String()
		assert.Empty(t, ipmasktest.Leaks(ipmask.Default, out))
		for _, f := range fs {
			for _, raw := range f.raw {
				assert.NotContains(t, strings.ToLower(out), strings.ToLower(raw), f.name)
			}
		}
	}
}
