package firstrun_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
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

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// examples are the example programs and the flags each documents.
var examples = map[string][]string{
	"linktracker": {"-addr", "-db", "-redis", "-trusted-proxies", "-client-ip-header", "-exclude", "-api-token", "-create-per-minute", "-store-timeout", "-flush-interval", "-geoip", "-demo", "-redis-allow-persistence", "-redis-allow-eviction"},
	"anonymize":   {"-ipv4", "-ipv6", "-field", "-delim", "-placeholder", "-skip-private", "-j", "-max-line"},
	"privacytest": {"-addr", "-trusted-proxies"},
}

// runIn runs program name with args in dir (stdin empty) and returns its
// exit status and what it wrote to stdout and stderr together.
func runIn(t *testing.T, dir, name string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(program(t, name), args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader("")
	cmd.Env = append(os.Environ(), "LINKTRACKER_API_TOKEN=")
	done := make(chan struct{})
	timer := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	out, err := cmd.CombinedOutput()
	close(done)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	require.NoError(t, err, "%s %q: %s", name, args, out)
	return 0, string(out)
}

// emptyDir fails the test if dir holds anything: a program that refused
// to start left a file behind (a database created before it gave up).
func emptyDir(t *testing.T, dir, what string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Empty(t, names, "%s left files in its working directory", what)
}

// TestHelp: each example program asked for help (-h, -help, --help, also
// after another flag) prints a usage that names the program (not the
// path it was started by) and every flag it documents, writes nothing
// else, leaves its directory as it was and exits 0, as go's own flag
// handling and the other programs do: asking for help is not an error a
// script should stop on.
func TestHelp(t *testing.T) {
	t.Parallel()
	for name, flags := range examples {
		for _, args := range [][]string{{"-h"}, {"-help"}, {"--help"}, {"-ipv4=24", "-h"}} {
			if args[0] == "-ipv4=24" {
				args = []string{flags[0] + "=" + map[bool]string{true: "24", false: "127.0.0.1:0"}[name == "anonymize"], "-h"}
			}
			t.Run(name+strings.Join(args, "_"), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				code, out := runIn(t, dir, name, args...)
				assert.Equal(t, 0, code, "%s %s exits 0", name, strings.Join(args, " "))
				first, _, _ := strings.Cut(out, "\n")
				assert.True(t, strings.HasPrefix(strings.ToLower(first), "usage: "+name+" "), "%s %s begins with its usage, naming it: %q", name, args, first)
				assert.NotContains(t, out, program(t, name), "the usage names the program, not the path it was started by")
				for _, f := range flags {
					assert.Regexp(t, `(?m)^  `+f+`( |$)`, out, "%s's usage lists %s", name, f)
				}
				emptyDir(t, dir, name+" -h")
			})
		}
	}
}

