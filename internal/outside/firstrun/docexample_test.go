package firstrun_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docEnv is what a package doc's fragment may use without declaring it:
// the things a reader already has (a context, a click, the parts the
// README's quick start built).
const docEnv = `ctx context.Context, click clickstore.Click, tracker *track.Tracker, resolver *clientip.Resolver, keyring *retention.Keyring, store *clickstore.Memory, mux *http.ServeMux, redirect http.Handler`

// otherImports are the packages outside the module a fragment may name.
var otherImports = map[string]string{
	"redis": "github.com/redis/go-redis/v9", "prometheus": "github.com/prometheus/client_golang/prometheus",
	"os": "os", "fmt": "fmt", "time": "time", "log": "log", "slog": "log/slog", "netip": "net/netip", "io": "io",
}

// goFragment is a code block of a package doc that is Go: it parses as
// statements and calls a function of a package or a method. It returns the names its := statements declare.
func goFragment(text string) (declared []string, ok bool) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", "package p\nfunc _() {\n"+text+"\n}\n", parser.SkipObjectResolution)
	if err != nil {
		return nil, false
	}
	seen := map[string]bool{}
	var calls int // of a package's function or a method: Go, not a formula
	ast.Inspect(f, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			if _, ok := c.Fun.(*ast.SelectorExpr); ok {
				calls++
			}
		}
		if a, ok := n.(*ast.AssignStmt); ok && a.Tok == token.DEFINE {
			for _, l := range a.Lhs {
				if id, ok := l.(*ast.Ident); ok && id.Name != "_" && !seen[id.Name] {
					seen[id.Name] = true
					declared = append(declared, id.Name)
				}
			}
		}
		return true
	})
	return declared, calls > 0
}

// TestPackageDocExamplesCompile: a newcomer reads go doc first and copies
// its examples. Every code block of a public package's doc that is Go (a
// fragment of statements; "..." lines left out) compiles with the module
// as it is, given the variables a reader already has; and a block that
// ends in comment lines (the output it shows) prints exactly those lines
// when run.
func TestPackageDocExamplesCompile(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	pkgs := publicPackages(t, root)
	names := map[string]string{} // package name -> import path
	var rels []string
	for rel, ip := range pkgs {
		if !strings.HasPrefix(rel, "examples/") {
			names[filepath.Base(rel)] = ip
			rels = append(rels, rel)
		}
	}
	sort.Strings(rels)
	dir := t.TempDir()
	type run struct {
		dir, want, from string
	}
	var runs []run
	var n int
	for _, rel := range rels {
		p := packageDoc(t, filepath.Join(root, rel))
		var parser comment.Parser
		for _, b := range parser.Parse(p.Doc).Content {
			code, ok := b.(*comment.Code)
			if !ok {
				continue
			}
			var lines, want []string
			for _, l := range strings.Split(strings.TrimRight(code.Text, "\n"), "\n") {
				if strings.TrimSpace(l) == "..." {
					continue
				}
				lines = append(lines, l)
			}
			// Trailing comment lines are the output the block shows.
			for len(lines) > 0 && strings.HasPrefix(strings.TrimSpace(lines[len(lines)-1]), "// ") {
				want = append([]string{strings.TrimPrefix(strings.TrimSpace(lines[len(lines)-1]), "// ")}, want...)
				lines = lines[:len(lines)-1]
			}
			body := strings.Join(lines, "\n")
			declared, ok := goFragment(body)
			if !ok {
				continue // a schema, a key layout, a metric list
			}
			n++
			imports := map[string]string{"context": "context", "net/http": "net/http"}
			for _, pkg := range []string{"clickstore", "track", "clientip", "retention"} {
				imports[names[pkg]] = names[pkg]
			}
			for name, ip := range names {
				if regexp.MustCompile(`\b` + name + `\.`).MatchString(body) {
					imports[ip] = ip
				}
			}
			for name, ip := range otherImports {
				if regexp.MustCompile(`\b` + name + `\.`).MatchString(body) {
					imports[ip] = ip
				}
			}
			var src strings.Builder
			src.WriteString("package main\n\nimport (\n")
			for ip := range imports {
				fmt.Fprintf(&src, "\t%q\n", ip)
			}
			fmt.Fprintf(&src, ")\n\nfunc fragment(%s) error {\n\t{\n//line %s/doc:1\n%s\n", docEnv, rel, body)
			for _, d := range declared {
				fmt.Fprintf(&src, "\t\t_ = %s\n", d)
			}
			src.WriteString("\t}\n\treturn nil\n}\n\nfunc main() {\n\tif len(want) > 0 {\n\t\t_ = fragment(context.Background(), clickstore.Click{}, nil, nil, nil, nil, nil, nil)\n\t}\n}\n")
			fmt.Fprintf(&src, "\nvar want = %#v\n", want)
			bdir := filepath.Join(dir, fmt.Sprintf("doc%02d", n))
			require.NoError(t, os.MkdirAll(bdir, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(bdir, "main.go"), []byte(src.String()), 0o644))
			if len(want) > 0 {
				runs = append(runs, run{dir: "./" + filepath.Base(bdir), want: strings.Join(want, "\n") + "\n", from: rel})
			}
		}
	}
	require.GreaterOrEqual(t, n, 3, "the package docs show Go code")

	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	mod = regexp.MustCompile(`(?m)^module .*$`).ReplaceAll(mod, []byte("module docexamples"))
	mod = fmt.Appendf(mod, "\nrequire github.com/clickanon/clickanon v0.0.0\n\nreplace github.com/clickanon/clickanon => %s\n", root)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), mod, 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOPROXY=off")

	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the Go examples of the package docs do not compile:\n%s", out)
	for _, r := range runs {
		cmd := exec.Command("go", "run", r.dir)
		cmd.Dir, cmd.Env = dir, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if assert.NoError(t, cmd.Run(), "go doc %s's example: %s", r.from, stderr.String()) {
			assert.Equal(t, r.want, stdout.String(), "go doc %s's example prints what its comment says", r.from)
		}
	}
}
