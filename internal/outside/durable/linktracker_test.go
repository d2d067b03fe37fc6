package durable_test

import (
	"bufio"
	"context"
	"database/sql"
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/pgtest"
)

var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// tracker builds examples/linktracker once per test binary, as a user
// would (go build), and returns the executable.
func tracker(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		if binary.dir, binary.err = os.MkdirTemp("", "durable-linktracker-"); binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "linktracker")
		out, err := exec.Command("go", "build", "-ldflags=-s -w", "-o", binary.path, "github.com/clickanon/clickanon/examples/linktracker").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	require.NoError(t, binary.err)
	return binary.path
}

// running is a linktracker process.
type running struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string
	stderr strings.Builder
	mu     sync.Mutex
	done   chan error
}

// run starts the linktracker in dir with args and waits until it listens;
// or, if it exits first, returns nil and what it wrote.
func run(t *testing.T, dir string, args ...string) (*running, string) {
	t.Helper()
	p := &running{t: t, done: make(chan error, 1)}
	p.cmd = exec.Command(tracker(t), append([]string{"-addr", "127.0.0.1:0", "-trusted-proxies", "127.0.0.1/32", "-flush-interval", "100ms"}, args...)...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "LINKTRACKER_API_TOKEN=")
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go func() {
		b, _ := io.ReadAll(stderr)
		p.mu.Lock()
		p.stderr.Write(b)
		p.mu.Unlock()
	}()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	for line := range lines {
		if rest, ok := strings.CutPrefix(line, "linktracker listening on "); ok {
			p.base, _, _ = strings.Cut(rest, " ")
			go func() {
				for range lines {
				}
			}()
			return p, ""
		}
	}
	<-p.done
	time.Sleep(50 * time.Millisecond) // let the stderr reader finish
	p.mu.Lock()
	defer p.mu.Unlock()
	return nil, p.stderr.String()
}

// stop ends the process with SIGTERM, as a service manager does, and
// wants a clean exit.
func (p *running) stop() {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		require.NoError(p.t, err)
	case <-time.After(30 * time.Second):
		p.t.Fatal("the linktracker did not stop within 30s of SIGTERM")
	}
}

var client = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       20 * time.Second,
}

func (p *running) get(path, visitor string) (int, []byte) {
	p.t.Helper()
	req, err := http.NewRequest("GET", p.base+path, nil)
	require.NoError(p.t, err)
	req.Header.Set("X-Forwarded-For", visitor)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0")
	resp, err := client.Do(req)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(p.t, err)
	return resp.StatusCode, b
}

func (p *running) create(target string) string {
	p.t.Helper()
	resp, err := http.Post(p.base+"/api/links", "application/json", strings.NewReader(fmt.Sprintf(`{"url": %q}`, target)))
	require.NoError(p.t, err)
	defer resp.Body.Close()
	var l struct{ ID string }
	require.NoError(p.t, json.NewDecoder(resp.Body).Decode(&l))
	require.Equal(p.t, http.StatusCreated, resp.StatusCode)
	return l.ID
}

type counted struct {
	URL    string `json:"url"`
	Clicks uint64 `json:"clicks"`
	Unique uint64 `json:"unique_clicks"`
}

func (p *running) stats(id string) counted {
	p.t.Helper()
	code, body := p.get("/api/links/"+id+"/stats", "192.0.2.1")
	require.Equal(p.t, http.StatusOK, code, "%s", body)
	var c counted
	require.NoError(p.t, json.Unmarshal(body, &c))
	return c
}

