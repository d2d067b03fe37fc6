package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// EnvURL names the environment variable that points DB at an external
// server instead of a local one.
const EnvURL = "CLICKANON_POSTGRES_URL"

// startTimeout bounds how long a new server may take to accept
// connections.
const startTimeout = 30 * time.Second

// Server is a PostgreSQL server started by the harness, or an external one
// named by CLICKANON_POSTGRES_URL.
//
// Its methods are safe for concurrent use. The zero Server is not usable.
type Server struct {
	base  *url.URL // the server's URL, database "postgres"
	local bool

	dir  string
	port int
	bin  string // directory of the binaries
	cred *syscall.Credential

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}

	dbs atomic.Int64
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Main runs the tests of m and then stops the shared server if one was
// started, then each of after (a TestMain's cleanups, since Main exits).
// Call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M, after ...func()) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.stop()
	}
	for _, f := range after {
		f()
	}
	os.Exit(code)
}

// DB returns the URL of a new, empty database for t on the shared server
// (started on first use), or fails or skips t as the package documentation
// says when there is no server.
func DB(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			shared.srv, shared.err = external(u)
			return
		}
		shared.srv, shared.err = start()
	})
	if shared.err != nil {
		fail(t, shared.err)
	}
	return shared.srv.DB(t)
}

// Start returns a server of t's own, stopped and removed when t ends. It
// always starts a local server, CLICKANON_POSTGRES_URL or not.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		fail(t, err)
	}
	t.Cleanup(s.stop)
	return s
}

// errMissing marks a failure to find PostgreSQL's binaries.
var errMissing = errors.New("pgtest: PostgreSQL not installed")

func fail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, errMissing) && os.Getenv("CI") != "true" {
		t.Skipf("%v", err)
	}
	t.Fatalf("%v", err)
}

func external(raw string) (*Server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %s does not parse as a URL", EnvURL) // never echo: it may hold a password
	}
	s := &Server{base: u}
	if err := s.ping(context.Background(), startTimeout); err != nil {
		return nil, fmt.Errorf("pgtest: %s: %w", EnvURL, err)
	}
	return s, nil
}

// findBin returns the directory holding initdb and postgres.
func findBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	slices.SortFunc(found, func(a, b string) int { return versionOf(b) - versionOf(a) }) // newest first
	for _, p := range found {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "initdb")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	return "", fmt.Errorf("%w: initdb and postgres are neither on PATH nor under /usr/lib/postgresql/*/bin: install them with `apt-get install postgresql`, or set %s to a server's URL", errMissing, EnvURL)
}

func versionOf(bin string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(bin))))
	return v
}

func start() (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, local: true}
	// Not t.TempDir: its parent is private to root, and the server may
	// have to run as another user.
	if s.dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if s.cred, err = unprivileged(s.dir); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.data(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(s.dir)
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	// A free port can be taken between the probe and the server's bind;
	// try a few.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			break
		}
		s.base = &url.URL{Scheme: "postgres", User: url.User("postgres"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), Path: "/postgres", RawQuery: "sslmode=disable"}
		if err = s.run(); err == nil || attempt == 2 {
			break
		}
	}
	if err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	return s, nil
}

// unprivileged returns the credential to run PostgreSQL with, nil when we
// are not root, and gives dir to that user.
func unprivileged(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root, and PostgreSQL refuses root: the harness runs it as user \"postgres\", which does not exist (%v); install the postgresql package, which creates it, or run the tests as another user", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgtest: user \"postgres\" has a non-numeric uid or gid")
	}
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		return nil, fmt.Errorf("pgtest: give the server's directory to user \"postgres\": %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// run starts postgres and waits until it accepts connections.
func (s *Server) run() error {
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.data(),
		"-p", strconv.Itoa(s.port), "-k", s.dir, "-c", "listen_addresses=127.0.0.1",
		// fsync off: data survives a crash of postgres (the fault tests) but
		// not of the machine, which a test server never needs.
		"-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "logging_collector=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	logf, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-done:
			cancel() // exited: stop waiting
		case <-ctx.Done():
		}
	}()
	err = s.ping(ctx, startTimeout)
	cancel()
	if err != nil {
		s.signal(syscall.SIGQUIT)
		log, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
		return fmt.Errorf("pgtest: postgres did not start: %v\n%s", err, log)
	}
	return nil
}

func (s *Server) ping(ctx context.Context, timeout time.Duration) error {
	db, err := sql.Open("pgx", s.base.String())
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(timeout)
	for {
		err = db.PingContext(ctx)
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signal sends sig to the running postgres and waits for it to exit.
func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(startTimeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func (s *Server) stop() {
	if !s.local {
		return
	}
	s.signal(syscall.SIGINT) // fast shutdown
	os.RemoveAll(s.dir)
}

// URL returns the URL of the server's "postgres" database.
func (s *Server) URL() string { return s.base.String() }

// DB creates a new, empty database for t and returns its URL. It is
// dropped when t ends if it can be.
func (s *Server) DB(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("pgtest_%d_%d", os.Getpid(), s.dbs.Add(1))
	db, err := sql.Open("pgx", s.base.String())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", s.base.String())
		if err == nil {
			_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			db.Close()
		}
	})
	u := *s.base
	u.Path = "/" + name
	return u.String()
}

// Restart stops the local server abruptly (immediate shutdown: clients see
// their connections drop, as in a crash), leaves it down for down, and
// starts it again on the same port with the same data. It fails t if the
// server does not come back.
func (s *Server) Restart(t testing.TB, down time.Duration) {
	t.Helper()
	s.Stop(t)
	time.Sleep(down) // the outage itself, not a wait for a result
	s.Resume(t)
}

// Stop stops the local server abruptly (immediate shutdown).
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if !s.local {
		t.Fatalf("pgtest: Stop needs a server started by Start")
	}
	s.signal(syscall.SIGQUIT)
}

// Resume starts a stopped local server again on the same port with its
// data, and waits until it accepts connections.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.run()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgtest: resume: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
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
