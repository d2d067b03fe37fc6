package sqlsink

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/burstlog"
	"github.com/clickanon/clickanon/internal/errmask"
	"github.com/clickanon/clickanon/retention"
)

// ErrBufferFull is wrapped by the error of an Add refused because counting
// it would take the buffer past [Options].MaxBufferedCells.
var ErrBufferFull = errors.New("sqlsink: buffer full")

// ErrClosed is wrapped by the errors of a Sink's methods after Close.
var ErrClosed = errors.New("sqlsink: sink closed")

// Sink is an [aggregate.Backend] that keeps the statistics in a SQL
// database: PostgreSQL for a fleet of instances, or an embedded SQLite
// file. See the package documentation for the schema and the guarantees.
//
// Add only updates an in-memory buffer; a background loop writes it every
// FlushInterval, and [Sink.Flush] writes it at once. [Sink.Cells] reads
// what has been written. [Sink.Close] stops the loop and writes what is
// left.
//
// A Sink is safe for concurrent use. The zero Sink is not usable: its
// methods return an error (build one with [New] or [Open]); so do those of
// a nil *Sink (Stats reports zero), and a nil context.
type Sink struct {
	db      *sql.DB
	ownDB   bool // opened by Open: closed by Close
	dialect Dialect
	cfg     config
	buf     buffer

	held   atomic.Int64 // cells in the buffer and in pending
	closed atomic.Bool

	flushMu ctxMutex              // one flush (or erase, or sweep) at a time
	pending *batch                // a batch that failed, retried before anything new
	stmts   map[stmtKey]*sql.Stmt // prepared by write, reused; guarded by flushMu

	stats struct {
		flushes, flushErrors, written, buffered, dropped atomic.Uint64
	}
	// logFlush logs failed flushes once per burst and the recovery;
	// logDrop logs clicks refused for a full buffer once per burst (Add's
	// success path reads its Hot flag, one atomic, before building the
	// recovery line's attributes).
	logFlush, logDrop burstlog.Logger

	stop     chan struct{}
	loopDone chan struct{}
	kick     chan struct{}

	closeOnce sync.Once
	closeErr  error

	// afterCommit, if set by a test, runs after a batch's transaction
	// commits; an error it returns is treated as a lost reply.
	afterCommit func() error
	// beforeWrite, if set by a test, runs before a batch's transaction
	// begins; an error it returns fails the attempt before anything is
	// sent.
	beforeWrite func() error
	// beforeCommit, if set by a test, runs once a batch's rows are
	// written, before its commit; an error it returns rolls the
	// transaction back.
	beforeCommit func() error

	// sqlMerge is set when the database merges sketches itself (SQLite
	// through this process's driver): a flush is then one upsert per
	// chunk, with no sketch sent back.
	sqlMerge bool

	// sketches holds the decoded sketches of the encodings this Sink
	// wrote last, so that a merge decodes a stored sketch only when
	// another writer changed it; cacheID names it to SQLite's merge
	// function (see sketchCaches).
	sketches *sketchCache
	cacheID  uint64

	// memory remembers the versions and sketches of the cells this Sink
	// wrote on PostgreSQL (nil on SQLite), and memos what the write in
	// progress learned, remembered once it commits: both guarded by
	// flushMu. rewrites counts the rows a flush wrote a second time.
	memory   *cellMemory
	memos    []memo
	rewrites atomic.Uint64
	// valuesBytes is valuesBytes, which tests change to take either way.
	valuesBytes int
}

var (
	_ aggregate.Backend   = (*Sink)(nil)
	_ clickstore.Sink     = (*Sink)(nil)
	_ retention.Sweepable = (*Sink)(nil)
)

