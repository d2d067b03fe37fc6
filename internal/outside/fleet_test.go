package outside_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/internal/pgtest"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/retention"
)

// fleetPrefix is the key prefix of the fleet's store, KeyStore and Redis
// sink.
const fleetPrefix = "fleet"

// instance is one instance of the README's fleet ("Going multi-instance
// with Redis"): its own go-redis client, a redisstore.KeyStore behind its
// keyring, a redisstore.Store with that keyring and KeyStore, a Builder,
// the tracker behind the clientip middleware (trusting proxyAddr), and a
// sink: the Redis sink, sqlsink on PostgreSQL, or both.
type instance struct {
	client  *redis.Client
	keys    *redisstore.KeyStore
	keyring *retention.Keyring
	builder *clickstore.Builder
	store   *redisstore.Store
	rsink   *redisstore.Sink // nil when not wired
	ssink   *sqlsink.Sink    // nil when not wired
	tracker *track.Tracker
	h       http.Handler
}

// fleetConfig says how instances are built: their window (zero: the
// default), the store's clock (nil: the wall clock), whether the Builder
// keeps the raw address (which the store must then seal), which sinks to
// wire, and the logger every part logs to.
type fleetConfig struct {
	window    time.Duration
	now       func() time.Time
	keepRaw   bool
	redisSink bool
	pgURL     string
	log       *slog.Logger
}

// newInstance builds one instance on the Redis server at addr.
func newInstance(t *testing.T, addr string, cfg fleetConfig) *instance {
	t.Helper()
	ctx := context.Background()
	in := &instance{}
	in.client = redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1, DialerRetryTimeout: time.Millisecond, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = in.client.Close() })
	var policy retention.Policy
	if cfg.window > 0 {
		var err error
		policy, err = retention.NewPolicy(cfg.window, nil)
		require.NoError(t, err)
	}
	var err error
	in.keys, err = redisstore.NewKeyStore(in.client, &redisstore.KeyStoreOptions{Prefix: fleetPrefix, Policy: policy})
	require.NoError(t, err)
	in.keyring, err = retention.NewKeyring(&retention.KeyringOptions{Store: in.keys, Policy: policy, Logger: cfg.log})
	require.NoError(t, err)
	t.Cleanup(func() { _ = in.keyring.Close() })
	in.store, err = redisstore.New(ctx, in.client, &redisstore.Options{
		Prefix: fleetPrefix, Policy: policy, Now: cfg.now, Keyring: in.keyring, KeyStore: in.keys,
		Timeout: 200 * time.Millisecond, Logger: cfg.log,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = in.store.Close() })
	in.builder, err = clickstore.NewBuilder(ipmask.Default, in.keyring, &clickstore.BuilderOptions{KeepRawAddr: cfg.keepRaw})
	require.NoError(t, err)

	var sinks teeSink
	if cfg.redisSink {
		in.rsink, err = redisstore.NewSink(in.client, &redisstore.SinkOptions{Prefix: fleetPrefix, Logger: cfg.log})
		require.NoError(t, err)
		sinks = append(sinks, in.rsink)
	}
	if cfg.pgURL != "" {
		in.ssink, err = sqlsink.Open(ctx, cfg.pgURL, &sqlsink.Options{FlushInterval: time.Hour, Logger: cfg.log})
		require.NoError(t, err)
		t.Cleanup(func() { _ = in.ssink.Close(context.Background()) })
		sinks = append(sinks, in.ssink)
	}
	require.NotEmpty(t, sinks, "a fleet instance counts somewhere")

	lb, err := clientip.NewTrusted(proxyAddr + "/32")
	require.NoError(t, err)
	resolver, err := clientip.New(clientip.RightmostUntrusted(lb), clientip.RemoteAddr())
	require.NoError(t, err)
	mw, err := clientip.NewMiddleware(resolver, ipmask.Default, nil)
	require.NoError(t, err)
	in.tracker, err = track.New(in.builder, in.store, sinks, &track.Options{Resolver: resolver, Logger: cfg.log, Window: cfg.window})
	require.NoError(t, err)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) })
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", in.tracker.Handler(ok))
	mux.Handle("GET /out/{link...}", in.tracker.Handler(ok))
	mux.Handle("GET /done/{link}", in.tracker.ConversionHandler(ok))
	in.h = mw(mux)
	return in
}

