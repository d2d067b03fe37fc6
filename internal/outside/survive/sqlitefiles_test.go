package survive_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// smallDisk mounts a tmpfs of size bytes on a new directory and unmounts
// it when t ends. The tests run as root in CI (the brief's machine); a
// test that cannot mount fails, saying so.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	require.NoError(t, err, "mount a %s tmpfs (needs root): %s", size, out)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the file system is full and returns its
// path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.Create(name)
	require.NoError(t, err)
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			require.True(t, errors.Is(err, syscall.ENOSPC), "filling the disk: %v", err)
			break
		}
	}
	_ = f.Sync()
	return name
}

// TestSQLiteOnAFullDisk runs the linktracker on a SQLite file on a small
// file system that then fills up (its disk, a log next to it): every
// existing link must go on redirecting, a link that cannot be stored must
// not be answered 201, and once space is freed every click made meanwhile
// must be counted and every link answered 201 must be there after a
// restart, and no other.
func TestSQLiteOnAFullDisk(t *testing.T) {
	t.Parallel()
	disk := smallDisk(t, "1m")
	dsn := "sqlite:" + filepath.Join(disk, "links.db")
	p, out := start(t, disk, "-db", dsn)
	require.NotNil(t, p, "%s", out)
	clicks := map[string]uint64{}
	code, first := p.create("https://example.com/before")
	require.Equal(t, http.StatusCreated, code)
	clicks[first] = 0

	filler := fill(t, disk)
	refused := 0
	for i := range 30 {
		code, id := p.create(fmt.Sprintf("https://example.com/full/%d", i))
		if code == http.StatusCreated {
			clicks[id] = 0
			continue
		}
		refused++
		assert.Equal(t, http.StatusInternalServerError, code, "a link that could not be stored")
	}
	for range 5 {
		for id := range clicks {
			code, _, _ := p.get("/l/" + id)
			if assert.Equal(t, http.StatusFound, code, "a redirect while the disk is full") {
				clicks[id]++
			}
		}
	}
	require.NoError(t, os.Remove(filler))
	code, after := p.create("https://example.com/after")
	require.Equal(t, http.StatusCreated, code, "a link once space is freed")
	clicks[after] = 0
	p.stop()

	p, out = start(t, disk, "-db", dsn)
	require.NotNil(t, p, "%s", out)
	for id, n := range clicks {
		code, _, _ := p.get("/l/" + id)
		assert.Equal(t, http.StatusFound, code, "a link answered 201")
		assert.Equal(t, n+1, p.clicks(id), "clicks made while the disk was full, and one now")
	}
	p.stop()
	db, err := sql.Open("sqlite", filepath.Join(disk, "links.db"))
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM linktracker_links").Scan(&n))
	assert.Equal(t, len(clicks), n, "links stored: those answered 201 (%d refused)", refused)
}

// TestSQLiteLockedByAnotherProcess holds SQLite's write lock on the
// linktracker's file from another process (a backup, a person with the
// sqlite3 shell in a transaction) for a while: redirects of existing
// links and the statistics API must go on answering, link creation must
// answer (not 201: it cannot be stored), and once the lock is released
// every click made meanwhile is counted.
func TestSQLiteLockedByAnotherProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "links.db")
	p, out := start(t, dir, "-db", "sqlite:"+file)
	require.NotNil(t, p, "%s", out)
	code, id := p.create("https://example.com/locked")
	require.Equal(t, http.StatusCreated, code)
	code, _, _ = p.get("/l/" + id)
	require.Equal(t, http.StatusFound, code)
	require.Equal(t, uint64(1), p.clicks(id))

	release := lockFile(t, file)
	for range 10 {
		code, loc, _ := p.get("/l/" + id)
		assert.Equal(t, http.StatusFound, code, "a redirect while another process holds the write lock")
		assert.Equal(t, "https://example.com/locked", loc)
	}
	code, _ = p.create("https://example.com/while-locked")
	assert.NotEqual(t, http.StatusCreated, code, "a link cannot be stored while another process holds the lock")
	release()

	code, _ = p.create("https://example.com/unlocked")
	assert.Equal(t, http.StatusCreated, code, "a link once the lock is released")
	p.stop()

	p, out = start(t, dir, "-db", "sqlite:"+file)
	require.NotNil(t, p, "%s", out)
	assert.Equal(t, uint64(11), p.clicks(id), "every click made while the database was locked")
	p.stop()
}

// lockFile takes SQLite's write lock on file, as another process would
// (BEGIN IMMEDIATE, held), and returns the function that releases it.
func lockFile(t *testing.T, file string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		_, err := conn.ExecContext(ctx, "ROLLBACK")
		assert.NoError(t, err)
		assert.NoError(t, conn.Close())
		assert.NoError(t, db.Close())
	}
	t.Cleanup(release)
	return release
}

// TestStatsWhileSQLiteLocked asks a link's statistics while another
// process holds the SQLite file's write lock, with a click buffered that
// cannot be written meanwhile. In WAL mode (which the
// linktracker sets) a writer does not block readers: the stored counts
// can be read, and the statistics API must answer them, not an error.
func TestStatsWhileSQLiteLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "links.db")
	p, out := start(t, dir, "-db", "sqlite:"+file)
	require.NotNil(t, p, "%s", out)
	defer p.stop()
	code, id := p.create("https://example.com/locked")
	require.Equal(t, http.StatusCreated, code)
	for range 3 {
		code, _, _ = p.get("/l/" + id)
		require.Equal(t, http.StatusFound, code)
	}
	require.Equal(t, uint64(3), p.clicks(id)) // written: the stats API flushes first

	release := lockFile(t, file)
	defer release()
	code, _, _ = p.get("/l/" + id) // a click the instance buffers and cannot write
	require.Equal(t, http.StatusFound, code)
	code, _, body := p.get("/api/links/" + id + "/stats")
	assert.Equal(t, http.StatusOK, code, "the statistics while the database is locked: %s", body)
	var st struct {
		Clicks uint64 `json:"clicks"`
	}
	if code == http.StatusOK {
		require.NoError(t, json.Unmarshal([]byte(body), &st))
		assert.Contains(t, []uint64{3, 4}, st.Clicks, "the stored clicks, and the buffered one if it could be written")
	}
}

// TestSQLiteOnAReadOnlyFileSystem starts the linktracker on a SQLite file
// whose file system was remounted read-only (a full disk an operator
// froze, a container's read-only root): it cannot store a link, so it
// must not pretend to run; it must exit at once with an error naming the
// -db flag, and no panic.
func TestSQLiteOnAReadOnlyFileSystem(t *testing.T) {
	t.Parallel()
	disk := smallDisk(t, "1m")
	dsn := "sqlite:" + filepath.Join(disk, "links.db")
	p, out := start(t, disk, "-db", dsn)
	require.NotNil(t, p, "%s", out)
	code, _ := p.create("https://example.com/ro")
	require.Equal(t, http.StatusCreated, code)
	p.stop()
	out2, err := exec.Command("mount", "-o", "remount,ro", disk).CombinedOutput()
	require.NoError(t, err, "remount read-only: %s", out2)

	p, out = start(t, t.TempDir(), "-db", dsn)
	if p != nil {
		p.stop()
		t.Fatalf("the linktracker started on a read-only file system: links it answers 201 could not be stored")
	}
	assert.Contains(t, out, "-db", "the error names the flag")
	assert.NotContains(t, out, "panic")
	assert.NotContains(t, out, "goroutine ")
	assert.True(t, strings.HasPrefix(strings.TrimSpace(out), "linktracker"), "one error line from the linktracker: %s", out)
}
