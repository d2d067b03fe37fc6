package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clickanon/clickanon/clickstore"
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
	// AllowEviction).
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

	// AllowEviction lets New succeed when the server's maxmemory-policy
	// may evict keys with a TTL. An evicted click makes its visitor's next
	// click count as unique again.
	AllowEviction bool
}

// Store is a [clickstore.Store] on Redis, shared by every instance that
// uses the same server and Prefix. See the package documentation for the
// key layout and guarantees.
//
// A Store is safe for concurrent use. The zero Store is not usable: build
// one with [New].
type Store struct {
	client   redis.UniversalClient
	window   time.Duration
	px       string // TTL of every key, in ms, as an argument
	now      func() time.Time
	capacity string
	keyring  *retention.Keyring
	policy   retention.Policy

	tag     string // "{prefix}"
	marker  string // "{prefix}:c:"
	timeIdx string // "{prefix}:i"
	nameIdx string // "{prefix}:x"

	// last is the latest store time seen (Unix ns): the clock never goes
	// back, so a clock jump cannot bring an expired click back.
	last   atomic.Int64
	closed atomic.Bool

	tokens requestTokens // one per Record call
}

var _ clickstore.Store = (*Store)(nil)
var _ retention.Sweepable = (*Store)(nil)

// New returns a Store on client. It checks the server's persistence and
// eviction settings (CONFIG GET save, appendonly, maxmemory-policy) and
// returns an error if they could keep or drop clicks against the promise,
// unless opts allows it; it loads the scripts. A nil client is an error;
// a nil opts is valid.
func New(ctx context.Context, client redis.UniversalClient, opts *Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: New: nil client")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	var err error
	if o.Prefix, err = checkPrefix(o.Prefix); err != nil {
		return nil, err
	}
	if o.Capacity < 0 {
		return nil, fmt.Errorf("redisstore: capacity %q: must not be negative", strconv.Itoa(o.Capacity))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := o.Policy.Window()
	s := &Store{
		client:   client,
		window:   w,
		px:       strconv.FormatInt((w + slack).Milliseconds(), 10),
		now:      o.Now,
		capacity: strconv.Itoa(o.Capacity),
		keyring:  o.Keyring,
		policy:   o.Policy,
		tag:      "{" + o.Prefix + "}",
	}
	s.marker = s.tag + ":c:"
	s.timeIdx = s.tag + ":i"
	s.nameIdx = s.tag + ":x"
	if err := s.tokens.init(); err != nil {
		return nil, fmt.Errorf("redisstore: New: %v", err)
	}
	if err := checkServer(ctx, client, o.AllowPersistence, o.AllowEviction); err != nil {
		return nil, err
	}
	for _, sc := range []*redis.Script{recordScript, latestScript, eraseScript, sweepScript} {
		if err := sc.Load(ctx, client).Err(); err != nil {
			return nil, fmt.Errorf("redisstore: loading scripts: %w", err)
		}
	}
	return s, nil
}

// ErrPersistence is wrapped by the error [New] returns when the server
// writes its data to disk (RDB snapshots or an append-only file), or
// refuses to say whether it does, and Options.AllowPersistence is not set.
// Test for it with errors.Is to tell an operator which setting to change.
var ErrPersistence = errors.New("server may persist clicks to disk")

// ErrEviction is wrapped by the error [New] returns when the server's
// maxmemory-policy may evict keys, or it refuses to say, and
// Options.AllowEviction is not set.
var ErrEviction = errors.New("server may evict clicks early")

// checkServer refuses servers that persist or evict. A server that refuses
// CONFIG GET (a managed service) counts as one that might; a network error
// is returned as it is.
func checkServer(ctx context.Context, c redis.UniversalClient, allowPersist, allowEvict bool) error {
	if !allowPersist {
		save, err := configGet(ctx, c, "save")
		if err != nil {
			return refused(err, ErrPersistence, "persistence", "AllowPersistence")
		}
		if save != "" {
			return fmt.Errorf("redisstore: %w: it saves snapshots (save %q), which keep clicks past their window; disable them (CONFIG SET save \"\") or set Options.AllowPersistence", ErrPersistence, save)
		}
		aof, err := configGet(ctx, c, "appendonly")
		if err != nil {
			return refused(err, ErrPersistence, "persistence", "AllowPersistence")
		}
		if aof != "no" {
			return fmt.Errorf("redisstore: %w: it writes an append-only file (appendonly %q), which keeps clicks past their window; disable it or set Options.AllowPersistence", ErrPersistence, aof)
		}
	}
	if !allowEvict {
		pol, err := configGet(ctx, c, "maxmemory-policy")
		if err != nil {
			return refused(err, ErrEviction, "eviction policy", "AllowEviction")
		}
		if pol != "noeviction" {
			return fmt.Errorf("redisstore: %w: maxmemory-policy %q may evict keys, and an evicted click counts its visitor as unique again; use noeviction or set Options.AllowEviction", ErrEviction, pol)
		}
	}
	return nil
}

func configGet(ctx context.Context, c redis.UniversalClient, name string) (string, error) {
	m, err := c.ConfigGet(ctx, name).Result()
	if err != nil {
		return "", err
	}
	v, ok := m[name]
	if !ok {
		return "", fmt.Errorf("redisstore: CONFIG GET %q: no such setting", name)
	}
	return v, nil
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

func (s *Store) checkOpen(op string) error {
	if s.closed.Load() {
		return fmt.Errorf("redisstore: %s: %w", op, clickstore.ErrClosed)
	}
	return nil
}

// cutoff returns now-W as seconds and nanoseconds arguments, and in whole
// milliseconds (floor).
func (s *Store) cutoff(now time.Time) (sec, nsec, ms string) {
	c := now.Add(-s.window)
	return strconv.FormatInt(c.Unix(), 10), strconv.Itoa(c.Nanosecond()), strconv.FormatInt(floorMS(c), 10)
}

func floorMS(t time.Time) int64 {
	n := t.UnixNano()
	m := n / 1e6
	if n%1e6 < 0 {
		m--
	}
	return m
}

// id is the marker suffix and time-index member of (visitor, link).
func id(v clickstore.Pseudonym, link string) string {
	var b [32]byte
	hex.Encode(b[:], v[:])
	return string(b[:]) + link
}

// token returns a new request token, 16 raw bytes.
func (s *Store) token() string {
	t := s.tokens.next()
	return string(t[:])
}

// Record holds c unless a click of the same visitor (c.Visitor or
// c.PrevVisitor) on c.Link is live, and reports whether c is first. It is
// one script run (EVALSHA), one round trip, atomic on the server.
//
// It is safe to retry: each call carries a request token stored with the
// click it holds, so if go-redis resends the script after a lost reply, the
// second run finds its own token and reports first again, instead of
// mistaking the click for its own repeat.
//
// A Redis error is returned as it is (wrapped): nothing is buffered
// locally. The caller should count the click with uniqueness unknown
// (clickstore.UniquenessOf does that).
func (s *Store) Record(ctx context.Context, c clickstore.Click) (bool, error) {
	if err := s.checkOpen("record"); err != nil {
		return false, err
	}
	keys, args, err := s.recordArgs(ctx, c)
	if err != nil {
		return false, err
	}
	n, err := recordScript.Run(ctx, s.client, keys, args...).Int()
	return s.recordResult(c, n, err)
}

func (s *Store) recordArgs(ctx context.Context, c clickstore.Click) ([]string, []any, error) {
	if err := validate("record", c); err != nil {
		return nil, nil, err
	}
	if c.Kind != clickstore.KindClick {
		return nil, nil, fmt.Errorf("redisstore: record: kind %q: %w: stores hold clicks only", c.Kind.String(), clickstore.ErrInvalidClick)
	}
	now := s.clock()
	vid := id(c.Visitor, c.Link)
	var val []byte
	var err error
	if c.RawAddr.IsValid() {
		if s.keyring == nil {
			return nil, nil, errors.New("redisstore: record: Click.RawAddr is set but there is no Options.Keyring to seal it with")
		}
		cur, _, kerr := s.keyring.Keys(ctx, now)
		if kerr != nil {
			return nil, nil, fmt.Errorf("redisstore: record: sealing key: %w", kerr)
		}
		secret := cur.Secret()
		val, err = encodeClick(make([]byte, 0, 128), c, cur.Epoch, &secret, []byte(vid))
		clear(secret[:])
	} else {
		val, err = encodeClick(make([]byte, 0, 96), c, 0, nil, nil)
	}
	if err != nil {
		return nil, nil, err
	}
	prevKey := s.marker + vid
	if !c.PrevVisitor.IsZero() {
		prevKey = s.marker + id(c.PrevVisitor, c.Link)
	}
	cs, cn, cms := s.cutoff(now)
	vhex := vid[:32]
	keys := []string{s.marker + vid, prevKey, s.timeIdx, s.nameIdx}
	args := []any{
		cs, cn,
		strconv.FormatInt(now.Unix(), 10), strconv.Itoa(now.Nanosecond()),
		s.token(), s.px, val, vid,
		"v:" + vhex + ":" + c.Link,
		fmt.Sprintf("l:%03d", len(c.Link)) + c.Link + vhex,
		strconv.FormatInt(floorMS(now), 10),
		s.capacity, cms, s.marker,
	}
	return keys, args, nil
}

func (s *Store) recordResult(c clickstore.Click, n int, err error) (bool, error) {
	switch {
	case err != nil:
		return false, fmt.Errorf("redisstore: record: %w", err)
	case n == 1:
		return true, nil
	case n == 0:
		return false, nil
	case n == -1:
		return false, fmt.Errorf("redisstore: record: %w (capacity %s)", clickstore.ErrFull, s.capacity)
	}
	return false, fmt.Errorf("redisstore: record: unexpected script reply %d", n)
}

// RecordBatch records clicks in one pipeline (one round trip for all of
// them) and returns each click's uniqueness in order: Unique, Repeat, or
// UniqueUnknown for a click that failed. The error joins every click's
// error (nil if none failed). Clicks of the same visitor and link in one
// batch are decided in order, as if recorded one after the other.
func (s *Store) RecordBatch(ctx context.Context, clicks []clickstore.Click) ([]clickstore.Uniqueness, error) {
	if err := s.checkOpen("record batch"); err != nil {
		return nil, err
	}
	out := make([]clickstore.Uniqueness, len(clicks))
	errs := make([]error, len(clicks))
	cmds := make([]*redis.Cmd, len(clicks))
	pipe := s.client.Pipeline()
	for i, c := range clicks {
		keys, args, err := s.recordArgs(ctx, c)
		if err != nil {
			errs[i] = err
			continue
		}
		cmds[i] = recordScript.EvalSha(ctx, pipe, keys, args...)
	}
	_, perr := pipe.Exec(ctx)
	if perr != nil && redis.HasErrorPrefix(perr, "NOSCRIPT") {
		// The server lost the scripts (a restart): load them and try
		// once more. Requests carry tokens, so the retry is safe.
		if err := recordScript.Load(ctx, s.client).Err(); err != nil {
			return out, fmt.Errorf("redisstore: record batch: loading script: %w", err)
		}
		pipe = s.client.Pipeline()
		for i := range clicks {
			if cmds[i] != nil {
				keys, args := cmds[i].Args()[3:3+4], cmds[i].Args()[3+4:]
				ks := make([]string, len(keys))
				for j, k := range keys {
					ks[j] = k.(string)
				}
				cmds[i] = recordScript.EvalSha(ctx, pipe, ks, args...)
			}
		}
		_, _ = pipe.Exec(ctx)
	}
	for i, c := range clicks {
		if cmds[i] == nil {
			continue
		}
		n, err := cmds[i].Int()
		first, err := s.recordResult(c, n, err)
		errs[i] = err
		out[i] = clickstore.UniquenessOf(first, err)
	}
	return out, errors.Join(errs...)
}

// Latest returns the most recently recorded live click of visitor or prev
// on link (any link if link is ""). One script run.
func (s *Store) Latest(ctx context.Context, visitor, prev clickstore.Pseudonym, link string) (clickstore.Click, bool, error) {
	if err := s.checkOpen("latest"); err != nil {
		return clickstore.Click{}, false, err
	}
	if len(link) > clickstore.MaxLinkLen {
		return clickstore.Click{}, false, fmt.Errorf("redisstore: latest: link of %d bytes: %w: longer than %d bytes", len(link), clickstore.ErrInvalidClick, clickstore.MaxLinkLen)
	}
	now := s.clock()
	cs, cn, _ := s.cutoff(now)
	args := []any{cs, cn, s.marker, link}
	for _, v := range [...]clickstore.Pseudonym{visitor, prev} {
		if !v.IsZero() {
			args = append(args, v.String())
		}
	}
	if len(args) == 4 {
		return clickstore.Click{}, false, nil
	}
	res, err := latestScript.Run(ctx, s.client, []string{s.nameIdx}, args...).StringSlice()
	if err != nil {
		return clickstore.Click{}, false, fmt.Errorf("redisstore: latest: %w", err)
	}
	var best clickstore.Click
	var bs, bn int64
	found := false
	for i := 0; i+2 < len(res); i += 3 {
		ts, err1 := strconv.ParseInt(res[i], 10, 64)
		tn, err2 := strconv.ParseInt(res[i+1], 10, 64)
		if err1 != nil || err2 != nil {
			return clickstore.Click{}, false, errCorrupt
		}
		if found && (ts < bs || ts == bs && tn <= bn) {
			continue
		}
		c, err := s.decode(ctx, now, res[i+2])
		if err != nil {
			return clickstore.Click{}, false, err
		}
		best, bs, bn, found = c, ts, tn, true
	}
	return best, found, nil
}

// decode parses a held click's value, opening a sealed raw address with the
// epoch key if the keyring still has it.
func (s *Store) decode(ctx context.Context, now time.Time, v string) (clickstore.Click, error) {
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
	b := []byte(v)
	// The sealed address is bound to the marker id, which the value
	// contains: visitor and link.
	c, err := decodeClick(b, nil, nil)
	if err != nil {
		return clickstore.Click{}, err
	}
	if open == nil {
		return c, nil
	}
	return decodeClick(b, open, []byte(id(c.Visitor, c.Link)))
}

// All iterates over the live clicks, reading the time index with ZSCAN
// (so a long index never blocks the server) and the clicks in pipelined
// pages.
func (s *Store) All(ctx context.Context) iter.Seq2[clickstore.Click, error] {
	return func(yield func(clickstore.Click, error) bool) {
		if err := s.checkOpen("all"); err != nil {
			yield(clickstore.Click{}, err)
			return
		}
		seen := make(map[string]struct{})
		var cursor uint64
		for {
			members, next, err := s.client.ZScan(ctx, s.timeIdx, cursor, "", 256).Result()
			if err != nil {
				yield(clickstore.Click{}, fmt.Errorf("redisstore: all: %w", err))
				return
			}
			now := s.clock()
			cs, cn, _ := s.cutoff(now)
			csec, _ := strconv.ParseInt(cs, 10, 64)
			cnsec, _ := strconv.ParseInt(cn, 10, 64)
			pipe := s.client.Pipeline()
			var cmds []*redis.SliceCmd
			for i := 0; i < len(members); i += 2 { // member, score
				m := members[i]
				if _, dup := seen[m]; dup {
					continue
				}
				seen[m] = struct{}{}
				cmds = append(cmds, pipe.HMGet(ctx, s.marker+m, "t", "n", "c"))
			}
			if len(cmds) > 0 {
				if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
					yield(clickstore.Click{}, fmt.Errorf("redisstore: all: %w", err))
					return
				}
			}
			for _, cmd := range cmds {
				vals := cmd.Val()
				if len(vals) != 3 || vals[0] == nil {
					continue // erased or expired since the scan
				}
				ts, err1 := strconv.ParseInt(fmt.Sprint(vals[0]), 10, 64)
				tn, err2 := strconv.ParseInt(fmt.Sprint(vals[1]), 10, 64)
				if err1 != nil || err2 != nil {
					yield(clickstore.Click{}, errCorrupt)
					return
				}
				if ts < csec || ts == csec && tn <= cnsec {
					continue
				}
				str, _ := vals[2].(string)
				c, err := s.decode(ctx, now, str)
				if err != nil {
					yield(clickstore.Click{}, err)
					return
				}
				if !yield(c, nil) {
					return
				}
			}
			cursor = next
			if cursor == 0 {
				return
			}
		}
	}
}

// EraseVisitor destroys every click held under v, on any link.
func (s *Store) EraseVisitor(ctx context.Context, v clickstore.Pseudonym) (int, error) {
	if err := s.checkOpen("erase visitor"); err != nil {
		return 0, err
	}
	if v.IsZero() {
		return 0, fmt.Errorf("redisstore: erase visitor: %w: zero pseudonym", clickstore.ErrInvalidClick)
	}
	h := v.String()
	return s.erase(ctx, "v", "[v:"+h+":", "(v:"+h+";", "visitor "+h)
}

// EraseLink destroys every click held on link.
func (s *Store) EraseLink(ctx context.Context, link string) (int, error) {
	if err := s.checkOpen("erase link"); err != nil {
		return 0, err
	}
	if link == "" || len(link) > clickstore.MaxLinkLen {
		return 0, fmt.Errorf("redisstore: erase link: link of %d bytes: %w: want 1 to %d bytes", len(link), clickstore.ErrInvalidClick, clickstore.MaxLinkLen)
	}
	p := fmt.Sprintf("l:%03d", len(link)) + link
	return s.erase(ctx, "l", "["+p, "("+p+"g", "link "+strconv.Quote(link))
}

func (s *Store) erase(ctx context.Context, kind, from, to, what string) (int, error) {
	cs, cn, _ := s.cutoff(s.clock())
	n, err := eraseScript.Run(ctx, s.client, []string{s.timeIdx, s.nameIdx}, cs, cn, s.marker, kind, from, to).Int()
	if err != nil {
		return 0, fmt.Errorf("redisstore: erase %s: %w", what, err)
	}
	return n, nil
}

// Sweep deletes every click whose window ended before now (or the store's
// clock, if later) to the millisecond, with its index entries, in batches.
// It is idempotent and safe to run on every instance at once: a click
// deleted twice is deleted once. Redis deletes keys itself too (their TTL
// is W plus a small slack), so Sweep mostly keeps the indexes short and
// makes deletion prompt.
func (s *Store) Sweep(ctx context.Context, now time.Time) (retention.SweepStats, error) {
	if err := s.checkOpen("sweep"); err != nil {
		return retention.SweepStats{}, err
	}
	if c := s.clock(); c.After(now) {
		now = c
	}
	cs, cn, cms := s.cutoff(now)
	var st retention.SweepStats
	for {
		res, err := sweepScript.Run(ctx, s.client, []string{s.timeIdx, s.nameIdx}, cms, s.marker, cs, cn, sweepBatch).Slice()
		if err != nil {
			return st, fmt.Errorf("redisstore: sweep at %s: %w", now.Format(time.RFC3339Nano), err)
		}
		if len(res) != 5 {
			return st, fmt.Errorf("redisstore: sweep: unexpected reply of %d elements", len(res))
		}
		batch, _ := res[0].(int64)
		gone, _ := res[1].(int64)
		held, _ := res[2].(int64)
		st.Deleted += int(gone)
		st.Held = int(held)
		st.Oldest = 0
		ts, _ := res[3].(string)
		tn, _ := res[4].(string)
		if sec, err := strconv.ParseInt(ts, 10, 64); err == nil {
			if nsec, err := strconv.ParseInt(tn, 10, 64); err == nil {
				st.Oldest = max(0, now.Sub(time.Unix(sec, nsec)))
			}
		}
		if batch < sweepBatch {
			return st, nil
		}
	}
}

// Close marks the store closed: every method then returns an error wrapping
// clickstore.ErrClosed. It does not close the client (the caller owns it)
// and does not delete the clicks on the server, which other instances
// share: they expire by their TTL. Use [Store.Clear] to delete them.
// Close is idempotent.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// Clear deletes every click and index of the store's prefix, for all
// instances, and reports how many live clicks it destroyed.
func (s *Store) Clear(ctx context.Context) (int, error) {
	if err := s.checkOpen("clear"); err != nil {
		return 0, err
	}
	cs, cn, _ := s.cutoff(s.clock())
	n, err := eraseScript.Run(ctx, s.client, []string{s.timeIdx, s.nameIdx}, cs, cn, s.marker, "v", "[v:", "(v;").Int()
	if err != nil {
		return 0, fmt.Errorf("redisstore: clear: %w", err)
	}
	return n, nil
}

// refused wraps the error of a CONFIG GET: a server's refusal (an error
// reply, as managed services give) with sentinel, a network error as is.
func refused(err, sentinel error, what, option string) error {
	var reply redis.Error
	if errors.As(err, &reply) {
		return fmt.Errorf("redisstore: %w: the server refused to show its %s (%w); set Options.%s if you accept the risk", sentinel, what, err, option)
	}
	return fmt.Errorf("redisstore: checking the server's %s: %w", what, err)
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
