package operate_test

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/pgtest"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// lines returns stderr's lines that contain every one of parts.
func lines(stderr string, parts ...string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		all := l != ""
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			out = append(out, l)
		}
	}
	return out
}

// scrapes keeps every scrape of a run, to check that no counter ever
// went back across the failures.
type scrapes struct {
	p    *proc
	last map[string]*family
}

func (s *scrapes) check() map[string]*family {
	s.p.T.Helper()
	now, _, err := s.p.scrape()
	require.NoError(s.p.T, err)
	if s.last != nil {
		assert.NoError(s.p.T, monotonic(s.last, now))
	}
	s.last = now
	return now
}

func (s *scrapes) value(series string) float64 {
	s.p.T.Helper()
	for _, f := range s.check() {
		if v, ok := f.samples[series]; ok {
			return v
		}
	}
	return -1
}

// TestPostgresDownAndBack runs the linktracker on PostgreSQL and stops
// the database mid-run, with clicks going on. /healthz turns 503 with
// database_reachable false, then back to 200; the flush failures are one
// warning for the burst (not one per flush), which says the increments
// stay buffered, and one line says the database is reachable again; the
// flush errors are counted and no counter goes back; the answers
// meanwhile (the stats API, the dashboard, /healthz, a create that
// fails) name no server; every click made
// during the outage reaches the stats API once it ends; and no stderr
// line holds an address (the database's own included). Checked to fail:
// burstlog logging every failure fails the burst count, an error page
// carrying r.RemoteAddr fails the answers' check, and one more click
// during the outage fails the agreement.
func TestPostgresDownAndBack(t *testing.T) {
	t.Parallel() // a child process, waited on
	srv := pgtest.Start(t)
	p := start(t, "-db", srv.DB(t), "-flush-interval", "100ms", "-store-timeout", "300ms")
	s := &scrapes{p: p}
	id := p.createLink("https://example.com/pg")
	vs := visitors()
	click := func(from, to int) {
		for _, v := range vs[from:to] {
			code, _ := p.must("GET", "/l/"+id, v.xff, "")
			require.Equal(t, http.StatusFound, code)
		}
	}
	click(0, 10)
	code, st := p.stats(id)
	require.Equal(t, http.StatusOK, code)
	require.EqualValues(t, 10, st.Clicks)
	s.check()

	srv.Stop(t)
	click(10, 30)
	p.Eventually("/healthz to see the database gone", func() bool {
		code, h := p.health()
		return code == http.StatusServiceUnavailable && !h.Database && h.Status == "unavailable"
	})
	p.Eventually("flush errors counted", func() bool {
		return s.value(`clickanon_sink_flush_errors_total{sink="sql"}`) >= 3
	})
	assert.Positive(t, s.value(`clickanon_sink_buffered{sink="sql"}`), "the outage's increments wait in memory")
	// What the API answers meanwhile names no server: not the database's
	// address either.
	for _, path := range []string{"/api/links/" + id + "/stats", "/links/" + id, "/healthz"} {
		code, body := p.must("GET", path, "", "")
		assert.Less(t, code, 600, path)
		ipmasktest.AssertNoRawIP(t, ipmask.Default, body, "%s during the outage", path)
	}
	code, body := p.must("POST", "/api/links", "", `{"url":"https://example.com/during"}`)
	assert.GreaterOrEqual(t, code, 500, "a link cannot be created without the database: %s", body)
	ipmasktest.AssertNoRawIP(t, ipmask.Default, body, "create during the outage")
	failed := lines(p.Stderr.String(), "sqlsink: flush failed")
	if assert.Len(t, failed, 1, "once per burst:\n%s", p.Stderr.String()) {
		assert.Contains(t, failed[0], "level=WARN")
		assert.Contains(t, failed[0], "retried", "what it costs")
	}

	srv.Resume(t)
	p.Eventually("/healthz ok again", func() bool {
		code, h := p.health()
		return code == http.StatusOK && h.Database
	})
	p.Eventually("the recovery line", func() bool {
		return len(lines(p.Stderr.String(), "sqlsink: database reachable again")) == 1
	})
	click(30, 35)
	p.Eventually("every click in the stats", func() bool {
		code, st = p.stats(id)
		return code == http.StatusOK && st.Clicks == 35
	})
	fams := s.check()
	assert.EqualValues(t, 35, fams["clickanon_tracker_requests_total"].samples[`clickanon_tracker_requests_total{outcome="counted",tracker="linktracker"}`])
	assert.Zero(t, s.value(`clickanon_sink_dropped_total{sink="sql"}`))
	assert.Len(t, lines(p.Stderr.String(), "sqlsink: flush failed"), 1, "no new burst")
	p.noLeak(t, addrsOf(t, vs))
}

