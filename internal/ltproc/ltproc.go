// Package ltproc runs a built examples/linktracker binary as a child
// process for the module's black-box tests: started on a free loopback
// port with a fresh SQLite database, read until it says where it
// listens, and killed when the test ends.
package ltproc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/testlog"
)

// Proc is a running linktracker. Its output buffers are safe to read
// while it writes them.
type Proc struct {
	T              *testing.T
	Cmd            *exec.Cmd
	Base           string // the URL it listens on, http://127.0.0.1:PORT
	Stdout, Stderr testlog.Buffer
	Done           chan struct{} // closed when it has exited
}

// Build builds examples/linktracker as a user would (go build, with
// extra build flags if given) into a new temporary directory, for a test
// binary's TestMain, and returns the binary's path and a function that
// removes the directory.
func Build(flags ...string) (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "linktracker-")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "linktracker")
	args := append(append([]string{"build"}, flags...), "-o", bin, "github.com/clickanon/clickanon/examples/linktracker")
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("ltproc: go build: %v: %s", err, out)
	}
	return bin, func() { _ = os.RemoveAll(dir) }, nil
}

// Start runs bin with -addr 127.0.0.1:0, -db on a fresh SQLite file in
// the test's temporary directory, and args (later flags win), with no
// API token in its environment, and waits until it listens. The process
// is killed at the test's end, and its log printed if the test failed.
func Start(t *testing.T, bin string, args ...string) *Proc {
	t.Helper()
	p := &Proc{T: t, Done: make(chan struct{})}
	p.Cmd = exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-db", "sqlite:" + filepath.Join(t.TempDir(), "links.db")}, args...)...)
	p.Cmd.Stdout, p.Cmd.Stderr = &p.Stdout, &p.Stderr
	p.Cmd.Env = append(os.Environ(), "LINKTRACKER_API_TOKEN=")
	require.NoError(t, p.Cmd.Start())
	go func() { _ = p.Cmd.Wait(); close(p.Done) }()
	t.Cleanup(func() {
		select {
		case <-p.Done:
		default:
			_ = p.Cmd.Process.Kill()
			<-p.Done
		}
		if t.Failed() {
			t.Logf("linktracker log:\n%s", p.Stderr.String())
		}
	})
	p.Eventually("listening", func() bool {
		line, _, _ := strings.Cut(p.Stdout.String(), "\n")
		rest, ok := strings.CutPrefix(line, "linktracker listening on ")
		p.Base, _, _ = strings.Cut(rest, " ")
		return ok
	})
	return p
}

// Eventually polls cond, the state of the child process (which runs on
// the real clock), every 10 ms for up to 15 s; the test fails if the
// process exits or the time runs out first.
func (p *Proc) Eventually(what string, cond func() bool) {
	p.T.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		select {
		case <-p.Done:
			require.FailNow(p.T, "the linktracker exited", "waiting for %s:\n%s", what, p.Stderr.String())
		default:
		}
		require.True(p.T, time.Now().Before(deadline), "timed out waiting for %s:\n%s", what, p.Stderr.String())
		time.Sleep(10 * time.Millisecond) // polling a child process
	}
}
