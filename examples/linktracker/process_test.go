package main

// Tests that run the real linktracker binary as a child process and stop
// it the ways production does: SIGTERM (a deploy) and SIGKILL (the OOM
// killer, a lost machine).

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// The binary under test, built once per test binary by trackerBinary
// and removed by TestMain.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// trackerBinary builds this package, without -race (the child processes
// are what is tested, not a data race in them: the in-process tests cover
// that), once for the whole test binary, and returns the executable's
// path.
func trackerBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if built.dir, built.err = os.MkdirTemp("", "linktracker-bin-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "linktracker")
		cmd := exec.Command(goTool, "build", "-ldflags=-s -w", "-o", built.path, ".") // no symbol tables: a quicker link
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build of the linktracker failed (%v): %s", err, out)
		}
	})
	require.NoError(t, built.err)
	return built.path
}

// proc is one linktracker process, reached over loopback as a trusted
// proxy (127.0.0.1) that names each visitor in X-Forwarded-For.
type proc struct {
	t              *testing.T
	cmd            *exec.Cmd
	base           string
	stdout, stderr syncBuffer
	done           chan struct{} // closed when the process has exited
	waitErr        error
}

// noRedirect is a client that shows the redirects instead of following
// them.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       20 * time.Second,
}

// startProc runs the linktracker with args (after -addr on a free
// loopback port and -trusted-proxies for 127.0.0.1), waits until it
// listens, and kills it at the end of the test if it still runs.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	return startProcIn(t, "", args...)
}

// startProcIn is startProc with the process's working directory set to
// dir ("" is the test's), where anything it writes by a relative path
// lands.
func startProcIn(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, done: make(chan struct{})}
	p.cmd = exec.Command(trackerBinary(t), append([]string{"-addr", "127.0.0.1:0", "-trusted-proxies", "127.0.0.1/32"}, args...)...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.Env = append(os.Environ(), "LINKTRACKER_API_TOKEN=") // no token, whatever the caller's environment says
	require.NoError(t, p.cmd.Start())
	go func() { p.waitErr = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		ipmasktest.AssertNoRawIP(t, ipmask.Default, p.stderr.String(), "the log of a linktracker process")
		if t.Failed() { // what the process said, but for the access log
			var log strings.Builder
			for _, line := range strings.SplitAfter(p.stderr.String(), "\n") {
				if !strings.Contains(line, " msg=request ") {
					log.WriteString(line)
				}
			}
			t.Logf("log of the linktracker on %s:\n%s", p.base, &log)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for p.base == "" {
		select {
		case <-p.done:
			require.FailNow(t, "the linktracker exited at start", "%v\nstdout:\n%s\nstderr:\n%s", p.waitErr, &p.stdout, &p.stderr)
		default:
		}
		require.True(t, time.Now().Before(deadline), "the linktracker did not start listening within 30s:\n%s", &p.stderr)
		line, _, _ := strings.Cut(p.stdout.String(), "\n")
		if rest, ok := strings.CutPrefix(line, "linktracker listening on "); ok {
			p.base, _, _ = strings.Cut(rest, " ")
			break
		}
		time.Sleep(10 * time.Millisecond) // polling the output of a child process
	}
	return p
}

// stop sends sig and waits for the process to exit; it returns the exit
// error (nil for exit status 0).
func (p *proc) stop(sig syscall.Signal) error {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(sig))
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		require.FailNow(p.t, "the linktracker did not exit within 30s of the signal", "%v\nstderr:\n%s", sig, &p.stderr)
	}
	return p.waitErr
}

// get sends a GET for path from visitor (through the trusted proxy) and
// returns the status code and the body.
func (p *proc) get(path, visitor string) (int, []byte) {
	p.t.Helper()
	code, body, err := p.tryGet(path, visitor)
	require.NoError(p.t, err, "GET %s", path)
	return code, body
}

