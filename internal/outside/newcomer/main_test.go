package newcomer_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// browserAgent is a person's browser; each visitor adds its own suffix.
const browserAgent = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// binary builds examples/linktracker once per test binary, as the quick
// start does (go build), and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "newcomer")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "linktracker")
		buildOut, buildErr = exec.Command("go", "build", "-o", binPath, "github.com/clickanon/clickanon/examples/linktracker").CombinedOutput()
	})
	require.NoError(t, buildErr, "go build: %s", buildOut)
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// tracker is a running linktracker.
type tracker struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
}

// start runs the linktracker in a temporary directory with args (after
// -addr 127.0.0.1:0 -trusted-proxies 127.0.0.1/32, so that a test names
// its visitors in X-Forwarded-For). It returns the tracker once it
// listens, or nil and what it wrote if it exited first.
func start(t *testing.T, args ...string) (*tracker, string) {
	t.Helper()
	p := &tracker{t: t, done: make(chan struct{})}
	p.cmd = exec.Command(binary(t), append([]string{"-addr", "127.0.0.1:0", "-trusted-proxies", "127.0.0.1/32", "-create-per-minute", "100000"}, args...)...)
	p.cmd.Dir = t.TempDir()
	p.cmd.Env = append(os.Environ(), "LINKTRACKER_API_TOKEN=")
	r, w := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = w, w
	require.NoError(t, p.cmd.Start())
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			p.mu.Unlock()
			if rest, ok := strings.CutPrefix(line, "linktracker listening on "); ok {
				base, _, _ := strings.Cut(rest, " ")
				select {
				case listening <- base:
				default:
				}
			}
		}
	}()
	go func() {
		_ = p.cmd.Wait()
		_ = w.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case p.base = <-listening:
		return p, ""
	case <-p.done:
		time.Sleep(20 * time.Millisecond) // the reader's last lines
		return nil, p.output()
	case <-time.After(30 * time.Second):
		t.Fatalf("the linktracker neither listened nor exited within 30 s:\n%s", p.output())
		return nil, ""
	}
}

func (p *tracker) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

var client = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       20 * time.Second,
}

// get asks path as the visitor at addr with agent, and returns the status
// and body.
func (p *tracker) get(t *testing.T, path, addr, agent string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", p.base+path, nil)
	require.NoError(t, err)
	req.Header.Set("X-Forwarded-For", addr)
	req.Header.Set("User-Agent", agent)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// create makes a link to target and returns its id.
func (p *tracker) create(t *testing.T, target string) string {
	t.Helper()
	resp, err := http.Post(p.base+"/api/links", "application/json", strings.NewReader(fmt.Sprintf(`{"url": %q}`, target)))
	require.NoError(t, err)
	defer resp.Body.Close()
	var l struct{ ID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&l))
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.NotEmpty(t, l.ID)
	return l.ID
}

// click clicks link id as visitor i: its own address and browser.
func (p *tracker) click(t *testing.T, id string, i int) {
	t.Helper()
	code, body := p.get(t, "/l/"+id, fmt.Sprintf("198.51.100.%d", 1+i%250), fmt.Sprintf("%s visitor/%d", browserAgent, i))
	require.Equal(t, http.StatusFound, code, "%s", body)
}

// stats reads the stats API of id, with query q, decoded as JSON objects.
func (p *tracker) stats(t *testing.T, id, q string) map[string]any {
	t.Helper()
	code, body := p.get(t, "/api/links/"+id+"/stats"+q, "192.0.2.1", browserAgent)
	require.Equal(t, http.StatusOK, code, "%s", body)
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m), "%s", body)
	return m
}
