package readme_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/readme"
	"github.com/clickanon/clickanon/internal/testlog"
)

// quickStart runs the shell commands of the README's "Quick start" in a
// temporary directory, the way a newcomer would, with what a test needs
// changed: the binary is built there, servers listen on free ports (the
// documented ports are rewritten in every later command and answer), and
// the word ID stands for the id the link creation answered. A comment
// "# answers `a`, `b`" after a command lists text its output must hold.
type quickStart struct {
	t     *testing.T
	root  string
	dir   string
	subst map[string]string // documented text -> this run's
	id    string
}

var (
	answerRE = regexp.MustCompile("`([^`]+)`")
	idRE     = regexp.MustCompile(`\bID\b`)
	portRE   = regexp.MustCompile(`(?:127\.0\.0\.1|localhost):(\d+)|--port (\d+)`)
)

func TestQuickStart(t *testing.T) {
	root := repoRoot(t)
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	q := &quickStart{t: t, root: root, dir: t.TempDir(), subst: map[string]string{}}
	ran := 0
	for _, b := range readme.Blocks(md) {
		if b.Section != "Quick start" || b.Lang != "sh" {
			continue
		}
		for i, line := range strings.Split(strings.TrimRight(b.Text, "\n"), "\n") {
			cmd, comment, _ := strings.Cut(line, " # ")
			cmd = strings.TrimSpace(cmd)
			if cmd == "" || strings.HasPrefix(cmd, "#") {
				continue
			}
			t.Logf("README.md:%d: %s", b.Line+i, cmd)
			q.run(fmt.Sprintf("README.md:%d", b.Line+i), cmd, comment)
			ran++
		}
	}
	require.GreaterOrEqual(t, ran, 5, "the quick start has commands")
	require.NotEmpty(t, q.id, "a command created a link")
	t.Run("flags", func(t *testing.T) { checkFlags(t, filepath.Join(q.dir, "linktracker"), md) })
}

var (
	// helpFlagRE is a flag's line in the flag package's -help output, and
	// helpDefaultRE the default at the end of its usage line.
	helpFlagRE    = regexp.MustCompile(`(?m)^  -([a-z][a-z-]*)(?: [^\n]*)?\n(?:    \t([^\n]*))?`)
	helpDefaultRE = regexp.MustCompile(`\(default ([^:)][^)]*)\)$`)
	// flagSpanRE is a code span that starts with a flag, with the
	// parenthesis after it; commandRE a tracker's command line.
	flagSpanRE = regexp.MustCompile("`-([a-z][a-z-]*)[^`]*`(?: \\(([^)]*)\\))?")
	commandRE  = regexp.MustCompile(`(?m)^\./linktracker( .*)$`)
	cmdFlagRE  = regexp.MustCompile(` -([a-z][a-z-]*)`)
)

// checkFlags compares the flags README.md's linktracker sections name
// (from "Quick start" to the next second-level heading) with those the
// binary's -help lists: each named flag exists, each flag is named, and
// a default written after one, "`-store-timeout` (500ms)" or "(the
// default, `sqlite:linktracker.db`)", is the binary's.
func checkFlags(t *testing.T, binary string, md []byte) {
	t.Helper()
	text := string(md)
	start := strings.Index(text, "\n## Quick start\n")
	require.Positive(t, start, "README.md has a Quick start section")
	text = text[start+1:]
	if end := strings.Index(text[3:], "\n## "); end >= 0 {
		text = text[:end+3]
	}
	out, err := exec.Command(binary, "-help").CombinedOutput()
	require.NoError(t, err, "-help exits with status 0: %s", out)
	defaults := map[string]string{}
	for _, m := range helpFlagRE.FindAllStringSubmatch(string(out), -1) {
		defaults[m[1]] = ""
		if d := helpDefaultRE.FindStringSubmatch(m[2]); d != nil {
			defaults[m[1]] = strings.Trim(d[1], `"`)
		}
	}
	require.GreaterOrEqual(t, len(defaults), 5, "-help lists the flags:\n%s", out)

	named := map[string]bool{}
	for _, m := range flagSpanRE.FindAllStringSubmatch(text, -1) {
		name, paren := m[1], m[2]
		named[name] = true
		def, ok := defaults[name]
		if !assert.True(t, ok, "README.md names -%s, which the linktracker does not have", name) {
			continue
		}
		if v, ok := statedDefault(paren); ok {
			assert.Equal(t, def, v, "README.md states the default of -%s", name)
		}
	}
	for _, m := range commandRE.FindAllStringSubmatch(text, -1) {
		args, _, _ := strings.Cut(m[1], " # ")
		for _, f := range cmdFlagRE.FindAllStringSubmatch(args, -1) {
			named[f[1]] = true
			assert.Contains(t, defaults, f[1], "README.md runs the linktracker with -%s, which it does not have", f[1])
		}
	}
	for name := range defaults {
		assert.True(t, named[name], "the linktracker's -%s is not in README.md's linktracker sections", name)
	}
}