// TestBadFlags: each example program given a flag it does not have, a
// flag value that is wrong (and holds an address, which an error line
// must not echo), or an argument it does not take, says so on one line
// that begins with its name and names the flag, echoes no address,
// exits 2 (or the status its doc gives: anonymize's is 1 for a value it
// refuses after parsing) and leaves its working directory empty.
func TestBadFlags(t *testing.T) {
	t.Parallel()
	type bad struct {
		name string
		args []string
		want string // in the first line
		code int    // the exit status, when the program documents one other than 2
	}
	cases := map[string][]bad{
		"linktracker": {
			{"unknown flag", []string{"-nope"}, "-nope", 0},
			{"unknown flag after good ones", []string{"-addr", "127.0.0.1:0", "-x=198.51.100.77"}, "-x", 0},
			{"int holding an address", []string{"-create-per-minute=198.51.100.77"}, "-create-per-minute", 0},
			{"duration holding an address", []string{"-store-timeout", "2001:db8::77"}, "-store-timeout", 0},
			{"bool holding an address", []string{"-demo=198.51.100.77"}, "-demo", 0},
			{"flag without its value", []string{"-addr"}, "-addr", 0},
			{"bad proxy list", []string{"-trusted-proxies", "198.51.100.77/40"}, "-trusted-proxies", 0},
			{"bad exclusion", []string{"-exclude", "2001:db8::77/129"}, "-exclude", 0},
			{"stray argument", []string{"198.51.100.77"}, "argument", 0},
		},
		"anonymize": {
			{"unknown flag", []string{"-nope"}, "-nope", 0},
			{"unknown flag after good ones", []string{"-ipv4=16", "-x=198.51.100.77"}, "-x", 0},
			{"int holding an address", []string{"-ipv4=198.51.100.77"}, "-ipv4", 0},
			{"bits out of range", []string{"-ipv6", "129"}, "-ipv6", 1}, // "1 when a flag's value was refused"
			{"bool holding an address", []string{"-skip-private=2001:db8::77"}, "-skip-private", 0},
			{"flag without its value", []string{"-field"}, "-field", 0},
		},
		"privacytest": {
			{"unknown flag", []string{"-nope"}, "-nope", 0},
			{"flag without its value", []string{"-addr"}, "-addr", 0},
			{"bad proxy", []string{"-trusted-proxies", "198.51.100.77/33"}, "-trusted-proxies", 0},
			{"bad proxy in a list", []string{"-trusted-proxies", "10.0.0.0/8,2001:db8::77/129"}, "-trusted-proxies", 0},
			{"stray argument", []string{"198.51.100.77"}, "argument", 0},
		},
	}
	for name, bads := range cases {
		for _, b := range bads {
			t.Run(name+"/"+b.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				code, out := runIn(t, dir, name, b.args...)
				want := 2
				if b.code != 0 {
					want = b.code
				}
				assert.Equal(t, want, code, "%s %s exits %d:\n%s", name, b.args, want, out)
				first, _, _ := strings.Cut(out, "\n")
				assert.True(t, strings.HasPrefix(first, name+": "), "the error line begins with the program's name: %q", first)
				assert.Contains(t, first, b.want, "the error line names what was wrong")
				ipmasktest.AssertNoRawIP(t, ipmask.Default, out, "the output of "+name+" refusing its flags")
				emptyDir(t, dir, name+" refusing its flags")
			})
		}
	}
}

// TestPortTaken: a server example started on a port another program holds
// (a tracker already running: the quick start's `./linktracker &` run
// twice) says which flag to change, echoes no address, exits 2 and writes
// nothing in its directory (no database created and left behind).
func TestPortTaken(t *testing.T) {
	t.Parallel()
	for _, network := range []string{"tcp4", "tcp6"} {
		ln, err := net.Listen(network, map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::1]:0"}[network])
		if err != nil {
			t.Logf("%s: %v", network, err)
			continue
		}
		t.Cleanup(func() { ln.Close() })
		for _, name := range []string{"linktracker", "privacytest"} {
			t.Run(name+"/"+network, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				code, out := runIn(t, dir, name, "-addr", ln.Addr().String())
				assert.Equal(t, 2, code, "%s on a taken port:\n%s", name, out)
				first, _, _ := strings.Cut(out, "\n")
				assert.True(t, strings.HasPrefix(first, name+": "), "the error line begins with the program's name: %q", first)
				assert.Contains(t, first, "-addr", "the error says which flag chooses another address: %q", first)
				assert.Contains(t, first, "in use", "the error says the address is in use: %q", first)
				ipmasktest.AssertNoRawIP(t, ipmask.Default, out)
				emptyDir(t, dir, name+" on a taken port")
			})
		}
	}
}

// lt is a running linktracker.
type lt struct {
	cmd  *exec.Cmd
	base string
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
}

