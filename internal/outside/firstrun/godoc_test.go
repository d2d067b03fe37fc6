package firstrun_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decoders are the pointer methods a plain value has to be decoded into:
// they do not make it a type with state to share.
var decoders = map[string]bool{"UnmarshalText": true, "UnmarshalJSON": true, "UnmarshalBinary": true, "Scan": true, "Set": true}

// TestExportedTypesStateZeroAndConcurrency: DESIGN's house rule, read as
// a newcomer reads go doc: every exported type of every public library
// package says what its zero value does (interfaces and function types
// have none to state), and every type with state (a method on a pointer
// other than a decoder, or a constructor returning a pointer) says
// whether it is safe for concurrent use. Listed with go/doc, so that a
// type added without them fails.
func TestExportedTypesStateZeroAndConcurrency(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	var types int
	for rel := range publicPackages(t, root) {
		if strings.HasPrefix(rel, "examples/") {
			continue
		}
		p := packageDoc(t, filepath.Join(root, rel))
		for _, ty := range p.Types {
			types++
			text := strings.ToLower(strings.Join(strings.Fields(ty.Doc), " "))
			spec, ok := ty.Decl.Specs[0].(*ast.TypeSpec)
			require.True(t, ok)
			switch spec.Type.(type) {
			case *ast.InterfaceType, *ast.FuncType:
			default:
				assert.Contains(t, text, "zero", "go doc %s.%s does not say what its zero value does", rel, ty.Name)
			}
			if !hasState(ty.Name, ty.Methods, ty.Funcs) {
				continue
			}
			assert.True(t, strings.Contains(text, "concurren") || strings.Contains(text, "goroutine"),
				"go doc %s.%s does not say whether it is safe for concurrent use", rel, ty.Name)
		}
	}
	assert.Greater(t, types, 50, "go/doc lists the exported types")
}

// hasState says whether a type has state: a method on its pointer (other
// than a decoder's) or a constructor that returns a pointer to it.
func hasState(name string, methods []*doc.Func, funcs []*doc.Func) bool {
	for _, m := range methods {
		if strings.HasPrefix(m.Recv, "*") && !decoders[m.Name] {
			return true
		}
	}
	for _, f := range funcs {
		res := f.Decl.Type.Results
		if res == nil || len(res.List) == 0 {
			continue
		}
		if star, ok := res.List[0].Type.(*ast.StarExpr); ok {
			if id, ok := star.X.(*ast.Ident); ok && id.Name == name {
				return true
			}
		}
	}
	return false
}

// TestOnePackageComment: go doc shows the package comments of all a
// package's files run together, so each package (the example programs
// too) has exactly one: a second, older one reads as a contradiction.
func TestOnePackageComment(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	for rel := range publicPackages(t, root) {
		fset := token.NewFileSet()
		files, err := filepath.Glob(filepath.Join(root, rel, "*.go"))
		require.NoError(t, err)
		var with []string
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(fset, f, nil, parser.PackageClauseOnly|parser.ParseComments)
			require.NoError(t, err)
			if af.Doc != nil {
				with = append(with, filepath.Base(f))
			}
		}
		assert.Len(t, with, 1, "%s has one package comment, not %d (%v)", rel, len(with), with)
	}
}
