package sqlsink

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/pgtest"
	"github.com/clickanon/clickanon/ipmask"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// dialects runs f against SQLite and PostgreSQL.
func dialects(t *testing.T, f func(t *testing.T, dsn func(testing.TB) string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, sqlitePath) })
	t.Run("postgresql", func(t *testing.T) { f(t, pgtest.DB) })
}

func TestRetryAfterLostReplyCountsOnce(t *testing.T) {
	dialects(t, func(t *testing.T, dsn func(testing.TB) string) {
		s := open(t, dsn(t), &Options{Logger: slog.New(slog.DiscardHandler)})
		lost := true
		s.afterCommit = func() error {
			if lost {
				lost = false
				return errors.New("connection reset after commit")
			}
			return nil
		}
		ctx := context.Background()
		for i := range 10 {
			require.NoError(t, s.Add(ctx, click("retried", i), clickstore.Unique))
		}
		require.Error(t, s.Flush(ctx), "the reply is lost")
		assert.Equal(t, Stats{FlushErrors: 1, Buffered: 10, BufferedCells: 15}, s.Stats())
		require.NoError(t, s.Add(ctx, click("retried", 10), clickstore.Unique))
		require.NoError(t, s.Flush(ctx), "the retry finds its token, then writes the newer click")
		assert.Equal(t, uint64(11), clicks(t, s, "retried"), "the committed batch counts once")
		assert.Equal(t, Stats{Flushes: 2, FlushErrors: 1, Written: 11}, s.Stats())
	})
}

// A batch whose commit reply was lost may be in the database: when its
// retry then fails before its commit, it must stay aside with its token,
// not go back into the buffer to be written again under a new one.
func TestMaybeWrittenBatchIsOnlyRetried(t *testing.T) {
	dialects(t, func(t *testing.T, dsn func(testing.TB) string) {
		ctx := context.Background()
		s := open(t, dsn(t), &Options{Logger: slog.New(slog.DiscardHandler)})
		for i := range 5 {
			require.NoError(t, s.Add(ctx, click("twice-failed", i), clickstore.Unique))
		}
		s.afterCommit = func() error { return errors.New("reply lost") }
		require.Error(t, s.Flush(ctx))
		s.afterCommit = nil
		s.beforeWrite = func() error { return errors.New("connection refused") }
		require.Error(t, s.Flush(ctx))
		assert.Equal(t, Stats{FlushErrors: 2, Buffered: 5, BufferedCells: 15}, s.Stats())
		s.beforeWrite = nil
		require.NoError(t, s.Flush(ctx))
		assert.Equal(t, uint64(5), clicks(t, s, "twice-failed"), "written once")
		assert.Equal(t, Stats{Flushes: 1, FlushErrors: 2, Written: 5}, s.Stats())
	})
}

func TestBufferBound(t *testing.T) {
	ctx := context.Background()
	s := open(t, sqlitePath(t), &Options{MaxBufferedCells: 15, Logger: slog.New(slog.DiscardHandler)})
	// One click needs 15 cells: 3 buckets, each a total and 4 dimensions.
	require.NoError(t, s.Add(ctx, click("bounded", 1), clickstore.Unique))
	require.NoError(t, s.Add(ctx, click("bounded", 2), clickstore.Repeat), "a click on held cells needs none")
	c := click("bounded", 3)
	c.Country = "FR"
	err := s.Add(ctx, c, clickstore.Unique)
	require.ErrorIs(t, err, ErrBufferFull)
	assert.True(t, strings.HasPrefix(err.Error(), "sqlsink: "), err.Error())
	assert.Equal(t, Stats{Buffered: 2, BufferedCells: 15, Dropped: 1}, s.Stats())

	s.afterCommit = func() error { return errors.New("lost") }
	require.Error(t, s.Flush(ctx))
	assert.ErrorIs(t, s.Add(ctx, c, clickstore.Unique), ErrBufferFull, "a batch waiting for its retry still takes its cells")
	s.afterCommit = nil
	require.NoError(t, s.Flush(ctx))
	require.NoError(t, s.Add(ctx, c, clickstore.Unique), "room again once written")
	require.NoError(t, s.Flush(ctx))
	assert.Equal(t, uint64(3), clicks(t, s, "bounded"))
	assert.Equal(t, Stats{Flushes: 2, FlushErrors: 1, Written: 3, Dropped: 2}, s.Stats())
}

