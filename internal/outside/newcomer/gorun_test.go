package newcomer_test

import (
	"bufio"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGoRunCtrlC: README's first command is `go run ./examples/linktracker`
// with "(Ctrl-C stops it)". Ctrl-C in a terminal signals the foreground
// process group (go and the tracker it started); with SIGINT, and with
// SIGTERM sent the same way (a supervisor stopping the group), go run
// exits and the tracker's port is free again.
func TestGoRunCtrlC(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("go", "run", "./examples/linktracker", "-addr", "127.0.0.1:0", "-db", "sqlite:"+t.TempDir()+"/l.db")
			cmd.Dir = root
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			done := make(chan struct{})
			t.Cleanup(func() {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
			})
			addr := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					if rest, ok := strings.CutPrefix(sc.Text(), "linktracker listening on http://"); ok {
						a, _, _ := strings.Cut(rest, " ")
						addr <- a
					}
				}
				_ = cmd.Wait()
				close(done)
			}()
			var a string
			select {
			case a = <-addr:
			case <-time.After(2 * time.Minute):
				t.Fatal("go run did not start the tracker")
			}
			require.NoError(t, syscall.Kill(-cmd.Process.Pid, sig), "signal the process group, as a terminal does")
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("go run did not exit on %v", sig)
			}
			var free bool
			for range 100 { // the tracker may outlive go by a moment
				c, err := net.Dial("tcp", a)
				if err != nil {
					free = true
					break
				}
				c.Close()
				time.Sleep(50 * time.Millisecond)
			}
			assert.True(t, free, "after %v the tracker's port is free", sig)
		})
	}
}