// statedDefault reads the parenthesis after a flag as a default: a bare
// value ("10", "500ms") or "the default, `value`".
func statedDefault(paren string) (string, bool) {
	if rest, ok := strings.CutPrefix(paren, "the default, "); ok {
		return strings.Trim(rest, "`"), true
	}
	if paren != "" && !strings.ContainsAny(paren, " `$") {
		return paren, true
	}
	return "", false
}

// rewrite replaces documented ports, addresses and the ID in s.
func (q *quickStart) rewrite(s string) string {
	for from, to := range q.subst {
		s = strings.ReplaceAll(s, from, to)
	}
	if q.id != "" {
		s = idRE.ReplaceAllString(s, q.id)
	}
	return s
}

// freePort is a loopback port nobody listens on.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// newPorts maps every port cmd names and has not been mapped yet to a
// free one.
func (q *quickStart) newPorts(cmd string) {
	for _, m := range portRE.FindAllStringSubmatch(cmd, -1) {
		port := m[1] + m[2]
		if _, ok := q.subst[":"+port]; ok {
			continue
		}
		p := freePort(q.t)
		q.subst[":"+port] = ":" + p
		q.subst["--port "+port] = "--port " + p
	}
}

func (q *quickStart) run(where, cmd, comment string) {
	t := q.t
	var want []string
	if strings.HasPrefix(strings.TrimSpace(comment), "answers") {
		for _, m := range answerRE.FindAllStringSubmatch(comment, -1) {
			want = append(want, m[1])
		}
	}
	background := strings.HasSuffix(cmd, "&")
	cmd = strings.TrimSpace(strings.TrimSuffix(cmd, "&"))
	dir := q.dir
	switch {
	case strings.HasPrefix(cmd, "go build"):
		dir = q.root // the module is there; the binary comes here
		cmd = strings.Replace(cmd, "-o linktracker", "-o "+filepath.Join(q.dir, "linktracker"), 1)
	case strings.HasPrefix(cmd, "redis-server"):
		if _, err := exec.LookPath("redis-server"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s: redis-server is not installed (apt-get install redis-server; .ci/run does)", where)
			}
			t.Skipf("%s: redis-server is not installed; the rest of the quick start is not run", where)
		}
		q.newPorts(cmd)
	case strings.HasPrefix(cmd, "./linktracker"):
		if !strings.Contains(cmd, "-addr") {
			q.newPorts("localhost:8080") // the default address
		}
		q.newPorts(cmd)
		if !strings.Contains(cmd, "-addr") {
			cmd += " -addr 127.0.0.1:8080"
		}
	}
	cmd = q.rewrite(cmd)
	for i := range want {
		want[i] = q.rewrite(want[i])
	}
	if background {
		q.start(where, dir, cmd, want)
		return
	}
	c := exec.Command("bash", "-c", cmd)
	c.Dir = dir
	c.WaitDelay = time.Second
	timer := time.AfterFunc(2*time.Minute, func() { _ = c.Process.Kill() })
	defer timer.Stop()
	out, err := c.CombinedOutput()
	require.NoError(t, err, "%s: %s\n%s", where, cmd, out)
	for _, w := range want {
		assert.Contains(t, string(out), w, "%s: %s answers", where, cmd)
	}
	if q.id == "" && strings.Contains(cmd, "/api/links") {
		var link struct{ ID string }
		if json.Unmarshal(out, &link) == nil && link.ID != "" {
			q.id = link.ID
		}
	}
}

// start runs a server in the background until the test ends, waiting for
// its first line of output (the tracker) or for its port (redis-server),
// and checks that its output holds want.
func (q *quickStart) start(where, dir, cmd string, want []string) {
	t := q.t
	c := exec.Command("bash", "-c", "exec "+cmd)
	c.Dir = dir
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := c.StdoutPipe()
	require.NoError(t, err)
	var stderr syncBuf
	c.Stderr = &stderr
	require.NoError(t, c.Start(), "%s: %s", where, cmd)
	exited := make(chan struct{})
	var out syncBuf
	go func() {
		_, _ = io.Copy(&out, bufio.NewReader(stdout))
		_ = c.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	port := ""
	if m := portRE.FindStringSubmatch(cmd); m != nil {
		port = m[1] + m[2]
	}
	ok := assert.Eventually(t, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		if port == "" {
			return strings.Contains(out.String(), "\n")
		}
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 100*time.Millisecond)
		if err == nil {
			conn.Close()
		}
		return err == nil
	}, 30*time.Second, 20*time.Millisecond)
	select {
	case <-exited:
		t.Fatalf("%s: %s exited:\n%s%s", where, cmd, out.String(), stderr.String())
	default:
	}
	require.True(t, ok, "%s: %s did not start", where, cmd)
	if len(want) > 0 {
		require.Eventually(t, func() bool { return strings.Contains(out.String(), "\n") }, 10*time.Second, 10*time.Millisecond)
	}
	for _, w := range want {
		assert.Contains(t, out.String(), w, "%s: %s says", where, cmd)
	}
}

// syncBuf is a buffer a child process writes to while the test reads it.
type syncBuf = testlog.Buffer