func TestCloseFlushes(t *testing.T) {
	ctx := context.Background()
	dsn := sqlitePath(t)
	s, err := Open(ctx, dsn, &Options{Now: clock, FlushInterval: time.Hour})
	require.NoError(t, err)
	for i := range 7 {
		require.NoError(t, s.Add(ctx, click("closing", i), clickstore.Unique))
	}
	require.NoError(t, s.Close(ctx))
	require.NoError(t, s.Close(ctx), "Close is idempotent")
	assert.ErrorIs(t, s.Add(ctx, click("closing", 8), clickstore.Unique), ErrClosed)
	assert.ErrorIs(t, s.Flush(ctx), ErrClosed)
	_, err = s.Cells(ctx, aggregate.Query{Link: "closing", From: t0, To: t0.Add(time.Hour)})
	assert.ErrorIs(t, err, ErrClosed)
	assert.Equal(t, Stats{Flushes: 1, Written: 7}, s.Stats())

	again := open(t, dsn, nil)
	assert.Equal(t, uint64(7), clicks(t, again, "closing"), "a new sink on the file reads what Close wrote")
}

func TestCloseCountsWhatItCannotWrite(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	db, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(sqlitePath(t), "sqlite:"))
	require.NoError(t, err)
	s, err := New(ctx, db, SQLite, &Options{Now: clock, FlushInterval: time.Hour, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	for i := range 4 {
		require.NoError(t, s.Add(ctx, click("lost", i), clickstore.Unique))
	}
	require.NoError(t, db.Close()) // the database goes away for good
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = s.Close(short)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "4 increments not written")
	assert.Equal(t, uint64(4), s.Stats().Dropped)
	assert.Contains(t, logs.String(), "lost_increments=4")
}

func TestOpenRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, dsn, want string
	}{
		{"empty", "", "want sqlite:PATH or a postgres:// URL"},
		{"other database", "mysql://admin:hunter2@db.example/stats", "data source of 38 bytes"},
		{"sqlite without path", "sqlite:", "no path"},
		{"sqlite path with a query", "sqlite:/tmp/x.db?mode=ro", "holds '?'"},
		{"sqlite path with a NUL byte", "sqlite:/tmp/198.51.100.7\x00.db", "holds a NUL byte"},
		{"postgresql URL that does not parse", "postgres://admin:hunter2@203.0.113.9:5432/stats?sslmode=bogus", "postgresql data source of 61 bytes does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(ctx, tt.dsn, nil)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "sqlsink: "), err.Error())
			assert.NotContains(t, err.Error(), "hunter2", "a password never reaches an error")
			for _, part := range []string{"admin", "203.0.113", "stats"} {
				assert.NotContains(t, err.Error(), part, "nothing of the data source reaches an error")
			}
		})
	}
	_, err := New(ctx, nil, SQLite, nil)
	assert.ErrorContains(t, err, "sqlsink: new: nil database")
	db, err := sql.Open("sqlite", ":memory:")
	require.NoError(t, err)
	defer db.Close()
	_, err = New(ctx, db, Dialect(9), nil)
	assert.ErrorContains(t, err, `sqlsink: new: dialect 9 unknown`)
	_, err = New(ctx, db, PostgreSQL, nil)
	assert.ErrorContains(t, err, `sqlsink: new: PostgreSQL database not opened through pgx's driver`)
	for _, o := range []Options{{FlushInterval: -1}, {MaxBackoff: -1}, {LogEvery: -1}, {MaxBufferedCells: -1}, {MinuteRetention: -1}, {HourRetention: -1}, {DayRetention: -1}} {
		_, err := New(ctx, db, SQLite, &o)
		assert.ErrorContains(t, err, "negative", "options %+v", o)
	}
	every, err := ipmask.New(32, 128)
	require.NoError(t, err)
	_, err = New(ctx, db, SQLite, &Options{NetworkPolicy: every})
	assert.ErrorContains(t, err, "sqlsink: options: aggregate: network policy ipv4/32,ipv6/128 keeps more bits than ipmask.Default")
}

