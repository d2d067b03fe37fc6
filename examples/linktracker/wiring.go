package main

// This file holds every call into the packages that are still moving (the
// tracker, the statistics sink, the Redis store), so that re-pointing the
// example at their new homes is a change here and nowhere else.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go4.org/netipx"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/metrics"
	"github.com/clickanon/clickanon/retention"
)

// redisPrefix starts every key the example writes to Redis.
const redisPrefix = "linktracker"

// newRedisClient connects to the -redis flag's server: host:port, several
// comma-separated host:port of a cluster, or a redis:// (rediss://) URL.
// Errors never repeat the flag, since a URL can hold a password. The
// client honours its context's deadline (ContextTimeoutEnabled), so that
// -store-timeout bounds a wait on a Redis that hangs; go-redis otherwise
// waits out its own read timeout.
func newRedisClient(spec string) (redis.UniversalClient, string, error) {
	if strings.Contains(spec, "://") {
		o, err := redis.ParseURL(spec)
		if err != nil {
			return nil, "", errors.New("-redis: the URL does not parse (want redis://[user:password@]host:port[/db])")
		}
		return redis.NewUniversalClient(&redis.UniversalOptions{
			Addrs: []string{o.Addr}, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig,
			ContextTimeoutEnabled: true,
		}), "redis " + o.Addr, nil
	}
	var addrs []string
	for i, a := range strings.Split(spec, ",") {
		a = strings.TrimSpace(a)
		if a == "" || strings.ContainsAny(a, " /@") {
			return nil, "", fmt.Errorf("-redis: entry %d is not host:port", i+1)
		}
		addrs = append(addrs, a)
	}
	// One address is a single server, several a cluster.
	return redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, ContextTimeoutEnabled: true}), "redis " + strings.Join(addrs, ","), nil
}

// redisLog sends go-redis's own log lines (a pool that cannot dial, with
// the server's address) through the app's masked logger rather than to
// stderr as they are, at most one a minute: go-redis logs every failed
// dial, several a second for as long as Redis is away, and the store's
// own warnings already say what each outage costs. A line says how many
// were left out since the one before.
type redisLog struct {
	log *slog.Logger

	mu      sync.Mutex
	last    time.Time // when the last line was logged
	skipped int       // lines left out since
}

// redisLogEvery is how often go-redis's lines are let through.
const redisLogEvery = time.Minute

func (r *redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.mu.Lock()
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < redisLogEvery {
		r.skipped++
		r.mu.Unlock()
		return
	}
	skipped := r.skipped
	r.last, r.skipped = now, 0
	r.mu.Unlock()
	r.log.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...), "left_out", skipped)
}

// routeRedisLogs makes go-redis log through logger. go-redis has one
// logger for the process, so run calls this once.
func routeRedisLogs(logger *slog.Logger) { redis.SetLogger(&redisLog{log: logger}) }

// newClickStore is the transient half: Memory, or Redis for several
// instances, with the epoch keys next to it.
func newClickStore(ctx context.Context, client redis.UniversalClient, cfg config, logger *slog.Logger) (clickstore.Store, *retention.Keyring, error) {
	var keys *redisstore.KeyStore
	var keyStore retention.KeyStore // nil: the keyring's in-memory default
	if client != nil {
		var err error
		if keys, err = redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: redisPrefix}); err != nil {
			return nil, nil, err
		}
		keyStore = keys
	}
	keyring, err := retention.NewKeyring(&retention.KeyringOptions{Store: keyStore, Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	if client == nil {
		store, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: cfg.now})
		return store, keyring, err
	}
	store, err := redisstore.New(ctx, client, &redisstore.Options{
		Prefix:           redisPrefix,
		Now:              cfg.now,
		Keyring:          keyring,
		KeyStore:         keys,             // after a Redis restart the instances agree on one new key
		Timeout:          cfg.storeTimeout, // a lost node costs a click at most this long
		Logger:           logger,
		AllowPersistence: cfg.allowPersistence,
		AllowEviction:    cfg.allowEviction,
	})
	if errors.Is(err, redisstore.ErrPersistence) {
		err = fmt.Errorf("%w\n(start one with: redis-server --save '' --appendonly no; or pass -redis-allow-persistence)", err)
	}
	if errors.Is(err, redisstore.ErrEviction) {
		err = fmt.Errorf("%w (set maxmemory-policy noeviction, or pass -redis-allow-eviction)", err)
	}
	return store, keyring, err
}

// defaultFlushInterval is how often the statistics are written to the
// database when -flush-interval is not given: what a SIGKILL can lose.
const defaultFlushInterval = sqlsink.DefaultFlushInterval

// newStatsBackend is where the statistics go: the SQL sink, in the
// database the links are in, so that the counts survive a restart and
// every instance adds to the same ones (Redis, with -redis, holds only the
// transient clicks and the epoch keys). It writes what it buffers every
// flushInterval, and on Close.
func newStatsBackend(ctx context.Context, db *database, now func() time.Time, flushInterval time.Duration, logger *slog.Logger) (*sqlsink.Sink, error) {
	dialect := sqlsink.SQLite
	if db.dialect == "postgres" {
		dialect = sqlsink.PostgreSQL
	}
	return sqlsink.New(ctx, db.DB, dialect, &sqlsink.Options{Now: now, Logger: logger, FlushInterval: flushInterval})
}

// newClickTracker builds the tracker that turns a request into a counted
// click: the full address is used inside it only.
func newClickTracker(policy ipmask.Policy, keyring *retention.Keyring, store clickstore.Store, sink clickstore.Sink,
	resolver *clientip.Resolver, exclude *netipx.IPSet, now func() time.Time, logger *slog.Logger, enrich func(*http.Request, netip.Addr) track.Attributes) (*track.Tracker, error) {
	builder, err := clickstore.NewBuilder(policy, keyring, nil)
	if err != nil {
		return nil, err
	}
	return track.New(builder, store, sink, &track.Options{
		Resolver:     resolver,
		Exclude:      exclude, // -exclude: offices, monitors
		OptOutHeader: "Sec-GPC",
		OptOutParam:  "optout",
		Now:          now,
		Logger:       logger,
		Enrich:       enrich, // the country, when -geoip names a database
	})
}

// timeoutStore bounds each store call on the request path, so a stalled
// store costs a visitor at most d: the click is then counted with its
// uniqueness unknown.
type timeoutStore struct {
	clickstore.Store
	d time.Duration
}

func (s timeoutStore) Record(ctx context.Context, c clickstore.Click) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.d)
	defer cancel()
	return s.Store.Record(ctx, c)
}

func (s timeoutStore) Latest(ctx context.Context, visitor, prev clickstore.Pseudonym, link string) (clickstore.Click, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.d)
	defer cancel()
	return s.Store.Latest(ctx, visitor, prev, link)
}

// redisStoreStats reads a Redis store's failure figures for /metrics; nil
// for the in-memory store, whose failures the tracker's figures cover.
func redisStoreStats(s clickstore.Store) func() metrics.StoreStats {
	rs, ok := s.(*redisstore.Store)
	if !ok {
		return nil
	}
	return func() metrics.StoreStats {
		st := rs.Stats()
		return metrics.StoreStats{RecordErrors: st.RecordErrors, LatestErrors: st.LatestErrors, SweepErrors: st.SweepErrors,
			Restarts: st.Restarts, Full: st.Full, IndexErrors: st.IndexErrors, IndexDropped: st.IndexDropped}
	}
}
