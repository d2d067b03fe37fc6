package logmask_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// canaries are addresses that must never appear in an error.
var canaries = []string{"203.0.113.9", "2001:db8:1:2::7"}

// strict masks nothing but the unspecified addresses: any address in an
// error string fails ipmasktest.AssertNoRawIP under it.
var strict = func() ipmask.Policy {
	p, err := ipmask.New(0, 0)
	if err != nil {
		panic(err)
	}
	return p
}()

// assertLeakFree checks that err holds neither a canary nor any address.
func assertLeakFree(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, "logmask: "), "error %q names its package", msg)
	ipmasktest.AssertNoRawIP(t, strict, msg)
	for _, c := range canaries {
		assert.NotContains(t, msg, c)
	}
}

// TestErrorsCarryNoInput drives every error path of the package with
// inputs holding the canary addresses and checks that no error echoes
// them, or any address.
func TestErrorsCarryNoInput(t *testing.T) {
	optionRows := []struct {
		name string
		opts logmask.Options
	}{
		{"placeholder holds an ipv4 address", logmask.Options{Fields: []int{1}, Placeholder: "ip=203.0.113.9"}},
		{"placeholder holds an ipv6 address", logmask.Options{Fields: []int{1}, Placeholder: "[2001:db8:1:2::7]:80"}},
		{"placeholder holds a newline", logmask.Options{Fields: []int{1}, Placeholder: "203.0.113.0\n2001:db8:1:2::7"}},
		{"placeholder holds the delimiter", logmask.Options{Fields: []int{1}, Delim: ',', Placeholder: "203.0.113.0,2001:db8:1:2::7"}},
		{"placeholder escaped", logmask.Options{Fields: []int{1}, Placeholder: "2001%3Adb8%3A1%3A2%3A%3A7"}},
		{"delim in addresses", logmask.Options{Fields: []int{1}, Delim: '.', Placeholder: "203.0.113.9"}},
		{"delim newline", logmask.Options{Fields: []int{1}, Delim: '\n', Placeholder: "2001:db8:1:2::7"}},
		{"column out of range", logmask.Options{Fields: []int{203, 0, 113, 9}, Placeholder: "203.0.113.9"}},
		{"max line", logmask.Options{MaxLine: 203, Placeholder: "2001:db8:1:2::7"}},
		{"max line negative", logmask.Options{MaxLine: -203, Placeholder: "203.0.113.9"}},
	}
	for _, tt := range optionRows {
		t.Run(tt.name, func(t *testing.T) {
			_, err := logmask.NewMasker(ipmask.Default, &tt.opts)
			assertLeakFree(t, err)
			_, err = logmask.NewWriter(io.Discard, ipmask.Default, &tt.opts)
			assertLeakFree(t, err)
			_, err = logmask.Copy(io.Discard, strings.NewReader("203.0.113.9\n"), ipmask.Default, &tt.opts)
			assertLeakFree(t, err)
		})
	}
	t.Run("nil destination", func(t *testing.T) {
		_, err := logmask.NewWriter(nil, ipmask.Default, nil)
		assertLeakFree(t, err)
	})
	t.Run("nil source", func(t *testing.T) {
		_, err := logmask.Copy(io.Discard, nil, ipmask.Default, nil)
		assertLeakFree(t, err)
	})
	t.Run("nil slog handler", func(t *testing.T) {
		_, err := logmask.NewHandler(nil, ipmask.Default, &logmask.HandlerOptions{SkipPrivate: true})
		assertLeakFree(t, err)
	})
	t.Run("write after close", func(t *testing.T) {
		w, err := logmask.NewWriter(io.Discard, ipmask.Default, nil)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		_, err = w.Write([]byte("203.0.113.9 2001:db8:1:2::7\n"))
		assertLeakFree(t, err)
	})
	t.Run("underlying writer fails", func(t *testing.T) {
		// The destination's own error is passed on as it is: logmask
		// adds nothing of the input to it.
		broken := errors.New("broken pipe")
		w, err := logmask.NewWriter(failing{broken}, ipmask.Default, nil)
		require.NoError(t, err)
		_, err = w.Write([]byte("203.0.113.9 2001:db8:1:2::7\n"))
		require.ErrorIs(t, err, broken)
		assert.Equal(t, "broken pipe", err.Error())
	})
}

type failing struct{ err error }

func (f failing) Write([]byte) (int, error) { return 0, f.err }

// FuzzOptionErrors builds Maskers from fuzzed options: an error never
// holds an address, nor the placeholder's text.
func FuzzOptionErrors(f *testing.F) {
	f.Add("203.0.113.9", byte(' '), 1, 0)
	f.Add("2001:db8:1:2::7\n", byte('.'), 0, 10)
	f.Add("x,2001:db8:1:2::7", byte(','), 65, -1)
	f.Fuzz(func(t *testing.T, placeholder string, delim byte, field, maxLine int) {
		_, err := logmask.NewMasker(ipmask.Default, &logmask.Options{
			Fields: []int{field}, Delim: delim, Placeholder: placeholder, MaxLine: maxLine,
		})
		if err == nil {
			return
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "logmask: ") {
			t.Fatalf("error %q does not name the package", msg)
		}
		if leaks := ipmasktest.Leaks(strict, msg); len(leaks) > 0 {
			t.Fatalf("error %q holds an address", msg)
		}
		if len(placeholder) >= 8 && strings.Contains(msg, placeholder) {
			t.Fatalf("error %q echoes the placeholder", msg)
		}
	})
}
