package ipmasktest_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// fakeTB records failures instead of failing the real test.
type fakeTB struct {
	testing.TB
	errors  []string
	failed  bool
	stopped bool
}

func (f *fakeTB) Helper()      {}
func (f *fakeTB) Name() string { return "fake" }
func (f *fakeTB) Errorf(format string, args ...any) {
	f.failed = true
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Fatalf(format string, args ...any) { f.Errorf(format, args...); f.FailNow() }
func (f *fakeTB) FailNow() {
	f.failed = true
	f.stopped = true
	runtime.Goexit()
}

// run calls fn with a fresh fakeTB on its own goroutine, so FailNow can
// stop it, and returns what it recorded.
func run(fn func(tb *fakeTB)) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

func TestAssertNoRawIPFailsOnEveryCase(t *testing.T) {
	for _, c := range ipmasktest.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			text := "before " + c.Text + " after"
			var ok bool
			f := run(func(tb *fakeTB) { ok = ipmasktest.AssertNoRawIP(tb, ipmask.Default, text, "case %s", c.Name) })
			assert.False(t, ok)
			require.True(t, f.failed)
			require.Len(t, f.errors, 1)
			assert.Contains(t, f.errors[0], "not masked under ipv4/24,ipv6/48")
			start := -1
			for m := range logmask.Addrs([]byte(c.Text)) {
				start = m.Start
				break
			}
			require.GreaterOrEqual(t, start, 0)
			assert.Contains(t, f.errors[0], fmt.Sprintf("at byte %d", len("before ")+start))
			assert.Contains(t, f.errors[0], "case "+c.Name)
			// The same text masked by logmask passes.
			m, err := logmask.NewMasker(ipmask.Default, nil)
			require.NoError(t, err)
			f = run(func(tb *fakeTB) { ok = ipmasktest.AssertNoRawIP(tb, ipmask.Default, m.MaskString(text)) })
			assert.True(t, ok)
			assert.False(t, f.failed, f.errors)
		})
	}
}

func TestAssertNoRawIPReportsEachLeak(t *testing.T) {
	data := []byte(`{"a":"203.0.113.0","b":"198.51.100.7","c":"[2001:db8::1]:443"}`)
	f := run(func(tb *fakeTB) { ipmasktest.AssertNoRawIP(tb, ipmask.Default, data) })
	require.Len(t, f.errors, 1)
	msg := f.errors[0]
	assert.Contains(t, msg, "2 raw IP address(es)")
	assert.Contains(t, msg, `198.51.100.7 written "198.51.100.7" at byte 24`)
	assert.Contains(t, msg, `2001:db8::1 written "2001:db8::1" at byte 44`)
	assert.NotContains(t, msg, "203.0.113.0 written", "a masked address is not a leak")
	assert.False(t, f.stopped, "Assert does not stop the test")

	require.Equal(t, 24, bytes.Index(data, []byte("198.51.100.7")))
	require.Equal(t, 44, bytes.Index(data, []byte("2001:db8::1")))
	leaks := ipmasktest.Leaks(ipmask.Default, data)
	assert.Equal(t, []ipmasktest.Leak{
		{Addr: netip.MustParseAddr("198.51.100.7"), Start: 24, End: 36},
		{Addr: netip.MustParseAddr("2001:db8::1"), Start: 44, End: 55},
	}, leaks)
}

// AssertNoRawIPOf reports only the given addresses: a run of random bytes
// that reads as some other address ("c::f" in a binary key) is not one.
func TestAssertNoRawIPOfReportsOnlyItsAddresses(t *testing.T) {
	data := []byte("{p}:c::f\xb0\xa5 198.51.100.9 2001:db8:1:2::7 10.1.2.3")
	canaries := []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8:1:3::1")}
	f := run(func(tb *fakeTB) { ipmasktest.AssertNoRawIPOf(tb, ipmask.Default, data, canaries) })
	require.Len(t, f.errors, 1)
	msg := f.errors[0]
	assert.Contains(t, msg, "2 raw IP address(es)")
	assert.Contains(t, msg, `198.51.100.9 written`, "in the /24 of a canary")
	assert.Contains(t, msg, `2001:db8:1:2::7 written`, "in the /48 of a canary")
	assert.NotContains(t, msg, "c::f written", "random bytes that read as an address")
	assert.NotContains(t, msg, "10.1.2.3 written", "not a canary's")

	f = run(func(tb *fakeTB) { ipmasktest.AssertNoRawIPOf(tb, ipmask.Default, "{p}:c::f", canaries) })
	assert.Empty(t, f.errors)
}

// The detector finds what logmask masks, and nothing that logmask leaves
// after masking: an address run into a word, and one that a hex key before
// a percent-encoded address would form.
func TestLeaksAgreeWithLogmask(t *testing.T) {
	m, err := logmask.NewMasker(ipmask.Default, nil)
	require.NoError(t, err)
	for _, tt := range []struct{ name, text, leak string }{
		{"glued to a word", "peer 2001:db8:1:2::7via wg0", "2001:db8:1:2::7"},
		{"glued after a key", "src:fe80::1ghost", "fe80::1"},
		{"hex key before an escaped address", "?k=0%3A%3A:1:0:0:0:0:1", "::1:0:0:0:0:1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leaks := ipmasktest.Leaks(ipmask.Default, tt.text)
			require.NotEmpty(t, leaks)
			assert.Equal(t, netip.MustParseAddr(tt.leak), leaks[0].Addr)
			out := m.MaskString(tt.text)
			assert.Empty(t, ipmasktest.Leaks(ipmask.Default, out), "masked: %q", out)
		})
	}
}

