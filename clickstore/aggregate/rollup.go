package aggregate

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/hll"
	"github.com/clickanon/clickanon/retention"
)

// Counts are the exact counters of one cell.
//
// Counts is a small comparable value; the zero Counts is all zeros.
type Counts struct {
	// Clicks counts clicks (Kind KindClick), bots included.
	Clicks uint64
	// Unique counts clicks that were their visitor's first on the link
	// within the store's window (Uniqueness Unique). Bot clicks are never
	// unique.
	Unique uint64
	// UnknownUniqueness counts clicks whose store could not tell
	// (UniqueUnknown): a non-zero value means the store failed or was
	// full, and Unique undercounts.
	UnknownUniqueness uint64
	// Bots counts clicks with a bot label.
	Bots uint64
	// Conversions counts conversions (Kind KindConversion).
	Conversions uint64
}

// Add returns c plus d, field by field.
func (c Counts) Add(d Counts) Counts {
	return Counts{
		Clicks:            c.Clicks + d.Clicks,
		Unique:            c.Unique + d.Unique,
		UnknownUniqueness: c.UnknownUniqueness + d.UnknownUniqueness,
		Bots:              c.Bots + d.Bots,
		Conversions:       c.Conversions + d.Conversions,
	}
}

// IsZero reports whether every count is zero.
func (c Counts) IsZero() bool { return c == Counts{} }

// CountsOf returns what one Add of c, whose visitor's uniqueness is u,
// contributes to each cell it lands in: a conversion counts one
// Conversions; a click counts one Clicks and, for a bot, one Bots (bots are
// never unique); otherwise one Unique if u is Unique, or one
// UnknownUniqueness if u is UniqueUnknown (for bots too). Every [Backend]
// counts with it, so that backends agree. It does not validate c; a nil c
// contributes nothing (the zero Counts).
func CountsOf(c *clickstore.Click, u clickstore.Uniqueness) Counts {
	var n Counts
	if c == nil {
		return n
	}
	if c.Kind == clickstore.KindConversion {
		n.Conversions = 1
		return n
	}
	n.Clicks = 1
	switch {
	case c.Bot != "":
		n.Bots = 1
		if u == clickstore.UniqueUnknown {
			n.UnknownUniqueness = 1
		}
	case u == clickstore.Unique:
		n.Unique = 1
	case u == clickstore.UniqueUnknown:
		n.UnknownUniqueness = 1
	}
	return n
}

// cell is one set of counters with the sketch of its distinct human
// visitors (nil until the first one). The sketch starts sparse and is
// turned dense past hll.DenseAt entries (see package internal/hll).
type cell struct {
	n  Counts
	sk *hyperloglog.Sketch
	// growth follows a sparse sk's size between checks.
	growth hll.Growth
	// dense is set once sk is dense; it stays dense.
	dense bool
}

// add counts n and, if human, inserts the visitor whose hash is h.
func (c *cell) add(n Counts, h uint64, human bool, x *sketchBuf) {
	c.n = c.n.Add(n)
	if !human {
		return
	}
	if c.sk == nil {
		c.sk = newSketch(x.p, true)
	}
	c.sk.InsertHash(h)
	if !c.dense {
		c.use(c.growth.Inserted(c.sk, x.p, &x.b))
	}
}

// use puts the dense sketch d in place of c's sparse one, if d is not nil.
func (c *cell) use(d *hyperloglog.Sketch) {
	if d != nil {
		c.sk, c.dense = d, true
	}
}

// sketchBuf is what the cells' sketch operations share: the precision
// and a scratch buffer for size checks. A shard holds one under its lock.
type sketchBuf struct {
	p uint8
	b []byte
}

// check turns a sparse sketch dense now if it holds more than
// hll.DenseAt entries.
func (c *cell) check(x *sketchBuf) {
	if c.dense || c.sk == nil {
		return
	}
	c.use(c.growth.Check(c.sk, x.p, &x.b))
}

func (c *cell) merge(o *cell, x *sketchBuf) error {
	c.n = c.n.Add(o.n)
	if o.sk == nil {
		return nil
	}
	if c.sk == nil {
		c.sk = newSketch(x.p, true)
	}
	if err := c.sk.Merge(o.sk); err != nil {
		return err
	}
	// Merging a dense sketch turns c's dense in place; merging a sparse
	// one may grow c past hll.DenseAt (or past 2^p, where axiomhq turns it
	// dense itself, which check's Estimate then tells).
	if o.dense {
		c.dense = true
	}
	c.check(x)
	return nil
}

