package newcomer_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// TestNoTestifyForUsers: no package a user imports (every package of the
// module outside internal/, the test helpers ipmasktest, clickstoretest
// and aggregatetest among them, and the examples) brings testify or yaml
// into the user's build: go list -deps of each names neither.
func TestNoTestifyForUsers(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "github.com/clickanon/clickanon/...").Output()
	require.NoError(t, err, "go list")
	var pkgs []string
	for _, p := range strings.Fields(string(out)) {
		if !strings.Contains(p, "/internal/") {
			pkgs = append(pkgs, p)
		}
	}
	require.Contains(t, pkgs, "github.com/clickanon/clickanon/ipmask/ipmasktest")
	// One go list for all: each line is a package and what it brings.
	deps, err := exec.Command("go", append([]string{"list", "-f", `{{.ImportPath}} {{join .Deps " "}}`}, pkgs...)...).Output()
	require.NoError(t, err, "go list -deps")
	lines := strings.Split(strings.TrimSpace(string(deps)), "\n")
	require.Len(t, lines, len(pkgs))
	for _, line := range lines {
		f := strings.Fields(line)
		for _, d := range f[1:] {
			assert.False(t, strings.HasPrefix(d, "github.com/stretchr/") || strings.Contains(d, "yaml"),
				"%s brings %s into a user's build", f[0], d)
		}
	}
}

// recorder is a testing.TB that records what a helper reports instead of
// failing the test: the helpers must take any testing.TB.
type recorder struct {
	testing.TB
	errors []string
	failed bool
	helper int
}

func (r *recorder) Helper() { r.helper++ }
func (r *recorder) Errorf(format string, a ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, a...))
}
func (r *recorder) Error(a ...any)                 { r.errors = append(r.errors, fmt.Sprint(a...)) }
func (r *recorder) FailNow()                       { r.failed = true }
func (r *recorder) Fatalf(format string, a ...any) { r.Errorf(format, a...); r.FailNow() }
func (r *recorder) Fatal(a ...any)                 { r.Error(a...); r.FailNow() }
func (r *recorder) Fail()                          { r.failed = true }

// TestIPMaskTestHelpers feeds the helpers text with and without raw
// addresses of every form (IPv4, IPv6, an IPv4 inside 6to4 and mapped
// IPv6), at the start, the middle and the end of text of several sizes,
// as string and []byte, with and without a caller's message: clean text
// reports nothing and returns true; a leak reports one error through the
// given testing.TB, starting with "ipmasktest:", counting the leaks,
// giving each one's byte offset, and carrying the caller's message as
// testify would format it; RequireNoRawIP stops the test (FailNow).
func TestIPMaskTestHelpers(t *testing.T) {
	t.Parallel()
	p := ipmask.Default
	leaks := []string{"198.51.100.77", "2001:db8:1:2:3:4:5:6", "2002:c633:644d::1", "::ffff:198.51.100.77"}
	clean := []string{"198.51.100.0", "2001:db8:1::", "no address here", ""}
	for _, size := range []int{0, 1, 100, 10000} {
		pad := strings.Repeat("x ", size)
		for _, c := range clean {
			for _, text := range []string{c + " " + pad, pad + " " + c} {
				r := &recorder{}
				assert.True(t, ipmasktest.AssertNoRawIP(r, p, text), "clean text %.40q", text)
				assert.True(t, ipmasktest.AssertNoRawIP(r, p, []byte(text)))
				ipmasktest.RequireNoRawIP(r, p, text)
				assert.True(t, ipmasktest.AssertNoRawIPError(r, p, errors.New(text)))
				assert.Empty(t, r.errors, "clean text reports nothing")
				assert.False(t, r.failed)
			}
		}
		for _, leak := range leaks {
			for _, where := range []string{"start", "middle", "end"} {
				text := map[string]string{"start": leak + " " + pad, "middle": pad + " ip=" + leak + "; " + pad, "end": pad + " " + leak}[where]
				at := strings.Index(text, leak)
				for _, msg := range [][]any{nil, {"lone"}, {"fmt %d", 7}} {
					r := &recorder{}
					ok := ipmasktest.AssertNoRawIP(r, p, text, msg...)
					assert.False(t, ok, "%s at the %s of %d bytes is found", leak, where, len(text))
					require.Len(t, r.errors, 1, "one report for one leak")
					e := r.errors[0]
					assert.True(t, strings.HasPrefix(e, "ipmasktest: 1 raw IP"), "the report starts with the package and counts: %.80q", e)
					assert.Contains(t, e, fmt.Sprintf("at byte %d", at), "the report gives the offset")
					switch len(msg) {
					case 1:
						assert.Contains(t, e, "lone")
					case 2:
						assert.Contains(t, e, "fmt 7")
					}
					assert.Positive(t, r.helper, "the helpers call Helper")
					assert.False(t, r.failed, "Assert does not stop the test")

					r = &recorder{}
					ipmasktest.RequireNoRawIP(r, p, []byte(text))
					assert.True(t, r.failed, "Require stops the test")
					r = &recorder{}
					assert.False(t, ipmasktest.AssertNoRawIPError(r, p, fmt.Errorf("x: %s", text)))
					assert.Len(t, r.errors, 1)
				}
			}
		}
	}
	r := &recorder{}
	assert.False(t, ipmasktest.AssertMasked(r, p, netip.Addr{}), "the zero Addr is not masked")
	assert.False(t, ipmasktest.AssertMasked(r, p, netip.MustParseAddr("198.51.100.77")))
	assert.True(t, ipmasktest.AssertMasked(r, p, netip.MustParseAddr("198.51.100.0")))
	assert.Len(t, r.errors, 2)
	for _, e := range r.errors {
		assert.True(t, strings.HasPrefix(e, "ipmasktest: "), "%q", e)
	}
}
