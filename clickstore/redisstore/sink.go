package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/burstlog"
	"github.com/clickanon/clickanon/internal/errmask"
	"github.com/clickanon/clickanon/ipmask"
)

// SinkOptions configures [NewSink]. The zero value (or a nil pointer) means
// the defaults. NewSink copies it; the caller's struct is never modified.
type SinkOptions struct {
	// Prefix starts every key, as Options.Prefix. Default DefaultPrefix.
	Prefix string

	// Now is the clock that key lifetimes are computed from; nil means
	// time.Now.
	Now func() time.Time

	// MinuteRetention, HourRetention and DayRetention are how long a
	// bucket's keys live after the bucket ends, as in aggregate.Options:
	// 0 means the aggregate package's default, aggregate.KeepForever no
	// expiry, negative is an error.
	MinuteRetention, HourRetention, DayRetention time.Duration

	// MaxBuckets caps the buckets one query may read; 0 means 10080 (a
	// week of minutes). Negative is an error.
	MaxBuckets int

	// NetworkPolicy is the finest network the Network dimension keeps: a
	// click whose Network is finer (a /32) is counted under the coarser
	// network the policy keeps for it (see [aggregate.NetworkOf]). The
	// zero Policy means ipmask.Default (/24 and /48); a policy that keeps
	// more bits than ipmask.Default is an error.
	NetworkPolicy ipmask.Policy

	// Logger receives the failures of Add, Cells and EraseLink: one
	// warning when an operation starts failing, at most one a minute
	// while it goes on (with the count), an info line when it works
	// again; see [Sink.Stats] for the counters. Error text is logged with
	// every address in it cut to no bits. Nil means slog.Default().
	Logger *slog.Logger
}

// Sink is an [aggregate.Backend] on Redis: every instance of a service
// adds its clicks to the same totals.
//
// For each link, granularity (minute, hour, day) and UTC bucket it keeps
// one hash of exact counters, incremented with HINCRBY (fields
// "<counter>:<dimension>:<value>", a network never finer than
// SinkOptions.NetworkPolicy: see [aggregate.NetworkOf]), and one Redis HyperLogLog per cell
// (PFADD of the visitor's 16-byte pseudonym) for distinct visitors.
// Redis's own HyperLogLog is used rather than serialized sketches because
// PFADD is atomic on the server, so instances never read-modify-write a
// shared sketch, and PFCOUNT over several keys estimates their union
// without moving sketches to the client. Its standard error is 0.81%, the
// same as aggregate.DefaultPrecision.
//
// One Add is one Lua script run (EVALSHA, falling back to EVAL when the
// server does not have the script), one round trip, atomic on the server,
// so a click is counted in every bucket and dimension or in none. Every
// key gets a relative TTL: the bucket's end plus its granularity's
// retention, minus now (at most the largest time.Duration, some 292
// years). All keys of a link share one hash tag, and the
// script is given every key it touches, so it and multi-key PFCOUNT work
// on Redis Cluster. Unlike [aggregate.Rollup], the Sink does not cap the
// distinct values per dimension.
//
// Add is safe for go-redis to retry. go-redis resends a command whose
// reply was lost (the connection dropped after the server ran it), so a
// script or a bare HINCRBY that only counted would count the click twice.
// Each Add therefore carries a request token (a random instance id and a
// counter): the script first sets a token key in the link's slot (SET NX,
// expiring after two minutes, far longer than go-redis goes on retrying)
// and counts only if that key was new, so a resent run changes nothing and
// Add reports success. Calling Add again is a new call and counts again.
// The token keys cost one short-lived key for every click added in the
// last two minutes.
//
// A Sink is safe for concurrent use. The zero Sink is not usable: its
// methods return an error (build one with [NewSink]); so do those of a nil
// *Sink (Stats reports zero), and a nil context.
type Sink struct {
	client     redis.UniversalClient
	prefix     string
	now        func() time.Time
	retention  [aggregate.Day + 1]time.Duration
	maxBuckets int
	networks   ipmask.Policy

	tokens requestTokens // one per Add call

	addLog, cellsLog, eraseLog burstlog.Logger
}

// sinkTokenTTL is how long the token key of an Add call lives: far longer
// than go-redis keeps resending one command (MaxRetries times a read
// timeout and a backoff: seconds by default), short enough that the keys
// of past calls take little memory.
const sinkTokenTTL = 2 * time.Minute

var _ aggregate.Backend = (*Sink)(nil)

