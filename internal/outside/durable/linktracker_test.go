package durable_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
	"github.com/clickanon/clickanon/internal/redistest"
)

// TestLinktracker builds examples/linktracker as a user would (go build)
// into its temporary directory and runs the tests of the binary, in
// parallel, on it.
func TestLinktracker(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "linktracker")
	out, err := exec.Command("go", "build", "-ldflags=-s -w", "-o", bin, "github.com/clickanon/clickanon/examples/linktracker").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	for name, test := range map[string]func(*testing.T, string){
		"KeepsLinksAndCountsAcrossRestarts": testKeepsLinksAndCountsAcrossRestarts,
		"RefusesANewerDatabase":             testRefusesANewerDatabase,
		"ThroughAStalledDatabase":           testThroughAStalledDatabase,
		"APIThroughAStalledDatabase":        testAPIThroughAStalledDatabase,
		"CreationProtected":                 testCreationProtected,
		"PostgresURLForms":                  testPostgresURLForms,
		"ThroughAStalledRedis":              testThroughAStalledRedis,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, bin)
		})
	}
}

// running is a linktracker process.
type running struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string
	stdout strings.Builder
	stderr strings.Builder
	mu     sync.Mutex
	done   chan error
}

// run starts the linktracker bin in dir with args and waits until it listens;
// or, if it exits first, returns nil and what it wrote.
func run(t *testing.T, bin, dir string, args ...string) (*running, string) {
	t.Helper()
	return runIn(t, bin, dir, nil, args...)
}

// runEnv is run with the environment variable LINKTRACKER_API_TOKEN set
// to token.
func runEnv(t *testing.T, bin, dir, token string, args ...string) (*running, string) {
	t.Helper()
	return runIn(t, bin, dir, []string{"LINKTRACKER_API_TOKEN=" + token}, args...)
}

// runIn is run with env added to the environment (after
// LINKTRACKER_API_TOKEN="").
func runIn(t *testing.T, bin, dir string, env []string, args ...string) (*running, string) {
	t.Helper()
	p := &running{t: t, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-trusted-proxies", "127.0.0.1/32", "-flush-interval", "100ms"}, args...)...)
	p.cmd.Dir = dir
	p.cmd.Env = append(append(os.Environ(), "LINKTRACKER_API_TOKEN="), env...)
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
		p.mu.Lock()
		p.stdout.WriteString(line + "\n")
		p.mu.Unlock()
		if rest, ok := strings.CutPrefix(line, "linktracker listening on "); ok {
			p.base, _, _ = strings.Cut(rest, " ")
			go func() {
				for line := range lines {
					p.mu.Lock()
					p.stdout.WriteString(line + "\n")
					p.mu.Unlock()
				}
			}()
			return p, ""
		}
	}
	<-p.done
	time.Sleep(50 * time.Millisecond) // let the stderr reader finish
	p.mu.Lock()
	defer p.mu.Unlock()
	return nil, p.stdout.String() + p.stderr.String()
}

// output is what the process wrote so far, stdout and stderr.
func (p *running) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String() + p.stderr.String()
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
	req.Header.Set("User-Agent", browserAgent)
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

