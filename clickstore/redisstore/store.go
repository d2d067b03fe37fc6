package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/errmask"
	"github.com/clickanon/clickanon/retention"
)

// DefaultPrefix is the key prefix when Options.Prefix is "".
const DefaultPrefix = "clickanon"

// slack is added to the window in the keys' relative TTLs, so that Redis
// never deletes a click the store's clock still shows (the two clocks tick
// at slightly different rates); visibility is decided by the store's clock,
// so the slack never makes a click readable longer.
const slack = 2 * time.Second

// sweepBatch bounds the work of one sweep script run, so that a sweep never
// blocks the server for long.
const sweepBatch = 512

// Options configures [New]. The zero value (or a nil pointer) means the
// defaults. New copies what it needs; the caller's struct is not modified.
type Options struct {
	// Prefix starts every key of the store, so that several services (or
	// stores) share a server. Default DefaultPrefix. It must not contain
	// '{' or '}': the store wraps it in a hash tag.
	Prefix string

	// Policy is the retention window. The zero Policy means
	// retention.DefaultWindow (30 minutes). Every instance sharing a prefix
	// must use the same Policy.
	Policy retention.Policy

	// Now is the store's clock; default time.Now. Visibility is decided by
	// this clock (never by Redis's), so a click recorded at t is invisible
	// from t+W even if Redis has not yet deleted it.
	Now func() time.Time

	// Capacity, if positive, is the number of held clicks at which Record
	// returns an error wrapping clickstore.ErrFull. Zero means no limit
	// other than the server's maxmemory (which must then not evict: see
	// AllowEviction). A capacity makes every Record run the record script,
	// which counts the held clicks: slower than the one SET NX GET of
	// the default (see the package documentation and BENCHMARKS.md).
	// Every instance sharing a prefix must use the same Capacity: one
	// without indexes its clicks a moment late, so the count would lag.
	Capacity int

	// Keyring seals Click.RawAddr (AES-256-GCM under a key derived from
	// the epoch key), so a raw address dies with its epoch key. Recording
	// a click with RawAddr set without a Keyring is an error. Use the same
	// keyring (backed by a [KeyStore] on the same server) on every
	// instance.
	Keyring *retention.Keyring

	// AllowPersistence lets New succeed when the server saves snapshots
	// (save) or an append-only file (appendonly), or refuses CONFIG GET
	// (managed servers often do). Set it only if you accept that dumps
	// and backups keep clicks past their window: see the package
	// documentation.
	AllowPersistence bool

	// Timeout, if positive, bounds each Record, RecordBatch and Latest
	// call, go-redis's retries and redirects included, so that a lost
	// node costs the request path at most this long (see "Redis Cluster"
	// in the package documentation). The client must have
	// ContextTimeoutEnabled for the deadline to cut a blocked read short
	// too. Zero means the caller's context alone. A Record cut short
	// after its command reached the server may have held the click (see
	// "Failures" in the package documentation).
	Timeout time.Duration

	// WaitReplicas, if positive, makes Record wait until that many
	// replicas have what its connection wrote (WAIT, sent in the same
	// round trip as the decision) or WaitTimeout passes; a first click
	// confirmed by fewer is reported with an error wrapping
	// ErrNotReplicated. Replication is asynchronous, so without it a
	// failover can forget first clicks that were reported (see "Redis
	// Cluster"). It needs a *redis.Client or a *redis.ClusterClient.
	// RecordBatch does not wait.
	//
	// The WAIT goes with every Record, as its outcome is not known when
	// it is sent: a repeat is reported as usual, never with an error,
	// and returns at once while the replicas keep up, but while fewer
	// than WaitReplicas replicas are connected (or they lag) every
	// Record, repeats included, waits for WaitTimeout.
	WaitReplicas int

	// WaitTimeout bounds the wait of WaitReplicas; zero means 50 ms.
	// Redis ends a WAIT on its timer, so one that times out lasts until
	// the server's next tick after it: on an idle server with the
	// default hz of 10, about 100 ms for any WaitTimeout below that
	// (measured on Redis 7.0 with 30 ms, first clicks and repeats
	// alike). Options.Timeout, if shorter, cuts the call short instead,
	// with a plain error.
	WaitTimeout time.Duration

	// KeyStore is the KeyStore behind Keyring. With both set, every
	// Record checks, in its script run, that the epoch key this instance
	// uses is the one in Redis: after a Redis restart (which loses the
	// key) or once another instance has created a new key, Record
	// returns an error wrapping ErrKeyChanged, logs a warning and makes
	// Keyring load the shared key again, so that instances converge on one
	// key at their next click instead of counting every visitor once per
	// instance. It must have the store's Prefix (its keys are then in the
	// store's Cluster slot). The check adds a GET of the epoch key to
	// each Record's round trip (one per RecordBatch) and a SHA-1: see
	// BENCHMARKS.md for its cost.
	KeyStore *KeyStore

	// Logger receives warnings: a node whose persistence or eviction
	// setting was accepted only because of AllowPersistence or
	// AllowEviction (named by its server address), a Redis restart that
	// lost the held clicks, and failures of Record (and RecordBatch),
	// Latest and Sweep: one warning when an operation starts failing,
	// then at most one a minute with the count, and an info line when it
	// works again (see [Store.Stats] for the counters). Error text is
	// logged with every address in it cut to no bits. Nil means
	// slog.Default(). Nothing the store logs names a visitor, a pseudonym
	// or a link.
	Logger *slog.Logger

	// AllowEviction lets New succeed when the server's maxmemory-policy
	// may evict keys with a TTL. An evicted click makes its visitor's next
	// click count as unique again.
	AllowEviction bool
}