// tryGet is get for any goroutine: it returns the error rather than
// failing the test.
func (p *proc) tryGet(path, visitor string) (int, []byte, error) {
	req, err := http.NewRequest("GET", p.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Forwarded-For", visitor)
	req.Header.Set("User-Agent", browser)
	resp, err := noRedirect.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// click clicks link id as visitor and requires the redirect.
func (p *proc) click(id, visitor string) {
	p.t.Helper()
	code, body := p.get("/l/"+id, visitor)
	require.Equal(p.t, http.StatusFound, code, "a click on an existing link is redirected: %s", body)
}

// create makes a link and returns its ID.
func (p *proc) create(url string) string {
	p.t.Helper()
	resp, err := http.Post(p.base+"/api/links", "application/json", strings.NewReader(fmt.Sprintf(`{"url": %q}`, url)))
	require.NoError(p.t, err)
	defer resp.Body.Close()
	var link struct{ ID string }
	require.NoError(p.t, json.NewDecoder(resp.Body).Decode(&link))
	require.Equal(p.t, http.StatusCreated, resp.StatusCode)
	return link.ID
}

// stats reads the link's statistics through the API.
// unwindowed is st without the bounds of its series, which follow the
// clock (the last hour, the last two days): two reads of the same counts
// on either side of a minute's end differ in them.
func unwindowed(st linkStats) linkStats {
	st.Minutes.From, st.Minutes.To = time.Time{}, time.Time{}
	st.Hours.From, st.Hours.To = time.Time{}, time.Time{}
	return st
}

func (p *proc) stats(id string) linkStats {
	p.t.Helper()
	code, body := p.get("/api/links/"+id+"/stats", "192.0.2.1")
	require.Equal(p.t, http.StatusOK, code, "%s\nstderr:\n%s", body, &p.stderr)
	var st linkStats
	require.NoError(p.t, json.Unmarshal(body, &st))
	return st
}

// metrics reads the process's /metrics: each sample's name with its
// labels, and its value.
func (p *proc) metrics() map[string]uint64 {
	p.t.Helper()
	code, body := p.get("/metrics", "192.0.2.1")
	require.Equal(p.t, http.StatusOK, code)
	out := map[string]uint64{}
	for _, line := range strings.Split(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		require.NoError(p.t, err, line)
		out[name] = uint64(v)
	}
	return out
}

// metric reads one sample of /metrics, which must be served.
func (p *proc) metric(name string) uint64 {
	p.t.Helper()
	v, ok := p.metrics()[name]
	require.True(p.t, ok, "%s is served on /metrics", name)
	return v
}

// sinkFigures are the statistics sink's counters, from /metrics: clicks
// written to the database and clicks buffered in memory (or being
// written). Reading them does not flush (reading the statistics API
// does).
type sinkFigures struct{ written, buffered uint64 }

func (p *proc) sink() sinkFigures {
	p.t.Helper()
	m := p.metrics()
	written, ok1 := m[`clickanon_sink_written_total{sink="sql"}`]
	buffered, ok2 := m[`clickanon_sink_buffered{sink="sql"}`]
	require.True(p.t, ok1 && ok2, "the sink's written and buffered figures are served on /metrics")
	return sinkFigures{written: written, buffered: buffered}
}

// waitFlushed polls /metrics until the sink has nothing buffered: its
// background loop has written every click so far.
func (p *proc) waitFlushed() sinkFigures {
	p.t.Helper()
	var f sinkFigures
	require.Eventually(p.t, func() bool { f = p.sink(); return f.buffered == 0 }, 30*time.Second, 20*time.Millisecond,
		"the sink's loop did not write the buffer: %+v\nstderr:\n%s", f, &p.stderr)
	return f
}

// visitor returns the address of visitor i: distinct for each i, 200 per
// /24 network.
func visitor(i int) string { return fmt.Sprintf("198.51.%d.%d", i/200, 10+i%200) }

// SIGTERM loses nothing. The tracker's flush loop is set far beyond the
// test (-flush-interval 1h), so what it counts stays in memory until the
// signal: first 30 visitors click twice, one after the other (all 60
// still buffered, checked on /metrics); then 4 clients click as fast as
// they can, each click a new visitor, and SIGTERM comes in the middle of
// it. The tracker must exit with status 0, every click it answered must
// have been a 302, and a new process on the same SQLite file must report
// exactly the clicks answered (a click refused once the listener closed
// was never counted, one answered was written on shutdown) and one
// unique click per visitor that got an answer.
func TestSIGTERMLosesNothing(t *testing.T) {
	t.Parallel() // mostly waiting on child processes: overlap the waits
	db := "sqlite:" + filepath.Join(t.TempDir(), "links.db")
	p := startProc(t, "-db", db, "-flush-interval", "1h")
	id := p.create("https://example.com/term")
	const visitors, each = 30, 2
	for range each {
		for i := range visitors {
			p.click(id, visitor(i))
		}
	}
	require.Equal(t, sinkFigures{written: 0, buffered: visitors * each}, p.sink(), "every click is still in memory")

	var (
		next     atomic.Int64 // the next visitor
		answered atomic.Int64 // clicks answered 302
		wrong    atomic.Int64 // clicks answered otherwise
		wg       sync.WaitGroup
	)
	next.Store(visitors)
	for range 4 {
		wg.Go(func() {
			for {
				code, _, err := p.tryGet("/l/"+id, visitor(int(next.Add(1))))
				switch {
				case err != nil: // the listener is closed: the process is going
					return
				case code == http.StatusFound:
					answered.Add(1)
				default:
					wrong.Add(1)
				}
			}
		})
	}
	require.Eventually(t, func() bool { return answered.Load() >= 100 }, 30*time.Second, time.Millisecond, "clicks under load")
	require.NoError(t, p.stop(syscall.SIGTERM), "exit status 0 on SIGTERM; stderr:\n%s", &p.stderr)
	wg.Wait()
	assert.Contains(t, p.stdout.String(), "linktracker shutting down")
	assert.Zero(t, wrong.Load(), "every click answered before the shutdown was a redirect")

	after := startProc(t, "-db", db)
	st := after.stats(id)
	want := uint64(visitors*each) + uint64(answered.Load())
	assert.Equal(t, want, st.Clicks, "every click answered was written on shutdown, and none twice")
	assert.Equal(t, uint64(visitors)+uint64(answered.Load()), st.UniqueClicks, "each visitor unique once")
	assert.Zero(t, st.UnknownUniqueness)
	t.Logf("SIGTERM under load: %d clicks answered, %d counted after the restart", want, st.Clicks)
	require.NoError(t, after.stop(syscall.SIGTERM))
}

// SIGKILL loses at most the clicks buffered since the last flush, and
// never counts one twice. The tracker writes every second
// (-flush-interval 1s). In each of three rounds a process on the same
// SQLite file gets a new link, clicked at a steady pace (one distinct
// visitor every 10 ms) for 1.3, 1.6 and 1.9 s; the test reads /metrics (written W,
// buffered B: W + B is every click sent, since a click is counted before
// its redirect is answered) and kills the process at once, at whatever
// point of its flush cycle it is. A last process on the file must report,
// for each link, totals T with W <= T <= N: what was written is kept (a
// flush in flight at the kill commits or not, as one transaction) and
// nothing is doubled, so the loss N - T is at most B, the clicks since
// the last flush. Every visitor is distinct, so every counted click is
// unique. The losses, and how much of the clicking they are, are logged
// (go test -run SIGKILL -v): README gives the figures.
//
// It runs on the embedded SQLite file and on a PostgreSQL database: the
// loss bound is the sink's, whichever database it writes to.
func TestSIGKILLLosesAtMostOneFlushInterval(t *testing.T) {
	t.Parallel() // mostly waiting on child processes: overlap the waits
	for _, tc := range []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "links.db") }},
		{"postgres", startPostgres},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sigkillRounds(t, tc.db(t))
		})
	}
}

