package readme_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/readme"
)

// decls are the identifiers the module declares: each package's top-level
// names, and each type name's methods and fields (over every package that
// declares a type of that name).
type decls struct {
	pkgs    map[string]map[string]bool // package name -> top-level names
	members map[string]map[string]bool // type name -> methods and fields
}

// moduleDecls parses every non-test Go file of the module under root.
func moduleDecls(t *testing.T, root string) decls {
	t.Helper()
	d := decls{pkgs: map[string]map[string]bool{}, members: map[string]map[string]bool{}}
	add := func(m map[string]map[string]bool, k, v string) {
		if m[k] == nil {
			m[k] = map[string]bool{}
		}
		m[k][v] = true
	}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && path != root && (strings.HasPrefix(e.Name(), ".") || e.Name() == "testdata") {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkg := f.Name.Name
		for _, decl := range f.Decls {
			switch decl := decl.(type) {
			case *ast.FuncDecl:
				if decl.Recv == nil {
					add(d.pkgs, pkg, decl.Name.Name)
					continue
				}
				typ := decl.Recv.List[0].Type
				if star, ok := typ.(*ast.StarExpr); ok {
					typ = star.X
				}
				if idx, ok := typ.(*ast.IndexExpr); ok { // a generic receiver
					typ = idx.X
				}
				if id, ok := typ.(*ast.Ident); ok {
					add(d.members, id.Name, decl.Name.Name)
				}
			case *ast.GenDecl:
				for _, spec := range decl.Specs {
					switch spec := spec.(type) {
					case *ast.ValueSpec:
						for _, n := range spec.Names {
							add(d.pkgs, pkg, n.Name)
						}
					case *ast.TypeSpec:
						add(d.pkgs, pkg, spec.Name.Name)
						var fields *ast.FieldList
						switch typ := spec.Type.(type) {
						case *ast.StructType:
							fields = typ.Fields
						case *ast.InterfaceType:
							fields = typ.Methods
						}
						if fields == nil {
							continue
						}
						for _, f := range fields.List {
							for _, n := range f.Names {
								add(d.members, spec.Name.Name, n.Name)
							}
							if len(f.Names) == 0 { // embedded: its name
								typ := f.Type
								if star, ok := typ.(*ast.StarExpr); ok {
									typ = star.X
								}
								switch typ := typ.(type) {
								case *ast.Ident:
									add(d.members, spec.Name.Name, typ.Name)
								case *ast.SelectorExpr:
									add(d.members, spec.Name.Name, typ.Sel.Name)
								}
							}
						}
					}
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	return d
}

// spanNameRE is a code span that names a declaration: `pkg.Name`,
// `Type.Member`, `Type.Method()`.
var spanNameRE = regexp.MustCompile("`([A-Za-z][A-Za-z0-9_]*)\\.([A-Z][A-Za-z0-9_]*)(?:\\(\\))?`")

// TestProseNamesExist checks that every `pkg.Name` that README.md's prose
// writes, for a package of the module, and every `Type.Member` or
// `Type.Method()` for a type the module declares, names something that
// exists: a renamed or removed API, or one the README made up, fails here
// rather than in a newcomer's editor. (Code blocks are compiled by
// TestGoSnippetsCompile.)
func TestProseNamesExist(t *testing.T) {
	root := repoRoot(t)
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	d := moduleDecls(t, root)
	require.Contains(t, d.pkgs, "clientip", "the module's packages were read")

	prose := string(md)
	for _, b := range readme.Blocks(md) {
		prose = strings.Replace(prose, b.Text, "", 1)
	}
	checked := 0
	for _, m := range spanNameRE.FindAllStringSubmatch(prose, -1) {
		left, name := m[1], m[2]
		switch {
		case d.pkgs[left] != nil:
			assert.True(t, d.pkgs[left][name], "README.md names %s, which package %s does not declare", m[0], left)
		case d.members[left] != nil:
			assert.True(t, d.members[left][name], "README.md names %s, but no type %s of the module has %s", m[0], left, name)
		default:
			continue // the standard library's, or a dependency's
		}
		checked++
	}
	require.GreaterOrEqual(t, checked, 20, "README.md's prose names the module's API")
}
