package masklog_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// anonymizeBin is the examples/anonymize command, built by TestMain.
var anonymizeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "masklog")
	if err != nil {
		panic(err)
	}
	anonymizeBin = filepath.Join(dir, "anonymize")
	build := exec.Command("go", "build", "-o", anonymizeBin, "github.com/clickanon/clickanon/examples/anonymize")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// anonymize runs the command with args and stdin, and returns its
// standard output, standard error and exit status.
func anonymize(t *testing.T, stdin io.Reader, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(anonymizeBin, args...)
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), errOut.String(), exit.ExitCode()
	}
	require.NoError(t, err)
	return out.String(), errOut.String(), 0
}

// TestAnonymizeEndToEnd checks examples/anonymize as a process, on
// generated logs of every class the issue names (with CRLF and binary
// junk, a last line without a newline): read from stdin, from files, and
// from files and "-" mixed, on one core and on several, with the policy
// and field flags, its output is byte for byte what logmask.Masker writes
// for the same options, its status 0 and its standard error empty.
// Checked to fail: comparing with a Masker under ipmask.Strict fails
// every row that does not pass -ipv4 16 -ipv6 32.
func TestAnonymizeEndToEnd(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 17))
	dir := t.TempDir()
	var parts []string
	var names []string
	for i := range 3 {
		text, _ := genLog(r, 400+200*i)
		parts = append(parts, text)
		name := filepath.Join(dir, []string{"a.log", "b.log", "c.log"}[i])
		require.NoError(t, os.WriteFile(name, []byte(text), 0o600))
		names = append(names, name)
	}
	stdin := "last from stdin 203.0.113.9 [2001:db8:1:2::7]:443 no newline"
	strict, err := ipmask.New(16, 32)
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		args  []string
		p     ipmask.Policy
		opts  *logmask.Options
		files []int // names to pass, -1 for "-"
	}{
		{"stdin", nil, ipmask.Default, nil, []int{-1}},
		{"files", nil, ipmask.Default, nil, []int{0, 1, 2}},
		{"files and stdin", []string{"-j", "1"}, ipmask.Default, nil, []int{1, -1, 0}},
		{"several cores", []string{"-j", "4"}, ipmask.Default, nil, []int{0, 1, 2, -1}},
		{"bits", []string{"-ipv4", "16", "-ipv6", "32", "-j", "3"}, strict, nil, []int{2, 0}},
		{"skip private, short lines", []string{"-skip-private", "-max-line", "300"}, ipmask.Default, &logmask.Options{SkipPrivate: true, MaxLine: 300}, []int{0}},
		{"field", []string{"-field", "1,5", "-delim", `\t`, "-placeholder", "none"}, ipmask.Default,
			&logmask.Options{Fields: []int{1, 5}, Delim: '\t', Placeholder: "none"}, []int{1, -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string(nil), tc.args...)
			var in string
			for _, f := range tc.files {
				if f < 0 {
					args = append(args, "-")
					in += stdin
					continue
				}
				args = append(args, names[f])
				in += parts[f]
			}
			if len(tc.files) == 1 && tc.files[0] == -1 {
				args = args[:len(args)-1] // no argument: stdin
			}
			m, err := logmask.NewMasker(tc.p, tc.opts)
			require.NoError(t, err)
			var want bytes.Buffer
			w, err := logmask.NewWriter(&want, tc.p, tc.opts)
			require.NoError(t, err)
			_, err = io.WriteString(w, in)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			if tc.opts == nil || tc.opts.MaxLine == 0 {
				require.Equal(t, string(m.AppendMask(nil, []byte(in))), want.String(), "Writer and Masker agree")
			}
			out, errOut, status := anonymize(t, strings.NewReader(stdin), args...)
			assert.Equal(t, 0, status, errOut)
			assert.Empty(t, errOut)
			assert.Equal(t, want.String(), out)
			if tc.opts == nil || tc.opts.Fields == nil {
				ipmasktest.AssertNoRawIP(t, tc.p, out)
			}
		})
	}
}

