package firstrun_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// moduleRoot is the directory of the module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

var (
	binMu  sync.Mutex
	binDir string
	bins   = map[string]string{}
)

// program builds examples/<name> once per test binary, as the quick start
// builds the linktracker (go build), and returns its path. The binary is
// named name, as a user's go build names it.
func program(t *testing.T, name string) string {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if p, ok := bins[name]; ok {
		return p
	}
	if binDir == "" {
		d, err := os.MkdirTemp("", "firstrun")
		require.NoError(t, err)
		binDir = d
	}
	p := filepath.Join(binDir, name)
	out, err := exec.Command("go", "build", "-o", p, "github.com/clickanon/clickanon/examples/"+name).CombinedOutput()
	require.NoError(t, err, "go build %s: %s", name, out)
	bins[name] = p
	return p
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}