// Open opens the database named by dsn, brings its schema up to date and
// returns a Sink that owns it (Close closes it). dsn is either
// "sqlite:PATH" (a file, created if missing, named as written, '%' and
// all; PATH must not hold '?', '#' or a NUL byte) or a
// PostgreSQL URL, "postgres://..." or "postgresql://...". Errors never
// repeat dsn, which may hold a password. A SQLite file is opened on one
// connection with busy_timeout(10000), journal_mode(WAL),
// synchronous(NORMAL) and _txlock=immediate: see the package
// documentation for what that means for durability.
func Open(ctx context.Context, dsn string, opts *Options) (_ *Sink, err error) {
	defer errmask.Wrap(&err)
	if ctx == nil {
		return nil, errors.New("sqlsink: open: nil context")
	}
	var (
		db *sql.DB
		d  Dialect
	)
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		switch {
		case path == "":
			return nil, errors.New("sqlsink: open: sqlite data source has no path")
		case strings.ContainsAny(path, "?#"):
			return nil, errors.New("sqlsink: open: sqlite path holds '?' or '#'")
		case strings.IndexByte(path, 0) >= 0:
			return nil, errors.New("sqlsink: open: sqlite path holds a NUL byte")
		}
		d = SQLite
		// SQLite decodes %HH in a file: URI's path: a '%' is written
		// %25, so that the file opened is the one named.
		db, err = sql.Open("sqlite", "file:"+strings.ReplaceAll(path, "%", "%25")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	case strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://"):
		// pgx's parse errors quote the URL (the password masked, the
		// host and user not), so it is parsed here, where its error can
		// be kept out of the text: config, the only use, goes to OpenDB.
		cfg, perr := pgx.ParseConfig(dsn)
		if perr != nil {
			return nil, &hiddenError{
				msg: fmt.Sprintf("sqlsink: open: postgresql data source of %d bytes does not parse", len(dsn)),
				err: perr,
			}
		}
		d = PostgreSQL
		db = stdlib.OpenDB(*cfg)
	default:
		return nil, fmt.Errorf("sqlsink: open: data source of %d bytes: want sqlite:PATH or a postgres:// URL", len(dsn))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlsink: open %s: %w", d, err)
	}
	if d == SQLite {
		// One connection: SQLite has one writer at a time anyway, and a
		// single connection never meets SQLITE_BUSY from itself.
		db.SetMaxOpenConns(1)
	}
	s, err := New(ctx, db, d, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.ownDB = true
	return s, nil
}

// New returns a Sink writing to db, a database of dialect d, after
// bringing its schema up to date (see [SchemaVersion]). The caller keeps
// db: Close does not close it. With SQLite, open db with
// "_txlock=immediate" and a busy timeout (as Open does) if several
// processes share the file. A PostgreSQL db must be opened through pgx's
// driver ("pgx", or pgx's stdlib.OpenDB): the sink's upserts send arrays,
// which other drivers do not take. It returns an error if db is nil, d
// unknown or PostgreSQL through another driver, opts invalid or the
// migration fails.
func New(ctx context.Context, db *sql.DB, d Dialect, opts *Options) (_ *Sink, err error) {
	defer errmask.Wrap(&err)
	if db == nil {
		return nil, errors.New("sqlsink: new: nil database")
	}
	if ctx == nil {
		return nil, errors.New("sqlsink: new: nil context")
	}
	if d != SQLite && d != PostgreSQL {
		return nil, fmt.Errorf("sqlsink: new: dialect %d unknown", int(d))
	}
	if _, pgx := db.Driver().(*stdlib.Driver); d == PostgreSQL && !pgx {
		return nil, errors.New(`sqlsink: new: PostgreSQL database not opened through pgx's driver ("pgx"), which the sink needs to send arrays`)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db, d); err != nil {
		return nil, err
	}
	s := &Sink{
		db: db, dialect: d, cfg: cfg,
		stop: make(chan struct{}), loopDone: make(chan struct{}), kick: make(chan struct{}, 1),
		flushMu: newCtxMutex(),
	}
	for _, l := range []*burstlog.Logger{&s.logFlush, &s.logDrop} {
		l.Logger, l.Every, l.Mask = cfg.logger, cfg.logEvery, errmask.Text
	}
	s.sqlMerge = d == SQLite && hasSQLMerge(ctx, db)
	s.sketches = newSketchCache(sketchCacheBytes)
	s.cacheID = registerSketchCache(s.sketches)
	if d == PostgreSQL {
		s.memory, s.valuesBytes = newCellMemory(rememberBytes), valuesBytes
	}
	s.buf.init()
	go s.loop()
	return s, nil
}

// check begins every method of Sink that takes a context: it refuses a nil
// *Sink, one not made by New or Open and a nil ctx, with an error naming
// op, rather than panic (a nil ctx would panic in the driver with the
// database's one connection taken, and every later call would wait for
// it for good).
func (s *Sink) check(ctx context.Context, op string) error {
	switch {
	case s == nil:
		return errors.New("sqlsink: " + op + ": nil *Sink")
	case s.stop == nil:
		return errors.New("sqlsink: " + op + ": Sink not made by New or Open")
	case ctx == nil:
		return errors.New("sqlsink: " + op + ": nil context")
	}
	return nil
}

// Add counts c, whose visitor's uniqueness is u, in the buffer: in its
// minute, hour and day buckets, in total and by country, masked network
// (never finer than Options.NetworkPolicy: see [aggregate.NetworkOf]),
// referrer host and device class, as [aggregate.CountsOf] says. It never
// waits on the database. It returns an error, and counts nothing, if c
// fails [clickstore.Click.Validate] (which also refuses text that is not
// valid UTF-8 or holds a NUL byte, which PostgreSQL would refuse for the
// whole batch), u is
// unknown, ctx is done, the Sink is closed, or the buffer is full
// (ErrBufferFull; counted in Stats.Dropped and logged).
func (s *Sink) Add(ctx context.Context, c clickstore.Click, u clickstore.Uniqueness) error {
	if err := s.check(ctx, "add click"); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlsink: add click: %w", err)
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("sqlsink: add click: %w", err)
	}
	if u > clickstore.Repeat {
		return fmt.Errorf("sqlsink: add click: uniqueness %d unknown", int(u))
	}
	if s.closed.Load() {
		return fmt.Errorf("sqlsink: add click: %w", ErrClosed)
	}
	c.Network = aggregate.NetworkOf(c.Network, s.cfg.networks)
	n := aggregate.CountsOf(&c, u)
	var v *clickstore.Pseudonym
	if c.Bot == "" {
		v = &c.Visitor
	}
	sh := s.buf.shard(c.Link)
	sh.mu.Lock()
	ok := sh.add(&c, n, v, s.reserve)
	if ok {
		s.stats.buffered.Add(1)
	}
	sh.mu.Unlock()
	if !ok {
		dropped := s.stats.dropped.Add(1)
		err := fmt.Errorf("sqlsink: add click: %w (%d cells)", ErrBufferFull, s.cfg.maxCells)
		s.logDrop.Fail(ctx, s.cfg.now(), "sqlsink: click dropped: buffer full; it will not be counted", err,
			slog.Int("max_buffered_cells", s.cfg.maxCells), slog.Uint64("dropped_total", dropped))
		return err
	}
	if s.logDrop.Hot() {
		s.logDrop.OK(ctx, s.cfg.now(), "sqlsink: buffer takes clicks again",
			slog.Uint64("dropped_total", s.stats.dropped.Load()))
	}
	return nil
}