// TestRedisLosesItsData runs two kinds of loss on a Redis the tracker
// uses: its data deleted while it runs (FLUSHALL: no restart, the
// connections stay up) and its epoch key alone deleted. Each is a warning
// that says what was lost, counted in /metrics, without an outage on
// /healthz; clicks go on being counted (the stats API agrees with the
// counted requests) and no counter goes back. Checked to fail: the
// restarts counter held at 0 in metrics.Store fails both loss counts.
func TestRedisLosesItsData(t *testing.T) {
	t.Parallel() // a child process, waited on
	srv := redistest.Start(t, &redistest.Options{Local: true})
	p := start(t, "-redis", srv.Addr(), "-store-timeout", "300ms", "-flush-interval", "100ms")
	s := &scrapes{p: p}
	id := p.createLink("https://example.com/redis")
	vs := visitors()
	n := 0
	click := func(vs []visitor) {
		for _, v := range vs {
			code, _ := p.must("GET", "/l/"+id, v.xff, "")
			require.Equal(t, http.StatusFound, code)
			n++
		}
	}
	click(vs[:10])
	s.check()

	_, err := redistest.Do(srv.Addr(), "FLUSHALL")
	require.NoError(t, err)
	i := 0
	p.Eventually("a warning that data was lost", func() bool {
		click(vs[i%10 : i%10+1])
		i++
		return len(lines(p.Stderr.String(), "level=WARN", "lost")) > 0
	})
	assert.Positive(t, s.value(`clickanon_store_restarts_total{store="redis"}`), "the loss is counted:\n%s", p.Stderr.String())

	// The key store loses the epoch key alone (an operator's DEL, an
	// eviction): the next click finds it gone and says so again.
	restarts := s.value(`clickanon_store_restarts_total{store="redis"}`)
	var key string
	p.Eventually("the epoch key shared again", func() bool {
		click(vs[i%10 : i%10+1])
		i++
		key, err = redistest.Do(srv.Addr(), "KEYS", "{linktracker}:k:*")
		require.NoError(t, err)
		return key != ""
	})
	require.NotContains(t, key, "\n", "one epoch key")
	_, err = redistest.Do(srv.Addr(), "DEL", key)
	require.NoError(t, err)
	p.Eventually("a second warning that the key was lost", func() bool {
		click(vs[i%10 : i%10+1])
		i++
		return len(lines(p.Stderr.String(), "level=WARN", "epoch key", "gone")) >= 2
	})
	assert.Greater(t, s.value(`clickanon_store_restarts_total{store="redis"}`), restarts, "the second loss is counted too")
	code, h := p.health()
	assert.Equal(t, http.StatusOK, code, "a loss is not an outage: %+v", h)
	p.Eventually("the stats agree", func() bool {
		_, st := p.stats(id)
		return st.Clicks == uint64(n)
	})
	assert.EqualValues(t, n, s.value(`clickanon_tracker_requests_total{outcome="counted",tracker="linktracker"}`))
	p.noLeak(t, addrsOf(t, vs))
}

// TestStartFailuresSaidOnce starts the binary against every resource an
// operator can get wrong at start: Redis down (a port nothing listens on,
// a server killed, a name that resolves to loopback), PostgreSQL down, a
// SQLite file in a missing directory or that is a directory, a geo file
// missing, empty, truncated or random. Each exits with status 2 before
// listening, says what is wrong on stderr in a last line that starts
// with the program's name, in at most a few lines, and no line holds an
// address (the server's own included: the log masks every address).
// Checked to fail: the linktracker's maskError returning the raw text
// fails the leak check on the PostgreSQL rows (the Redis store's errors
// are masked at their source already).
func TestStartFailuresSaidOnce(t *testing.T) {
	t.Parallel() // a child process, waited on
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, b, 0o644))
		return path
	}
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i*7919 + i>>3)
	}
	killed := redistest.Start(t, &redistest.Options{Local: true})
	killed.Kill()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	free := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, port, _ := net.SplitHostPort(free)

	for _, c := range []struct {
		name string
		args []string
	}{
		{"redis nothing listens", []string{"-redis", free}},
		{"redis killed", []string{"-redis", killed.Addr()}},
		{"redis by name", []string{"-redis", "localhost:" + port}},
		{"redis URL", []string{"-redis", "redis://127.0.0.1:" + port + "/0"}},
		{"postgres down", []string{"-db", "postgres://u:p@127.0.0.1:" + port + "/x?connect_timeout=2"}},
		{"postgres IPv6", []string{"-db", "postgres://u:p@[::1]:" + port + "/x?connect_timeout=2"}},
		{"sqlite no directory", []string{"-db", "sqlite:" + filepath.Join(dir, "none", "x.db")}},
		{"sqlite a directory", []string{"-db", "sqlite:" + dir}},
		{"geo missing", []string{"-geoip", filepath.Join(dir, "none.mmdb")}},
		{"geo empty", []string{"-geoip", write("empty.mmdb", nil)}},
		{"geo random", []string{"-geoip", write("random.mmdb", random)}},
		{"geo a directory", []string{"-geoip", dir}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // each waits on its process, most on dial retries
			args := append([]string{"-addr", "127.0.0.1:0", "-db", "sqlite:" + filepath.Join(t.TempDir(), "l.db")}, c.args...)
			cmd := exec.Command(binPath(t), args...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			done := make(chan error, 1)
			require.NoError(t, cmd.Start())
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				require.FailNow(t, "still running", "%s", stderr.String())
			}
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "it must not start:\n%s", stdout.String())
			assert.Equal(t, 2, exit.ExitCode())
			assert.NotContains(t, stdout.String(), "listening")
			out := strings.TrimRight(stderr.String(), "\n")
			all := strings.Split(out, "\n")
			last := all[len(all)-1]
			for i := len(all) - 1; i >= 0 && strings.HasPrefix(all[i], "\t"); i-- {
				last = all[i-1] // a multi-line error's continuation lines
			}
			assert.True(t, strings.HasPrefix(last, "linktracker: "), "the error line names the program:\n%s", out)
			assert.LessOrEqual(t, len(all), 5, "said once, not per retry:\n%s", out)
			ipmasktest.AssertNoRawIP(t, ipmask.Default, out, "stderr")
		})
	}
}
