package newcomer_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/readme"
)

// moduleRoot is the directory of the module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

// goFenceRE is the opening line of a fenced Go block as a Markdown reader
// sees it: backticks or tildes, indented (in a list) or not, "go" or
// "golang", with or without more words after it.
var goFenceRE = regexp.MustCompile("(?m)^[ \t]*(?:```+|~~~+)[ \t]*(?:go|golang)(?:[ \t].*)?$")

// TestEveryGoBlockIsCompiled: the README's snippet test compiles the ```go
// blocks of README.md as internal/readme reads them. Every Markdown file
// a user reads (any *.md of the module outside testdata) holds Go blocks
// only in README.md, and internal/readme finds each block a Markdown
// reader shows there: none is left out by its form (indented in a list,
// tildes, "golang", a longer fence).
func TestEveryGoBlockIsCompiled(t *testing.T) {
	root := moduleRoot(t)
	found := 0
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".md") {
			return nil
		}
		md, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		n := len(goFenceRE.FindAll(md, -1))
		if rel != "README.md" {
			assert.Zero(t, n, "%s has Go blocks that no test compiles", rel)
			return nil
		}
		found = n
		var got int
		for _, b := range readme.Blocks(md) {
			if b.Lang == "go" {
				got++
			}
		}
		assert.Equal(t, n, got, "internal/readme finds every Go block of README.md (%d)", n)
		return nil
	}))
	assert.GreaterOrEqual(t, found, 5, "README.md has its Go snippets")
}
