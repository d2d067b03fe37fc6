package outside_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// TestFleetPersistsNoAddress checks guarantee 7's "not in a stored value"
// for the README's fleet ("Going multi-instance with Redis", "Keeping the
// statistics: SQLite or PostgreSQL"): two instances share one Redis (the
// store, its KeyStore behind each keyring, the Redis sink) and one
// PostgreSQL database (sqlsink), each behind the clientip middleware; the
// second keeps raw addresses (BuilderOptions.KeepRawAddr), which the store
// must seal. Every visitor class clicks, directly and through the trusted
// proxy (the repeat landing on the other instance), with its address in
// its agent, Referer, cookie, query, every client-address header and the
// links it names, and converts. Then everything the fleet persisted or
// sent is dumped and searched for every text form of each address
// (dotted, expanded, dashed, hex, decimal integer, reversed,
// percent-encoded) and its 4 or 16 bytes: every Redis key and value
// (typed reads and DUMP), every command the server ran (MONITOR), its
// slow log and log file, the files in its working directory (none may be
// there, before or after a SHUTDOWN: persistence is off), every
// PostgreSQL row, the server's log of every statement with its
// parameters, and the bytes of the database's files and write-ahead log.
//
// Checked to fail: with a hash field holding 203.0.113.9's four bytes
// and a string key "2001-db8-1-2--7" written to Redis, and a batch token
// "3405803785" (203.0.113.9 as an integer) inserted in PostgreSQL before
// the dumps, the keyspace, MONITOR, slow log, rows, server log and table
// file checks each report them.
func TestFleetPersistsNoAddress(t *testing.T) {
	ctx := context.Background()
	srv, redisLog := startRedis(t)
	_, pgURL := startPostgres(t)
	var logs testlog.Buffer
	mon := startMonitor(t, srv.Addr())
	cfg := fleetConfig{redisSink: true, pgURL: pgURL, log: bareLogger(&logs)}
	first := newInstance(t, srv.Addr(), cfg)
	cfg.keepRaw = true
	second := newInstance(t, srv.Addr(), cfg)
	fleet := []*instance{first, second}

	all := clickFleet(t, fleet)

	// One fleet: each visitor's second click, on the other instance, is a
	// repeat, and its conversion finds the click whichever instance holds it.
	var clicks uint64
	for _, v := range visitors() {
		clicks += uint64(len(fleetPaths(v)) - 1) // but the conversion
	}
	s1, s2 := first.tracker.Stats(), second.tracker.Stats()
	require.Equal(t, clicks, s1.Unique+s1.Repeat, "the first instance's clicks: %+v", s1)
	require.Positive(t, s1.Unique)
	require.Zero(t, s2.Unique, "every click on the second instance repeats one on the first")
	require.Equal(t, clicks, s2.Repeat, "repeats across instances")
	require.Equal(t, uint64(2*len(visitors())), s1.Conversions+s2.Conversions, "conversions attributed")
	for _, s := range []uint64{s1.UniqueUnknown, s2.UniqueUnknown, s1.StoreFailures, s2.StoreFailures, s1.SinkFailures, s2.SinkFailures, s1.BuildFailures, s2.BuildFailures} {
		require.Zero(t, s, "no failure: %+v %+v", s1, s2)
	}
	for _, in := range fleet {
		require.NoError(t, in.store.Flush(ctx))
		require.NoError(t, in.ssink.Flush(ctx))
	}

	redisDump, keys := dumpRedis(t, srv.Addr())
	kinds := map[string]int{}
	for _, k := range keys {
		for _, p := range []string{"{fleet}:c:", "{fleet}:i", "{fleet}:v:", "{fleet}:k:", "fleet:a:"} {
			if strings.HasPrefix(k.name, p) {
				kinds[p]++
			}
		}
	}
	require.Equal(t, int(s1.Unique), kinds["{fleet}:c:"], "a marker per first click: %v", kinds)
	for _, p := range []string{"{fleet}:i", "{fleet}:v:", "{fleet}:k:", "fleet:a:"} {
		require.Positive(t, kinds[p], "the dump holds %s keys: %v", p, kinds)
	}
	commands := mon.stop(t, srv.Addr())
	require.Contains(t, string(commands), "spring", "MONITOR saw the fleet's commands")
	slowlog, serverLog, dirFiles := redisServerState(t, srv.Addr(), redisLog)
	require.Contains(t, string(serverLog), "Accepted", "the server logs at debug level")

	rows, pgLog, pgFiles := dumpPostgres(t, pgURL)
	require.Contains(t, string(rows), "203.0.113.0/24", "the network breakdown is stored")
	require.Contains(t, string(rows), "203.0.113.0:8080/admin", "a link a visitor named is kept, masked")
	require.Contains(t, string(pgLog), "clickanon_cells", "the server logged the sink's statements")

	// Text that is not an address (SQL's "::bigint", random bytes) can
	// read as one in ::/48, where the IPv4-compatible and SIIT visitors'
	// networks are: the scan looks for the others' networks, the exact
	// forms for every visitor.
	var distinctive []netip.Addr
	for _, a := range all {
		if !ipmask.Default.Mask(a).IsUnspecified() {
			distinctive = append(distinctive, a)
		}
	}
	require.NotEmpty(t, distinctive)
	check := func(what string, data []byte) {
		t.Helper()
		assertNoForm(t, data, what, all...)
		assertNoBinary(t, data, what, all...)
		ipmasktest.AssertNoRawIPOf(t, ipmask.Default, data, distinctive, what)
	}
	check("Redis keys and values", redisDump)
	check("Redis commands (MONITOR)", commands)
	check("Redis slow log", slowlog)
	check("redis-server's log", serverLog)
	check("PostgreSQL rows", rows)
	check("PostgreSQL's log", pgLog)
	for p, b := range pgFiles {
		check("PostgreSQL file "+filepath.Base(filepath.Dir(p))+"/"+filepath.Base(p), b)
	}
	check("the fleet's log", []byte(logs.String()))
	ipmasktest.AssertNoRawIP(t, ipmask.Default, logs.String(), "the fleet's log")

	// Persistence is off: nothing in the server's directory, neither now
	// nor after a SHUTDOWN, as an operator's `systemctl stop` sends.
	for name, b := range dirFiles {
		assert.Failf(t, "a file in redis-server's directory", "%s (%d bytes)", name, len(b))
		check("redis-server's file "+name, b)
	}
	_, err := redistest.Do(srv.Addr(), "SHUTDOWN")
	require.Error(t, err, "the server closes the connection as it exits")
	require.Eventually(t, func() bool {
		_, err := redistest.Do(srv.Addr(), "PING")
		return err != nil
	}, 5*time.Second, 10*time.Millisecond, "redis-server exits")
	entries, err := os.ReadDir(srv.Dir())
	require.NoError(t, err)
	for _, e := range entries {
		assert.Failf(t, "a file in redis-server's directory after SHUTDOWN", "%s", e.Name())
	}

}
