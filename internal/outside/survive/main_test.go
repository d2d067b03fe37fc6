package survive_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/ltproc"
	"github.com/clickanon/clickanon/internal/pgtest"
)

// bin is the linktracker binary, built once in TestMain.
var bin string

func TestMain(m *testing.M) {
	var cleanup func()
	var err error
	if bin, cleanup, err = ltproc.Build(); err != nil {
		fmt.Fprintln(os.Stderr, "survive:", err)
		os.Exit(1)
	}
	pgtest.Main(m, cleanup)
}

// proc is a linktracker process.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	mu   sync.Mutex
	out  strings.Builder
	done chan error
}

// start runs the linktracker with args in dir and waits until it listens;
// if it exits first it returns nil and everything it wrote.
func start(t *testing.T, dir string, args ...string) (*proc, string) {
	t.Helper()
	p := &proc{t: t, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-flush-interval", "100ms", "-create-per-minute", "0"}, args...)...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "LINKTRACKER_API_TOKEN=")
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	p.cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.out.Write(b)
	})
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			p.mu.Unlock()
			if rest, ok := strings.CutPrefix(line, "linktracker listening on "); ok {
				base, _, _ := strings.Cut(rest, " ")
				listening <- base
			}
		}
		close(listening)
		p.done <- p.cmd.Wait()
	}()
	select {
	case base, ok := <-listening:
		if ok {
			p.base = base
			return p, ""
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the linktracker neither listened nor exited within 60s:\n%s", p.output())
	}
	<-p.done
	return nil, p.output()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// stop ends the process with SIGTERM and wants a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		require.NoError(p.t, err, "%s", p.output())
	case <-time.After(30 * time.Second):
		p.t.Fatal("the linktracker did not stop within 30s of SIGTERM")
	}
}

var client = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       20 * time.Second,
}

const browserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"

// get fetches path with a browser's agent and returns the status, the
// Location header and the body.
func (p *proc) get(path string) (int, string, string) {
	p.t.Helper()
	req, err := http.NewRequest("GET", p.base+path, nil)
	require.NoError(p.t, err)
	req.Header.Set("User-Agent", browserAgent)
	resp, err := client.Do(req)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(p.t, err)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// create posts a link to target and returns the status and the ID (""
// unless 201).
func (p *proc) create(target string) (int, string) {
	p.t.Helper()
	body, err := json.Marshal(map[string]string{"url": target})
	require.NoError(p.t, err)
	resp, err := client.Post(p.base+"/api/links", "application/json", strings.NewReader(string(body)))
	require.NoError(p.t, err)
	defer resp.Body.Close()
	var l struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&l)
	return resp.StatusCode, l.ID
}

// clicks is the link's total clicks from the stats API.
func (p *proc) clicks(id string) uint64 {
	p.t.Helper()
	code, _, body := p.get("/api/links/" + id + "/stats")
	require.Equal(p.t, http.StatusOK, code, "%s", body)
	var c struct {
		Clicks uint64 `json:"clicks"`
	}
	require.NoError(p.t, json.Unmarshal([]byte(body), &c))
	return c.Clicks
}
