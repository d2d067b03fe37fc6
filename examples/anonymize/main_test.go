package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.log")
	require.NoError(t, os.WriteFile(file, []byte("from file 198.51.100.7\n"), 0o600))
	// rsyslog and others name a file or directory by the sender's address.
	byAddr := filepath.Join(dir, "198.51.100.7")
	require.NoError(t, os.Mkdir(byAddr, 0o700))

	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantOut    string
		wantErr    string
		wantStatus int
	}{
		{"defaults", nil, "203.0.113.9 - \"2002:cb00:7109::1, [2001:db8:1:2::7]:443\"\nlast 10.1.2.3",
			"203.0.113.0 - \"2002:cb00:7100::, [2001:db8:1::]:443\"\nlast 10.1.2.0", "", 0},
		{"bits", []string{"-ipv4", "16", "-ipv6", "32"}, "203.0.113.9 2001:db8:1:2::7\n", "203.0.0.0 2001:db8::\n", "", 0},
		{"skip private", []string{"-skip-private"}, "10.1.2.3 ::ffff:203.0.113.9\n", "10.1.2.3 203.0.113.0\n", "", 0},
		{"field", []string{"-field", "1,3", "-delim", `\t`, "-placeholder", "none"}, "host\t203.0.113.9\t203.0.113.9\n",
			"none\t203.0.113.9\t203.0.113.0\n", "", 0},
		{"files and stdin", []string{file, "-"}, "from stdin 203.0.113.9\n", "from file 198.51.100.0\nfrom stdin 203.0.113.0\n", "", 0},
		{"missing file", []string{filepath.Join(dir, "nope"), "-"}, "203.0.113.9\n", "203.0.113.0\n", "nope: no such file or directory", 1},
		{"missing file named by an address", []string{filepath.Join(dir, "203.0.113.9.log")}, "", "", "203.0.113.0.log: no such file or directory", 1},
		{"directory named by an address", []string{byAddr}, "", "", "198.51.100.0: is a directory", 1},
		{"masked by the policy given", []string{"-ipv4", "16", filepath.Join(dir, "203.0.113.9.log")}, "", "", "203.0.0.0.log: no such file", 1},
		{"flag value holding an address", []string{"-ipv4", "203.0.113.9"}, "", "", `invalid value "203.0.113.0" for flag -ipv4`, 2},
		{"unknown flag holding an address", []string{"-2001:db8:1:2::7"}, "", "", "flag provided but not defined: -2001:db8:1::", 2},
		{"help", []string{"-h"}, "", "", "usage: anonymize", 0},
		{"bad flag", []string{"-nope"}, "", "", "flag provided but not defined", 2},
		{"bad bits", []string{"-ipv4", "33"}, "", "", "anonymize: -ipv4 33 -ipv6 48: ipmask: New(33, 48)", 1},
		{"bad field", []string{"-field", "1,203.0.113.9"}, "", "", `anonymize: -field: entry 2 of 2 is not a column number`, 1},
		{"bad column", []string{"-field", "0"}, "", "", "anonymize: logmask: Fields: entry 1 of 1: column numbers run from 1 to 64", 1},
		{"bad delim", []string{"-field", "1", "-delim", "ab"}, "", "", `anonymize: -delim: 2 bytes: must be one byte`, 1},
		{"bad max line", []string{"-max-line", "5"}, "", "", "anonymize: logmask: MaxLine: below 256", 1},
		{"bad jobs", []string{"-j", "0"}, "", "", "anonymize: -j: 0: must be at least 1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			status := run(tt.args, strings.NewReader(tt.stdin), &out, &errOut)
			assert.Equal(t, tt.wantStatus, status, errOut.String())
			assert.Equal(t, tt.wantOut, out.String())
			if tt.wantErr == "" {
				assert.Empty(t, errOut.String())
			} else {
				assert.Contains(t, errOut.String(), tt.wantErr)
			}
			ipmasktest.AssertNoRawIP(t, ipmask.Default, errOut.String(), "what anonymize says")
		})
	}
}

