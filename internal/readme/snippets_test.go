package readme_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/readme"
)

// repoRoot is the directory of the module's go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the test's directory")
		dir = parent
	}
}

// snippetParams are the names a README snippet may use without declaring
// them: the parameters of the function each fragment is wrapped in.
const snippetParams = `ctx context.Context, t *testing.T, req *http.Request,
	resolver *clientip.Resolver, redirect http.HandlerFunc, from, to time.Time, logBuffer *bytes.Buffer`

// stdImports are the standard packages a snippet may use by name.
var stdImports = map[string]string{
	"bytes": "bytes", "context": "context", "errors": "errors", "fmt": "fmt", "io": "io", "log": "log",
	"slog": "log/slog", "http": "net/http", "netip": "net/netip", "os": "os", "sql": "database/sql",
	"strings": "strings", "testing": "testing", "time": "time", "json": "encoding/json",
}

// moduleImports maps each package name of the module (and of go-redis and
// client_golang, which snippets use) to its import path, from go list, so
// that packages added later are found.
func moduleImports(t *testing.T, root string) map[string]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.Name}} {{.ImportPath}}", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	require.NoError(t, err, "go list")
	m := map[string]string{
		"redis":      "github.com/redis/go-redis/v9",
		"prometheus": "github.com/prometheus/client_golang/prometheus",
		"promhttp":   "github.com/prometheus/client_golang/prometheus/promhttp",
	}
	for k, v := range stdImports {
		m[k] = v
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, path, _ := strings.Cut(line, " ")
		if name == "main" || strings.Contains(path, "/internal/") {
			continue
		}
		if prev, ok := m[name]; ok && prev != path {
			t.Fatalf("two packages are named %s (%s, %s): a snippet could not say which", name, prev, path)
		}
		m[name] = path
	}
	return m
}

// wrap turns a README fragment into a Go file: the fragment becomes the
// body of a function whose parameters are snippetParams, every variable it
// declares is used once at the end (a snippet shows a result it does not
// use), and it imports the packages it names. //line directives make the
// compiler's errors point at README.md.
func wrap(t *testing.T, b readme.Block, i int, imports map[string]string) string {
	t.Helper()
	body := fmt.Sprintf("func snippet%d(%s) {\n%s}\n", i, snippetParams, b.Text)
	f, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+body, 0)
	if err != nil {
		t.Fatalf("README.md:%d: the Go snippet does not parse: %v", b.Line, err)
	}
	fn := f.Decls[0].(*ast.FuncDecl)
	var declared []string
	for _, s := range fn.Body.List {
		switch s := s.(type) {
		case *ast.AssignStmt:
			if s.Tok == token.DEFINE {
				for _, e := range s.Lhs {
					if id, ok := e.(*ast.Ident); ok && id.Name != "_" {
						declared = append(declared, id.Name)
					}
				}
			}
		case *ast.DeclStmt:
			if g, ok := s.Decl.(*ast.GenDecl); ok && g.Tok == token.VAR {
				for _, sp := range g.Specs {
					for _, id := range sp.(*ast.ValueSpec).Names {
						if id.Name != "_" {
							declared = append(declared, id.Name)
						}
					}
				}
			}
		}
	}
	used := map[string]bool{"context": true, "testing": true, "http": true, "clientip": true, "time": true, "bytes": true}
	ast.Inspect(fn, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && imports[id.Name] != "" {
				used[id.Name] = true
			}
		}
		return true
	})
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	var src strings.Builder
	src.WriteString("package snippets\n\nimport (\n")
	for _, n := range names {
		fmt.Fprintf(&src, "\t%s %q\n", n, imports[n])
	}
	fmt.Fprintf(&src, ")\n\nfunc snippet%d(%s) {\n//line README.md:%d\n%s", i, snippetParams, b.Line, b.Text)
	for _, d := range dedupe(declared) {
		fmt.Fprintf(&src, "\t_ = %s\n", d)
	}
	src.WriteString("}\n")
	return src.String()
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// TestGoSnippetsCompile builds and vets every ```go block of README.md
// against the module as it is: a whole file (starting with package) as it
// stands, a fragment wrapped as wrap describes.
func TestGoSnippetsCompile(t *testing.T) {
	root := repoRoot(t)
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	imports := moduleImports(t, root)

	dir := t.TempDir()
	n := 0
	for _, b := range readme.Blocks(md) {
		if b.Lang != "go" {
			continue
		}
		src := b.Text
		if !strings.HasPrefix(strings.TrimSpace(src), "package ") {
			src = wrap(t, b, n, imports)
		} else {
			src = fmt.Sprintf("//line README.md:%d\n%s", b.Line, src)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("snippet%02d.go", n)), []byte(src), 0o644))
		n++
	}
	require.Positive(t, n, "README.md has Go snippets")

	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	mod = regexp.MustCompile(`(?m)^module .*$`).ReplaceAll(mod, []byte("module snippets"))
	mod = fmt.Appendf(mod, "\nrequire github.com/clickanon/clickanon v0.0.0\n\nreplace github.com/clickanon/clickanon => %s\n", root)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), mod, 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))

	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOPROXY=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("README.md's Go snippets do not build (a fragment may use %s undeclared):\n%s", snippetParams, out.String())
	}
}