// teeSink hands every click to each of its sinks, as a service that keeps
// its statistics in two places would.
type teeSink []clickstore.Sink

func (s teeSink) Add(ctx context.Context, c clickstore.Click, u clickstore.Uniqueness) error {
	var errs []error
	for _, k := range s {
		errs = append(errs, k.Add(ctx, c, u))
	}
	return errors.Join(errs...)
}

// fleetPaths are the paths a visitor at client requests: a link of the
// service, every link of visitorLinks (its address in them), and a
// conversion.
func fleetPaths(client netip.Addr) []string {
	paths := []string{"/go/spring"}
	for _, l := range visitorLinks(client) {
		paths = append(paths, "/out/"+strings.ReplaceAll(l, "?", "%3F"))
	}
	return append(paths, "/done/spring")
}

// clickFleet sends every visitor class each of fleetPaths, directly and
// through the trusted proxy, with the visitor's address in its user
// agent, Referer, cookie, query and every client-address header
// (hostileRequest); the direct request goes to the first instance and
// the proxied one to the second, so that each repeat click lands on the
// other instance. It returns the addresses to look for: each visitor's
// and the IPv4 address it carries.
func clickFleet(t *testing.T, fleet []*instance) []netip.Addr {
	t.Helper()
	var all []netip.Addr
	for _, client := range visitors() {
		all = append(all, carried(client)...)
		for i, proxied := range []bool{false, true} {
			for _, p := range fleetPaths(client) {
				r := hostileRequest(client, proxied, p)
				r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; "+client.String()+") Firefox/128.0")
				r.Header.Set("Referer", "https://"+strings.NewReplacer(".", "-", ":", "-").Replace(client.String())+".sslip.io/?ip="+client.String())
				w := httptest.NewRecorder()
				fleet[i%len(fleet)].h.ServeHTTP(w, r)
				require.Equal(t, http.StatusFound, w.Code, p)
			}
		}
	}
	return all
}

// startRedis starts the README's Redis (persistence off) with its log in
// a file of its own, at debug level, and every command in the slow log.
// It returns the server and the log's path.
func startRedis(t *testing.T) (*redistest.Server, string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "redis.log")
	srv := redistest.Start(t, &redistest.Options{Local: true, Args: []string{
		"--logfile", logPath, "--loglevel", "debug",
		"--slowlog-log-slower-than", "0", "--slowlog-max-len", "100000",
	}})
	return srv, logPath
}

// monitor holds every command a Redis server ran while it watched
// (MONITOR), each argument's bytes as the client sent them, one a line.
type monitor struct {
	conn net.Conn
	done chan struct{}
	mu   sync.Mutex
	out  bytes.Buffer
	err  error
}

// monitorEnd is the argument of the ECHO that tells a monitor it has seen
// every command sent before it.
const monitorEnd = "outside-monitor-end"

func startMonitor(t *testing.T, addr string) *monitor {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = conn.Write([]byte("*1\r\n$7\r\nMONITOR\r\n"))
	require.NoError(t, err)
	r := bufio.NewReaderSize(conn, 1<<20)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "+OK\r\n", line)
	m := &monitor{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			args, err := monitorArgs(strings.TrimSuffix(line, "\r\n"))
			m.mu.Lock()
			if err != nil && m.err == nil {
				m.err = err
			}
			for _, a := range args {
				m.out.Write(a)
				m.out.WriteByte('\n')
			}
			end := len(args) == 2 && strings.EqualFold(string(args[0]), "ECHO") && string(args[1]) == monitorEnd
			m.mu.Unlock()
			if end {
				return
			}
		}
	}()
	return m
}