// sigkillRounds is TestSIGKILLLosesAtMostOneFlushInterval on the database
// db (a -db flag's value).
func sigkillRounds(t *testing.T, db string) {
	kind, _, _ := strings.Cut(db, ":") // "sqlite" or "postgres": the database, not its address
	type round struct {
		n      int
		id     string
		seen   sinkFigures
		sent   []time.Time // when each click was answered
		killed time.Time
	}
	var rs []round
	for k := range 3 {
		n := 130 + 30*k // so that each kill comes at another point of the flush cycle
		p := startProc(t, "-db", db, "-flush-interval", "1s")
		r := round{n: n, id: p.create("https://example.com/kill"), sent: make([]time.Time, n)}
		tick := time.NewTicker(10 * time.Millisecond)
		for i := range n {
			<-tick.C // pacing the load, not synchronising
			p.click(r.id, visitor(i))
			r.sent[i] = time.Now()
		}
		tick.Stop()
		r.seen = p.sink()
		r.killed = time.Now()
		err := p.stop(syscall.SIGKILL)
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit)
		ws, ok := exit.Sys().(syscall.WaitStatus)
		require.True(t, ok)
		require.Equal(t, syscall.SIGKILL, ws.Signal(), "the process died of the signal")
		require.Equal(t, uint64(n), r.seen.written+r.seen.buffered, "every click is counted before its redirect")
		rs = append(rs, r)
	}

	after := startProc(t, "-db", db)
	for i, r := range rs {
		n := r.n
		st := after.stats(r.id)
		assert.LessOrEqual(t, st.Clicks, uint64(n), "round %d: no click counted twice", i)
		assert.GreaterOrEqual(t, st.Clicks, r.seen.written, "round %d: what was written before the kill is kept", i)
		assert.Equal(t, st.Clicks, st.UniqueClicks, "round %d: every visitor was distinct, so each counted click is unique", i)
		assert.Zero(t, st.UnknownUniqueness, "round %d", i)
		lost := n - int(st.Clicks)
		span := time.Duration(0)
		if lost > 0 {
			span = r.killed.Sub(r.sent[n-lost])
		}
		t.Logf("%s, round %d: SIGKILL with -flush-interval 1s at 100 clicks/s: %d of %d clicks lost (%d buffered or being written at the last metrics read), the last %v of clicking",
			kind, i, lost, n, r.seen.buffered, span.Round(time.Millisecond))
	}
	require.NoError(t, after.stop(syscall.SIGTERM))
}