// testKeepsLinksAndCountsAcrossRestarts runs the binary on
// every form of -db the README gives (sqlite:PATH absolute, relative,
// with spaces and per cent signs, the default; a postgres:// and a
// postgresql:// URL), creates a link, clicks it, stops the process,
// starts it again, and wants the link to redirect and its counts to be
// there, through three restarts; and a SQLite file made under the exact
// name given, nowhere else.
func testKeepsLinksAndCountsAcrossRestarts(t *testing.T, bin string) {
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
			p, out := run(t, bin, dir, args...)
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
				p, out = run(t, bin, dir, args...)
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

// testRefusesANewerDatabase starts the binary on a database
// whose links schema (or statistics schema) a newer release has moved on,
// and wants it refused at start with a message saying so, as the SQL
// sink's documentation says every release refuses a schema newer than its
// own; the database is left as it was.
func testRefusesANewerDatabase(t *testing.T, bin string) {
	for _, table := range []string{"linktracker_schema", "clickanon_schema_version"} {
		t.Run(table, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "links.db")
			p, out := run(t, bin, dir, "-db", "sqlite:"+file)
			require.NotNil(t, p, out)
			id := p.create("https://example.com/")
			p.stop()

			db, err := sql.Open("sqlite", file)
			require.NoError(t, err)
			_, err = db.ExecContext(context.Background(), "INSERT INTO "+table+" (version) VALUES (99)")
			require.NoError(t, err)
			require.NoError(t, db.Close())

			p, out = run(t, bin, dir, "-db", "sqlite:"+file)
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

// testThroughAStalledDatabase runs the binary on PostgreSQL
// through a proxy that, once the link exists, holds every byte both ways
// with the connections open: a database that hangs rather than refuses.
// Every visitor of the existing link is still redirected, and once the
// database answers again, and the process is stopped, every click made
// while it hung is counted.
func testThroughAStalledDatabase(t *testing.T, bin string) { stalledDatabase(t, bin, false) }

// testAPIThroughAStalledDatabase is testThroughAStalledDatabase with the
// API (a link's statistics, link creation) asked too while the database
// hangs.
func testAPIThroughAStalledDatabase(t *testing.T, bin string) {
	stalledDatabase(t, bin, true)
}

func stalledDatabase(t *testing.T, bin string, apiToo bool) {
	dsn := pgtest.DB(t)
	cut, proxied := newCutter(t, dsn)
	dir := t.TempDir()
	p, out := run(t, bin, dir, "-db", proxied)
	require.NotNil(t, p, out)
	id := p.create("https://example.com/stalled")
	for v := range 3 {
		code, _ := p.get("/l/"+id, fmt.Sprintf("198.51.100.%d", v+1))
		require.Equal(t, http.StatusFound, code)
	}

	cut.stalled.Store(true)
	t.Cleanup(func() { cut.stalled.Store(false) })
	for v := range 12 {
		code, body := p.get("/l/"+id, fmt.Sprintf("203.0.113.%d", v+1))
		assert.Equal(t, http.StatusFound, code, "a redirect while the database hangs: %s", body)
	}
	if apiToo {
		// Not a timing assertion: the client gives up after 20 s, ten
		// times the API's deadline (4 x -store-timeout); an answer of any
		// kind shows the request did not wait on the hung database.
		code, _ := p.get("/api/links/"+id+"/stats", "192.0.2.1")
		assert.NotZero(t, code)
		resp, err := client.Post(p.base+"/api/links", "application/json", strings.NewReader(`{"url": "https://example.com/new"}`))
		if assert.NoError(t, err, "link creation answers while the database hangs") {
			resp.Body.Close()
			assert.NotEqual(t, http.StatusCreated, resp.StatusCode, "a link cannot be made durable while the database hangs")
		}
	}

	cut.stalled.Store(false)
	p.stop()
	p, out = run(t, bin, dir, "-db", dsn)
	require.NotNil(t, p, out)
	assert.Equal(t, uint64(15), p.stats(id).Clicks, "every click, those made while the database hung too")
	p.stop()
}

// testCreationProtected runs the binary with an API token (given by the
// flag, and by the environment) and a limit of 3 links a minute per
// network, and creates links from addresses of one network written in
// every form (IPv4, IPv4-mapped IPv6; IPv6 differing below the /48), of
// other networks, with and without the token. Without the right token
// nothing is created and no network's quota is spent; with it, each
// network gets exactly its 3, whatever form its addresses take.
func testCreationProtected(t *testing.T, bin string) {
	const token = "s3cret-Token_with.dots"
	for _, how := range []string{"flag", "environment"} {
		t.Run(how, func(t *testing.T) {
			var p *running
			var out string
			if how == "flag" {
				p, out = run(t, bin, t.TempDir(), "-create-per-minute", "3", "-api-token", token)
			} else {
				p, out = runEnv(t, bin, t.TempDir(), token, "-create-per-minute", "3")
			}
			require.NotNil(t, p, out)
			create := func(from, auth string) int {
				req, err := http.NewRequest("POST", p.base+"/api/links", strings.NewReader(`{"url": "https://example.com/p"}`))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", from)
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := client.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				return resp.StatusCode
			}
			for i, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "Bearer " + token + "x", "Bearer " + token[:len(token)-1], "Basic " + token, token, "Bearer  " + token} {
				assert.Equal(t, http.StatusUnauthorized, create(fmt.Sprintf("198.51.100.%d", i+1), auth), "Authorization %q", auth)
			}
			ok := "Bearer " + token
			networks := map[string][]string{
				"198.51.100.0/24": {"198.51.100.1", "::ffff:198.51.100.2", "198.51.100.254", "::ffff:c633:6409"},
				"2001:db8:1::/48": {"2001:db8:1::1", "2001:db8:1:ffff::2", "2001:db8:1:8000:1:2:3:4", "2001:db8:1::1"},
				"198.51.101.0/24": {"198.51.101.9", "198.51.101.10", "198.51.101.11", "198.51.101.12"},
			}
			for n, addrs := range networks {
				for i, a := range addrs {
					want := http.StatusCreated
					if i >= 3 {
						want = http.StatusTooManyRequests
					}
					assert.Equal(t, want, create(a, ok), "network %s, address %s (link %d)", n, a, i+1)
				}
			}
			p.stop()
		})
	}
}

// testPostgresURLForms runs the binary on one PostgreSQL database named
// by URLs of every form a user writes: the README's postgres:///NAME with
// the server in the environment (PGHOST, PGPORT, PGUSER, as libpq and pgx
// read them), a password full of characters that URLs escape, query
// parameters, and postgresql://. Each finds the links the others made,
// and no output ever holds the password; a server that is not there
// fails the start without it either.
func testPostgresURLForms(t *testing.T, bin string) {
	u, err := url.Parse(pgtest.DB(t))
	require.NoError(t, err)
	host, port, err := net.SplitHostPort(u.Host)
	require.NoError(t, err)
	const password = "p@ss/w%rd:ü?#"
	withPassword := *u
	withPassword.User = url.UserPassword(u.User.Username(), password)
	q := u.Query()
	q.Set("application_name", "link tracker")
	q.Set("connect_timeout", "5")
	withQuery := *u
	withQuery.RawQuery = q.Encode()
	forms := []struct {
		name, db string
		env      []string
	}{
		{"env", "postgres:///" + strings.TrimPrefix(u.Path, "/") + "?sslmode=disable", []string{"PGHOST=" + host, "PGPORT=" + port, "PGUSER=" + u.User.Username()}},
		{"password", withPassword.String(), nil},
		{"query", withQuery.String(), nil},
		{"postgresql", "postgresql" + strings.TrimPrefix(withPassword.String(), "postgres"), nil},
	}
	var ids []string
	for _, f := range forms {
		p, out := runIn(t, bin, t.TempDir(), f.env, "-db", f.db)
		require.NotNil(t, p, "%s: %s", f.name, out)
		for _, id := range ids {
			code, _ := p.get("/l/"+id, "198.51.100.7")
			assert.Equal(t, http.StatusFound, code, "%s: a link made through another form", f.name)
		}
		ids = append(ids, p.create("https://example.com/"+f.name))
		p.stop()
		assert.NotContains(t, p.output(), "w%rd", "%s: the password in the output", f.name)
		assert.NotContains(t, p.output(), url.QueryEscape(password)[4:12], "%s: the password in the output", f.name)
	}
	// Nothing listens on the port of a server that has gone.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gone := ln.Addr().String()
	require.NoError(t, ln.Close())
	bad := withPassword
	bad.Host = gone
	p, out := runIn(t, bin, t.TempDir(), nil, "-db", bad.String())
	if p != nil {
		p.stop()
		t.Fatal("the linktracker started without its database")
	}
	assert.Contains(t, out, "-db: ", "the start failure names the flag")
	assert.NotContains(t, out, "w%rd")
	assert.NotContains(t, out, url.QueryEscape(password)[4:12])
	assert.NotContains(t, out, url.PathEscape(password)[4:12])
}

// browserAgent is a person's user agent.
const browserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"

type uniqueness struct {
	Clicks  uint64 `json:"clicks"`
	Unique  uint64 `json:"unique_clicks"`
	Unknown uint64 `json:"unknown_uniqueness"`
}

// testThroughAStalledRedis runs the binary with Redis behind a proxy that,
// once the link exists, holds every byte both ways: a Redis that hangs.
// Every visitor is still redirected, within the bound the README gives
// (-store-timeout "bounds each wait on a store"; set to 100ms here, the
// client gives up after 3 s, thirty times that: not a speed test, a
// missing deadline), each click made while Redis hangs is counted with
// its uniqueness unknown (as the README says), and once Redis answers
// again uniqueness is known again; after a restart every click is there.
func testThroughAStalledRedis(t *testing.T, bin string) {
	srv := redistest.Start(t, &redistest.Options{Local: true})
	cut, addr := newProxy(t, srv.Addr())
	dir := t.TempDir()
	p, out := run(t, bin, dir, "-redis", addr, "-db", "sqlite:links.db", "-store-timeout", "100ms")
	require.NotNil(t, p, out)
	id := p.create("https://example.com/redis")
	for v := range 6 {
		code, _ := p.get("/l/"+id, fmt.Sprintf("198.51.100.%d", v+1))
		require.Equal(t, http.StatusFound, code)
	}
	cut.stalled.Store(true)
	impatient := &http.Client{CheckRedirect: client.CheckRedirect, Timeout: 3 * time.Second}
	for v := range 8 { // new visitors and some of the first ones again
		req, err := http.NewRequest("GET", p.base+"/l/"+id, nil)
		require.NoError(t, err)
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", v*2+1))
		req.Header.Set("User-Agent", browserAgent) // Go's own agent is a bot's: never unique, never asks the store
		resp, err := impatient.Do(req)
		if !assert.NoError(t, err, "a redirect while Redis hangs waits past 30 times -store-timeout") {
			continue
		}
		resp.Body.Close()
		assert.Equal(t, http.StatusFound, resp.StatusCode, "a redirect while Redis hangs")
	}
	cut.stalled.Store(false)
	// Once Redis answers again (its client may need a moment to drop the
	// connections that hung), a new visitor is unique again.
	unique := false
	for try := 0; try < 50 && !unique; try++ {
		code, _ := p.get("/l/"+id, fmt.Sprintf("203.0.113.%d", try+1))
		require.Equal(t, http.StatusFound, code)
		time.Sleep(100 * time.Millisecond) // the sink's flush interval
		var st uniqueness
		_, body := p.get("/api/links/"+id+"/stats", "192.0.2.1")
		require.NoError(t, json.Unmarshal(body, &st))
		unique = st.Unique > 6
	}
	assert.True(t, unique, "no click was unique after Redis came back")
	p.stop()

	p, out = run(t, bin, dir, "-db", "sqlite:links.db")
	require.NotNil(t, p, out)
	_, body := p.get("/api/links/"+id+"/stats", "192.0.2.1")
	var st uniqueness
	require.NoError(t, json.Unmarshal(body, &st))
	assert.GreaterOrEqual(t, st.Clicks, uint64(6+8+1))
	assert.Equal(t, uint64(6), st.Unique-(st.Clicks-6-8), "the first six clicks were unique, and each after Redis came back")
	assert.Equal(t, uint64(8), st.Unknown, "each click while Redis hung has its uniqueness unknown: %+v", st)
	p.stop()
}
