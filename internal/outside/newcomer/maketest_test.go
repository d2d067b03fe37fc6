package newcomer_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	// stepRE is a step README's Tests section lists: "`name` (what it runs".
	stepRE = regexp.MustCompile("`([a-z]+)` \\(")
	// stepLineRE is the progress line a step of make test prints first.
	stepLineRE = regexp.MustCompile(`(?m)^echo "== \$\(date -u \+%H:%M:%S\) ([a-z][a-z ]*):`)
	// coldRE is the cold time README gives: "it takes N min M s".
	coldRE = regexp.MustCompile(`[Cc]old[^.]*?takes\s+(\d+)\s+min\s+(\d+)\s+s`)
)

// TestMakeTestAsDocumented: issue 16's "make test on a cold cache prints
// progress and its total time is in the README". Without running it
// (make -n): every step README's Tests section lists runs, in that order,
// each announcing itself with the time before it starts, nothing else
// runs, and README gives the cold total.
func TestMakeTestAsDocumented(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	text := string(md)
	i := strings.Index(text, "`make test` runs, in order:")
	require.Positive(t, i, "README.md says what make test runs")
	para, _, _ := strings.Cut(text[i:], "\n\n")
	var want []string
	for _, m := range stepRE.FindAllStringSubmatch(para, -1) {
		want = append(want, m[1])
	}
	require.GreaterOrEqual(t, len(want), 3, "README.md lists the steps: %q", para)
	assert.Regexp(t, coldRE, para, "README.md gives make test's cold time")

	cmd := exec.Command("make", "-n", "--no-print-directory", "test")
	cmd.Dir = root
	// Run as a user runs it, not as a sub-make of make test itself (CI):
	// a parent make's variables make this one print "Entering directory".
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MAKELEVEL" && k != "MFLAGS" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "make -n test: %s", out)
	var got []string
	for _, m := range stepLineRE.FindAllStringSubmatch(string(out), -1) {
		if len(got) == 0 || got[len(got)-1] != m[1] {
			got = append(got, m[1])
		}
	}
	assert.Equal(t, append(want, "make test"), got, "make test announces and runs README's steps in README's order, then says it passed")
	// Nothing runs before the first announcement.
	first := strings.Index(string(out), "echo \"== ")
	assert.Zero(t, first, "make test prints its first step before running anything:\n%s", out[:min(len(out), 300)])
}