// unknownMetric counts the clicks an instance counted with their
// uniqueness unknown.
const unknownMetric = `clickanon_tracker_clicks_total{tracker="linktracker",uniqueness="unknown"}`

// Two linktracker processes behind a round robin, on one Redis and one
// PostgreSQL database, through a Redis restart (the fleet recipe of the
// README). Two links, one created on each instance (the other finds it
// in the database); V visitors each click each link several times,
// alternating between the instances, and every click must be answered
// 302:
//
//   - before the outage, 3 clicks per visitor and link. Once both
//     instances have written their counts, each link has exactly those
//     clicks, V unique (a repeat on the other instance is a repeat) and
//     none of unknown uniqueness.
//   - redis-server killed: one click of 2 visitors on each link, counted
//     with its uniqueness unknown.
//   - redis-server started again on the same port, empty. Until each
//     instance is back on the shared epoch key (its keyring retries the
//     store within a second; the first click that finds the key changed,
//     redisstore.ErrKeyChanged, makes it load the one key both agree
//     on), clicks have their uniqueness unknown: a probe visitor clicks a
//     third link on each instance until a click there is not counted
//     unknown (the instance's /metrics). This is the rest of the outage
//     window; the probe clicks it took are logged.
//   - then 4 clicks per visitor and link. Redis lost the window's
//     markers, so each visitor is unique once more, and only once
//     whichever instance it reached.
//   - both stopped with SIGTERM (exit status 0). A third process on the
//     same database reads for each link what both had written before the
//     signal, and: clicks exactly those sent, unique exactly 2V (V
//     before the outage, V after), unknown exactly the outage's clicks.
func TestFleetThroughRedisRestart(t *testing.T) {
	t.Parallel() // mostly waiting on child processes: overlap the waits
	dbURL := startPostgres(t)
	rs := redistest.Start(t, &redistest.Options{Local: true})
	args := []string{"-db", dbURL, "-redis", rs.Addr(), "-flush-interval", "200ms", "-store-timeout", "2s"}
	procs := []*proc{startProc(t, args...), startProc(t, args...)}
	links := []string{procs[0].create("https://example.com/fleet-a"), procs[1].create("https://example.com/fleet-b")}
	probe := procs[0].create("https://example.com/probe")
	for i, id := range append(links, probe) {
		code, body := procs[1-i%2].get("/api/links/"+id+"/stats", "192.0.2.1")
		require.Equal(t, http.StatusOK, code, "the other instance finds link %d in the database: %s", i, body)
	}

	const v = 20
	sent := make([]uint64, len(links))
	// clickAll makes visitors 0 to n-1 click every link rounds times,
	// starting on alternate instances and alternating.
	clickAll := func(rounds, n int) {
		for r := range rounds {
			for i := range n {
				for l, id := range links {
					procs[(i+l+r)%2].click(id, visitor(i))
					sent[l]++
				}
			}
		}
	}
	// settled waits until the running instances have written their
	// counts and returns each link's statistics as p reads them.
	settled := func(p *proc, running ...*proc) []linkStats {
		for _, q := range running {
			q.waitFlushed()
		}
		var out []linkStats
		for _, id := range links {
			out = append(out, p.stats(id))
		}
		return out
	}

	clickAll(3, v)
	for l, st := range settled(procs[0], procs...) {
		assert.Equal(t, sent[l], st.Clicks, "link %d before the outage: every click", l)
		assert.Equal(t, uint64(v), st.UniqueClicks, "link %d before the outage: each visitor once, on either instance", l)
		assert.Zero(t, st.UnknownUniqueness, "link %d before the outage", l)
	}

	rs.Kill()
	before := sent[0]
	clickAll(1, 2) // each click waits on the lost Redis (about a second): two visitors
	outage := sent[0] - before

	rs.Restart()
	probes := 0
	for i, p := range procs {
		require.Eventually(t, func() bool {
			unknown := p.metric(unknownMetric)
			p.click(probe, fmt.Sprintf("203.0.113.%d", 1+probes))
			probes++
			return p.metric(unknownMetric) == unknown
		}, 20*time.Second, 20*time.Millisecond, "instance %d is back on the shared key", i)
	}
	t.Logf("after the restart, %d probe clicks until both instances counted one with its uniqueness known", probes)
	clickAll(4, v)

	during := settled(procs[1], procs...)
	for _, p := range procs {
		require.NoError(t, p.stop(syscall.SIGTERM), "exit status 0 on SIGTERM; stderr:\n%s", &p.stderr)
	}
	reader := startProc(t, args...)
	for l, st := range settled(reader) { // the others wrote theirs on SIGTERM
		assert.Equal(t, unwindowed(during[l]), unwindowed(st), "link %d: what both wrote before SIGTERM is what a new instance reads", l)
		assert.Equal(t, sent[l], st.Clicks, "link %d: every click counted once", l)
		assert.Equal(t, uint64(2*v), st.UniqueClicks, "link %d: each visitor unique once before the outage and once after Redis came back empty", l)
		assert.Equal(t, outage, st.UnknownUniqueness, "link %d: the outage's clicks, and only they, have their uniqueness unknown", l)
	}
	require.NoError(t, reader.stop(syscall.SIGTERM))
}
