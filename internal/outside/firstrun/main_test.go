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

// program builds the example programs once per test binary, as the quick
// start builds the linktracker (go build), all three in one go build, and
// returns the path of examples/<name>, named name as a user's go build
// names it.
func program(t *testing.T, name string) string {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if binDir == "" {
		d, err := os.MkdirTemp("", "firstrun")
		require.NoError(t, err)
		binDir = d
		args := []string{"build", "-o", d + string(filepath.Separator)}
		for _, n := range []string{"linktracker", "anonymize", "privacytest"} {
			args = append(args, "github.com/clickanon/clickanon/examples/"+n)
			bins[n] = filepath.Join(d, n)
		}
		out, err := exec.Command("go", args...).CombinedOutput()
		require.NoError(t, err, "go build: %s", out)
	}
	p, ok := bins[name]
	require.True(t, ok, "no example program %s", name)
	return p
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}
