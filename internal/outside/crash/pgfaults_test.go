package crash_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/internal/pgtest"
	"github.com/clickanon/clickanon/internal/testlog"
)

// admin opens a pool of one connection to dsn, made before any fault the
// test injects (so that settings made for new sessions spare it).
func admin(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	require.NoError(t, db.Ping())
	t.Cleanup(func() { db.Close() })
	return db
}

func run(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	_, err := db.Exec(q, args...)
	require.NoError(t, err, "%s", q)
}

// terminate ends every session of application app on the server.
func terminate(t *testing.T, db *sql.DB, app string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()", app).Scan(&n))
	return n
}

// dbName returns the database name of a PostgreSQL URL.
func dbName(t *testing.T, db *sql.DB) string {
	var name string
	require.NoError(t, db.QueryRow("SELECT current_database()").Scan(&name))
	return name
}

// flushUntilWritten flushes until a flush returns nil with nothing left
// buffered, for at most a minute.
func flushUntilWritten(t *testing.T, s *sqlsink.Sink) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := s.Flush(context.Background())
		if err == nil && s.Stats().Buffered == 0 {
			return
		}
		require.False(t, time.Now().After(deadline), "no flush succeeded: %v", err)
		time.Sleep(10 * time.Millisecond) // polling a real server
	}
}

// assertNoServerAddress checks that text holds the server's address
// (127.0.0.1) in no form: the sink cuts every address in its errors and
// log lines to no bits (0.0.0.0); the ports stay, which name no one.
func assertNoServerAddress(t *testing.T, text, what string) {
	t.Helper()
	assert.NotContains(t, text, "127.0.0.1", what)
}

