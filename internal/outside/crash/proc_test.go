package crash_test

import (
	"bufio"
	"context"
	"database/sql"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// event is one line a child printed: its first word, the number after it
// if any, the rest, and when the parent read it.
type event struct {
	kind string
	k    int
	rest string
	at   time.Time
}

// child is a running child process.
type child struct {
	cmd    *exec.Cmd
	events chan event // closed at the end of its output
	mu     sync.Mutex
	stderr strings.Builder
}

func (c *child) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.Write(p)
}

func (c *child) errors() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

// startChild runs the test binary as a child playing part, with env
// added to its environment; it is killed when t ends if still running.
func startChild(t *testing.T, part string, env ...string) *child {
	t.Helper()
	c := &child{events: make(chan event, 4096)}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(append(os.Environ(), childEnv+"="+part), env...)
	c.cmd.Stderr = c
	out, err := c.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, c.cmd.Start())
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	})
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			kind, rest, _ := strings.Cut(sc.Text(), " ")
			e := event{kind: kind, rest: rest, at: time.Now()}
			if n, err := strconv.Atoi(rest); err == nil {
				e.k = n
			}
			c.events <- e
		}
	}()
	return c
}

// withParam adds a query parameter to a PostgreSQL URL.
func withParam(dsn, param string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&" + param
	}
	return dsn + "?" + param
}

// waitGone waits until no session of application app is left on the
// server of dsn: a killed client's transaction has then been committed or
// rolled back for good.
func waitGone(t *testing.T, dsn, app string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		require.NoError(t, db.QueryRowContext(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n))
		if n == 0 {
			return
		}
		require.False(t, time.Now().After(deadline), "sessions of %s still on the server", app)
		time.Sleep(5 * time.Millisecond) // polling a real server
	}
}