// A SQLite path is the file's name as written: SQLite reads the URI Open
// builds with %HH escapes decoded, so a '%' in a path used to open another
// file ("100%41.db" opened "100A.db", "a%00b.db" opened "a", the name cut
// at the decoded NUL).
func TestOpenSQLitePathTakenLiterally(t *testing.T) {
	for _, name := range []string{"100%41.db", "a%00b.db", "%2541.db", "x%2Fy.db", "per cent %.db"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(context.Background(), "sqlite:"+filepath.Join(dir, name), nil)
			require.NoError(t, err)
			require.NoError(t, s.Close(context.Background()))
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			assert.Contains(t, names, name, "the file is created under the name given")
			for _, n := range names {
				assert.True(t, strings.HasPrefix(n, name), "no other file: %q", n)
			}
		})
	}
}

func TestMigrationIsIdempotentAndConcurrent(t *testing.T) {
	dialects(t, func(t *testing.T, dsn func(testing.TB) string) {
		d := dsn(t)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				s, err := Open(context.Background(), d, &Options{FlushInterval: time.Hour})
				if err == nil {
					err = s.Close(context.Background())
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, "instances starting at once")
		}
		s := open(t, d, nil)
		var n, v int
		require.NoError(t, s.db.QueryRow("SELECT count(*), max(version) FROM clickanon_schema_version").Scan(&n, &v))
		assert.Equal(t, SchemaVersion, n, "each migration applied once")
		assert.Equal(t, SchemaVersion, v)
	})
}

func TestNewerSchemaIsRefused(t *testing.T) {
	d := sqlitePath(t)
	s := open(t, d, nil)
	_, err := s.db.Exec("INSERT INTO clickanon_schema_version (version) VALUES (99)")
	require.NoError(t, err)
	_, err = Open(context.Background(), d, nil)
	assert.ErrorContains(t, err, "database schema version 99 is newer than this package's 2")
}

func TestCellsOfEveryLink(t *testing.T) {
	ctx := context.Background()
	s := open(t, sqlitePath(t), nil)
	for i := range 6 {
		require.NoError(t, s.Add(ctx, click([]string{"one", "two"}[i%2], i), clickstore.Unique))
	}
	require.NoError(t, s.Flush(ctx))
	cs, err := s.Cells(ctx, aggregate.Query{Granularity: aggregate.Hour, From: t0, To: t0.Add(time.Hour)})
	require.NoError(t, err)
	byLink := map[string]uint64{}
	for _, c := range cs {
		if c.Scope == aggregate.ScopeRange {
			byLink[c.Link] = c.Clicks
		}
	}
	assert.Equal(t, map[string]uint64{"one": 3, "two": 3}, byLink)
}

func TestExpiredBucketsAreNotWritten(t *testing.T) {
	ctx := context.Background()
	late := t0.Add(48*time.Hour + time.Minute) // t0's minute is past its retention
	s := open(t, sqlitePath(t), &Options{Now: func() time.Time { return late }})
	require.NoError(t, s.Add(ctx, click("late", 0), clickstore.Unique))
	require.NoError(t, s.Flush(ctx))
	cs, err := s.Cells(ctx, aggregate.Query{Link: "late", Granularity: aggregate.Minute, From: t0, To: t0.Add(time.Hour)})
	require.NoError(t, err)
	assert.Empty(t, cs, "minute buckets past retention")
	assert.Equal(t, uint64(1), clicks(t, s, "late"), "the day bucket is kept")
	assert.Equal(t, uint64(1), s.Stats().Written)
	assert.Zero(t, s.Stats().BufferedCells)
}

