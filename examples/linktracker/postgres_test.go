package main

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startPostgres runs a throwaway PostgreSQL server (initdb in a temporary
// directory, fsync off, trust authentication, 127.0.0.1 on a free port)
// and returns its URL; it is stopped when the test ends. PostgreSQL
// refuses to run as root, so as root it runs as the postgres user. Without
// the binaries the test fails in CI (CI=true) and is skipped elsewhere.
// (At merge, this gives way to the module's PostgreSQL harness if there is
// one.)
func startPostgres(t *testing.T) string {
	t.Helper()
	bin := ""
	if p, err := exec.LookPath("initdb"); err == nil {
		bin = filepath.Dir(p)
	} else if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) > 0 {
		bin = filepath.Dir(m[len(m)-1])
	} else {
		msg := "PostgreSQL is not installed (no initdb in PATH or /usr/lib/postgresql/*/bin): apt-get install postgresql"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir, err := os.MkdirTemp("", "linktracker-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))

	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "as root, PostgreSQL needs the postgres user")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(dir, uid, gid))
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	command := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(filepath.Join(bin, name), args...)
		c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		c.Dir = dir
		return c
	}
	data := filepath.Join(dir, "data")
	out, err := command("initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8").CombinedOutput()
	require.NoError(t, err, "initdb: %s", out)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := command("postgres", "-D", data, "-k", dir, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-F")
	var logs syncBuffer
	srv.Stdout, srv.Stderr = &logs, &logs
	require.NoError(t, srv.Start())
	exited := make(chan struct{})
	go func() { _ = srv.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = srv.Process.Kill()
			<-exited
		}
	})
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer db.Close()
	require.Eventually(t, func() bool { return db.PingContext(context.Background()) == nil }, 30*time.Second, 50*time.Millisecond,
		"PostgreSQL did not start: %s", &logs)
	return url
}

// On PostgreSQL, as on SQLite: links survive a restart, two instances see
// each other's links, and starting again does not re-run the migrations.
func TestLinksOnPostgres(t *testing.T) {
	cfg := config{db: startPostgres(t)}
	a, b := newTrackerWith(t, cfg), newTrackerWith(t, cfg)
	id := a.create("https://example.com/pg")["id"]
	w := b.do("GET", "/l/"+id, "198.51.100.7", browser, nil)
	assert.Equal(t, http.StatusFound, w.Code, "made on a, found by b in the database")
	require.NoError(t, a.app.Close())

	c := newTrackerWith(t, cfg)
	assert.Equal(t, 1, c.app.links.Len(), "loaded at start")
	w = c.do("GET", "/l/"+id, "198.51.100.7", browser, nil)
	assert.Equal(t, "https://example.com/pg", w.Header().Get("Location"))
	var rows, versions int
	require.NoError(t, c.app.db.QueryRow("SELECT count(*), count(DISTINCT version) FROM linktracker_schema").Scan(&rows, &versions))
	files, err := fs.ReadDir(migrations, "migrations/postgres")
	require.NoError(t, err)
	assert.Equal(t, len(files), versions, "every migration applied")
	assert.Equal(t, versions, rows, "each migration recorded once")
}