// Store is a [clickstore.Store] on Redis, shared by every instance that
// uses the same server and Prefix. See the package documentation for the
// key layout and guarantees.
//
// A Store is safe for concurrent use. The zero Store is not usable: its
// methods return an error (build one with [New]; Close of the zero Store
// does nothing). So do those of a nil *Store (Stats reports zero), and a
// nil context. New starts a goroutine that writes the indexes; Close
// stops it.
type Store struct {
	client   redis.UniversalClient
	window   time.Duration
	now      func() time.Time
	capacity int
	keyring  *retention.Keyring
	log      *slog.Logger // never nil

	marker  string // "{prefix}:c:", then visitor (16 bytes) and link
	visIdx  string // "{prefix}:v:", then visitor (16 bytes): same length as marker
	timeIdx string // "{prefix}:i"
	done    string // "{prefix}:d:", then a request token (16 bytes): a done erasing run

	// Boxed once: go-redis takes arguments as []any, and boxing a string
	// allocates.
	timeIdxArg, pxArg, capArg, recordSHA, prevSHA, prevBatchSHA any
	ttl                                                         time.Duration // W plus the slack

	// fast is set when no option needs the record script (Capacity)
	// and the server takes SET NX GET: Record then decides with one SET
	// NX GET (fast.go), with KeyStore's GET of the epoch key in the same
	// round trip, and idx writes the indexes.
	fast bool
	idx  indexer

	// last is the latest store time seen (Unix ns): the clock never goes
	// back, so a clock jump cannot bring an expired click back.
	last   atomic.Int64
	closed atomic.Bool

	tokens requestTokens // one per Record call and per erasing script run
	watch  keyWatch

	timeout      time.Duration
	waitReplicas int
	waitTimeout  time.Duration
	reloaded     atomic.Int64 // when a topology reload was last asked for (Unix ns)

	fails failures
}

var _ clickstore.Store = (*Store)(nil)
var _ retention.Sweepable = (*Store)(nil)

