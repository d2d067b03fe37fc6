package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvAddr names the environment variable that points tests at an external
// server (host:port) instead of a local redis-server.
const EnvAddr = "CLICKANON_REDIS_ADDR"

// startTimeout bounds how long Start waits for a new server to answer PING.
const startTimeout = 10 * time.Second

// Options configures [Start]. The zero value (or nil) starts a local server
// without persistence, or uses the server named by CLICKANON_REDIS_ADDR.
type Options struct {
	// Persistence leaves the server's default snapshot settings on
	// (instead of --save "" --appendonly no), as a production server may
	// have them. It implies Local.
	Persistence bool

	// Local starts a local redis-server even when CLICKANON_REDIS_ADDR is
	// set. Tests that call Restart, Kill or Save need it.
	Local bool

	// Args are extra command-line arguments for redis-server, e.g.
	// []string{"--maxmemory", "10mb"}. They imply Local.
	Args []string
}

// Server is a redis-server started by [Start], or an external one.
//
// Its methods are safe for concurrent use. The zero Server is not usable.
type Server struct {
	t     testing.TB
	addr  string
	port  int
	dir   string
	args  []string
	local bool

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start returns a running server for t and registers its shutdown with
// t.Cleanup. It fails the test (t.Fatal) if no server can be started.
func Start(t testing.TB, opts *Options) *Server {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
		o.Args = append([]string(nil), opts.Args...)
	}
	local := o.Local || o.Persistence || len(o.Args) > 0
	if a := os.Getenv(EnvAddr); a != "" && !local {
		if err := ping(a, startTimeout); err != nil {
			t.Fatalf("redistest: %s=%q: %v", EnvAddr, a, err)
		}
		return &Server{t: t, addr: a}
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redistest: redis-server not found in PATH (%v): install it with `apt-get install redis-server`, or set %s to a server's host:port", err, EnvAddr)
	}
	s := &Server{t: t, dir: t.TempDir(), local: true}
	s.args = []string{"--bind", "127.0.0.1", "--protected-mode", "no", "--dir", s.dir, "--logfile", "", "--daemonize", "no"}
	if !o.Persistence {
		s.args = append(s.args, "--save", "", "--appendonly", "no")
	}
	s.args = append(s.args, o.Args...)
	t.Cleanup(s.stop)

	// A free port can be taken between our probe and the server's bind;
	// try a few.
	for attempt := 0; ; attempt++ {
		s.port, err = freePort()
		if err != nil {
			t.Fatalf("redistest: no free port: %v", err)
		}
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
		err = s.start(bin)
		if err == nil {
			return s
		}
		if attempt == 2 {
			t.Fatalf("redistest: %v", err)
		}
	}
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Dir returns the local server's working directory, where its dump goes,
// or "" for an external server.
func (s *Server) Dir() string { return s.dir }

// Local reports whether the server was started by Start (as opposed to
// named by CLICKANON_REDIS_ADDR).
func (s *Server) Local() bool { return s.local }

// Kill stops the local server abruptly (SIGKILL) and waits for it to exit.
// Clients see their connections drop.
func (s *Server) Kill() {
	s.t.Helper()
	s.mustLocal("Kill")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

// Restart starts the local server again on the same port after a Kill (or
// kills it first if it is running), and waits until it answers PING. Data
// not saved is gone, as after a crash.
func (s *Server) Restart() {
	s.t.Helper()
	s.mustLocal("Restart")
	s.mu.Lock()
	s.killLocked()
	s.mu.Unlock()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		s.t.Fatalf("redistest: redis-server not found in PATH: install it with `apt-get install redis-server`")
	}
	// The port was just released; the kernel may need a moment.
	deadline := time.Now().Add(startTimeout)
	for {
		err = s.start(bin)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

// Save makes the local server write its snapshot (SAVE) and returns the
// bytes of the dump file.
func (s *Server) Save() []byte {
	s.t.Helper()
	s.mustLocal("Save")
	reply, err := Do(s.addr, "SAVE")
	if err != nil {
		s.t.Fatalf("redistest: SAVE: %v", err)
	}
	if reply != "OK" {
		s.t.Fatalf("redistest: SAVE: reply %q", reply)
	}
	b, err := os.ReadFile(filepath.Join(s.dir, "dump.rdb"))
	if err != nil {
		s.t.Fatalf("redistest: reading the dump: %v", err)
	}
	return b
}

// Do sends one command to the server at addr and returns its reply as
// text: a simple string, an integer, a bulk string, or the elements of an
// array joined by newlines. An error reply is returned as an error. It is
// for test set-up (FLUSHALL, CONFIG SET), not for code under test.
func Do(addr string, args ...string) (string, error) {
	v, err := DoValue(addr, args...)
	if err != nil {
		return "", err
	}
	return flatten(v), nil
}

// flatten writes a reply as Do returns it.
func flatten(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = flatten(e)
		}
		return strings.Join(parts, "\n")
	}
	return ""
}

// DoValue is [Do] returning the reply's structure: a string (simple or
// bulk), an int64, nil (a null reply) or a []any of those.
func DoValue(addr string, args ...string) (any, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var b []byte
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write(b); err != nil {
		return nil, err
	}
	return readValue(bufio.NewReader(conn))
}

func readValue(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("redistest: empty reply line")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '-':
		return nil, fmt.Errorf("redistest: server error %q", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return nil, fmt.Errorf("redistest: bad bulk length %q", line)
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return nil, fmt.Errorf("redistest: bad array length %q", line)
		}
		if n < 0 {
			return nil, nil
		}
		out := make([]any, 0, n)
		for range n {
			v, err := readValue(r)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("redistest: unexpected reply %q", line)
}

func (s *Server) mustLocal(what string) {
	s.t.Helper()
	if !s.local {
		s.t.Fatalf("redistest: %s needs a local server: start it with Options.Local", what)
	}
}

// start runs redis-server on s.port and waits for PING.
func (s *Server) start(bin string) error {
	args := append([]string{"--port", strconv.Itoa(s.port)}, s.args...)
	cmd := exec.Command(bin, args...)
	out := &limitedWriter{n: 64 << 10}
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %v", err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			return fmt.Errorf("redis-server on port %d exited (%v): %s", s.port, waitErr, out.String())
		default:
		}
		if ping(s.addr, 200*time.Millisecond) == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("redis-server on port %d did not answer PING within %v: %s", s.port, startTimeout, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

func (s *Server) killLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(startTimeout):
		s.t.Errorf("redistest: redis-server on port %d did not exit after SIGKILL", s.port)
	}
	s.cmd, s.done = nil, nil
}

func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

func ping(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		reply, err := Do(addr, "PING")
		if err == nil && reply == "PONG" {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("PING answered %q", reply)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// limitedWriter keeps the first n bytes of the server's output, for error
// messages, and discards the rest.
type limitedWriter struct {
	mu sync.Mutex
	w  bytes.Buffer
	n  int
}

func (l *limitedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