// NewSink returns a Sink that writes through client. It returns an error if
// client is nil or opts is invalid.
func NewSink(client redis.UniversalClient, opts *SinkOptions) (*Sink, error) {
	if nilClient(client) {
		return nil, errors.New("redisstore: NewSink: nil client")
	}
	var o SinkOptions
	if opts != nil {
		o = *opts
	}
	var err error
	if o.Prefix, err = checkPrefix(o.Prefix); err != nil {
		return nil, err
	}
	s := &Sink{client: client, prefix: o.Prefix + ":a:", now: o.Now, maxBuckets: o.MaxBuckets}
	if s.now == nil {
		s.now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	for _, l := range []*burstlog.Logger{&s.addLog, &s.cellsLog, &s.eraseLog} {
		l.Logger, l.Mask = o.Logger, errmask.Text
	}
	if err := s.tokens.init(); err != nil {
		return nil, fmt.Errorf("redisstore: NewSink: %v", err)
	}
	if s.networks, err = aggregate.NetworkPolicy(o.NetworkPolicy); err != nil {
		return nil, fmt.Errorf("redisstore: NewSink: %w", err)
	}
	switch {
	case o.MaxBuckets < 0:
		return nil, fmt.Errorf("redisstore: NewSink: MaxBuckets %d is negative", o.MaxBuckets)
	case o.MaxBuckets == 0:
		s.maxBuckets = 7 * 24 * 60
	}
	for _, r := range []struct {
		g    aggregate.Granularity
		v    time.Duration
		def  time.Duration
		name string
	}{
		{aggregate.Minute, o.MinuteRetention, aggregate.DefaultMinuteRetention, "MinuteRetention"},
		{aggregate.Hour, o.HourRetention, aggregate.DefaultHourRetention, "HourRetention"},
		{aggregate.Day, o.DayRetention, aggregate.DefaultDayRetention, "DayRetention"},
	} {
		switch {
		case r.v < 0:
			return nil, fmt.Errorf("redisstore: NewSink: %s %v is negative", r.name, r.v)
		case r.v == 0:
			s.retention[r.g] = r.def
		default:
			s.retention[r.g] = r.v
		}
	}
	return s, nil
}

// begin starts every method of Sink: it refuses a nil *Sink, one not made
// by NewSink and a nil ctx, with an error naming op.
func (s *Sink) begin(ctx context.Context, op string) error {
	switch {
	case s == nil:
		return errors.New("redisstore: " + op + ": nil *Sink")
	case s.client == nil:
		return errors.New("redisstore: " + op + ": Sink not made by NewSink")
	case ctx == nil:
		return errors.New("redisstore: " + op + ": nil context")
	}
	return nil
}

var sinkGranularities = [...]aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day}

// bucketKey returns the hash key of link's bucket starting at start (Unix
// seconds). The link's length comes first, so distinct links never share
// a key, and the link is the hash tag.
func (s *Sink) bucketKey(link string, g aggregate.Granularity, start int64) string {
	return s.prefix + strconv.Itoa(len(link)) + ":{" + linkTag(link) + "}:" + g.String()[:1] + ":" + strconv.FormatInt(start, 10)
}

// tokenKey returns the key that marks the Add call with request token tok
// as done, in the slot of link's buckets.
func (s *Sink) tokenKey(link, tok string) string {
	return s.prefix + strconv.Itoa(len(link)) + ":{" + linkTag(link) + "}:r:" + tok
}

// linkTag returns the hash tag of link's keys: the link itself, or "#" and
// its hex form when it holds a brace, which would end the tag early (a link
// "}x" would give the empty tag "{}", and each key its own Cluster slot).
// The two forms have different lengths for links of one length, so with the
// length before the tag no two links share a key.
func linkTag(link string) string {
	if strings.ContainsAny(link, "{}") {
		return "#" + hex.EncodeToString([]byte(link))
	}
	return link
}

// token returns a new request token, 32 hex digits.
func (s *Sink) token() string {
	t := s.tokens.next()
	return hex.EncodeToString(t[:])
}

// hllKey returns the HyperLogLog key of one cell of a bucket.
func hllKey(bucket string, d aggregate.Dimension, value string) string {
	return bucket + ":v:" + d.String() + ":" + value
}

// The counter names in hash fields.
var counterNames = [...]string{"clicks", "unique", "unknown", "bots", "conversions"}

func counterValues(n aggregate.Counts) [5]uint64 {
	return [5]uint64{n.Clicks, n.Unique, n.UnknownUniqueness, n.Bots, n.Conversions}
}