func TestAssertNoRawIPPasses(t *testing.T) {
	tests := []struct{ name, text string }{
		{"empty", ""},
		{"masked", "203.0.113.0 [2001:db8::]:443 2002:cb00:7100::"},
		{"not addresses", "v1.2.3.4.5 12:30:28 00:1a:2b:3c:4d:5e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := run(func(tb *fakeTB) { ipmasktest.AssertNoRawIP(tb, ipmask.Default, tt.text) })
			assert.False(t, f.failed, f.errors)
		})
	}
}

func TestRequireNoRawIPStops(t *testing.T) {
	reached := false
	f := run(func(tb *fakeTB) {
		ipmasktest.RequireNoRawIP(tb, ipmask.Default, "203.0.113.9")
		reached = true
	})
	assert.True(t, f.stopped)
	assert.False(t, reached)

	f = run(func(tb *fakeTB) {
		ipmasktest.RequireNoRawIP(tb, ipmask.Default, "203.0.113.0")
		reached = true
	})
	assert.False(t, f.failed)
	assert.True(t, reached)
}

func TestAssertMasked(t *testing.T) {
	tests := []struct {
		name string
		addr netip.Addr
		ok   bool
		msg  string
	}{
		{"masked ipv4", netip.MustParseAddr("203.0.113.0"), true, ""},
		{"raw ipv4", netip.MustParseAddr("203.0.113.9"), false, "203.0.113.9 is not masked under ipv4/24,ipv6/48: want 203.0.113.0"},
		{"masked 6to4", netip.MustParseAddr("2002:cb00:7100::"), true, ""},
		{"6to4 masked to /48 only", netip.MustParseAddr("2002:cb00:7109::"), false, "want 2002:cb00:7100::"},
		{"zero addr", netip.Addr{}, false, "the zero netip.Addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ok bool
			f := run(func(tb *fakeTB) { ok = ipmasktest.AssertMasked(tb, ipmask.Default, tt.addr) })
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, !tt.ok, f.failed)
			if !tt.ok {
				require.Len(t, f.errors, 1)
				assert.Contains(t, f.errors[0], tt.msg)
			}
		})
	}
}

func TestAssertNoRawIPError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		ok   bool
	}{
		{"nil", nil, true},
		{"no address", errors.New("ipmask: text of 14 bytes is not an IP address"), true},
		{"masked", fmt.Errorf("wrapped: %w", errors.New("from 203.0.113.0")), true},
		{"raw ipv4", fmt.Errorf("wrapped: %w", errors.New("from 203.0.113.9:80")), false},
		{"raw 6to4", errors.New("bad 2002:cb00:7109::1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ok bool
			f := run(func(tb *fakeTB) { ok = ipmasktest.AssertNoRawIPError(tb, ipmask.Default, tt.err, "row %s", tt.name) })
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, !tt.ok, f.failed)
			if !tt.ok {
				require.Len(t, f.errors, 1)
				assert.Contains(t, f.errors[0], "row "+tt.name)
			}
		})
	}
}

func TestMessageForms(t *testing.T) {
	tests := []struct {
		name string
		args []any
		want string
	}{
		{"format", []any{"got %d", 3}, "message: got 3"},
		{"lone string", []any{"plain %d"}, "message: plain %d"},
		{"lone value", []any{42}, "message: 42"},
		{"values", []any{1, 2}, "message: 1 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := run(func(tb *fakeTB) { ipmasktest.AssertMasked(tb, ipmask.Default, netip.Addr{}, tt.args...) })
			require.Len(t, f.errors, 1)
			assert.Contains(t, f.errors[0], tt.want)
		})
	}
	f := run(func(tb *fakeTB) { ipmasktest.AssertMasked(tb, ipmask.Default, netip.Addr{}) })
	require.Len(t, f.errors, 1)
	assert.NotContains(t, f.errors[0], "message:")
}

func TestNoTestifyDependency(t *testing.T) {
	// The package must not pull testify into its users' module graphs.
	out, err := exec.Command("go", "list", "-deps", "github.com/clickanon/clickanon/ipmask/ipmasktest").Output()
	require.NoError(t, err)
	assert.NotContains(t, string(out), "testify")
	assert.NotContains(t, string(out), "yaml")
}

func TestCases(t *testing.T) {
	cases := ipmasktest.Cases()
	require.NotEmpty(t, cases)
	names := map[string]bool{}
	for _, c := range cases {
		assert.False(t, names[c.Name], "duplicate name %q", c.Name)
		names[c.Name] = true
		// Text holds Addr, found first by the scan.
		var first netip.Addr
		for m := range logmask.Addrs([]byte(c.Text)) {
			first = m.Addr
			break
		}
		assert.Equal(t, c.Addr, first, c.Name)
		assert.False(t, ipmask.Default.IsMasked(c.Addr), "%s: already masked", c.Name)
		assert.False(t, c.Addr.Unmap().IsPrivate(), c.Name)
	}
	cases[0].Name = "changed"
	assert.NotEqual(t, "changed", ipmasktest.Cases()[0].Name, "each call returns a new slice")
}