type brokenPipe struct{}

func (brokenPipe) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestRunWriteError(t *testing.T) {
	var errOut bytes.Buffer
	status := run(nil, strings.NewReader("203.0.113.9\n"), brokenPipe{}, &errOut)
	assert.Equal(t, 1, status)
	assert.Contains(t, errOut.String(), "anonymize: writing output: broken pipe")
}

// failAfter accepts n bytes, then fails.
type failAfter struct{ n int }

func (f *failAfter) Write(b []byte) (int, error) {
	if len(b) > f.n {
		k := f.n
		f.n = 0
		return k, errors.New("disk full")
	}
	f.n -= len(b)
	return len(b), nil
}

// TestRunWriteErrorParallel fails the output inside the first worker's
// run of lines (which it writes to the output itself) and inside a later
// one's (written from its buffer): both end the run with the error.
func TestRunWriteErrorParallel(t *testing.T) {
	line := "203.0.113.9 - - \"GET / HTTP/1.1\" 200 5\n"
	input := strings.Repeat(line, 4*readSize/len(line))
	for _, tt := range []struct {
		name string
		n    int
	}{
		{"first run", 1000},
		{"second run", 3 * len(input) / 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var errOut bytes.Buffer
			status := run([]string{"-j", "2"}, strings.NewReader(input), &failAfter{n: tt.n}, &errOut)
			assert.Equal(t, 1, status)
			assert.Contains(t, errOut.String(), "anonymize: writing output: disk full")
		})
	}
}

// shortWriter takes at most one byte a Write and reports no error, as
// io.Writer forbids: the command must call that a failed write.
type shortWriter struct{}

func (shortWriter) Write(b []byte) (int, error) { return min(len(b), 1), nil }

// A writer that takes less than it is given without saying why fails the
// run, whether a run of whole lines or the last line (no newline) met it.
func TestRunShortWrite(t *testing.T) {
	for _, in := range []string{"203.0.113.9 a\n", "203.0.113.9 a"} {
		for _, j := range []string{"1", "2"} {
			var errOut bytes.Buffer
			status := run([]string{"-j", j}, strings.NewReader(in), shortWriter{}, &errOut)
			assert.Equal(t, 1, status, "%q -j %s", in, j)
			assert.Contains(t, errOut.String(), io.ErrShortWrite.Error(), "%q -j %s", in, j)
		}
	}
}

// BenchmarkRun is the whole command on the log that CLICKANON_ACCESS_LOG
// names (the reference log; see BENCHMARKS.md), or on a small built-in
// sample, writing to io.Discard.
func BenchmarkRun(b *testing.B) {
	data := []byte(strings.Repeat("203.0.113.9 - - [11/Jun/2024:08:00:00 +0000] \"GET /c/x HTTP/1.1\" 200 5 \"-\" \"curl/8.5.0\" \"198.51.100.7, 2001:db8:1:2::7\"\n", 20000))
	if name := os.Getenv("CLICKANON_ACCESS_LOG"); name != "" {
		var err error
		data, err = os.ReadFile(name)
		require.NoError(b, err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if status := run(nil, bytes.NewReader(data), io.Discard, io.Discard); status != 0 {
			b.Fatalf("status %d", status)
		}
	}
}

// TestRunInputClasses runs the command on inputs a log can hold besides
// plain lines: each comes out as logmask masks it whole, every byte that
// is not an address kept, and no address left raw.
func TestRunInputClasses(t *testing.T) {
	long := strings.Repeat("203.0.113.9 GET /a/b?c=d ", (3<<20)/25) // longer than the read buffer and -max-line
	tests := []struct{ name, in string }{
		{"CRLF line ends", "a 203.0.113.9\r\nb [2001:db8:1:2::7]:443\r\n"},
		{"NUL bytes around an address", "a\x00203.0.113.9\x00b\n"},
		{"invalid UTF-8 around an address", "\xff\xfe2001:db8:1:2::7\xff \xc3203.0.113.9\n"},
		{"binary noise", "\x00\x01\x02\x7f\x80\xfe\xff 198.51.100.7 \x1b[31m\n"},
		{"line longer than the read buffer", long + "\nnext 198.51.100.7\n"},
		{"no newline at the end", "x 203.0.113.9\nlast 2001:db8:1:2::7"},
		{"only newlines", "\n\n\n"},
		{"empty", ""},
	}
	m, err := logmask.NewMasker(ipmask.Default, nil)
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			status := run(nil, strings.NewReader(tt.in), &out, &errOut)
			require.Equal(t, 0, status, errOut.String())
			assert.Empty(t, errOut.String())
			assert.True(t, out.String() == m.MaskString(tt.in), "the output is the input masked whole")
			ipmasktest.AssertNoRawIP(t, ipmask.Default, out.Bytes())
		})
	}
}