func setCounter(n *aggregate.Counts, name string, v uint64) bool {
	switch name {
	case "clicks":
		n.Clicks = v
	case "unique":
		n.Unique = v
	case "unknown":
		n.UnknownUniqueness = v
	case "bots":
		n.Bots = v
	case "conversions":
		n.Conversions = v
	default:
		return false
	}
	return true
}

// Add counts c, whose uniqueness is u, in its minute, hour and day buckets
// in one script run (see [Sink] for why it is safe to retry). Bot clicks
// are never unique and do not enter the visitor sketches. It returns an
// error, and counts nothing, if c is invalid, u unknown or ctx done. A
// Redis or network error usually means nothing was counted, but if the
// connection failed after the server ran the script and every retry
// failed too, the click was counted once: an error never means it was
// counted twice.
func (s *Sink) Add(ctx context.Context, c clickstore.Click, u clickstore.Uniqueness) (err error) {
	if err := s.begin(ctx, "add click"); err != nil {
		return err
	}
	defer errmask.Wrap(&err)
	err = s.add(ctx, c, u)
	withCtxErr(ctx, &err)
	note(ctx, &s.addLog, s.now, &opAdd, err)
	return err
}

func (s *Sink) add(ctx context.Context, c clickstore.Click, u clickstore.Uniqueness) error {
	if err := validate("add click", c); err != nil {
		return err
	}
	if u > clickstore.Repeat {
		return fmt.Errorf("redisstore: add click: %w: uniqueness %d unknown", clickstore.ErrInvalidClick, int(u))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: add click: %w", err)
	}
	vals := counterValues(aggregate.CountsOf(&c, u)) // as every backend counts
	cells := [...]struct {
		d aggregate.Dimension
		v string
	}{
		{aggregate.Total, ""},
		{aggregate.Country, c.Country},
		{aggregate.Network, aggregate.NetworkOf(c.Network, s.networks).String()},
		{aggregate.Referrer, c.Referrer},
		{aggregate.Device, c.Device},
	}
	now := s.now()
	tok := s.token()
	nh := 0 // sketches per bucket: bots enter none
	if c.Bot == "" {
		nh = len(cells)
	}
	keys := make([]string, 0, 1+len(sinkGranularities)*(1+len(cells)))
	keys = append(keys, s.tokenKey(c.Link, tok))
	args := make([]any, 0, 4+len(cells)*len(vals)+len(sinkGranularities))
	args = append(args, sinkTokenTTL.Milliseconds(), string(c.Visitor[:]), nh, 0)
	nf := 0
	for _, cl := range cells {
		for i, v := range vals {
			if v != 0 {
				args = append(args, counterNames[i]+":"+cl.d.String()+":"+cl.v, v)
				nf++
			}
		}
	}
	args[3] = nf
	for _, g := range sinkGranularities {
		width := int64(g.Duration() / time.Second)
		start := g.Start(c.Time).Unix()
		var ms int64 // 0: no expiry
		if r := s.retention[g]; r != aggregate.KeepForever {
			// Sub saturates at the largest Duration (some 292 years), so
			// a far-off end is kept that long; rounding up by adding
			// would overflow it into a negative TTL, and a negative
			// PEXPIRE deletes the bucket's keys.
			ttl := time.Unix(start+width, 0).Add(r).Sub(now)
			if ttl <= 0 {
				continue // already past retention: nothing to keep
			}
			ms = ttl.Milliseconds()
			if ttl%time.Millisecond != 0 {
				ms++ // rounded up: at least 1
			}
		}
		key := s.bucketKey(c.Link, g, start)
		keys = append(keys, key)
		for _, cl := range cells[:nh] {
			keys = append(keys, hllKey(key, cl.d, cl.v))
		}
		args = append(args, ms)
	}
	if len(keys) == 1 {
		return nil // every bucket is past its retention
	}
	if err := sinkAddScript.Run(ctx, s.client, keys, args...).Err(); err != nil {
		return fmt.Errorf("redisstore: add click: %w", err)
	}
	return nil
}