// New returns a Store on client. It checks the server's persistence and
// eviction settings (CONFIG GET save, appendonly, maxmemory-policy) and
// returns an error if they could keep or drop clicks against the promise,
// unless opts allows it; it loads the scripts. A nil client is an error;
// a nil opts is valid.
func New(ctx context.Context, client redis.UniversalClient, opts *Options) (_ *Store, err error) {
	defer func() {
		// A Cluster node that persists or evicts is named, so that an
		// operator can find it; every other error is masked.
		if !errors.Is(err, ErrPersistence) && !errors.Is(err, ErrEviction) {
			errmask.Wrap(&err)
		}
	}()
	if nilClient(client) {
		return nil, errors.New("redisstore: New: nil client")
	}
	if ctx == nil {
		return nil, errors.New("redisstore: New: nil context")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix, err = checkPrefix(o.Prefix); err != nil {
		return nil, err
	}
	if o.Capacity < 0 {
		return nil, fmt.Errorf("redisstore: capacity %d: must not be negative", o.Capacity)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := o.Policy.Window()
	tag := "{" + o.Prefix + "}"
	s := &Store{
		client:   client,
		window:   w,
		now:      o.Now,
		capacity: o.Capacity,
		keyring:  o.Keyring,
		log:      o.Logger,
		marker:   tag + ":c:",
		visIdx:   tag + ":v:",
		timeIdx:  tag + ":i",
		done:     tag + ":d:",
	}
	if o.Timeout < 0 || o.WaitReplicas < 0 || o.WaitTimeout < 0 {
		return nil, errors.New("redisstore: New: Timeout, WaitReplicas and WaitTimeout must not be negative")
	}
	s.timeout, s.waitReplicas, s.waitTimeout = o.Timeout, o.WaitReplicas, o.WaitTimeout
	if s.waitTimeout == 0 {
		s.waitTimeout = 50 * time.Millisecond
	}
	if s.waitReplicas > 0 {
		switch client.(type) {
		case *redis.Client, *redis.ClusterClient:
		default:
			return nil, errors.New("redisstore: New: Options.WaitReplicas needs a *redis.Client or a *redis.ClusterClient")
		}
	}
	if o.KeyStore != nil {
		if o.Keyring == nil {
			return nil, errors.New("redisstore: New: Options.KeyStore is set without the Options.Keyring it serves")
		}
		if o.KeyStore.prefix != tag+":k:" {
			return nil, errors.New("redisstore: New: Options.KeyStore must have the store's Prefix, so that its keys are in the store's slot")
		}
		s.watch.keys = o.KeyStore
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.fails.init(s.log)
	s.timeIdxArg = s.timeIdx
	s.ttl = w + slack
	s.pxArg = strconv.FormatInt(s.ttl.Milliseconds(), 10)
	s.capArg = strconv.Itoa(o.Capacity)
	s.recordSHA = recordScript.Hash()
	s.prevSHA = prevScript.Hash()
	s.prevBatchSHA = prevBatchScript.Hash()
	if err := s.tokens.init(); err != nil {
		return nil, fmt.Errorf("redisstore: New: %v", err)
	}
	if err := checkServer(ctx, client, o.AllowPersistence, o.AllowEviction, s.log); err != nil {
		return nil, err
	}
	for _, sc := range []*redis.Script{recordScript, dropScript, eraseVisitorScript, prevScript, prevBatchScript, takeoverScript, indexScript} {
		if err := sc.Load(ctx, client).Err(); err != nil {
			return nil, fmt.Errorf("redisstore: loading scripts: %w", err)
		}
	}
	if o.Capacity == 0 {
		fast, err := setNXGet(ctx, client, tag+":probe")
		if err != nil {
			return nil, fmt.Errorf("redisstore: New: %w", err)
		}
		if !fast {
			s.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: the server refuses SET with both NX and GET (Redis before 7.0): every Record runs the record script, which is slower")
		}
		s.fast = fast
	}
	if s.fast {
		s.idx.start(s)
	}
	return s, nil
}

// clock returns the store's time, never earlier than a time it returned
// before.
func (s *Store) clock() time.Time {
	t := s.now()
	n := t.UnixNano()
	for {
		l := s.last.Load()
		if n <= l {
			return time.Unix(0, l)
		}
		if s.last.CompareAndSwap(l, n) {
			return t
		}
	}
}

// begin starts every method of Store that takes a context: it refuses a
// nil *Store, one not made by New and a nil ctx, with an error naming op,
// before anything dereferences them.
func (s *Store) begin(ctx context.Context, op string) error {
	switch {
	case s == nil:
		return errors.New("redisstore: " + op + ": nil *Store")
	case s.client == nil:
		return errors.New("redisstore: " + op + ": Store not made by New")
	case ctx == nil:
		return errors.New("redisstore: " + op + ": nil context")
	}
	return nil
}

// nilClient reports whether c is nil, or one of go-redis's clients held
// as a nil pointer (which an interface comparison with nil misses).
func nilClient(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case nil:
		return true
	case *redis.Client:
		return c == nil
	case *redis.ClusterClient:
		return c == nil
	case *redis.Ring:
		return c == nil
	}
	return false
}

func (s *Store) checkOpen(op string) error {
	if s.closed.Load() {
		return fmt.Errorf("redisstore: %s: %w", op, clickstore.ErrClosed)
	}
	return nil
}

// stamp is a time as 19 zero-padded decimal digits of Unix nanoseconds,
// the form the scripts compare; times before 1970 read as 1970.
type stamp [19]byte

func stampOf(t time.Time) stamp {
	var b stamp
	n := recNano(t)
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return b
}

// recNano is the Unix nanoseconds that stampOf(t) writes.
func recNano(t time.Time) int64 { return max(t.UnixNano(), 0) }

// lastNano is the last instant whose Unix nanoseconds fit an int64, in 2262.
var lastNano = time.Unix(0, math.MaxInt64)

// cutoff returns the stamp of now-W: a click is live if its recorded stamp
// is greater.
func (s *Store) cutoff(now time.Time) stamp { return stampOf(now.Add(-s.window)) }

// parseStamp reads a recorded stamp back; ok is false if b is not one.
func parseStamp(b string) (int64, bool) {
	if len(b) < len(stamp{}) {
		return 0, false
	}
	d := b[:len(stamp{})]
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(d, 10, 64) // digits only: fails on overflow alone
	return n, err == nil
}

// id is the hex form of (visitor, link) the sealed raw address is bound
// to.
func id(v clickstore.Pseudonym, link string) string {
	var b [32]byte
	hex.Encode(b[:], v[:])
	return string(b[:]) + link
}

// Record holds c unless a click of the same visitor (c.Visitor or
// c.PrevVisitor) on c.Link is live, and reports whether c is first. It is
// one command (SET NX GET; a small script for a click with a PrevVisitor,
// the record script with Capacity), one round trip, atomic on the server
// (with KeyStore, a GET of the epoch key goes in the same round trip); a first click's index entries are written afterwards, off
// the request path (see the package documentation).
//
// It is safe to retry: each call carries a request token stored with the
// click it holds, so if go-redis resends the command after a lost reply,
// the second run finds its own token and reports first again, instead of
// mistaking the click for its own repeat.
//
// A Redis error is returned as it is (wrapped): nothing is buffered
// locally. The caller should count the click with uniqueness unknown
// (clickstore.UniquenessOf does that).
func (s *Store) Record(ctx context.Context, c clickstore.Click) (_ bool, err error) {
	if err := s.begin(ctx, "record"); err != nil {
		return false, err
	}
	defer errmask.Wrap(&err)
	first, err := s.record(ctx, c)
	withCtxErr(ctx, &err)
	note(ctx, &s.fails.record, s.now, &opRecord, err)
	return first, err
}

func (s *Store) record(ctx context.Context, c clickstore.Click) (bool, error) {
	if err := s.checkOpen("record"); err != nil {
		return false, err
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	now := s.clock()
	if s.fast {
		return s.recordFast(ctx, c, now)
	}
	ek, fp, err := s.keyCheck(ctx, now)
	if err != nil {
		return false, err
	}
	var one [4]any
	a, err := s.appendClick(ctx, one[:0], c, now)
	if err != nil {
		return false, err
	}
	args := []any{"evalsha", s.recordSHA, 5, s.timeIdxArg, ek, a[0], a[1], a[2], s.pxArg, s.capArg, fp, a[3]}
	_, cmd, wait, err := s.send(ctx, nil, args, recordBody)
	if err != nil {
		return false, err
	}
	n, err := cmd.Int()
	if err == nil && n < -1 {
		return false, s.keyChanged(ctx, now, n)
	}
	first, err := s.recordResult(ctx, n, err)
	return s.waited(first, err, wait)
}

// pipeliner is what go-redis's clients offer to pipeline commands.
type pipeliner interface {
	Pipeline() redis.Pipeliner
}

// send runs the command args (falling back to body if it is a script run
// the server lost), after the command pre if it is not nil, and followed
// by WAIT when the store waits for replicas, in one round trip; with WAIT
// all go to the connection of the slot's master, since WAIT counts the
// replicas that have the writes of its own connection. It returns each
// command (wait nil without WAIT), or an error if no node could be found.
func (s *Store) send(ctx context.Context, preArgs, args []any, body string) (pre, cmd, wait *redis.Cmd, err error) {
	if preArgs == nil && s.waitReplicas == 0 {
		return nil, s.do(ctx, args, body), nil, nil
	}
	var node pipeliner = s.client
	if s.waitReplicas > 0 {
		switch c := s.client.(type) {
		case *redis.ClusterClient:
			n, err := c.MasterForKey(ctx, s.timeIdx)
			if err != nil {
				return nil, nil, nil, s.recordErr(ctx, err)
			}
			node = n
		case *redis.Client:
			node = c
		}
	}
	run := func() error {
		pipe := node.Pipeline()
		if preArgs != nil {
			pre = redis.NewCmd(ctx, preArgs...)
			_ = pipe.Process(ctx, pre)
		}
		cmd = redis.NewCmd(ctx, args...)
		_ = pipe.Process(ctx, cmd)
		if s.waitReplicas > 0 {
			wait = pipe.Do(ctx, "wait", s.waitReplicas, s.waitTimeout.Milliseconds())
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	if err := run(); err != nil && args[0] == "evalsha" && redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		args[0], args[1] = "eval", body
		_ = run()
	}
	return pre, cmd, wait, nil
}

// waited adds the outcome of WAIT (nil if the store does not wait) to a
// first click's result.
func (s *Store) waited(first bool, err error, wait *redis.Cmd) (bool, error) {
	if !first || err != nil || wait == nil {
		return first, err
	}
	got, werr := wait.Int()
	if werr != nil {
		return true, fmt.Errorf("redisstore: record: %w: WAIT failed: %w", ErrNotReplicated, werr)
	}
	if got < s.waitReplicas {
		return true, fmt.Errorf("redisstore: record: %w: %d of %d replicas within %v", ErrNotReplicated, got, s.waitReplicas, s.waitTimeout)
	}
	return true, nil
}

// ErrNotReplicated is wrapped by the error Record returns, with first =
// true, when Options.WaitReplicas is set and fewer replicas than asked
// confirmed the first click within Options.WaitTimeout: the click is held
// on the master, but a failover now could forget it. Its uniqueness should
// be counted as unknown (clickstore.UniquenessOf does that).
var ErrNotReplicated = errors.New("first click not confirmed by the replicas")

// encoded is a click ready to send: one buffer holding its marker, its
// visitor index, its previous pseudonym's marker (if any) and the record
// script's argument (trim flag, cutoff, then the marker's value).
type encoded struct {
	buf          []byte
	ml, vil, end int // ends of the marker, the visitor index and the keys
}

func (e *encoded) marker() []byte { return e.buf[:e.ml:e.ml] }
func (e *encoded) visIdx() []byte { return e.buf[e.ml:e.vil:e.vil] }

// prev returns the previous pseudonym's marker, or nil if c had none.
func (e *encoded) prev() []byte {
	if e.end == e.vil {
		return nil
	}
	return e.buf[e.vil:e.end:e.end]
}

// arg is the record script's argument: flag, cutoff (19 digits), value.
func (e *encoded) arg() []byte { return e.buf[e.end:] }

// value is the marker's value: recorded time, request token, the click.
func (e *encoded) value() []byte { return e.buf[e.end+1+len(stamp{}):] }

// token is the request token in the value.
func (e *encoded) token() []byte {
	v := e.value()
	return v[len(stamp{}) : len(stamp{})+tokenLen]
}

// encode validates c and builds its keys and value, recorded at now, in a
// buffer of its own.
func (s *Store) encode(ctx context.Context, c clickstore.Click, now time.Time) (encoded, error) {
	return s.encodeIn(ctx, nil, c, now)
}

// encodeIn is encode with the buffer taken from the free capacity of
// *arena, if it has enough, so that a batch allocates one buffer for all
// its clicks: the bytes a click takes are never written again.
func (s *Store) encodeIn(ctx context.Context, arena *[]byte, c clickstore.Click, now time.Time) (encoded, error) {
	if err := validate("record", c); err != nil {
		return encoded{}, err
	}
	if c.Kind != clickstore.KindClick {
		return encoded{}, fmt.Errorf("redisstore: record: kind %d: %w: stores hold clicks only", int(c.Kind), clickstore.ErrInvalidClick)
	}
	ml := len(s.marker) + len(c.Visitor) + len(c.Link)
	need := encodedLen(ml)
	var buf []byte
	if arena != nil && cap(*arena)-len(*arena) >= need {
		buf = (*arena)[len(*arena):len(*arena)]
	} else {
		buf = make([]byte, 0, need)
	}
	buf = append(append(append(buf, s.marker...), c.Visitor[:]...), c.Link...)
	buf = append(append(buf, s.visIdx...), c.Visitor[:]...)
	vil := len(buf)
	if !c.PrevVisitor.IsZero() && c.PrevVisitor != c.Visitor {
		buf = append(append(append(buf, s.marker...), c.PrevVisitor[:]...), c.Link...)
	}
	e := encoded{ml: ml, vil: vil, end: len(buf)}
	cut, rec := s.cutoff(now), stampOf(now)
	tok := s.tokens.short()
	flag := byte('-')
	if tok[tokenLen-1]%trimEvery == 0 {
		flag = 't'
	}
	buf = append(append(append(append(buf, flag), cut[:]...), rec[:]...), tok[:]...)
	var err error
	if c.RawAddr.IsValid() {
		if s.keyring == nil {
			return encoded{}, callerError{errors.New("redisstore: record: Click.RawAddr is set but there is no Options.Keyring to seal it with")}
		}
		cur, _, kerr := s.keyring.Keys(ctx, now)
		if kerr != nil {
			return encoded{}, fmt.Errorf("redisstore: record: sealing key: %w", kerr)
		}
		secret := cur.Secret()
		buf, err = encodeClick(buf, c, recNano(now), cur.Epoch, &secret)
		clear(secret[:])
	} else {
		buf, err = encodeClick(buf, c, recNano(now), 0, nil)
	}
	if err != nil {
		return encoded{}, err
	}
	// The click's bytes are the arena's unless it outgrew them (a sealed
	// raw address) and moved.
	if arena != nil && cap(*arena)-len(*arena) >= need && unsafe.SliceData(buf) == unsafe.SliceData((*arena)[len(*arena):cap(*arena)]) {
		*arena = (*arena)[:len(*arena)+len(buf)]
	}
	e.buf = buf
	return e, nil
}

// encodedLen is the buffer encode reserves for a click whose marker has ml
// bytes: its three keys, the flag, the cutoff, the recorded time, the
// token and room for the click's value (a longer one grows the buffer).
func encodedLen(ml int) int { return 3*ml + 1 + 2*len(stamp{}) + tokenLen + 64 }

// appendClick appends the three keys of c (marker, visitor index, prev's
// marker or the marker again) and its script argument to args, as []byte
// slices of one buffer.
func (s *Store) appendClick(ctx context.Context, args []any, c clickstore.Click, now time.Time) ([]any, error) {
	e, err := s.encode(ctx, c, now)
	if err != nil {
		return nil, err
	}
	pv := e.prev()
	if pv == nil {
		pv = e.marker()
	}
	return append(args, e.marker(), e.visIdx(), pv, e.arg()), nil
}

// do runs the command args; if it is a script run (EVALSHA) that the
// server lost, it runs the script's source body instead.
func (s *Store) do(ctx context.Context, args []any, body string) *redis.Cmd {
	cmd := redis.NewCmd(ctx, args...)
	_ = s.client.Process(ctx, cmd)
	if err := cmd.Err(); err != nil && args[0] == "evalsha" && redis.HasErrorPrefix(err, "NOSCRIPT") {
		args[0], args[1] = "eval", body
		cmd = redis.NewCmd(ctx, args...)
		_ = s.client.Process(ctx, cmd)
	}
	return cmd
}

// recordErr wraps a failure of Record's command, and has a Cluster client
// reload its topology if the failure suggests it changed.
func (s *Store) recordErr(ctx context.Context, err error) error {
	s.failed(ctx, err)
	return fmt.Errorf("redisstore: record: %w", err)
}

func (s *Store) recordResult(ctx context.Context, n int, err error) (bool, error) {
	switch {
	case err != nil:
		return false, s.recordErr(ctx, err)
	case n == 1:
		return true, nil
	case n == 0:
		return false, nil
	case n == -1:
		s.fails.full.Add(1)
		return false, fmt.Errorf("redisstore: record: %w (capacity %d)", clickstore.ErrFull, s.capacity)
	}
	return false, fmt.Errorf("redisstore: record: unexpected script reply %d", n)
}

// trimEvery is how often (one Record in trimEvery) the record script
// trims the indexes of expired entries.
const trimEvery = 16

// batchRun bounds the clicks one script run of RecordBatch decides, so
// that no run blocks the server for long; longer batches are several runs
// in the same pipeline.
const batchRun = 128

// RecordBatch records clicks in one pipeline (one round trip for all of
// them: one SET NX GET per click, one script run per 128 consecutive
// clicks with a PrevVisitor, or one record script run per 128 clicks with
// Capacity) and returns each click's uniqueness
// in order: Unique, Repeat, or UniqueUnknown for a click that failed. The
// error joins every click's error (nil if none failed). Clicks of the same
// visitor and link in one batch are decided in order, as if recorded one
// after the other.
func (s *Store) RecordBatch(ctx context.Context, clicks []clickstore.Click) (_ []clickstore.Uniqueness, err error) {
	if err := s.begin(ctx, "record batch"); err != nil {
		return nil, err
	}
	defer errmask.Wrap(&err)
	out, errs, err := s.recordBatch(ctx, clicks)
	withCtxErr(ctx, &err)
	for i := range errs {
		withCtxErr(ctx, &errs[i])
	}
	if err != nil {
		note(ctx, &s.fails.record, s.now, &opRecord, err)
		return out, err
	}
	note(ctx, &s.fails.record, s.now, &opRecord, firstFailure(errs))
	return out, errors.Join(errs...)
}

// firstFailure returns the first of errs that is the store's failure (see
// Stats), or nil.
func firstFailure(errs []error) error {
	for _, err := range errs {
		if isFailure(err) {
			return err
		}
	}
	return nil
}

// recordBatch does RecordBatch's work: it returns the uniqueness and the
// error of each click, or an error for the whole batch.
func (s *Store) recordBatch(ctx context.Context, clicks []clickstore.Click) ([]clickstore.Uniqueness, []error, error) {
	if err := s.checkOpen("record batch"); err != nil {
		return nil, nil, err
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	out := make([]clickstore.Uniqueness, len(clicks))
	errs := make([]error, len(clicks))
	now := s.clock()
	if s.fast {
		s.recordBatchFast(ctx, clicks, now, out, errs)
		return out, errs, nil
	}
	ek, fp, err := s.keyCheck(ctx, now)
	if err != nil {
		return nil, nil, err
	}
	type run struct {
		cmd  *redis.Cmd
		args []any
		idx  []int // the clicks it decides
	}
	var runs []run
	keys := make([]any, 0, 3*min(len(clicks), batchRun))
	argv := make([]any, 0, min(len(clicks), batchRun))
	var idx []int
	flush := func() {
		if len(idx) == 0 {
			return
		}
		args := make([]any, 0, 5+len(keys)+3+len(argv))
		args = append(args, "evalsha", s.recordSHA, 2+len(keys), s.timeIdxArg, ek)
		args = append(append(append(args, keys...), s.pxArg, s.capArg, fp), argv...)
		runs = append(runs, run{args: args, idx: idx})
		keys, argv, idx = keys[:0], argv[:0], nil
	}
	var one [4]any
	for i, c := range clicks {
		a, err := s.appendClick(ctx, one[:0], c, now)
		if err != nil {
			errs[i], out[i] = err, clickstore.UniqueUnknown
			continue
		}
		keys = append(keys, a[:3]...)
		argv = append(argv, a[3])
		idx = append(idx, i)
		if len(idx) == batchRun {
			flush()
		}
	}
	flush()
	if len(runs) == 0 {
		return out, errs, nil
	}
	exec := func() error {
		pipe := s.client.Pipeline()
		for i := range runs {
			runs[i].cmd = redis.NewCmd(ctx, runs[i].args...)
			_ = pipe.Process(ctx, runs[i].cmd)
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	if err := exec(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// The server lost the script (a restart): run the source. The
		// calls carry tokens, so running them again is safe.
		for i := range runs {
			runs[i].args[0], runs[i].args[1] = "eval", recordBody
		}
		_ = exec()
	}
	for _, r := range runs {
		var res []any
		err := r.cmd.Err()
		if n, ierr := r.cmd.Int(); err == nil && ierr == nil {
			if n < -1 {
				err = s.keyChanged(ctx, now, n)
			}
			res = []any{int64(n)}
		} else if err == nil {
			res, err = r.cmd.Slice()
		}
		if err == nil && len(res) != len(r.idx) {
			err = fmt.Errorf("unexpected reply of %d elements", len(res))
		}
		for j, i := range r.idx {
			var n int64
			if err == nil {
				n, _ = res[j].(int64)
			}
			first, cerr := s.recordResult(ctx, int(n), err)
			if err != nil && errors.Is(err, ErrKeyChanged) {
				cerr = err
			}
			errs[i] = cerr
			out[i] = clickstore.UniquenessOf(first, cerr)
		}
	}
	return out, errs, nil
}

// held is a click read back from a marker, with its recorded stamp.
type held struct {
	rec    int64
	marker string // the marker's key
	value  string // the marker's value
}

// live reads the value of marker m (nil if absent) and reports whether it
// holds a click live at cutoff cut, and its recorded time.
func live(m string, v any, cut int64) (held, bool, error) {
	str, ok := v.(string)
	if !ok {
		return held{}, false, nil
	}
	rec, ok := parseStamp(str)
	if !ok || len(str) <= len(stamp{})+tokenLen {
		return held{}, false, errCorrupt
	}
	return held{rec: rec, marker: m, value: str}, rec > cut, nil
}

// Latest returns the most recently recorded live click of visitor or prev
// on link (any link if link is ""). With a link it is one MGET; on any
// link it reads the visitors' indexes, then MGETs the markers they list.
func (s *Store) Latest(ctx context.Context, visitor, prev clickstore.Pseudonym, link string) (_ clickstore.Click, _ bool, err error) {
	if err := s.begin(ctx, "latest"); err != nil {
		return clickstore.Click{}, false, err
	}
	defer errmask.Wrap(&err)
	c, ok, err := s.latest(ctx, visitor, prev, link)
	withCtxErr(ctx, &err)
	note(ctx, &s.fails.latest, s.now, &opLatest, err)
	return c, ok, err
}

func (s *Store) latest(ctx context.Context, visitor, prev clickstore.Pseudonym, link string) (clickstore.Click, bool, error) {
	if err := s.checkOpen("latest"); err != nil {
		return clickstore.Click{}, false, err
	}
	if len(link) > clickstore.MaxLinkLen {
		return clickstore.Click{}, false, fmt.Errorf("redisstore: latest: link of %d bytes: %w: longer than %d bytes", len(link), clickstore.ErrInvalidClick, clickstore.MaxLinkLen)
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	now := s.clock()
	var vs []clickstore.Pseudonym
	for _, v := range [...]clickstore.Pseudonym{visitor, prev} {
		if !v.IsZero() && (len(vs) == 0 || vs[0] != v) {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return clickstore.Click{}, false, nil
	}
	var markers []string
	if link != "" {
		for _, v := range vs {
			markers = append(markers, s.marker+string(v[:])+link)
		}
	} else {
		_ = s.idx.flush(ctx)
		pipe := s.client.Pipeline()
		cmds := make([]*redis.StringSliceCmd, len(vs))
		for i, v := range vs {
			cmds[i] = pipe.ZRange(ctx, s.visIdx+string(v[:]), 0, -1)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			s.failed(ctx, err)
			return clickstore.Click{}, false, fmt.Errorf("redisstore: latest: %w", err)
		}
		for i, v := range vs {
			for _, e := range cmds[i].Val() {
				if len(e) <= 6 {
					return clickstore.Click{}, false, errCorrupt
				}
				markers = append(markers, s.marker+string(v[:])+e[6:])
			}
		}
		if len(markers) == 0 {
			return clickstore.Click{}, false, nil
		}
	}
	vals, err := s.client.MGet(ctx, markers...).Result()
	if err != nil {
		s.failed(ctx, err)
		return clickstore.Click{}, false, fmt.Errorf("redisstore: latest: %w", err)
	}
	cut := time.Time(now.Add(-s.window)).UnixNano()
	var best held
	found := false
	for i, v := range vals {
		h, ok, err := live(markers[i], v, cut)
		if err != nil {
			return clickstore.Click{}, false, err
		}
		if ok && (!found || h.rec > best.rec) {
			best, found = h, true
		}
	}
	if !found {
		return clickstore.Click{}, false, nil
	}
	c, err := s.decode(ctx, now, best)
	return c, err == nil, err
}

// decode parses a held click's marker value, opening a sealed raw address
// with the epoch key if the keyring still has it. The visitor and link
// come from the marker's key (a version-2 value does not repeat them).
func (s *Store) decode(ctx context.Context, now time.Time, h held) (clickstore.Click, error) {
	vl := strings.TrimPrefix(h.marker, s.marker)
	if len(vl) <= len(clickstore.Pseudonym{}) || len(vl) == len(h.marker) {
		return clickstore.Click{}, errCorrupt
	}
	k := clickKey{link: vl[16:], rec: h.rec}
	copy(k.visitor[:], vl)
	var open opener
	if s.keyring != nil {
		open = func(epoch int64) ([32]byte, bool) {
			cur, prev, err := s.keyring.Keys(ctx, now)
			if err != nil {
				return [32]byte{}, false
			}
			switch {
			case cur.Epoch == epoch && !cur.IsZero():
				return cur.Secret(), true
			case prev.Epoch == epoch && !prev.IsZero():
				return prev.Secret(), true
			}
			return [32]byte{}, false
		}
	}
	return decodeValue(h.value, k, open)
}

// entry is a time-index member with its score: the recorded time's last 6
// digits, visitor and link; score the recorded millisecond.
type entry struct {
	member string
	ms     int64
}

// valid reports whether e has the shape of a time-index member.
func (e entry) valid() bool { return len(e.member) > 6+16 }

// rec returns e's recorded stamp, or -1 if the member is malformed.
func (e entry) rec() int64 {
	n, err := strconv.ParseInt(e.member[:6], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return e.ms*1e6 + n
}

func (s *Store) markerOf(e entry) string { return s.marker + e.member[6:] }
func (s *Store) visIdxOf(e entry) string { return s.visIdx + e.member[6:6+16] }

// scan pages through the time index with ZSCAN (so a long index never
// blocks the server), calling page with each page's entries that match
// pattern ("" for all).
func (s *Store) scan(ctx context.Context, pattern string, page func([]entry) error) error {
	var cursor uint64
	for {
		res, next, err := s.client.ZScan(ctx, s.timeIdx, cursor, pattern, 512).Result()
		if err != nil {
			return err
		}
		es := make([]entry, 0, len(res)/2)
		for i := 0; i+1 < len(res); i += 2 {
			ms, err := strconv.ParseFloat(res[i+1], 64)
			e := entry{member: res[i], ms: int64(ms)}
			if err != nil || !e.valid() || e.rec() < 0 {
				return errCorrupt
			}
			es = append(es, e)
		}
		if len(es) > 0 {
			if err := page(es); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// All iterates over the live clicks: it pages through the time index and
// reads each page's markers with one MGET. A marker is yielded only for
// the index entry of the click it holds, so a click is seen once.
func (s *Store) All(ctx context.Context) iter.Seq2[clickstore.Click, error] {
	return func(yield0 func(clickstore.Click, error) bool) {
		yield := func(c clickstore.Click, err error) bool {
			errmask.Wrap(&err)
			return yield0(c, err)
		}
		if err := s.begin(ctx, "all"); err != nil {
			yield(clickstore.Click{}, err)
			return
		}
		if err := s.checkOpen("all"); err != nil {
			yield(clickstore.Click{}, err)
			return
		}
		_ = s.idx.flush(ctx)
		stop := errors.New("stop")
		err := s.scan(ctx, "", func(es []entry) error {
			markers := make([]string, len(es))
			for i, e := range es {
				markers[i] = s.markerOf(e)
			}
			vals, err := s.client.MGet(ctx, markers...).Result()
			if err != nil {
				return err
			}
			now := s.clock()
			cut := now.Add(-s.window).UnixNano()
			for i, v := range vals {
				h, ok, err := live(markers[i], v, cut)
				if err != nil {
					return err
				}
				if !ok || h.rec != es[i].rec() {
					continue // expired, erased, or a later click's entry
				}
				c, err := s.decode(ctx, now, h)
				if err != nil {
					return err
				}
				if !yield(c, nil) {
					return stop
				}
			}
			return nil
		})
		switch {
		case err == nil, err == stop:
		case errors.Is(err, errCorrupt):
			yield(clickstore.Click{}, err)
		default:
			yield(clickstore.Click{}, fmt.Errorf("redisstore: all: %w", err))
		}
	}
}

// drop runs dropScript over entries; it returns how many it dropped and
// how many of those were live.
func (s *Store) drop(ctx context.Context, mode string, cut stamp, es []entry) (dropped, live int, err error) {
	keys := make([]string, 0, 2+2*len(es))
	args := make([]any, 0, 3+len(es))
	done := s.timeIdx // a sweep sets no done key (see dropScript)
	if mode != "sweep" {
		done = s.doneKey()
	}
	keys = append(keys, s.timeIdx, done)
	args = append(args, mode, string(cut[:]), s.pxArg)
	for _, e := range es {
		keys = append(keys, s.markerOf(e), s.visIdxOf(e))
		args = append(args, e.member)
	}
	res, err := dropScript.Run(ctx, s.client, keys, args...).Int64Slice()
	if err != nil {
		return 0, 0, err
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("unexpected reply of %d elements", len(res))
	}
	return int(res[0]), int(res[1]), nil
}

// doneKey returns a new key that an erasing script run sets to its
// reply, so that a run go-redis resends after a lost reply answers what the
// first run did (the clicks it destroyed) instead of finding nothing left.
// It lives as long as a marker (W plus the slack).
func (s *Store) doneKey() string {
	t := s.tokens.next()
	return s.done + string(t[:])
}

// eraseTries bounds how often EraseVisitor reads a visitor's index again
// because clicks were recorded while it erased.
const eraseTries = 8

// EraseVisitor destroys every click held under v, on any link. It reads
// the visitor's index, then destroys the clicks it lists in one script
// run, which re-checks them; if the visitor clicked meanwhile, it reads the
// index again. Each script run is safe to retry: a run go-redis resends
// after a lost reply reports what the first run destroyed (see "Key
// layout" in the package documentation).
func (s *Store) EraseVisitor(ctx context.Context, v clickstore.Pseudonym) (_ int, err error) {
	if err := s.begin(ctx, "erase visitor"); err != nil {
		return 0, err
	}
	defer errmask.Wrap(&err)
	defer withCtxErr(ctx, &err)
	if err := s.checkOpen("erase visitor"); err != nil {
		return 0, err
	}
	if v.IsZero() {
		return 0, fmt.Errorf("redisstore: erase visitor: %w: zero pseudonym", clickstore.ErrInvalidClick)
	}
	_ = s.idx.flush(ctx)
	vi := s.visIdx + string(v[:])
	total := 0
	for range eraseTries {
		es, err := s.client.ZRangeWithScores(ctx, vi, 0, -1).Result()
		if err != nil {
			return total, fmt.Errorf("redisstore: erase visitor: %w", err)
		}
		if len(es) == 0 {
			return total, nil
		}
		keys := make([]string, 0, 3+len(es))
		args := make([]any, 0, 3+2*len(es))
		keys = append(keys, s.timeIdx, vi, s.doneKey())
		cut := s.cutoff(s.clock())
		args = append(args, string(cut[:]), string(v[:]), s.pxArg)
		for _, z := range es {
			m, _ := z.Member.(string)
			if len(m) <= 6 {
				return total, errCorrupt
			}
			keys = append(keys, s.marker+string(v[:])+m[6:])
			args = append(args, m, strconv.FormatInt(int64(z.Score), 10))
		}
		res, err := eraseVisitorScript.Run(ctx, s.client, keys, args...).Int64Slice()
		if err != nil {
			return total, fmt.Errorf("redisstore: erase visitor: %w", err)
		}
		if len(res) != 2 {
			return total, fmt.Errorf("redisstore: erase visitor: unexpected reply of %d elements", len(res))
		}
		total += int(res[0])
		if res[1] == 0 {
			return total, nil
		}
	}
	return total, fmt.Errorf("redisstore: erase visitor: the visitor kept clicking during %d tries; %d clicks erased so far", eraseTries, total)
}

// EraseLink destroys every click held on link. It pages through the time
// index with ZSCAN MATCH (the link is at a fixed offset of each entry), so
// it costs one pass over the index, and destroys each page's clicks in one
// script run that re-checks them and, like EraseVisitor's, is safe to
// retry.
func (s *Store) EraseLink(ctx context.Context, link string) (_ int, err error) {
	if err := s.begin(ctx, "erase link"); err != nil {
		return 0, err
	}
	defer errmask.Wrap(&err)
	defer withCtxErr(ctx, &err)
	if err := s.checkOpen("erase link"); err != nil {
		return 0, err
	}
	if link == "" || len(link) > clickstore.MaxLinkLen {
		return 0, fmt.Errorf("redisstore: erase link: link of %d bytes: %w: want 1 to %d bytes", len(link), clickstore.ErrInvalidClick, clickstore.MaxLinkLen)
	}
	pattern := strings.Repeat("?", 6+16) + globEscape(link)
	n, err := s.erase(ctx, pattern)
	if err != nil {
		return n, fmt.Errorf("redisstore: erase link: %w", err)
	}
	return n, nil
}

// erase destroys every click whose time-index entry matches pattern and
// reports how many were live.
func (s *Store) erase(ctx context.Context, pattern string) (int, error) {
	_ = s.idx.flush(ctx)
	n := 0
	err := s.scan(ctx, pattern, func(es []entry) error {
		_, live, err := s.drop(ctx, "erase", s.cutoff(s.clock()), es)
		n += live
		return err
	})
	return n, err
}

// globEscape escapes the glob characters of s for ZSCAN MATCH.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Sweep deletes every click whose window ended before now (or the store's
// clock, if later), with its index entries, in batches: it reads the time
// index's expired entries, then deletes them in one script run that
// re-checks each. It is idempotent and safe to run on every instance at
// once. Redis deletes clicks itself too (their TTL is W plus a small
// slack), so Sweep mostly keeps the indexes short and makes deletion
// prompt.
//
// Held and Oldest are exact. Deleted counts the clicks this run deleted,
// and only those: a click that a Record of the same visitor and link
// replaced after its window, or that its TTL removed first, is in no
// sweep's Deleted, so across a fleet the sweeps' Deleted may add up to
// less than what was recorded minus what is held (Memory counts those
// too). Counting them would add a key to every Record's script and a
// write whenever one is trimmed; Oldest, not Deleted, is what proves
// retention.
func (s *Store) Sweep(ctx context.Context, now time.Time) (_ retention.SweepStats, err error) {
	if err := s.begin(ctx, "sweep"); err != nil {
		return retention.SweepStats{}, err
	}
	defer errmask.Wrap(&err)
	st, err := s.sweep(ctx, now)
	withCtxErr(ctx, &err)
	note(ctx, &s.fails.sweep, s.now, &opSweep, err)
	return st, err
}

func (s *Store) sweep(ctx context.Context, now time.Time) (retention.SweepStats, error) {
	if err := s.checkOpen("sweep"); err != nil {
		return retention.SweepStats{}, err
	}
	if c := s.clock(); c.After(now) {
		now = c
	}
	if now.After(lastNano) {
		// Past 2262 Unix nanoseconds overflow, and the cut-off with them:
		// a sweep that far ahead deletes every click, as at the last
		// instant they can count.
		now = lastNano
	}
	_ = s.idx.flush(ctx)
	cut := s.cutoff(now)
	cutNS := now.Add(-s.window).UnixNano()
	cutMS := strconv.FormatInt(floorDiv(cutNS, 1e6), 10)
	var st retention.SweepStats
	for {
		zs, err := s.client.ZRangeByScoreWithScores(ctx, s.timeIdx, &redis.ZRangeBy{Min: "-inf", Max: cutMS, Count: sweepBatch}).Result()
		if err != nil {
			return st, fmt.Errorf("redisstore: sweep: %w", err)
		}
		es := make([]entry, 0, len(zs))
		for _, z := range zs {
			m, _ := z.Member.(string)
			e := entry{member: m, ms: int64(z.Score)}
			if !e.valid() || e.rec() < 0 {
				return st, errCorrupt
			}
			if e.rec() <= cutNS {
				es = append(es, e)
			}
		}
		if len(es) > 0 {
			n, _, err := s.drop(ctx, "sweep", cut, es)
			st.Deleted += n
			if err != nil {
				return st, fmt.Errorf("redisstore: sweep: %w", err)
			}
		}
		if len(zs) < sweepBatch || len(es) == 0 {
			break
		}
	}
	pipe := s.client.Pipeline()
	card := pipe.ZCard(ctx, s.timeIdx)
	oldest := pipe.ZRangeWithScores(ctx, s.timeIdx, 0, 0)
	if _, err := pipe.Exec(ctx); err != nil {
		return st, fmt.Errorf("redisstore: sweep: %w", err)
	}
	st.Held = int(card.Val())
	if o := oldest.Val(); len(o) == 1 {
		m, _ := o[0].Member.(string)
		e := entry{member: m, ms: int64(o[0].Score)}
		if !e.valid() || e.rec() < 0 {
			return st, errCorrupt
		}
		st.Oldest = max(0, now.Sub(time.Unix(0, e.rec())))
	}
	return st, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// Close marks the store closed: every method then returns an error wrapping
// clickstore.ErrClosed. It writes the index entries still queued and stops
// the index writer (see "Indexes, off the request path"). It does not close the client (the caller owns it)
// and does not delete the clicks on the server, which other instances
// share: they expire by their TTL. Use [Store.Clear] to delete them.
// Close is idempotent.
func (s *Store) Close() error {
	if s == nil {
		return errors.New("redisstore: close: nil *Store")
	}
	if s.client == nil {
		return nil // the zero Store holds nothing
	}
	s.closed.Store(true)
	s.idx.close()
	return nil
}

// Flush writes the index entries of the first clicks this instance has
// recorded and not yet indexed (see "Indexes" in the package
// documentation). Every read that starts from an index (Latest on any
// link, All, the erasures, Sweep, Clear) flushes first, and Close
// flushes, so a caller needs it only to make its latest clicks visible
// to other instances' index reads at once.
func (s *Store) Flush(ctx context.Context) (err error) {
	if err := s.begin(ctx, "flush"); err != nil {
		return err
	}
	defer errmask.Wrap(&err)
	if err := s.checkOpen("flush"); err != nil {
		return err
	}
	return s.idx.flush(ctx)
}

// setNXGet reports whether the server takes SET with both NX and GET
// (Redis 7.0 or later), trying it on key, which expires at once. A
// refusal (an error reply) is false; a network error is returned.
func setNXGet(ctx context.Context, c redis.UniversalClient, key string) (bool, error) {
	err := c.Do(ctx, "set", key, "1", "nx", "get", "px", 1).Err()
	if err == nil || errors.Is(err, redis.Nil) {
		return true, nil
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return false, nil
	}
	return false, fmt.Errorf("checking the server's SET options: %w", err)
}

// Clear deletes every click of the store's prefix, with its index entries,
// for all instances, and reports how many live clicks it destroyed.
func (s *Store) Clear(ctx context.Context) (_ int, err error) {
	if err := s.begin(ctx, "clear"); err != nil {
		return 0, err
	}
	defer errmask.Wrap(&err)
	defer withCtxErr(ctx, &err)
	if err := s.checkOpen("clear"); err != nil {
		return 0, err
	}
	n, err := s.erase(ctx, "")
	if err != nil {
		return n, fmt.Errorf("redisstore: clear: %w", err)
	}
	return n, nil
}

// withCtxErr makes *err wrap ctx's error if ctx ended and *err does not
// already say so: go-redis reports a deadline that cut a read short (with
// ContextTimeoutEnabled) as a network timeout, and the clickstore.Store
// contract promises an error wrapping the context's Err, which callers
// test with errors.Is (and a canceled context is not a failure: see
// Stats).
func withCtxErr(ctx context.Context, err *error) {
	if *err == nil {
		return
	}
	if c := ctx.Err(); c != nil && !errors.Is(*err, c) {
		*err = fmt.Errorf("%w (%w)", *err, c)
	}
}

// checkPrefix returns the key prefix to use: DefaultPrefix for "", an error
// for one with a brace, which would change the keys' hash tag.
func checkPrefix(p string) (string, error) {
	if p == "" {
		return DefaultPrefix, nil
	}
	if strings.ContainsAny(p, "{}") {
		return "", fmt.Errorf("redisstore: prefix of %d bytes: must not contain '{' or '}'", len(p))
	}
	return p, nil
}
