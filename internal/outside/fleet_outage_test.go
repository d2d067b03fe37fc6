package outside_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/retention"
)

// TestFleetOutageErrorsHoldNoAddress checks guarantee 7's "not in ... a
// log line, an error string" for the fleet's pieces when their servers go
// away mid-run (README: "A Redis outage is loud but does not stop the
// service ... addresses in error text are masked"; sqlsink: "error text in
// those lines has every address masked"): two instances as in
// TestFleetPersistsNoAddress, every part logging through slog's bare JSON
// handler (nothing masks but the parts). Every visitor class clicks; then
// redis-server is killed and every visitor clicks again, and each public
// method of the store, its KeyStore, the keyring and the Redis sink is
// called, with clicks built from visitors (one keeping the raw address)
// and with a link holding an address; PostgreSQL is stopped and the SQL
// sink flushes, reads, sweeps, erases, is opened anew and closed; then
// both come back (Redis empty: the epoch key is gone) and clicks go on.
// Every error starts with its package's name and holds no address, the
// visitors' nor the servers' (127.0.0.1 with its port, which the drivers'
// errors name), printed with %v, %+v and %#v; neither does the log, which
// says what failed and when it worked again.
//
// Checked to fail: a warning logged through the same logger with a
// driver's error as it is ("dial tcp 127.0.0.1:port: ...") is reported by
// the log check, and an error made with that text by the error check.
func TestFleetOutageErrorsHoldNoAddress(t *testing.T) {
	ctx := context.Background()
	srv, _ := startRedis(t)
	pg, pgURL := startPostgres(t)
	var logs testlog.Buffer
	log := bareLogger(&logs)
	first := newInstance(t, srv.Addr(), fleetConfig{redisSink: true, pgURL: pgURL, log: log})
	second := newInstance(t, srv.Addr(), fleetConfig{redisSink: true, pgURL: pgURL, log: log, keepRaw: true})
	fleet := []*instance{first, second}
	all := clickFleet(t, fleet)
	for _, in := range fleet {
		require.NoError(t, in.ssink.Flush(ctx))
	}
	servers := []netip.Addr{netip.MustParseAddr("127.0.0.1")}

	var seen []string
	check := func(pkg, call string, err error) {
		t.Helper()
		if !assert.Error(t, err, call) {
			return
		}
		checkErr(t, pkg, call, err)
		text := fmt.Sprintf("%v\n%+v\n%#v", err, err, err)
		assertNoForm(t, []byte(text), call, append(all, servers...)...)
		seen = append(seen, text)
	}
	now := time.Now()
	built := map[*instance]clickstore.Click{}
	for _, in := range fleet {
		c, err := in.builder.Build(ctx, visitor4, agent, "spring", now)
		require.NoError(t, err)
		built[in] = c
	}
	require.True(t, built[second].RawAddr.IsValid(), "the second instance keeps the raw address")
	hostile := built[first]
	hostile.Link = "x/" + visitor4.String()
	for _, in := range fleet {
		_, err := in.store.Record(ctx, hostile)
		check("redisstore", "Record of a link holding an address", err)
		check("redisstore", "Sink.Add of a link holding an address", in.rsink.Add(ctx, hostile, clickstore.Unique))
		check("sqlsink", "sqlsink Add of a link holding an address", in.ssink.Add(ctx, hostile, clickstore.Unique))
	}

	// Redis goes away.
	srv.Kill()
	clickFleet(t, fleet)
	policy := first.keyring.Policy()
	for i, in := range fleet {
		call := func(name string) string { return fmt.Sprintf("instance %d: %s", i, name) }
		c := built[in]
		_, err := in.store.Record(ctx, c)
		check("redisstore", call("Record"), err)
		_, err = in.store.RecordBatch(ctx, []clickstore.Click{c, c})
		check("redisstore", call("RecordBatch"), err)
		_, _, err = in.store.Latest(ctx, c.Visitor, c.PrevVisitor, "spring")
		check("redisstore", call("Latest on a link"), err)
		_, _, err = in.store.Latest(ctx, c.Visitor, c.PrevVisitor, "")
		check("redisstore", call("Latest on any link"), err)
		for _, err = range in.store.All(ctx) {
			break
		}
		check("redisstore", call("All"), err)
		_, err = in.store.Sweep(ctx, time.Now())
		check("redisstore", call("Sweep"), err)
		_, err = in.store.EraseVisitor(ctx, c.Visitor)
		check("redisstore", call("EraseVisitor"), err)
		_, err = in.store.EraseLink(ctx, "spring")
		check("redisstore", call("EraseLink"), err)
		_, err = in.store.Clear(ctx)
		check("redisstore", call("Clear"), err)
		_, _, err = in.keys.Load(ctx, policy.Epoch(now))
		check("redisstore", call("KeyStore.Load"), err)
		_, err = in.keys.LoadOrCreate(ctx, policy.Epoch(now)+1, [32]byte{1}, policy.Window())
		check("redisstore", call("KeyStore.LoadOrCreate"), err)
		// A keyring started now (not the instance's: a time ahead of its
		// cache would end its epochs) finds the KeyStore gone.
		fresh, err := retention.NewKeyring(&retention.KeyringOptions{Store: in.keys, Logger: log})
		require.NoError(t, err)
		_, _, err = fresh.Keys(ctx, now)
		require.NoError(t, fresh.Close())
		require.ErrorIs(t, err, retention.ErrLocalKey)
		check("retention", call("Keyring.Keys"), err)
		check("redisstore", call("Sink.Add"), in.rsink.Add(ctx, c, clickstore.Unique))
		_, err = in.rsink.Cells(ctx, aggregate.Query{Link: "spring", Granularity: aggregate.Minute, From: now.Add(-time.Hour), To: now.Add(time.Hour)})
		check("redisstore", call("Sink.Cells"), err)
		_, err = in.rsink.EraseLink(ctx, "spring")
		check("redisstore", call("Sink.EraseLink"), err)
		sw, err := retention.NewSweeper(retention.Group{in.store}, &retention.SweeperOptions{Logger: log})
		require.NoError(t, err)
		_, err = sw.SweepNow(ctx)
		check("retention", call("Sweeper.SweepNow"), err)
	}
	down := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	defer down.Close()
	_, err := redisstore.New(ctx, down, &redisstore.Options{Prefix: fleetPrefix, Logger: log})
	check("redisstore", "New on a server that is gone", err)

	// A server that saves snapshots is refused; the refusal names no
	// server (only a Cluster node's does, the package says).
	saving := redistest.Start(t, &redistest.Options{Persistence: true})
	sc := redis.NewClient(&redis.Options{Addr: saving.Addr()})
	defer sc.Close()
	_, err = redisstore.New(ctx, sc, &redisstore.Options{Prefix: fleetPrefix, Logger: log})
	require.ErrorIs(t, err, redisstore.ErrPersistence)
	check("redisstore", "New on a server that saves snapshots", err)

	// PostgreSQL goes away.
	pg.Stop(t)
	clickFleet(t, fleet)
	for i, in := range fleet {
		call := func(name string) string { return fmt.Sprintf("instance %d: sqlsink %s", i, name) }
		check("sqlsink", call("Flush"), in.ssink.Flush(ctx))
		_, err := in.ssink.Cells(ctx, aggregate.Query{Link: "spring", Granularity: aggregate.Minute, From: now.Add(-time.Hour), To: now.Add(time.Hour)})
		check("sqlsink", call("Cells"), err)
		_, err = in.ssink.Sweep(ctx, time.Now())
		check("sqlsink", call("Sweep"), err)
		_, err = in.ssink.EraseLink(ctx, "spring")
		check("sqlsink", call("EraseLink"), err)
	}
	_, err = sqlsink.Open(ctx, pgURL, &sqlsink.Options{Logger: log})
	check("sqlsink", "Open on a server that is gone", err)

	// Both come back: Redis empty, so the epoch key is gone.
	srv.Restart()
	pg.Resume(t)
	clickFleet(t, fleet)
	for _, in := range fleet {
		require.NoError(t, in.ssink.Flush(ctx))
	}
	clickFleet(t, fleet)
	for i, in := range fleet {
		st := in.tracker.Stats()
		require.Positive(t, st.StoreFailures, "instance %d: the store failed while Redis was gone", i)
		require.Positive(t, st.SinkFailures, "instance %d: the Redis sink failed", i)
		rs := in.store.Stats()
		require.Positive(t, rs.RecordErrors, "instance %d", i)
		require.Positive(t, in.ssink.Stats().FlushErrors, "instance %d", i)
		require.Zero(t, st.BuildFailures, "instance %d: every click is built", i)
	}
	// Close writes what is left; a Close that fails is logged too.
	pg.Stop(t)
	for i, in := range fleet {
		clickFleet(t, fleet[i:i+1])
		closeCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond) // Close tries until ctx is done
		check("sqlsink", fmt.Sprintf("instance %d: sqlsink Close", i), in.ssink.Close(closeCtx))
		cancel()
	}

	out := logs.String()
	for _, want := range []string{`"level":"WARN"`, "redisstore", "sqlsink", "retention"} {
		assert.Contains(t, out, want, "the outage is logged")
	}
	ipmasktest.AssertNoRawIP(t, ipmask.Default, out, "the fleet's log")
	assertNoForm(t, []byte(out), "the fleet's log", append(all, servers...)...)

	// The teeth: the errors carry the drivers' text (which names the
	// servers), masked; the check finds a server's address left as it is.
	assert.Contains(t, strings.Join(seen, "\n"), "connection refused", "the drivers' errors are in what was checked")
	require.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, "dial tcp "+srv.Addr()+": connect: connection refused"), "the check finds a server's address")
}