// stop waits until the monitor has seen every command sent before it was
// called and returns what it saw.
func (m *monitor) stop(t *testing.T, addr string) []byte {
	t.Helper()
	_, err := redistest.Do(addr, "ECHO", monitorEnd)
	require.NoError(t, err)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "MONITOR did not see the end marker")
	}
	_ = m.conn.Close()
	m.mu.Lock()
	defer m.mu.Unlock()
	require.NoError(t, m.err, "a MONITOR line that does not parse")
	return bytes.Clone(m.out.Bytes())
}

// monitorArgs parses a MONITOR line (+<time> [<db> <client>] "arg" ...)
// into its arguments' bytes, undoing Redis's quoting (\\, \", \n, \r, \t,
// \a, \b and \xHH).
func monitorArgs(line string) ([][]byte, error) {
	i := strings.Index(line, "] ")
	if !strings.HasPrefix(line, "+") || i < 0 {
		return nil, fmt.Errorf("MONITOR line of %d bytes without its header", len(line))
	}
	s := line[i+2:]
	var out [][]byte
	for len(s) > 0 {
		if s[0] == ' ' {
			s = s[1:]
			continue
		}
		if s[0] != '"' {
			return nil, fmt.Errorf("MONITOR argument %d not quoted", len(out))
		}
		var a []byte
		j := 1
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] != '\\' || j+1 >= len(s) {
				a = append(a, s[j])
				continue
			}
			j++
			switch s[j] {
			case 'n':
				a = append(a, '\n')
			case 'r':
				a = append(a, '\r')
			case 't':
				a = append(a, '\t')
			case 'a':
				a = append(a, '\a')
			case 'b':
				a = append(a, '\b')
			case 'x':
				if j+2 >= len(s) {
					return nil, fmt.Errorf("MONITOR argument %d: a short \\x escape", len(out))
				}
				v, err := strconv.ParseUint(s[j+1:j+3], 16, 8)
				if err != nil {
					return nil, fmt.Errorf("MONITOR argument %d: a bad \\x escape", len(out))
				}
				a = append(a, byte(v))
				j += 2
			default:
				a = append(a, s[j])
			}
		}
		if j >= len(s) {
			return nil, fmt.Errorf("MONITOR argument %d not closed", len(out))
		}
		out = append(out, a)
		s = s[j+1:]
	}
	return out, nil
}

// redisKey is one key of a Redis dump.
type redisKey struct {
	name, typ string
	pttl      time.Duration // -1: none
}

// dumpRedis returns every key of the server at addr (SCAN) with its type
// and every value as its type reads it (GET, HGETALL, ZRANGE WITHSCORES,
// LRANGE, SMEMBERS, XRANGE; a HyperLogLog is a string, its registers
// read with GET), and every key's DUMP, all as raw bytes; and the keys.
func dumpRedis(t *testing.T, addr string) ([]byte, []redisKey) {
	t.Helper()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	var b bytes.Buffer
	var keys []redisKey
	for it := c.Scan(ctx, 0, "*", 1000).Iterator(); it.Next(ctx); {
		k := it.Val()
		typ, err := c.Type(ctx, k).Result()
		require.NoError(t, err)
		if typ == "none" {
			continue // expired since the SCAN
		}
		ttl, err := c.PTTL(ctx, k).Result()
		require.NoError(t, err)
		keys = append(keys, redisKey{k, typ, ttl})
		fmt.Fprintf(&b, "%s %s %v\n", typ, k, ttl)
		var v any
		switch typ {
		case "string":
			v, err = c.Get(ctx, k).Result()
		case "hash":
			v, err = c.HGetAll(ctx, k).Result()
		case "zset":
			v, err = c.ZRangeWithScores(ctx, k, 0, -1).Result()
		case "list":
			v, err = c.LRange(ctx, k, 0, -1).Result()
		case "set":
			v, err = c.SMembers(ctx, k).Result()
		case "stream":
			v, err = c.XRange(ctx, k, "-", "+").Result()
		}
		if !errors.Is(err, redis.Nil) {
			require.NoError(t, err, "reading a key of type %s", typ)
		}
		fmt.Fprintf(&b, "%v\n", v)
		d, err := c.Dump(ctx, k).Result()
		if !errors.Is(err, redis.Nil) {
			require.NoError(t, err)
		}
		b.WriteString(d)
		b.WriteByte('\n')
	}
	return b.Bytes(), keys
}