// reserve takes need cells of the buffer bound, or reports false and takes
// none if that would pass it.
func (s *Sink) reserve(need int) bool {
	if need == 0 {
		return true
	}
	for {
		h := s.held.Load()
		if h+int64(need) > int64(s.cfg.maxCells) {
			return false
		}
		if s.held.CompareAndSwap(h, h+int64(need)) {
			return true
		}
	}
}

// Flush writes the buffer to the database now: first a batch whose commit
// reply was lost, with its original token, then everything buffered. It
// returns the first error; what was not written stays buffered for the
// next try, and is never written twice. It waits for a flush in progress
// (one the background loop runs waits on a hung database for up to 30
// s), for as long as ctx lets it: an error wrapping ctx's then. So do
// EraseLink and Close.
func (s *Sink) Flush(ctx context.Context) (err error) {
	if err := s.check(ctx, "flush"); err != nil {
		return err
	}
	defer errmask.Wrap(&err)
	if s.closed.Load() {
		return fmt.Errorf("sqlsink: flush: %w", ErrClosed)
	}
	return s.flush(ctx)
}

func (s *Sink) flush(ctx context.Context) error {
	if err := s.flushMu.lock(ctx); err != nil {
		return fmt.Errorf("sqlsink: flush: waiting for another flush: %w", err)
	}
	defer s.flushMu.unlock()
	return s.flushLocked(ctx)
}

// ctxMutex is a mutex whose lock gives up when its context ends: a call
// with a deadline (Flush on a request path, say) must not wait out
// another flush that hangs on the database for up to flushTimeout.
type ctxMutex chan struct{}

func newCtxMutex() ctxMutex { return make(ctxMutex, 1) }