// A database that turns read-only (ALTER DATABASE … SET
// default_transaction_read_only, as an operator or a managed service
// does when a disk fills up, which the sessions opened meanwhile keep)
// and back: while it is read-only every flush fails and is counted, with
// no server address in its error, what the sink held stays buffered,
// clicks that need cells past the bound are refused and counted, nothing
// else; once the database takes writes again, the next flushes write
// exactly what was accepted. Checked to fail: it found the sink flushing
// on read-only sessions for good after ALTER DATABASE … RESET (finding
// F1, fixed), and it fails with the accepted clicks counted one more on a
// link. (The same through ALTER SYSTEM and a reload, which every session
// follows, passed before the fix; it is left out for the server of its
// own it needs.)
func TestReadOnlyDatabase(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DB(t)
	adm := admin(t, dsn)
	name := dbName(t, adm)
	logs := &testlog.Buffer{}
	const links = 4
	s, err := sqlsink.Open(context.Background(), withParam(dsn, "application_name=crashsink"), &sqlsink.Options{
		Now: fixedNow, FlushInterval: time.Hour, MaxBufferedCells: links * 15,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	ctx := context.Background()
	readOnly := func(on bool) {
		if on {
			run(t, adm, "ALTER DATABASE "+name+" SET default_transaction_read_only = on")
			terminate(t, adm, "crashsink") // new sessions take it
		} else {
			run(t, adm, "ALTER DATABASE "+name+" RESET default_transaction_read_only")
		}
	}
	// A first batch is written: the sink has sessions open.
	accepted := map[string]uint64{}
	for l := range links {
		link := fmt.Sprintf("ro-%d", l)
		require.NoError(t, s.Add(ctx, click(link, 0, day.Add(time.Hour)), clickstore.Unique))
		accepted[link] = 1
	}
	require.NoError(t, s.Flush(ctx))
	readOnly(true)
	var refused uint64
	for round := range 3 {
		for l := range 2 * links {
			link := fmt.Sprintf("ro-%d", l)
			err := s.Add(ctx, click(link, uint64(round), day.Add(2*time.Hour)), clickstore.Unique)
			if errors.Is(err, sqlsink.ErrBufferFull) {
				refused++
				continue
			}
			require.NoError(t, err)
			accepted[link]++
		}
		err := s.Flush(ctx)
		require.Error(t, err, "round %d: the database is read-only", round)
		assertNoServerAddress(t, err.Error(), "flush error")
	}
	st := s.Stats()
	assert.Equal(t, uint64(3), st.FlushErrors)
	assert.Equal(t, refused, st.Dropped)
	assert.Positive(t, refused)
	readOnly(false)
	flushUntilWritten(t, s)
	for link, n := range accepted {
		cs, err := s.Cells(ctx, dayQuery(link, aggregate.Day))
		require.NoError(t, err)
		var got uint64
		for _, c := range cs {
			if c.Scope == aggregate.ScopeBucket && c.Dimension == aggregate.Total {
				got += c.Clicks
			}
		}
		assert.Equal(t, n, got, link)
	}
	t.Logf("%+v", s.Stats())
}

// termClick is click i of adder w in TestTerminatedMidFlush: on one of
// three links, in one of five minutes, from 40 visitors an adder, who
// come back.
func termClick(w, i int) clickstore.Click {
	id := uint64(w*1_000_000 + i%40)
	return click(fmt.Sprintf("term-%d", i%3), id, day.Add(time.Hour+time.Duration(i%5)*time.Minute))
}

// Every session of a Sink on PostgreSQL is terminated
// (pg_terminate_backend, as an operator or a failover does) again and
// again, at random moments, while three goroutines add clicks, the
// background loop flushes every few milliseconds and another goroutine
// flushes too: flushes are cut at every stage, before, in and after their
// commit. Flushes fail and are counted, none of their errors or log lines
// names the server's address, nothing is refused; and once the
// terminations stop, the database holds exactly what a Rollup given the
// same clicks holds, counts and visitors. Checked to fail: with a failed
// batch not put back into the buffer (its clicks are missing; the final
// flushes never empty the buffer). (With the batch token ignored it
// passed: no termination landed between a commit and its reply.)
func TestTerminatedMidFlush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DB(t)
	adm := admin(t, dsn)
	logs := &testlog.Buffer{}
	s, err := sqlsink.Open(ctx, withParam(dsn, "application_name=crashterm"), &sqlsink.Options{
		Now: fixedNow, FlushInterval: 2 * time.Millisecond, MaxBackoff: 10 * time.Millisecond, LogEvery: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})

	const adders = 3
	var (
		wg, bg sync.WaitGroup
		enough = make(chan struct{}) // closed once enough flushes were cut
		stop   = make(chan struct{})
		mu     sync.Mutex
		errs   []string
		kills  int
		added  [adders]int
	)
	for w := range adders {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-enough:
					added[w] = i
					return
				default:
				}
				if err := s.Add(ctx, termClick(w, i), clickstore.Unique); err != nil {
					t.Errorf("add %d/%d: %v", w, i, err)
					added[w] = i
					return
				}
				if i%4 == 0 {
					time.Sleep(time.Millisecond) // spread the adds over the terminations
				}
			}
		})
	}
	bg.Go(func() { // flushes of its own
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.Flush(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		}
	})
	bg.Go(func() { // the terminations, at random moments
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
		var flushes uint64
		ended := false
		for round := 0; ; round++ {
			// After a flush succeeded (so that some do), a random
			// moment of the flushes that follow.
			for s.Stats().Flushes == flushes {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond): // polling
				}
			}
			flushes = s.Stats().Flushes
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(rng.Int64N(int64(60 * time.Millisecond)))):
			}
			var n int
			if err := adm.QueryRow("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'crashterm'").Scan(&n); err != nil {
				t.Errorf("terminate: %v", err)
				return
			}
			kills += n
			if st := s.Stats(); !ended && (round == 40 || kills >= 8 && st.FlushErrors >= 5) {
				close(enough)
				ended = true
			}
		}
	})
	wg.Wait()
	close(stop)
	bg.Wait()
	flushUntilWritten(t, s)

	st := s.Stats()
	t.Logf("%d sessions terminated, %d flush errors returned; %+v", kills, len(errs), st)
	assert.Positive(t, st.FlushErrors, "flushes failed")
	assert.Zero(t, st.Dropped)
	total := 0
	for _, n := range added {
		total += n
	}
	assert.Equal(t, uint64(total), st.Written)
	for _, e := range errs {
		assertNoServerAddress(t, e, "flush error")
	}
	assertNoServerAddress(t, logs.String(), "log")

	r, err := aggregate.New(&aggregate.Options{Now: fixedNow})
	require.NoError(t, err)
	for w := range adders {
		for i := range added[w] {
			require.NoError(t, r.Add(ctx, termClick(w, i), clickstore.Unique))
		}
	}
	for l := range 3 {
		for _, g := range []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day} {
			q := dayQuery(fmt.Sprintf("term-%d", l), g)
			want, err := r.Cells(ctx, q)
			require.NoError(t, err)
			got, err := s.Cells(ctx, q)
			require.NoError(t, err)
			sortCells(want)
			sortCells(got)
			assert.Equal(t, want, got, "%s %s", q.Link, g)
		}
	}
}