// The loop flushes every interval, backs off while flushes fail, and logs
// the failures at most once per LogEvery.
func TestBackgroundLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		var logs bytes.Buffer
		db, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(sqlitePath(t), "sqlite:"))
		require.NoError(t, err)
		s, err := New(ctx, db, SQLite, &Options{
			FlushInterval: time.Second, MaxBackoff: 4 * time.Second, LogEvery: 10 * time.Second,
			Now: time.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		})
		require.NoError(t, err)
		c := click("looped", 0)
		c.Time = time.Now()
		require.NoError(t, s.Add(ctx, c, clickstore.Unique))
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		assert.Equal(t, uint64(1), s.Stats().Written, "flushed after one interval")

		require.NoError(t, db.Close()) // every flush fails from now on
		require.NoError(t, s.Add(ctx, c, clickstore.Unique))
		// Failures at 2s, then after 2s, 4s, 4s: 4s, 8s, 12s.
		for _, tc := range []struct {
			at   time.Duration
			errs uint64
		}{{1500 * time.Millisecond, 1}, {3500 * time.Millisecond, 2}, {7500 * time.Millisecond, 3}, {11500 * time.Millisecond, 4}} {
			time.Sleep(time.Second + tc.at - time.Since(c.Time))
			synctest.Wait()
			assert.Equal(t, tc.errs, s.Stats().FlushErrors, "failed flushes after %s", tc.at)
		}
		assert.Equal(t, 2, strings.Count(logs.String(), "flush failed"), "one line per 10 s: at 2 s and 12 s")
		assert.Contains(t, logs.String(), "failures=4 suppressed=2", "the second line counts the burst and the failures not logged")
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		assert.Error(t, s.Close(short))
	})
}

// Once its cells are buffered, a click costs Add no allocation: the
// tracker's request path pays no more than with an in-memory Rollup.
func TestAddDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	s := open(t, sqlitePath(t), nil)
	cs := benchClicks(256)
	for _, c := range cs {
		require.NoError(t, s.Add(ctx, c, clickstore.Unique))
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		_ = s.Add(ctx, cs[i%len(cs)], clickstore.Repeat)
		i++
	})
	assert.Zero(t, allocs)
	assert.Equal(t, uint64(256+1001), s.Stats().Buffered, "every Add counted")
}

// Sketches written by successive flushes, and by two sinks, merge: the
// cell's visitors are the union. SQLite merges in SQL through a function
// the package registers; elsewhere (PostgreSQL, or SQLite through another
// driver) the upsert returns the stored sketch and the sink merges it.
func TestSketchesMergeAcrossFlushes(t *testing.T) {
	run := func(t *testing.T, dsn string, detected, inSQL bool) {
		ctx := context.Background()
		a, b := open(t, dsn, nil), open(t, dsn, nil)
		require.Equal(t, detected, a.sqlMerge, "merge function detected")
		a.sqlMerge, b.sqlMerge = inSQL, inSQL
		for i := range 10 {
			require.NoError(t, a.Add(ctx, click("merged", i), clickstore.Unique))
		}
		require.NoError(t, a.Flush(ctx))
		for i := 5; i < 15; i++ {
			require.NoError(t, b.Add(ctx, click("merged", i), clickstore.Unique))
		}
		require.NoError(t, b.Flush(ctx))
		for i := 12; i < 20; i++ {
			require.NoError(t, a.Add(ctx, click("merged", i), clickstore.Unique))
		}
		require.NoError(t, a.Flush(ctx))
		assertMinuteCells(t, a, "merged", 20, 28)
	}
	t.Run("sqlite, merged in SQL", func(t *testing.T) { run(t, sqlitePath(t), true, true) })
	t.Run("sqlite, merged by the sink", func(t *testing.T) { run(t, sqlitePath(t), true, false) })
	t.Run("postgresql, merged by the sink", func(t *testing.T) { run(t, pgtest.DB(t), false, false) })
}

// A relative path, as in the link tracker's default sqlite:linktracker.db,
// names a file in the working directory.
func TestOpenRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s, err := Open(context.Background(), "sqlite:stats.db", nil)
	require.NoError(t, err)
	require.NoError(t, s.Close(context.Background()))
	_, err = os.Stat(filepath.Join(dir, "stats.db"))
	assert.NoError(t, err, "the database file is in the working directory")
}