// lock takes m, or returns ctx's error if ctx ends first.
func (m ctxMutex) lock(ctx context.Context) error {
	select {
	case m <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m ctxMutex) unlock() { <-m }

func (s *Sink) flushLocked(ctx context.Context) error {
	var written uint64 // increments written by this call
	defer func() {
		if written > 0 {
			s.logFlush.OK(ctx, s.cfg.now(), "sqlsink: database reachable again; held increments written",
				slog.Uint64("retried_increments", written))
		}
	}()
	for range 2 { // the failed batch, then the buffer
		retry := s.pending != nil
		if !retry {
			b, err := s.buf.drain(&s.cfg, s.cfg.now())
			if err != nil {
				return fmt.Errorf("sqlsink: flush: %w", err)
			}
			if b == nil {
				return nil
			}
			b.token = newToken()
			s.pending = b
		}
		b := s.pending
		if unknown, err := s.write(ctx, b); err != nil {
			s.stats.flushErrors.Add(1)
			b.maybeWritten = b.maybeWritten || unknown
			if !b.maybeWritten {
				// Certainly not written: back into the buffer, where new
				// clicks on its cells are counted without new cells.
				s.pending = nil
				s.held.Add(int64(-b.cells))
				added, rerr := s.buf.restore(b)
				s.held.Add(int64(added))
				err = errors.Join(err, rerr)
			}
			err = fmt.Errorf("sqlsink: flush: %w", err)
			s.logFlush.Fail(ctx, s.cfg.now(), "sqlsink: flush failed; increments stay buffered and will be retried", err,
				slog.Uint64("buffered_increments", s.stats.buffered.Load()), slog.Int64("buffered_cells", s.held.Load()))
			return err
		}
		s.pending = nil
		s.held.Add(int64(-b.cells))
		s.stats.buffered.Add(-b.adds)
		s.stats.written.Add(b.adds)
		s.stats.flushes.Add(1)
		written += b.adds
		if !retry {
			return nil
		}
	}
	return nil
}

// newToken returns a random batch token: 32 hex digits.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// flushTimeout bounds one background flush.
const flushTimeout = 30 * time.Second

// loop flushes every interval, backing off (doubling up to MaxBackoff)
// while flushes fail, until Close.
func (s *Sink) loop() {
	defer close(s.loopDone)
	wait := s.cfg.interval
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(flushTimeout, s.cfg.interval))
		err := s.flush(ctx)
		cancel()
		if err != nil {
			wait = min(wait*2, s.cfg.maxBackoff)
		} else {
			wait = s.cfg.interval
		}
		t.Reset(wait)
	}
}

// Close stops the background loop and writes what is buffered, trying
// until it succeeds or ctx is done: give it a ctx with a deadline, or it
// waits for as long as the database is down. What it could not write is counted in
// Stats.Dropped, logged and reported in the error. A Sink opened by Open
// closes its database. After Close, Add, Flush, Cells, Sweep and EraseLink
// return errors wrapping ErrClosed. Close is idempotent: later calls
// return the first call's result.
func (s *Sink) Close(ctx context.Context) (err error) {
	if err := s.check(ctx, "close"); err != nil {
		return err
	}
	defer errmask.Wrap(&err)
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stop)
		<-s.loopDone
		wait := 10 * time.Millisecond
		err := s.flushMu.lock(ctx)
		if err == nil {
			defer s.flushMu.unlock()
			for {
				if err = s.flushLocked(ctx); err == nil || ctx.Err() != nil {
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
				wait = min(wait*2, time.Second)
			}
		}
		if err != nil {
			lost := s.stats.buffered.Swap(0)
			s.stats.dropped.Add(lost)
			s.cfg.logger.Error("sqlsink: close: increments not written; they are lost",
				"error", errmask.Text(err.Error()), "lost_increments", lost)
			s.closeErr = fmt.Errorf("sqlsink: close: %d increments not written: %w", lost, err)
		}
		sketchCaches.Delete(s.cacheID)
		if cerr := s.closeStmts(); cerr != nil && s.closeErr == nil {
			s.closeErr = fmt.Errorf("sqlsink: close: %w", cerr)
		}
		if s.ownDB {
			if cerr := s.db.Close(); cerr != nil && s.closeErr == nil {
				s.closeErr = fmt.Errorf("sqlsink: close: %w", cerr)
			}
		}
	})
	return s.closeErr
}

// Stats are a Sink's counters since it was built, for metrics. Increments
// are Adds: one click or conversion each, whatever number of cells it
// touches.
//
// Stats is a small comparable value; the zero Stats is all zeros.
type Stats struct {
	Flushes       uint64 // batches written
	FlushErrors   uint64 // failed attempts to write a batch
	Written       uint64 // increments written to the database
	Buffered      uint64 // increments in memory, waiting to be written
	BufferedCells int    // cells in memory, against MaxBufferedCells
	Dropped       uint64 // increments refused for a full buffer, or not written at Close
}

// Stats returns the Sink's counters. It is safe to call at any time,
// after Close too.
func (s *Sink) Stats() Stats {
	if s == nil {
		return Stats{}
	}
	return Stats{
		Flushes:       s.stats.flushes.Load(),
		FlushErrors:   s.stats.flushErrors.Load(),
		Written:       s.stats.written.Load(),
		Buffered:      s.stats.buffered.Load(),
		BufferedCells: int(s.held.Load()),
		Dropped:       s.stats.dropped.Load(),
	}
}

// hiddenError is an error whose cause quotes what it was given (a data
// source name): its text says only what went wrong, and the cause stays
// reachable with errors.Unwrap, errors.Is and errors.As for a caller that
// chooses to look.
type hiddenError struct {
	msg string
	err error
}

func (e *hiddenError) Error() string { return e.msg }
func (e *hiddenError) Unwrap() error { return e.err }