// TestLinktrackerKeepsLinksAndCountsAcrossRestarts runs the binary on
// every form of -db the README gives (sqlite:PATH absolute, relative,
// with spaces and per cent signs, the default; a postgres:// and a
// postgresql:// URL), creates a link, clicks it, stops the process,
// starts it again, and wants the link to redirect and its counts to be
// there, through three restarts; and a SQLite file made under the exact
// name given, nowhere else.
func TestLinktrackerKeepsLinksAndCountsAcrossRestarts(t *testing.T) {
	pg := pgtest.DB(t)
	for _, c := range []struct {
		name string
		db   func(dir string) (arg, file string)
	}{
		{"default", func(dir string) (string, string) { return "", filepath.Join(dir, "linktracker.db") }},
		{"relative", func(dir string) (string, string) {
			return "sqlite:stats/links.db", filepath.Join(dir, "stats", "links.db")
		}},
		{"dot-relative", func(dir string) (string, string) { return "sqlite:./links.db", filepath.Join(dir, "links.db") }},
		{"spaces and per cent", func(dir string) (string, string) {
			f := filepath.Join(dir, "my links", "100%41 %20 off.db")
			return "sqlite:" + f, f
		}},
		{"postgres", func(string) (string, string) { return pg, "" }},
		{"postgresql", func(string) (string, string) { return "postgresql" + strings.TrimPrefix(pg, "postgres"), "" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			arg, file := c.db(dir)
			if file != "" {
				require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
			}
			var args []string
			if arg != "" {
				args = []string{"-db", arg}
			}
			p, out := run(t, dir, args...)
			require.NotNil(t, p, "the linktracker did not start: %s", out)
			target := "https://example.com/" + strings.ReplaceAll(c.name, " ", "-")
			id := p.create(target)
			clicks := 0
			for round := range 3 {
				for v := range 7 {
					code, _ := p.get("/l/"+id, fmt.Sprintf("198.51.100.%d", 10+v+10*round))
					require.Equal(t, http.StatusFound, code)
					clicks++
				}
				p.stop()
				if file != "" {
					_, err := os.Stat(file)
					require.NoError(t, err, "the database is the file named")
				}
				p, out = run(t, dir, args...)
				require.NotNil(t, p, "the linktracker did not start again: %s", out)
				code, _ := p.get("/l/"+id, "203.0.113.9")
				require.Equal(t, http.StatusFound, code, "the link redirects after a restart")
				clicks++
				st := p.stats(id)
				assert.Equal(t, target, st.URL)
				// The click just made may not be written yet: at least
				// every click before the restart.
				assert.GreaterOrEqual(t, st.Clicks, uint64(clicks-1), "round %d", round)
				assert.LessOrEqual(t, st.Clicks, uint64(clicks), "round %d", round)
			}
			p.stop()
			if file != "" {
				entries, err := os.ReadDir(filepath.Dir(file))
				require.NoError(t, err)
				for _, e := range entries {
					assert.True(t, strings.HasPrefix(e.Name(), filepath.Base(file)), "a file not named: %q", e.Name())
				}
			}
		})
	}
}

// TestLinktrackerRefusesANewerDatabase starts the binary on a database
// whose links schema (or statistics schema) a newer release has moved on,
// and wants it refused at start with a message saying so, as the SQL
// sink's documentation says every release refuses a schema newer than its
// own; the database is left as it was.
func TestLinktrackerRefusesANewerDatabase(t *testing.T) {
	for _, table := range []string{"linktracker_schema", "clickanon_schema_version"} {
		t.Run(table, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "links.db")
			p, out := run(t, dir, "-db", "sqlite:"+file)
			require.NotNil(t, p, out)
			id := p.create("https://example.com/")
			p.stop()

			db, err := sql.Open("sqlite", file)
			require.NoError(t, err)
			_, err = db.ExecContext(context.Background(), "INSERT INTO "+table+" (version) VALUES (99)")
			require.NoError(t, err)
			require.NoError(t, db.Close())

			p, out = run(t, dir, "-db", "sqlite:"+file)
			if p != nil {
				code, _ := p.get("/l/"+id, "198.51.100.1")
				p.stop()
				t.Fatalf("an older binary ran on a newer database (a redirect answered %d)", code)
			}
			assert.Contains(t, out, "newer", "the refusal says why")
			assert.Contains(t, out, "99")
		})
	}
}
