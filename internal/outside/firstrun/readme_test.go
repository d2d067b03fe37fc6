package firstrun_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeText is README.md as a user reads it.
func readmeText(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	return string(b)
}

// slug is the anchor GitHub gives a heading: lower case, spaces to
// hyphens, every other character but letters, digits, - and _ dropped.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

var (
	headingRE = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.+?)[ \t]*#*$`)
	linkRE    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// sectionRefRE is prose naming a section: under "Crashes, deploys
	// and a fleet" below, see "Tests".
	sectionRefRE = regexp.MustCompile(`(?:under|see|in)\s+"([^"]+)"\s+(?:below|above)`)
)

// headings are README's headings outside code blocks, by text and slug.
func headings(md string) (texts, slugs map[string]bool) {
	texts, slugs = map[string]bool{}, map[string]bool{}
	var in bool
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, " "), "```") {
			in = !in
			continue
		}
		if in {
			continue
		}
		if m := headingRE.FindStringSubmatch(line); m != nil {
			texts[m[1]] = true
			slugs[slug(m[1])] = true
		}
	}
	return texts, slugs
}

// TestReadmeLinksResolve: every link README.md gives to a file, a
// directory or a section, and every section its prose sends the reader to
// by name, exists. (A link to a package directory is what a newcomer
// clicks in the package table.)
func TestReadmeLinksResolve(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	md := readmeText(t, root)
	texts, slugs := headings(md)
	require.NotEmpty(t, slugs)
	links := linkRE.FindAllStringSubmatch(md, -1)
	require.GreaterOrEqual(t, len(links), 10, "README.md links its packages and files")
	for _, m := range links {
		target := m[1]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
			continue
		}
		path, frag, _ := strings.Cut(target, "#")
		if path == "" {
			assert.True(t, slugs[frag], "README.md links #%s, a section it does not have", frag)
			continue
		}
		fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(path)))
		if assert.NoError(t, err, "README.md links %s", path) && frag != "" && strings.HasSuffix(path, ".md") && !fi.IsDir() {
			other, err := os.ReadFile(filepath.Join(root, path))
			require.NoError(t, err)
			_, s := headings(string(other))
			assert.True(t, s[frag], "README.md links %s#%s, a section %s does not have", path, frag, path)
		}
	}
	refs := sectionRefRE.FindAllStringSubmatch(md, -1)
	require.NotEmpty(t, refs, "README.md sends the reader to a section by name")
	for _, m := range refs {
		name := strings.Join(strings.Fields(m[1]), " ")
		assert.True(t, texts[name], "README.md sends the reader to the section %q, which it does not have", name)
	}
}

// publicPackages are the module's packages a user imports or runs: all but
// internal/ and bench/.
func publicPackages(t *testing.T, root string) map[string]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{.Dir}}", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	require.NoError(t, err)
	pkgs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		ip, dir, _ := strings.Cut(line, " ")
		rel, err := filepath.Rel(root, dir)
		require.NoError(t, err)
		rel = filepath.ToSlash(rel)
		if rel == "." || strings.HasPrefix(rel, "internal/") || strings.Contains(rel, "/internal/") || rel == "bench" || strings.HasPrefix(rel, "bench/") {
			continue
		}
		pkgs[rel] = ip
	}
	return pkgs
}

// packageDoc parses the non-test files of dir and returns its go/doc.
func packageDoc(t *testing.T, dir string) *doc.Package {
	t.Helper()
	fset := token.NewFileSet()
	var files []*ast.File
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments|parser.SkipObjectResolution)
		require.NoError(t, err)
		files = append(files, f)
	}
	require.NotEmpty(t, files, "%s has Go files", dir)
	p, err := doc.NewFromFiles(fset, files, "example/"+filepath.Base(dir))
	require.NoError(t, err)
	return p
}

// tableRowRE is a row of README's package table: | [`path`](path) | text |
var tableRowRE = regexp.MustCompile("(?m)^\\| \\[`([^`]+)`\\]\\(([^)]+)\\) \\| (.+) \\|$")

// TestReadmePackageTable: the package table lists every public package
// and example (a package added without a row fails), each row's name is
// the directory it links, and each package's doc opens as go doc shows
// it: "Package <name> ..." (or "Command <name> ..." for a program), a
// sentence that is there.
func TestReadmePackageTable(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	md := readmeText(t, root)
	pkgs := publicPackages(t, root)
	require.GreaterOrEqual(t, len(pkgs), 10)
	rows := tableRowRE.FindAllStringSubmatch(md, -1)
	listed := map[string]bool{}
	for _, r := range rows {
		name, link, text := r[1], r[2], r[3]
		listed[name] = true
		assert.Equal(t, name, link, "the row of %s links its directory", name)
		assert.NotEmpty(t, strings.TrimSpace(text), "the row of %s says what it does", name)
		if !assert.Contains(t, pkgs, name, "README.md lists %s, not a public package of the module", name) {
			continue
		}
		p := packageDoc(t, filepath.Join(root, name))
		synopsis := p.Synopsis(p.Doc)
		want := "Package " + p.Name + " "
		if p.Name == "main" {
			want = "Command " + filepath.Base(name) + " "
		}
		assert.True(t, strings.HasPrefix(synopsis, want), "go doc %s opens with %q, not %q", name, want, synopsis)
	}
	for rel := range pkgs {
		assert.True(t, listed[rel], "README.md's package table has no row for %s", rel)
	}
}

var (
	// goTestRunRE is a command README tells you to run: go test -run X ... ./pkg
	goTestRunRE = regexp.MustCompile("`go test ([^`]*)-run ([^ `]+)([^`]*) (\\./[^ `]+)`")
	// testNameRE is a test README names by itself, in backticks.
	testNameRE = regexp.MustCompile("`(Test[A-Z][A-Za-z0-9_]*)`")
	testFuncRE = regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]*)\(t \*testing\.T\)`)
)

// testFuncs are the tests of the package in dir (its _test.go files).
func testFuncs(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range testFuncRE.FindAllSubmatch(b, -1) {
			names = append(names, string(m[1]))
		}
	}
	return names
}

// TestReadmeNamedTestsExist: every `go test -run X ./pkg` README tells a
// reader to run (the lawyer's proof, the crash measurement) selects at
// least one test of that package, and every test README names exists
// somewhere in the module: a renamed test would leave the reader running
// nothing, and go test says "ok" when -run matches nothing.
func TestReadmeNamedTestsExist(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	md := readmeText(t, root)
	runs := goTestRunRE.FindAllStringSubmatch(md, -1)
	require.NotEmpty(t, runs, "README.md tells the reader to run a test")
	for _, m := range runs {
		pattern, dir := m[2], filepath.Join(root, filepath.FromSlash(m[4]))
		re, err := regexp.Compile(pattern)
		require.NoError(t, err)
		var matched []string
		for _, name := range testFuncs(t, dir) {
			if re.MatchString(name) {
				matched = append(matched, name)
			}
		}
		assert.NotEmpty(t, matched, "README.md's `go test -run %s %s` runs no test", pattern, m[4])
	}
	all := map[string]bool{}
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.IsDir() {
			for _, n := range testFuncs(t, path) {
				all[n] = true
			}
		}
		return nil
	}))
	named := testNameRE.FindAllStringSubmatch(md, -1)
	require.NotEmpty(t, named)
	for _, m := range named {
		assert.True(t, all[m[1]], "README.md names %s, which no package has", m[1])
	}
}