// sinkAddScript counts one click, once per request token.
//
// KEYS: 1 token key, then per bucket kept (minute, hour, day; a bucket past
// its retention is left out): the bucket hash and its nh sketches.
// ARGV: 1 token key PX ms, 2 visitor (16 bytes), 3 nh, 4 nf, then nf pairs
// of hash field and increment, then per bucket kept its TTL in ms (0: no
// expiry).
//
// It returns 1 if it counted the click, 0 if the token was already spent
// (a resent run of a call that counted it).
var sinkAddScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
local nh, nf = tonumber(ARGV[3]), tonumber(ARGV[4])
local last = 4 + 2 * nf
local k = 2
for i = last + 1, #ARGV do
  local ttl = ARGV[i]
  for j = 5, last, 2 do
    redis.call('HINCRBY', KEYS[k], ARGV[j], ARGV[j + 1])
  end
  if ttl ~= '0' then redis.call('PEXPIRE', KEYS[k], ttl) end
  for h = k + 1, k + nh do
    redis.call('PFADD', KEYS[h], ARGV[2])
    if ttl ~= '0' then redis.call('PEXPIRE', KEYS[h], ttl) end
  end
  k = k + 1 + nh
end
return 1
`)

// Cells returns the raw cells of q (see [aggregate.Backend]). q.Link is
// required: the Sink cannot list links. It reads in two round trips: the
// buckets' hashes, then the visitor estimates, the range's as a PFCOUNT
// over every bucket's total sketch (a union, not a sum).
func (s *Sink) Cells(ctx context.Context, q aggregate.Query) (_ []aggregate.Cell, err error) {
	if err := s.begin(ctx, "cells"); err != nil {
		return nil, err
	}
	defer errmask.Wrap(&err)
	cs, err := s.cells(ctx, q)
	withCtxErr(ctx, &err)
	note(ctx, &s.cellsLog, s.now, &opCells, err)
	return cs, err
}

func (s *Sink) cells(ctx context.Context, q aggregate.Query) ([]aggregate.Cell, error) {
	q, err := q.Normalize()
	if err != nil {
		return nil, callerError{fmt.Errorf("redisstore: cells: %w", err)}
	}
	if q.Link == "" {
		return nil, callerError{errors.New("redisstore: cells: the query has no link, and the Sink cannot list links")}
	}
	width := int64(q.Granularity.Duration() / time.Second)
	first := q.Granularity.Start(q.From).Unix()
	if first < q.From.Unix() || (first == q.From.Unix() && q.From.Nanosecond() != 0) {
		first += width
	}
	last := q.Granularity.Start(q.To).Unix()
	if last == q.To.Unix() && q.To.Nanosecond() == 0 {
		last -= width
	}
	if last >= first && (last-first)/width >= int64(s.maxBuckets) {
		return nil, callerError{fmt.Errorf("redisstore: query from %s to %s: more than %d %s buckets", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339), s.maxBuckets, q.Granularity)}
	}
	type bucketRead struct {
		start int64
		key   string
		all   *redis.MapStringStringCmd
	}
	var reads []bucketRead
	p := s.client.Pipeline()
	for start := first; start <= last; start += width {
		key := s.bucketKey(q.Link, q.Granularity, start)
		reads = append(reads, bucketRead{start, key, p.HGetAll(ctx, key)})
	}
	if len(reads) > 0 {
		if _, err := p.Exec(ctx); err != nil {
			return nil, fmt.Errorf("redisstore: query: %w", err)
		}
	}
	type pending struct {
		cell  aggregate.Cell
		count *redis.IntCmd
	}
	var cells []pending
	var totals []string
	var rangeCounts aggregate.Counts
	p = s.client.Pipeline()
	for _, rd := range reads {
		fields := rd.all.Val()
		if len(fields) == 0 {
			continue
		}
		startT := time.Unix(rd.start, 0).UTC()
		byCell := map[[2]string]*aggregate.Counts{}
		for f, v := range fields {
			name, rest, ok1 := strings.Cut(f, ":")
			dim, value, ok2 := strings.Cut(rest, ":")
			n, err := strconv.ParseUint(v, 10, 64)
			if !ok1 || !ok2 || err != nil {
				return nil, fmt.Errorf("redisstore: query: bucket at %s: a field of %d bytes is not a counter", time.Unix(rd.start, 0).UTC().Format(time.RFC3339), len(f))
			}
			k := [2]string{dim, value}
			if byCell[k] == nil {
				byCell[k] = new(aggregate.Counts)
			}
			if !setCounter(byCell[k], name, n) {
				return nil, fmt.Errorf("redisstore: query: bucket at %s: a field of %d bytes names an unknown counter", time.Unix(rd.start, 0).UTC().Format(time.RFC3339), len(f))
			}
		}
		for k, n := range byCell {
			d, ok := parseDimension(k[0])
			if !ok {
				return nil, fmt.Errorf("redisstore: query: bucket at %s: a dimension of %d bytes is unknown", time.Unix(rd.start, 0).UTC().Format(time.RFC3339), len(k[0]))
			}
			c := aggregate.Cell{Scope: aggregate.ScopeBucket, Link: q.Link, Granularity: q.Granularity,
				Start: startT, End: startT.Add(q.Granularity.Duration()), Dimension: d, Value: k[1], Counts: *n}
			cells = append(cells, pending{c, p.PFCount(ctx, hllKey(rd.key, d, k[1]))})
			if d == aggregate.Total {
				totals = append(totals, hllKey(rd.key, d, ""))
				rangeCounts = rangeCounts.Add(*n)
			}
		}
	}
	if len(cells) == 0 {
		return nil, nil
	}
	var union *redis.IntCmd
	if len(totals) > 0 {
		union = p.PFCount(ctx, totals...)
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redisstore: query: %w", err)
	}
	out := make([]aggregate.Cell, 0, len(cells)+1)
	for _, pc := range cells {
		pc.cell.Visitors = uint64(pc.count.Val())
		out = append(out, pc.cell)
	}
	rc := aggregate.Cell{Scope: aggregate.ScopeRange, Link: q.Link, Granularity: q.Granularity, Start: q.From, End: q.To, Counts: rangeCounts}
	if union != nil {
		rc.Visitors = uint64(union.Val())
	}
	return append(out, rc), nil
}

func parseDimension(s string) (aggregate.Dimension, bool) {
	for d := aggregate.Total; d <= aggregate.Device; d++ {
		if d.String() == s {
			return d, true
		}
	}
	return 0, false
}

// SinkStats are a Sink's failure counters since NewSink, for metrics. As
// for [Stats], bad input, a canceled context and bad queries are the
// caller's errors and are not counted.
//
// SinkStats is a small comparable value; the zero SinkStats is all zeros.
type SinkStats struct {
	AddErrors   uint64 // Add calls that failed: the click may not be counted
	CellsErrors uint64 // Cells calls that failed
	EraseErrors uint64 // EraseLink calls that failed
}

// Stats returns the Sink's counters. It is safe for concurrent use.
func (s *Sink) Stats() SinkStats {
	if s == nil {
		return SinkStats{}
	}
	return SinkStats{
		AddErrors:   s.addLog.Failures(),
		CellsErrors: s.cellsLog.Failures(),
		EraseErrors: s.eraseLog.Failures(),
	}
}

// EraseLink deletes every statistic of link: its buckets' counters and
// visitor sketches at every granularity, and its request tokens. It
// returns how many keys it deleted. The keys of a link share its hash
// tag, so they live on one node; EraseLink finds them with SCAN (on every
// master of a Cluster) and deletes them with UNLINK, a page at a time.
// SCAN walks the node's whole keyspace: erasing is for the rare request
// to forget a link, not for a hot path. Clicks added while it runs may
// survive it. It returns an error if link is empty or longer than
// clickstore.MaxLinkLen, or Redis fails (some keys may then be deleted).
func (s *Sink) EraseLink(ctx context.Context, link string) (_ int, err error) {
	if err := s.begin(ctx, "erase link"); err != nil {
		return 0, err
	}
	defer errmask.Wrap(&err)
	n, err := s.eraseLink(ctx, link)
	withCtxErr(ctx, &err)
	note(ctx, &s.eraseLog, s.now, &opErase, err)
	return n, err
}

func (s *Sink) eraseLink(ctx context.Context, link string) (int, error) {
	if link == "" || len(link) > clickstore.MaxLinkLen {
		return 0, fmt.Errorf("redisstore: erase link: link of %d bytes: %w: want 1 to %d bytes", len(link), clickstore.ErrInvalidClick, clickstore.MaxLinkLen)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redisstore: erase link: %w", err)
	}
	pattern := globEscape(s.prefix+strconv.Itoa(len(link))+":{"+linkTag(link)+"}:") + "*"
	var mu sync.Mutex
	n := 0
	scan := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				d, err := c.Unlink(ctx, keys...).Result()
				mu.Lock()
				n += int(d)
				mu.Unlock()
				if err != nil {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	var err error
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return scan(ctx, node) })
	} else {
		err = scan(ctx, s.client)
	}
	if err != nil {
		return n, fmt.Errorf("redisstore: erase link: %w", err)
	}
	return n, nil
}