func (p *lt) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// startTracker starts the linktracker in dir with args and waits for its
// listening line.
func startTracker(t *testing.T, dir string, args ...string) *lt {
	t.Helper()
	p := &lt{done: make(chan struct{})}
	p.cmd = exec.Command(program(t, "linktracker"), args...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "LINKTRACKER_API_TOKEN=")
	r, w := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = w, w
	require.NoError(t, p.cmd.Start())
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if rest, ok := strings.CutPrefix(sc.Text(), "linktracker listening on "); ok {
				base, _, _ := strings.Cut(rest, " ")
				listening <- base
			}
		}
	}()
	go func() { _ = p.cmd.Wait(); _ = w.Close(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	select {
	case p.base = <-listening:
	case <-p.done:
		t.Fatalf("the linktracker exited: %s", p.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("the linktracker did not listen: %s", p.output())
	}
	return p
}

// stop sends SIGTERM and returns the exit status.
func (p *lt) stop(t *testing.T) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the linktracker did not stop on SIGTERM: %s", p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}

var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       20 * time.Second,
}

func (p *lt) do(t *testing.T, method, path, body, agent string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("User-Agent", agent)
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// TestRunTwiceInOneDirectory: the quick start run, stopped and run again
// in the same directory with its defaults (sqlite:linktracker.db there),
// several times: each run starts, the links made and the clicks counted by
// every earlier run are still there, and each stop exits 0. The directory
// holds the database and nothing else (its -wal and -shm at most).
func TestRunTwiceInOneDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var ids []string
	for run := range 3 {
		p := startTracker(t, dir, "-addr", "127.0.0.1:0", "-flush-interval", "1h")
		for i, id := range ids {
			code, hdr, body := p.do(t, "GET", "/l/"+id, "", fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) run/%d", run))
			require.Equal(t, http.StatusFound, code, "run %d: link %d of an earlier run redirects: %s", run, i, body)
			assert.Equal(t, fmt.Sprintf("https://example.com/%d", i), hdr.Get("Location"))
			_, _, stats := p.do(t, "GET", "/api/links/"+id+"/stats", "", "curl/8")
			assert.Contains(t, stats, fmt.Sprintf(`"clicks": %d,`, run-i+1), "run %d: link %d has every click of every run: %s", run, i, stats)
		}
		code, _, body := p.do(t, "POST", "/api/links", fmt.Sprintf(`{"url":"https://example.com/%d"}`, run), "curl/8")
		require.Equal(t, http.StatusCreated, code, body)
		id := body[strings.Index(body, `"id": "`)+7:]
		id = id[:strings.Index(id, `"`)]
		ids = append(ids, id)
		code, _, _ = p.do(t, "GET", "/l/"+id, "", fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) run/%d", run))
		require.Equal(t, http.StatusFound, code)
		assert.Equal(t, 0, p.stop(t), "run %d exits 0 on SIGTERM:\n%s", run, p.output())
		ipmasktest.AssertNoRawIP(t, ipmask.Default, strings.ReplaceAll(p.output(), p.base, ""), "the log of run %d", run)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.True(t, strings.HasPrefix(e.Name(), "linktracker.db"), "the directory holds %s", e.Name())
	}
}

// TestUnwritableDirectory: the quick start run in a directory its user
// cannot write (run as nobody, so that root's rights do not hide it) with
// the default database: the tracker refuses to start, exits 2, and its
// error names -db and says what to do (a directory it can write, or
// -db sqlite:PATH elsewhere), echoing no address.
func TestUnwritableDirectory(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the tracker as nobody")
	}
	// The binary where nobody may run it, the working directory nobody
	// may not write.
	shared, err := os.MkdirTemp("", "firstrun-ro")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(shared) })
	require.NoError(t, os.Chmod(shared, 0o755))
	bin := filepath.Join(shared, "linktracker")
	b, err := os.ReadFile(program(t, "linktracker"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, b, 0o755))
	dir := filepath.Join(shared, "ro")
	require.NoError(t, os.Mkdir(dir, 0o755))

	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LINKTRACKER_API_TOKEN=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	timer := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the tracker started in a directory it cannot write: %s", out)
	assert.Equal(t, 2, exit.ExitCode())
	first, _, _ := strings.Cut(string(out), "\n")
	assert.True(t, strings.HasPrefix(first, "linktracker: -db: "), "the error names -db: %q", first)
	assert.Contains(t, first, "-db sqlite:", "the error says how to put the database elsewhere: %q", first)
	ipmasktest.AssertNoRawIP(t, ipmask.Default, out)
	emptyDir(t, dir, "a tracker that could not start")
}