// TestAnonymizePipedLogger checks "usable as a piped logger": through
// real pipes, each line written to the command comes out masked before
// the next is written and before its input is closed. A generous deadline
// only guards against a hang; nothing is timed. Checked to fail: with the
// command replaced by sort(1), which writes only at EOF, the first line
// is not written.
func TestAnonymizePipedLogger(t *testing.T) {
	for _, j := range []string{"1", "4"} {
		t.Run("j"+j, func(t *testing.T) {
			cmd := exec.Command(anonymizeBin, "-j", j)
			in, err := cmd.StdinPipe()
			require.NoError(t, err)
			outPipe, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			out := bufio.NewReader(outPipe)
			m, err := logmask.NewMasker(ipmask.Default, nil)
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(1, uint64(len(j))))
			for i := range 20 {
				text, _ := genLog(r, 1)
				_, err := io.WriteString(in, text)
				require.NoError(t, err)
				got := make(chan string, 1)
				go func() {
					line, _ := out.ReadString('\n')
					got <- line
				}()
				select {
				case line := <-got:
					assert.Equal(t, m.MaskString(text), line, "line %d", i)
				case <-time.After(20 * time.Second):
					cmd.Process.Kill()
					t.Fatalf("line %d not written while the input stays open", i)
				}
			}
			require.NoError(t, in.Close())
			rest, err := io.ReadAll(out)
			require.NoError(t, err)
			assert.Empty(t, rest)
			require.NoError(t, cmd.Wait())
		})
	}
}

// TestAnonymizeStatusAndErrors checks the exit status the command's doc
// gives and that what it writes on standard error names no address in any
// form logmask finds (file names that are addresses, percent-encoded or
// spelled in a host name, flag values), while the other files' text is
// still masked and written. Checked to fail: the same names printed
// unmasked are leaks (the check's teeth line).
func TestAnonymizeStatusAndErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.log")
	require.NoError(t, os.WriteFile(good, []byte("ok 198.51.100.7\n"), 0o600))
	missing := []string{
		"203.0.113.9.log", "2001:db8:1:2::7", "2001%3Adb8%3A1%3A2%3A%3A7.log", "2001%253Adb8%253A1%253A2%253A%253A7",
		"ec2-203-0-113-9.compute-1.amazonaws.com", "[2001:db8:1:2::7]:443", "::ffff:203.0.113.9", "9.113.0.203.in-addr.arpa",
	}
	var args []string
	for _, n := range missing {
		args = append(args, filepath.Join(dir, n))
	}
	args = append(args, good)
	out, errOut, status := anonymize(t, nil, args...)
	assert.Equal(t, 1, status, "a file it cannot read: status 1")
	assert.Equal(t, "ok 198.51.100.0\n", out, "the readable file is still masked and written")
	assert.Equal(t, len(missing), strings.Count(errOut, "anonymize: "), errOut)
	ipmasktest.AssertNoRawIP(t, ipmask.Default, errOut, "stderr")
	require.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, strings.Join(missing, "\n")), "teeth: the names are leaks")

	for _, tc := range []struct {
		name   string
		args   []string
		status int
	}{
		{"help", []string{"-h"}, 0},
		{"unknown flag", []string{"-203.0.113.9"}, 2},
		{"malformed flag value", []string{"-ipv4", "2001:db8:1:2::7"}, 2},
		{"refused bits", []string{"-ipv6", "129"}, 1},
		{"refused placeholder", []string{"-field", "1", "-placeholder", "203.0.113.9"}, 1},
		{"refused field", []string{"-field", "198.51.100.7"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, status := anonymize(t, strings.NewReader("203.0.113.9\n"), tc.args...)
			assert.Equal(t, tc.status, status, errOut)
			assert.NotEmpty(t, errOut)
			if tc.status != 0 {
				assert.Empty(t, out, "nothing masked when the flags are refused")
			}
			ipmasktest.AssertNoRawIP(t, ipmask.Default, errOut, "stderr")
		})
	}
}