// redisServerState returns what the server itself keeps that an operator
// reads: its slow log (every command, as configured by startRedis), its
// log file, and the names and bytes of every file in its working
// directory (CONFIG GET dir).
func redisServerState(t *testing.T, addr, logPath string) (slowlog, log []byte, files map[string][]byte) {
	t.Helper()
	v, err := redistest.DoValue(addr, "SLOWLOG", "GET", "-1")
	require.NoError(t, err)
	slowlog = fmt.Appendf(nil, "%v", v)
	log, err = os.ReadFile(logPath)
	require.NoError(t, err)
	dir, err := redistest.DoValue(addr, "CONFIG", "GET", "dir")
	require.NoError(t, err)
	kv, ok := dir.([]any)
	require.True(t, ok && len(kv) == 2, "CONFIG GET dir answers a pair")
	d, _ := kv[1].(string)
	require.NotEmpty(t, d)
	entries, err := os.ReadDir(d)
	require.NoError(t, err)
	files = map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(d, e.Name()))
		if err != nil {
			b = []byte(err.Error())
		}
		files[e.Name()] = b
	}
	return slowlog, log, files
}

// startPostgres starts a PostgreSQL server of the test's own
// (internal/pgtest), logging every statement with its parameters, and
// returns it with the URL of a new database.
func startPostgres(t *testing.T) (*pgtest.Server, string) {
	t.Helper()
	srv := pgtest.Start(t)
	db, err := sql.Open("pgx", srv.URL())
	require.NoError(t, err)
	defer db.Close()
	for _, q := range []string{
		"ALTER SYSTEM SET log_statement = 'all'",
		"ALTER SYSTEM SET log_min_error_statement = 'info'",
		"ALTER SYSTEM SET log_parameter_max_length = -1",
		"ALTER SYSTEM SET log_parameter_max_length_on_error = -1",
		"SELECT pg_reload_conf()",
	} {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
	u := srv.DB(t)
	require.Eventually(t, func() bool {
		c, err := sql.Open("pgx", u)
		if err != nil {
			return false
		}
		defer c.Close()
		var v string
		return c.QueryRow("SHOW log_statement").Scan(&v) == nil && v == "all"
	}, 5*time.Second, 10*time.Millisecond, "the server logs every statement")
	return srv, u
}

// dumpPostgres returns every row of every table of the database at u, each
// value as the driver gives it (bytes as they are), its server's log and
// the bytes of the database's files and the write-ahead log, after a
// CHECKPOINT has written every page.
func dumpPostgres(t *testing.T, u string) (rows, log []byte, files map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("pgx", u)
	require.NoError(t, err)
	defer db.Close()
	rows = []byte(dumpTables(t, db, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"))
	_, err = db.ExecContext(ctx, "CHECKPOINT")
	require.NoError(t, err)
	var dataDir string
	var dbOID int64
	require.NoError(t, db.QueryRowContext(ctx, "SHOW data_directory").Scan(&dataDir))
	require.NoError(t, db.QueryRowContext(ctx, "SELECT oid FROM pg_database WHERE datname = current_database()").Scan(&dbOID))
	// The harness writes the server's output next to its data directory.
	log, err = os.ReadFile(filepath.Join(filepath.Dir(dataDir), "postgres.log"))
	require.NoError(t, err, "the server's log, where internal/pgtest writes it")
	files = map[string][]byte{}
	for _, dir := range []string{filepath.Join(dataDir, "base", strconv.FormatInt(dbOID, 10)), filepath.Join(dataDir, "pg_wal")} {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			p := filepath.Join(dir, e.Name())
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			files[p] = data
		}
	}
	return rows, log, files
}

// bareLogger is a logger that masks nothing (slog's JSON handler alone),
// writing to buf: what the fleet's parts log through it must be masked by
// the parts themselves.
func bareLogger(buf *testlog.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