// A drained batch lists its rows in compareRows order, the one order every
// writer locks rows in, whatever order the buffer's maps hold them in.
func TestDrainSortsRows(t *testing.T) {
	ctx := context.Background()
	s := open(t, sqlitePath(t), nil)
	for i := range 600 {
		c := click(fmt.Sprintf("link-%d", i%7), i)
		c.Time = t0.Add(time.Duration(i%120) * time.Second)
		c.Network = netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, byte(i % 11), 0}), 24)
		c.Country = []string{"DE", "FR", "US", "JP", ""}[i%5]
		c.Referrer = []string{"", "a.example", "b.example"}[i%3]
		c.Device = []string{"mobile", "desktop", ""}[i%3]
		require.NoError(t, s.Add(ctx, c, clickstore.Unique))
	}
	b, err := s.buf.drain(&s.cfg, s.cfg.now())
	require.NoError(t, err)
	require.NotNil(t, b)
	assert.True(t, slices.IsSortedFunc(b.rows, compareRows), "rows sorted")
	assert.Len(t, b.rows, b.cells, "every cell is a row")
	for i := 1; i < len(b.rows); i++ {
		assert.NotEqual(t, b.rows[i-1].key, b.rows[i].key, "row %d repeats a key", i)
	}
}

// sigkillChild names the environment variable that makes the test binary
// the child of TestSQLiteSurvivesSIGKILL: it holds the database's path.
const sigkillChild = "CLICKANON_SQLSINK_SIGKILL_CHILD"

// What a flush wrote to a SQLite file (WAL, synchronous=NORMAL) survives
// the process being killed with SIGKILL right after: a child process
// flushes 1000 clicks, buffers 500 more, says so and is killed; the file
// then holds the 1000, and not the 500.
func TestSQLiteSurvivesSIGKILL(t *testing.T) {
	ctx := context.Background()
	if path := os.Getenv(sigkillChild); path != "" {
		s, err := Open(ctx, "sqlite:"+path, &Options{Now: clock, FlushInterval: time.Hour})
		require.NoError(t, err)
		for i := range 1500 {
			require.NoError(t, s.Add(ctx, click("killed", i), clickstore.Unique))
			if i == 999 {
				require.NoError(t, s.Flush(ctx))
			}
		}
		fmt.Println("flushed")
		time.Sleep(time.Minute) // killed long before; exits if the parent is gone
		os.Exit(3)
	}
	path := filepath.Join(t.TempDir(), "stats.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSQLiteSurvivesSIGKILL$", "-test.count=1")
	cmd.Env = append(os.Environ(), sigkillChild+"="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "the child's report")
	require.Equal(t, "flushed\n", line)
	require.NoError(t, cmd.Process.Kill())
	err = cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the child was killed")
	assert.False(t, exit.Exited(), "killed by a signal, not exited")

	s := open(t, "sqlite:"+path, nil)
	assert.Equal(t, uint64(1000), clicks(t, s, "killed"), "the flushed clicks, and only they")
}

// A batch larger than one statement (6,000 rows: many chunks on SQLite,
// two arrays' worth on PostgreSQL) is written whole, and a second one on
// the same cells adds to it and merges its visitors.
func TestLargeBatch(t *testing.T) {
	dialects(t, func(t *testing.T, dsn func(testing.TB) string) {
		ctx := context.Background()
		s := open(t, dsn(t), nil)
		const links = 400 // 15 cells each
		for round := range 2 {
			for i := range links {
				require.NoError(t, s.Add(ctx, click(fmt.Sprintf("big-%d", i), round), clickstore.Unique))
			}
			require.NoError(t, s.Flush(ctx))
		}
		assert.Equal(t, Stats{Flushes: 2, Written: 2 * links}, s.Stats())
		for _, i := range []int{0, 255, 256, 399} {
			link := fmt.Sprintf("big-%d", i)
			assert.Equal(t, uint64(2), clicks(t, s, link), link)
			cs, err := s.Cells(ctx, aggregate.Query{Link: link, Granularity: aggregate.Day, From: aggregate.Day.Start(t0), To: aggregate.Day.Start(t0).Add(24 * time.Hour), K: 1})
			require.NoError(t, err)
			require.NotEmpty(t, cs)
			for _, c := range cs {
				assert.Equal(t, uint64(2), c.Visitors, "%s %s %q", link, c.Dimension, c.Value)
			}
		}
	})
}