func (c *cell) clone() *cell {
	d := *c
	if c.sk != nil {
		d.sk = c.sk.Clone()
	}
	return &d
}

// visitors returns the estimated distinct visitors of c. It checks c's
// size first, so that whether the estimate is taken sparse or dense
// depends only on the visitors c holds, not on the order they came in or
// the merges they came through: rollups that saw the same visitors
// answer the same.
func (c *cell) visitors(x *sketchBuf) uint64 {
	if c.sk == nil {
		return 0
	}
	c.check(x)
	return c.sk.Estimate()
}

func newSketch(precision uint8, sparse bool) *hyperloglog.Sketch {
	sk, err := hyperloglog.NewSketch(precision, sparse)
	if err != nil {
		// newConfig accepts only precisions 8 to 18, which NewSketch takes.
		panic("aggregate: unreachable: " + err.Error())
	}
	return sk
}

// breakdown is one dimension of a bucket: a cell per value, up to a cap,
// and an "other" cell for the rest.
type breakdown[K comparable] struct {
	vals  map[K]*cell
	other *cell
}

func (b *breakdown[K]) get(k K, max int) *cell {
	if c, ok := b.vals[k]; ok {
		return c
	}
	if len(b.vals) >= max {
		if b.other == nil {
			b.other = new(cell)
		}
		return b.other
	}
	if b.vals == nil {
		b.vals = make(map[K]*cell)
	}
	c := new(cell)
	b.vals[k] = c
	return c
}

// merge adds o into b; key, if not nil, maps o's values to b's.
func (b *breakdown[K]) merge(o *breakdown[K], max int, x *sketchBuf, key func(K) K) error {
	for k, oc := range o.vals {
		if key != nil {
			k = key(k)
		}
		if err := b.get(k, max).merge(oc, x); err != nil {
			return err
		}
	}
	if o.other != nil {
		if b.other == nil {
			b.other = new(cell)
		}
		return b.other.merge(o.other, x)
	}
	return nil
}

func (b *breakdown[K]) clone() breakdown[K] {
	d := breakdown[K]{}
	if b.vals != nil {
		d.vals = make(map[K]*cell, len(b.vals))
		for k, c := range b.vals {
			d.vals[k] = c.clone()
		}
	}
	if b.other != nil {
		d.other = b.other.clone()
	}
	return d
}

// bucket is everything counted for one link in one time bucket.
type bucket struct {
	total    cell
	country  breakdown[string]
	network  breakdown[netip.Prefix]
	referrer breakdown[string]
	device   breakdown[string]
}

func (b *bucket) clone() *bucket {
	return &bucket{
		total:    *b.total.clone(),
		country:  b.country.clone(),
		network:  b.network.clone(),
		referrer: b.referrer.clone(),
		device:   b.device.clone(),
	}
}

// bucketKey names a bucket: a link, a granularity and the bucket's start
// in Unix seconds.
type bucketKey struct {
	link  string
	g     Granularity
	start int64
}

const shardCount = 16

type shard struct {
	mu      sync.Mutex
	buckets map[bucketKey]*bucket
	x       sketchBuf
}

// Rollup counts clicks per link and UTC time bucket (minute, hour and day),
// with breakdowns by country, masked network (never finer than
// Options.NetworkPolicy, a /24 or a /48 by default: see [NetworkOf]),
// referrer host and device class, and a HyperLogLog sketch of distinct visitors per cell. It
// implements [clickstore.Sink] and [retention.Sweepable].
//
// Every click is added to its minute, hour and day bucket at once, so the
// hour and day buckets are always exactly the compaction of the finer ones
// (late clicks included) and [Rollup.Sweep] only has to drop buckets past
// their granularity's retention: minute detail for 48 hours, hour detail
// for 90 days, days for ever by default.
//
// Only pseudonyms enter the sketches, and only the sketches' estimates ever
// leave a Rollup: no address and no pseudonym can be read back from one.
//
// Memory: a cell (one bucket's total, or one dimension value of it) whose
// sketch holds more than 2^Precision/64 distinct visitors keeps it dense,
// 2^Precision bytes (16 KiB at DefaultPrecision); a smaller one keeps it
// sparse, 6 to 9 bytes per distinct visitor. A default Rollup holding one
// day of a link with 50,000 visitors takes about 35 MiB (BENCHMARKS.md).
//
// A Rollup drops what its retention says on its own, whether or not a
// sweeper calls [Rollup.Sweep]: a runtime timer (not a goroutine) is armed
// for the earliest moment a bucket it holds runs out, by its clock
// (Options.Now), sweeps then and re-arms for the next; nothing runs while
// the Rollup holds no bucket that can expire. [Rollup.Close] stops it.
//
// A Rollup is safe for concurrent use; every Add is counted exactly once.
// The zero Rollup is not usable: its methods return an error (build one
// with [New]), but Close, which has nothing to stop. So do those of a nil
// *Rollup, Close too, and a nil context.
type Rollup struct {
	cfg    config
	seed   maphash.Seed
	shards [shardCount]shard

	next    atomic.Int64 // deadline the timer is armed for, Unix seconds; 0: not armed
	timerMu sync.Mutex
	timer   *time.Timer
	closed  bool // under timerMu
}