// failingReader hands over its text, then fails.
type failingReader struct{ b []byte }

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		return 0, errors.New("input/output error")
	}
	n := copy(p, f.b)
	f.b = f.b[n:]
	return n, nil
}

// TestRunReadError fails the input after some lines and the start of
// another: what was read is masked and written, the start of the line
// joins the next input's first line, as cat would join them, and the
// run ends with status 1, on every number of workers.
func TestRunReadError(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "next.log")
	require.NoError(t, os.WriteFile(file, []byte("0.113.9 next\n"), 0o600))
	for _, j := range []string{"1", "2", "4"} {
		var out, errOut bytes.Buffer
		in := &failingReader{b: []byte("203.0.113.9 a\n2001:db8:1:2::7 b\n198.51.100.7 c\n203.")}
		status := run([]string{"-j", j, "-", file}, in, &out, &errOut)
		assert.Equal(t, 1, status, "-j %s", j)
		assert.Equal(t, "203.0.113.0 a\n2001:db8:1:: b\n198.51.100.0 c\n203.0.113.0 next\n", out.String(), "-j %s", j)
		assert.Equal(t, "anonymize: -: input/output error\n", errOut.String(), "-j %s", j)
	}
}

// TestFileErrorsEchoNoAddress: the error for a file named by an address
// (rsyslog's way) holds its name masked, not as given, and no
// os.PathError, whose text repeats the path: the error itself describes,
// whatever prints it. Checked to fail with the name or the PathError
// passed through as they are.
func TestFileErrorsEchoNoAddress(t *testing.T) {
	m, err := logmask.NewMasker(ipmask.Default, nil)
	require.NoError(t, err)
	var out bytes.Buffer
	w, err := newLines(&out, ipmask.Default, &logmask.Options{}, 1)
	require.NoError(t, err)
	dir := t.TempDir()
	for _, name := range []string{
		filepath.Join(dir, "203.0.113.9.log"),           // missing
		filepath.Join(dir, "2001:db8:1:2::9"),           // missing, IPv6
		mkdir(t, filepath.Join(dir, "198.51.100.7")),    // a directory: the read fails
		filepath.Join(dir, "203.0.113.9", "access.log"), // under a missing directory
	} {
		err := copyFile(w, m, name, nil)
		require.Error(t, err, name)
		assert.NotErrorIs(t, err, errWrite)
		ipmasktest.AssertNoRawIP(t, ipmask.Default, err.Error(), "the error for %s", filepath.Base(name))
		var pe *os.PathError
		assert.False(t, errors.As(err, &pe), "no PathError in the chain")
	}
	require.NoError(t, w.Close())
}

func mkdir(t *testing.T, dir string) string {
	t.Helper()
	require.NoError(t, os.Mkdir(dir, 0o755))
	return dir
}
