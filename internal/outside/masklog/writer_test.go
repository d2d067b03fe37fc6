package masklog_test

import (
	"bytes"
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

// genLog returns n lines of the log classes with random address forms,
// ending in LF or CRLF, some with binary junk, and the forms it used.
func genLog(r *rand.Rand, n int) (string, []form) {
	var b strings.Builder
	var used []form
	for i := range n {
		fs := append(forms4(r), forms6(r)...)
		f, g := fs[r.IntN(len(fs))], fs[r.IntN(len(fs))]
		tmpl := templates[r.IntN(len(templates))].line
		if strings.HasSuffix(fragments(tmpl)[0], "/") && (strings.Contains(f.name, "tcpdump") || strings.Contains(g.name, "tcpdump")) {
			f, g = fs[0], fs[len(fs)-1-1]
		}
		used = append(used, f, g)
		line := fmt.Sprintf(tmpl, glue(r, f.text), glue(r, g.text))
		switch i % 5 {
		case 1:
			line += "\r"
		case 3:
			line = "\x00\xff\xfe" + line + "\x1b[0m\x80"
		}
		b.WriteString(line + "\n")
	}
	return b.String(), used
}

// writeChunks writes text to a new Writer in the pieces cuts gives
// (increasing offsets), closes it and returns what it wrote.
func writeChunks(t *testing.T, p ipmask.Policy, opts *logmask.Options, text string, cuts ...int) string {
	t.Helper()
	var out bytes.Buffer
	w, err := logmask.NewWriter(&out, p, opts)
	require.NoError(t, err)
	last := 0
	for _, c := range append(cuts, len(text)) {
		n, err := w.Write([]byte(text[last:c]))
		require.NoError(t, err)
		require.Equal(t, c-last, n)
		last = c
	}
	require.NoError(t, w.Close())
	return out.String()
}

// TestWriterEverySplitPoint checks the issue's "an io.WriteCloser that
// handles lines split across writes" over generated logs of every class,
// with CRLF endings and binary junk, under two policies and with field
// mode on: for every split point in two writes, and for random splits in
// many, the Writer's output equals the Masker's on the whole text, and
// holds none of the raw addresses. Checked to fail: writing the second
// piece of each split to a new Writer (each piece masked alone) fails at
// the split points inside addresses.
func TestWriterEverySplitPoint(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	ps := policies(t)
	for _, tc := range []struct {
		name string
		p    ipmask.Policy
		opts *logmask.Options
	}{
		{"default", ps[0], nil},
		{"strict skip-private", ps[1], &logmask.Options{SkipPrivate: true}},
		{"field mode", ps[0], &logmask.Options{Fields: []int{1, 3}, Placeholder: "-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, used := genLog(r, 12)
			m, err := logmask.NewMasker(tc.p, tc.opts)
			require.NoError(t, err)
			want := string(m.AppendMask(nil, []byte(text)))
			if tc.opts == nil {
				for _, f := range used {
					for _, raw := range f.raw {
						require.NotContains(t, strings.ToLower(want), strings.ToLower(raw))
					}
				}
			}
			for i := 0; i <= len(text); i++ {
				if got := writeChunks(t, tc.p, tc.opts, text, i); got != want {
					assert.Equal(t, want, got, "split at %d: %q | %q", i, text[max(0, i-20):i], text[i:min(len(text), i+20)])
					break
				}
			}
			for range 200 {
				var cuts []int
				for c := r.IntN(8); c < len(text); c += 1 + r.IntN(40) {
					cuts = append(cuts, c)
				}
				require.Equal(t, want, writeChunks(t, tc.p, tc.opts, text, cuts...), "cuts %v", cuts)
			}
		})
	}
}

// TestWriterLongLines checks the documented behaviour for lines longer
// than MaxLine ("masked in pieces as it arrives, so memory stays bounded
// ... at worst the pieces are masked more than the whole line would have
// been, never less"): lines of random address forms and text, from
// MaxLine-10 to 20 times MaxLine, with no newline for long stretches,
// written whole or in random chunks, hold no raw address afterwards, are
// no longer than the input, and the lines after them come out as the
// Masker masks them. Checked to fail: with a policy keeping every bit the
// raw addresses survive.
func TestWriterLongLines(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	p := policies(t)[0]
	m, err := logmask.NewMasker(p, nil)
	require.NoError(t, err)
	for _, maxLine := range []int{256, 300, 1000} {
		for round := range 30 {
			var b strings.Builder
			var used []form
			target := maxLine - 10 + r.IntN(20*maxLine)
			seps := []string{" ", ",", ", ", "=", "\t", ";", "/", "%20", "|", "\" \""}
			for b.Len() < target {
				fs := append(forms4(r), forms6(r)...)
				f := fs[r.IntN(len(fs))]
				if strings.Contains(f.name, "tcpdump") {
					continue
				}
				used = append(used, f)
				b.WriteString(f.text)
				b.WriteString(seps[r.IntN(len(seps))])
				if r.IntN(4) == 0 {
					b.WriteString(strings.Repeat("x", r.IntN(2*maxLine)))
					b.WriteString(" ")
				}
			}
			tail := "after 203.0.113.9 [2001:db8:1:2::7]:443\n"
			text := b.String() + "\n" + tail
			var cuts []int
			if round%2 == 1 {
				for c := r.IntN(50); c < len(text); c += 1 + r.IntN(3*maxLine) {
					cuts = append(cuts, c)
				}
			}
			got := writeChunks(t, p, &logmask.Options{MaxLine: maxLine}, text, cuts...)
			assert.LessOrEqual(t, len(got), len(text))
			assert.Empty(t, ipmasktest.Leaks(p, got), "MaxLine %d round %d", maxLine, round)
			for _, f := range used {
				for _, raw := range f.raw {
					if !assert.NotContains(t, strings.ToLower(got), strings.ToLower(raw), "MaxLine %d round %d: %s", maxLine, round, f.name) {
						i := strings.Index(strings.ToLower(got), strings.ToLower(raw))
						t.Logf("around: %q", got[max(0, i-40):min(len(got), i+60)])
					}
				}
			}
			assert.True(t, strings.HasSuffix(got, "\n"+m.MaskString(tail)), "the line after a long one is masked as a line of its own")
		}
	}
}