var (
	_ clickstore.Sink     = (*Rollup)(nil)
	_ retention.Sweepable = (*Rollup)(nil)
	_ Backend             = (*Rollup)(nil)
)

// check begins the methods of Rollup: it refuses a nil *Rollup, one not
// made by New and a nil ctx, with an error naming op.
func (r *Rollup) check(ctx context.Context, op string) error {
	switch {
	case r == nil:
		return errNilRollup(op)
	case r.cfg.precision == 0:
		return errors.New("aggregate: " + op + ": Rollup not made by New")
	case ctx == nil:
		return errors.New("aggregate: " + op + ": nil context")
	}
	return nil
}

func errNilRollup(op string) error { return errors.New("aggregate: " + op + ": nil *Rollup") }

// New returns an empty Rollup configured by opts; a nil opts means the
// defaults. It returns an error if opts is invalid.
func New(opts *Options) (*Rollup, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	r := &Rollup{cfg: cfg, seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].buckets = make(map[bucketKey]*bucket)
		r.shards[i].x.p = cfg.precision
	}
	return r, nil
}

func (r *Rollup) shard(link string) *shard {
	return &r.shards[maphash.String(r.seed, link)%shardCount]
}

// Add counts c, whose visitor's uniqueness is u, in every granularity and
// dimension the Rollup keeps. It returns an error, and counts nothing, if
// c fails [clickstore.Click.Validate], u is not a known Uniqueness or ctx
// is done. Bot clicks are never counted as unique and their visitors do
// not enter the distinct-visitor sketches.
//
// Add hashes the visitor once and inserts the hash into each cell's
// sketch. Once a bucket and its dimension values exist, Add does not
// allocate except, now and then, for a sparse sketch's re-encoding and,
// once per cell, when a sketch passes 2^Precision/64 distinct visitors and
// turns dense (2^Precision bytes: 16 KiB at the default precision).
func (r *Rollup) Add(ctx context.Context, c clickstore.Click, u clickstore.Uniqueness) error {
	if err := r.check(ctx, "add click"); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("aggregate: add click: %w", err)
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("aggregate: add click: %w", err)
	}
	if u > clickstore.Repeat {
		return fmt.Errorf("aggregate: add click: uniqueness %d unknown", int(u))
	}
	n := CountsOf(&c, u)
	human := c.Bot == ""
	var h uint64
	if human {
		h = hll.VisitorHash((*[16]byte)(&c.Visitor))
	}
	network := NetworkOf(c.Network, r.cfg.networks)
	max := r.cfg.maxValues
	s := r.shard(c.Link)
	s.mu.Lock()
	p := &s.x
	defer r.armFor(c.Time.Unix())
	defer s.mu.Unlock()
	for _, g := range granularities {
		if !r.cfg.on[g] {
			continue
		}
		k := bucketKey{link: c.Link, g: g, start: floorDiv(c.Time.Unix(), int64(g.Duration()/time.Second))}
		b := s.buckets[k]
		if b == nil {
			b = new(bucket)
			s.buckets[k] = b
		}
		b.total.add(n, h, human, p)
		if r.cfg.dims[Country] {
			b.country.get(c.Country, max).add(n, h, human, p)
		}
		if r.cfg.dims[Network] {
			b.network.get(network, max).add(n, h, human, p)
		}
		if r.cfg.dims[Referrer] {
			b.referrer.get(c.Referrer, max).add(n, h, human, p)
		}
		if r.cfg.dims[Device] {
			b.device.get(c.Device, max).add(n, h, human, p)
		}
	}
	return nil
}

// floorDiv returns the start, in Unix seconds, of the width-second bucket
// that the Unix second t falls in.
func floorDiv(t, width int64) int64 {
	q := t / width
	if t%width < 0 {
		q--
	}
	return q * width
}