// A flush that PostgreSQL holds up (another session locks the cells'
// table, as a long migration or a VACUUM FULL does) ends with an error,
// by the database's statement_timeout or by the deadline of the Flush's
// context; reports still read what was written; the clicks stay
// buffered, more are taken meanwhile, and once the lock is gone they are
// all written, once. Checked to fail: with the test's count of clicks
// taken while locked raised by one.
func TestFlushHeldUpByALock(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"statement_timeout", "deadline"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := pgtest.DB(t)
			adm := admin(t, dsn)
			if how == "statement_timeout" {
				openSink(t, dsn).Close(ctx) // the schema, made before the timeout
				run(t, adm, "ALTER DATABASE "+dbName(t, adm)+" SET statement_timeout = '300ms'")
			}
			s := openSink(t, dsn)
			want := map[string]uint64{}
			add := func(round int) {
				for l := range 5 {
					link := fmt.Sprintf("lock-%d", l)
					require.NoError(t, s.Add(ctx, click(link, uint64(round*10+l), day.Add(time.Duration(round)*time.Hour)), clickstore.Unique))
					want[link]++
				}
			}
			add(0)
			require.NoError(t, s.Flush(ctx))

			tx, err := adm.Begin()
			require.NoError(t, err)
			_, err = tx.Exec("LOCK TABLE clickanon_cells IN EXCLUSIVE MODE")
			require.NoError(t, err)
			for round := 1; round <= 2; round++ {
				add(round)
				fctx, cancel := ctx, context.CancelFunc(func() {})
				if how == "deadline" {
					fctx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
				}
				err := s.Flush(fctx)
				cancel()
				require.Error(t, err, "round %d: the table is locked", round)
				assertNoServerAddress(t, err.Error(), "flush error")
				cs, err := s.Cells(ctx, dayQuery("lock-0", aggregate.Day))
				require.NoError(t, err, "reports read while writes wait")
				require.NotEmpty(t, cs)
				for _, c := range cs {
					if c.Scope == aggregate.ScopeBucket && c.Dimension == aggregate.Total {
						assert.Equal(t, uint64(1), c.Clicks, "round %d: what was written", round)
					}
				}
			}
			st := s.Stats()
			assert.Equal(t, uint64(2), st.FlushErrors)
			assert.Equal(t, uint64(10), st.Buffered, "the clicks taken while locked")
			require.NoError(t, tx.Rollback())
			flushUntilWritten(t, s)
			for link, n := range want {
				cs, err := s.Cells(ctx, dayQuery(link, aggregate.Day))
				require.NoError(t, err)
				var got uint64
				for _, c := range cs {
					if c.Scope == aggregate.ScopeBucket && c.Dimension == aggregate.Total {
						got += c.Clicks
					}
				}
				assert.Equal(t, n, got, link)
			}
		})
	}
}
