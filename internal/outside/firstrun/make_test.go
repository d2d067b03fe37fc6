package firstrun_test

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

// makeEnv is the environment a user's make runs in: not a sub-make of
// make test itself (CI), whose variables would change what make -n prints.
func makeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MAKELEVEL" && k != "MFLAGS" {
			env = append(env, kv)
		}
	}
	return env
}

// TestMakeTestTargets: the targets make test names exist and are phony
// (a file called "unit" must not make a step pass without running), each
// can be asked for alone (make -n), the fuzz step's script is there and
// executable, the Makefile's defaults are README's (50,000 executions a
// target), the fuzz script's slow targets are fuzz targets that exist
// (a renamed one would get the full budget in silence), and the allocs
// step's -run pattern selects tests in each package it names (go test
// says ok when -run matches nothing).
func TestMakeTestTargets(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^test:([^\n]*)$`).FindSubmatch(mk)
	require.NotNil(t, m, "the Makefile has a test target")
	steps := strings.Fields(string(m[1]))
	require.GreaterOrEqual(t, len(steps), 3)
	phony := regexp.MustCompile(`(?m)^\.PHONY:([^\n]*)$`).FindSubmatch(mk)
	require.NotNil(t, phony)
	for _, step := range append([]string{"test"}, steps...) {
		assert.Contains(t, strings.Fields(string(phony[1])), step, "%s is .PHONY", step)
		cmd := exec.Command("make", "-n", "--no-print-directory", step)
		cmd.Dir, cmd.Env = root, makeEnv()
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "make -n %s: %s", step, out)
	}

	fi, err := os.Stat(filepath.Join(root, "scripts", "fuzz.sh"))
	if assert.NoError(t, err) {
		assert.NotZero(t, fi.Mode()&0o111, "scripts/fuzz.sh is executable")
	}
	readme := readmeText(t, root)
	assert.Regexp(t, `(?m)^FUZZEXECS\s*\?=\s*50000$`, string(mk), "the Makefile's fuzz budget is README's 50,000")
	assert.Contains(t, readme, "50,000 executions")

	// Every fuzz target of the module, as go test knows them.
	targets := map[string]bool{}
	fuzzRE := regexp.MustCompile(`(?m)^func (Fuzz\w*)\(\w+ \*testing\.F\)`)
	require.NoError(t, filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, f := range fuzzRE.FindAllSubmatch(b, -1) {
				targets[string(f[1])] = true
			}
		}
		return nil
	}))
	require.NotEmpty(t, targets)
	script, err := os.ReadFile(filepath.Join(root, "scripts", "fuzz.sh"))
	require.NoError(t, err)
	slow := regexp.MustCompile(`(?m)^\s*(Fuzz\w+(?:\s*\|\s*Fuzz\w+)*)\)`).FindAllSubmatch(script, -1)
	require.NotEmpty(t, slow, "scripts/fuzz.sh names its slow targets")
	var nslow int
	for _, s := range slow {
		for _, name := range strings.Split(string(s[1]), "|") {
			name = strings.TrimSpace(name)
			nslow++
			assert.True(t, targets[name], "scripts/fuzz.sh gives %s a smaller budget, but no fuzz target has that name", name)
		}
	}
	assert.Contains(t, readme, map[int]string{1: "the one slow", 2: "the two slow", 3: "the three slow"}[nslow], "README says how many targets run a fifth of the budget (%d)", nslow)

	allocs := regexp.MustCompile(`(?m)^\t\$\(GO\) test [^\n]*-run (\w+) ([^\n]+)$`).FindSubmatch(mk)
	require.NotNil(t, allocs, "the allocs step runs go test -run PATTERN PACKAGES")
	re := regexp.MustCompile(string(allocs[1]))
	for _, pkg := range strings.Fields(string(allocs[2])) {
		var matched int
		for _, name := range testFuncs(t, filepath.Join(root, filepath.FromSlash(pkg))) {
			if re.MatchString(name) {
				matched++
			}
		}
		assert.Positive(t, matched, "make allocs runs -run %s in %s, which has no such test", allocs[1], pkg)
	}
}

// TestCIInstallsWhatMakeTestNeeds: .ci/run says it runs "on a clean clone
// on a fresh Debian machine" and installs what the tests need. Beside
// Go, make test needs make (it is the command) and a C compiler (go test
// -race needs cgo), neither of which a fresh Debian has; every other
// command the Makefile and scripts/fuzz.sh run is in Debian's essential
// set (bash, coreutils, grep, sed) or Go's own (gofmt).
func TestCIInstallsWhatMakeTestNeeds(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	require.NoError(t, err)
	installs := regexp.MustCompile(`apt-get install[^\n]*`).FindAll(ci, -1)
	var pkgs []string
	for _, line := range installs {
		pkgs = append(pkgs, strings.Fields(string(line))...)
	}
	for tool, debs := range map[string][]string{"make": {"make", "build-essential"}, "gcc": {"gcc", "build-essential"}} {
		var ok bool
		for _, d := range debs {
			for _, p := range pkgs {
				ok = ok || p == d
			}
		}
		assert.True(t, ok, ".ci/run installs %s (one of %v) when the machine lacks it", tool, debs)
	}
	// What the Makefile and the fuzz script call is on this machine.
	for _, tool := range []string{"make", "gcc", "bash", "sed", "grep", "date", "mktemp", "sort", "tr", "gofmt"} {
		_, err := exec.LookPath(tool)
		assert.NoError(t, err, "%s is installed", tool)
	}
}

// TestRaceSkippedTestsRunInAllocs: a test that skips itself under the
// race detector (allocation counts, which -race changes) is skipped by
// make test's unit step, so the allocs step, which runs without -race,
// must name its package and select it by its -run pattern; otherwise CI
// skips it for good. Every test file of the module is read for a test
// function that skips when raceEnabled is set.
func TestRaceSkippedTestsRunInAllocs(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	allocs := regexp.MustCompile(`(?m)^\t\$\(GO\) test [^\n]*-run (\w+) ([^\n]+)$`).FindSubmatch(mk)
	require.NotNil(t, allocs, "the allocs step runs go test -run PATTERN PACKAGES")
	run := regexp.MustCompile(string(allocs[1]))
	pkgs := map[string]bool{}
	for _, p := range strings.Fields(string(allocs[2])) {
		pkgs[filepath.Clean(filepath.FromSlash(p))] = true
	}
	funcRE := regexp.MustCompile(`(?m)^func (Test\w*)\(t \*testing\.T\) \{\n((?:\t[^\n]*\n|\n)*?)\}\n`)
	skipRE := regexp.MustCompile(`if raceEnabled \{\n\t+t\.Skip`)
	var found int
	require.NoError(t, filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		for _, f := range funcRE.FindAllSubmatch(b, -1) {
			if !skipRE.Match(f[2]) {
				continue
			}
			found++
			name := string(f[1])
			assert.True(t, pkgs[filepath.Clean(rel)], "%s in %s skips under -race, but make test's allocs step does not run %s", name, rel, rel)
			assert.True(t, run.MatchString(name), "%s in %s skips under -race, but the allocs step's -run %s does not select it", name, rel, allocs[1])
		}
		return nil
	}))
	assert.Positive(t, found, "the module has tests that skip under -race (the allocation tests): the search finds none, so it is broken")
}