// Merge adds everything other has counted to r, so that r holds what one
// Rollup would hold had it seen both streams of clicks: counts add and
// sketches take their union. Only granularities and dimensions r keeps are
// merged, under r's MaxValues and r's NetworkPolicy: the result is exact as long as no
// dimension's cap is reached. other is not modified and may be in use
// concurrently. Merging rollups of different precisions, a nil Rollup or a
// Rollup into itself is an error, and so is merging one that does not keep
// every granularity and dimension r keeps: r would hold its clicks in
// some buckets and breakdowns but not in others, so that a breakdown no
// longer added up to its total, or an hour to its minutes. A refused
// merge changes nothing.
func (r *Rollup) Merge(other *Rollup) error {
	if err := r.check(context.Background(), "merge"); err != nil {
		return err
	}
	switch {
	case other == nil:
		return errors.New("aggregate: merge: other rollup is nil")
	case other == r:
		return errors.New("aggregate: merge: cannot merge a rollup into itself")
	case other.cfg.precision == 0:
		return errors.New("aggregate: merge: other Rollup not made by New")
	case other.cfg.precision != r.cfg.precision:
		return fmt.Errorf("aggregate: merge: precision %d differs from %d", other.cfg.precision, r.cfg.precision)
	}
	for _, g := range granularities {
		if r.cfg.on[g] && !other.cfg.on[g] {
			return fmt.Errorf("aggregate: merge: other rollup does not keep %s buckets, which this one keeps", g)
		}
	}
	for d := Country; d <= Device; d++ {
		if r.cfg.dims[d] && !other.cfg.dims[d] {
			return fmt.Errorf("aggregate: merge: other rollup does not keep the %s breakdown, which this one keeps", d)
		}
	}
	type kb struct {
		k bucketKey
		b *bucket
	}
	for i := range other.shards {
		os := &other.shards[i]
		os.mu.Lock()
		copies := make([]kb, 0, len(os.buckets))
		for k, b := range os.buckets {
			if r.cfg.on[k.g] {
				copies = append(copies, kb{k, b.clone()})
			}
		}
		os.mu.Unlock()
		for _, c := range copies {
			if err := r.mergeBucket(c.k, c.b); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Rollup) mergeBucket(k bucketKey, o *bucket) error {
	max := r.cfg.maxValues
	s := r.shard(k.link)
	s.mu.Lock()
	p := &s.x
	defer r.arm(r.deadline(k))
	defer s.mu.Unlock()
	b := s.buckets[k]
	if b == nil {
		b = new(bucket)
		s.buckets[k] = b
	}
	if err := b.total.merge(&o.total, p); err != nil {
		return fmt.Errorf("aggregate: merge: %w", err)
	}
	var err error
	if r.cfg.dims[Country] {
		err = errors.Join(err, b.country.merge(&o.country, max, p, nil))
	}
	if r.cfg.dims[Network] {
		// other may keep finer networks than r (ipmask.Default under
		// r's ipmask.Strict): they are counted under r's.
		err = errors.Join(err, b.network.merge(&o.network, max, p, func(n netip.Prefix) netip.Prefix { return NetworkOf(n, r.cfg.networks) }))
	}
	if r.cfg.dims[Referrer] {
		err = errors.Join(err, b.referrer.merge(&o.referrer, max, p, nil))
	}
	if r.cfg.dims[Device] {
		err = errors.Join(err, b.device.merge(&o.device, max, p, nil))
	}
	if err != nil {
		return fmt.Errorf("aggregate: merge: %w", err)
	}
	return nil
}

// Sweep drops every bucket whose retention has run out at now: a bucket of
// granularity g starting at s is dropped once now >= s + g + retention(g).
// Coarser buckets already hold the dropped detail, so the totals over any
// range still covered by them do not change. It reports how many buckets
// it dropped, how many remain and the age at now of the oldest remaining
// bucket's start, to the nanosecond (0 for a start after now). It makes a
// Rollup [retention.Sweepable].
func (r *Rollup) Sweep(ctx context.Context, now time.Time) (retention.SweepStats, error) {
	var st retention.SweepStats
	if err := r.check(ctx, "sweep"); err != nil {
		return st, err
	}
	if now.IsZero() {
		return st, errors.New("aggregate: sweep: zero time")
	}
	if err := ctx.Err(); err != nil {
		return st, fmt.Errorf("aggregate: sweep: %w", err)
	}
	st, _ = r.sweep(now)
	return st, nil
}

// sweep drops every bucket expired at now and returns the stats and the
// earliest deadline left (0 if none).
func (r *Rollup) sweep(now time.Time) (st retention.SweepStats, next int64) {
	oldest := int64(0)
	found := false
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for k := range s.buckets {
			d := r.deadline(k)
			if r.expired(k, d, now) {
				delete(s.buckets, k)
				st.Deleted++
				continue
			}
			if d != 0 && (next == 0 || d < next) {
				next = d
			}
			st.Held++
			if !found || k.start < oldest {
				oldest, found = k.start, true
			}
		}
		s.mu.Unlock()
	}
	if found {
		// To the nanosecond, and at most the largest Duration (Sub
		// saturates) for a bucket kept for good centuries ago.
		st.Oldest = max(0, now.Sub(time.Unix(oldest, 0)))
	}
	return st, next
}

// deadline returns the first whole Unix second at which bucket k has run
// out (a retention with a fraction of a second is rounded up, so that the
// timer never fires early), or 0 if it is kept for ever.
func (r *Rollup) deadline(k bucketKey) int64 {
	ret := r.cfg.retention[k.g]
	if ret == KeepForever {
		return 0
	}
	d := k.start + int64(k.g.Duration()/time.Second) + int64(ret/time.Second)
	if ret%time.Second != 0 {
		d++
	}
	return d
}

// expired reports whether bucket k, whose deadline is d, has run out at
// now: now >= start + g + retention(g), to the nanosecond.
func (r *Rollup) expired(k bucketKey, d int64, now time.Time) bool {
	if d == 0 {
		return false
	}
	s := now.Unix()
	if s >= d {
		return true
	}
	f := r.cfg.retention[k.g] % time.Second
	return f != 0 && s == d-1 && time.Duration(now.Nanosecond()) >= f
}

// armFor arms the timer for the earliest deadline of the buckets a click
// at t (Unix seconds) lands in. It costs one atomic load when the timer is
// already armed for an earlier deadline, as it is in the steady state.
func (r *Rollup) armFor(t int64) {
	var dl int64
	for _, g := range granularities {
		if !r.cfg.on[g] {
			continue
		}
		if d := r.deadline(bucketKey{g: g, start: floorDiv(t, int64(g.Duration()/time.Second))}); d != 0 && (dl == 0 || d < dl) {
			dl = d
		}
	}
	r.arm(dl)
}

// arm makes the timer fire by deadline dl (Unix seconds; 0 means never).
func (r *Rollup) arm(dl int64) {
	if dl == 0 {
		return
	}
	if n := r.next.Load(); n != 0 && n <= dl {
		return
	}
	r.timerMu.Lock()
	defer r.timerMu.Unlock()
	if n := r.next.Load(); r.closed || (n != 0 && n <= dl) {
		return
	}
	r.next.Store(dl)
	d := time.Unix(dl, 0).Sub(r.cfg.now())
	if r.timer == nil {
		r.timer = time.AfterFunc(d, r.fire)
	} else {
		r.timer.Reset(d)
	}
}

// fire runs on the timer: it sweeps at the Rollup's clock and re-arms for
// the earliest deadline left.
func (r *Rollup) fire() {
	r.timerMu.Lock()
	if r.closed {
		r.timerMu.Unlock()
		return
	}
	// Disarm before looking, so an Add that lands after the look arms
	// the timer again itself.
	r.next.Store(0)
	r.timerMu.Unlock()
	_, next := r.sweep(r.cfg.now())
	r.arm(next)
}

// Close stops the Rollup's own expiry (see [Rollup]). The Rollup still
// counts and answers, and [Rollup.Sweep] still drops what has run out.
// Close is idempotent and returns nil.
func (r *Rollup) Close() error {
	if r == nil {
		return errNilRollup("close")
	}
	r.timerMu.Lock()
	defer r.timerMu.Unlock()
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.next.Store(0)
	return nil
}

// EraseLink drops every bucket of link, in every granularity, and reports
// how many buckets it dropped. It returns an error if link is empty or
// longer than clickstore.MaxLinkLen, or ctx is done.
func (r *Rollup) EraseLink(ctx context.Context, link string) (int, error) {
	if err := r.check(ctx, "erase link"); err != nil {
		return 0, err
	}
	if link == "" || len(link) > clickstore.MaxLinkLen {
		return 0, fmt.Errorf("aggregate: erase link: %w", clickstore.Click{Link: link}.Validate())
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("aggregate: erase link: %w", err)
	}
	s := r.shard(link)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k := range s.buckets {
		if k.link == link {
			delete(s.buckets, k)
			n++
		}
	}
	return n, nil
}
