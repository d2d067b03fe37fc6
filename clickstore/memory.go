package clickstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/clickanon/clickanon/internal/wallclock"
	"github.com/clickanon/clickanon/retention"
)

// DefaultCapacity is how many clicks a [Memory] holds unless
// [MemoryOptions.Capacity] says otherwise: about 1,160 new visitor-link pairs
// a second, sustained over a 30-minute window, in roughly 110 MB.
const DefaultCapacity = 1 << 21

// maxWindow is the longest window a Memory keeps clicks for, about 146
// years: a longer Policy (math.MaxInt64, say) is taken as this, so that a
// deadline, a click's time plus the window, cannot overflow.
const maxWindow = math.MaxInt64 / 2

// MemoryOptions configures [NewMemory]. The zero value (or a nil pointer)
// means the defaults.
type MemoryOptions struct {
	// Policy is the retention window; the zero Policy means
	// retention.DefaultWindow. A window longer than about 146 years
	// (math.MaxInt64/2 nanoseconds), which only a Policy with
	// AllowLongRetention can have, is taken as that long.
	Policy retention.Policy

	// Capacity is the most clicks held at once; 0 means DefaultCapacity.
	// Record returns ErrFull beyond it. Negative is an error.
	Capacity int

	// Now is the store's clock; nil means the wall clock, read as
	// time.Now reads it but for the price of the monotonic clock alone (a
	// step of the wall clock is seen within 10 ms of monotonic time).
	// Lifetimes are decided by it alone. The store's timer calls it too,
	// at least once a second while clicks are held, so it must be safe
	// for concurrent use (a fake clock of a test included:
	// clickstoretest.Clock is one).
	Now func() time.Time
}

// Memory is the in-process [Store].
//
// Clicks live in fixed-size records (48 bytes, no pointers, so the garbage
// collector never scans them) appended to per-shard slabs in the order they
// are recorded. Since every click lives for the same window, that order is
// also the order of expiry: expiring means advancing the head of the slab,
// with no heap, no timer wheel and no scan of what is still live, and costs
// time proportional to what expired. Expired records are zeroed and unlinked
// from the shard's hash index; links, attribute sets and networks longer
// than 64 bits are interned per shard, reference-counted, and zeroed when
// their last click goes. Indexes and maps are rebuilt smaller when they
// shrink far below their peak, so memory returns to baseline after a burst.
//
// A click recorded when the store's clock reads t is readable until
// t+W-1ns and not at t+W. It is physically destroyed by the first of: any
// Record on its shard after t+W, a Sweep after t+W, or the store's own
// timer (a runtime timer, not a goroutine, stopped by Close), which fires
// at the oldest click's deadline or a second after it last fired, if that
// is sooner (a second after, if the store's clock has not moved since it
// last fired: a stalled or coarse Now does not make it spin), while the
// store holds clicks: within a second of t+W by the
// store's clock, also when that clock is stepped forward past t+W (the
// timer waits on the runtime's clock, which does not see the step). The
// store's clock only moves forward, and advances with the later of the
// monotonic and the wall clock, so neither a wall-clock jump back nor a
// stalled monotonic clock (a suspended machine) extends a lifetime. (With the default clock,
// the wall clock is read once per 10 ms of monotonic time, so a jump ahead
// or a suspension counts from at most that much later.)
//
// Repeats are counted, not held (see [Store]). A visitor with many held
// clicks makes its own Record calls slower, since they are checked one by
// one.
//
// A nil context, and a method of a nil *Memory, is an error saying so (Len
// of a nil *Memory is 0).
//
// The zero Memory is ready to use with the defaults of [MemoryOptions]. A
// Memory is safe for concurrent use and must not be copied after first use.
type Memory struct {
	initOnce sync.Once
	window   int64
	capacity int64
	nowFn    func() time.Time // nil: wall
	wall     *wallclock.Clock
	clk      clock

	held    atomic.Int64
	expired atomic.Int64 // clicks expiry destroyed that no Sweep has reported yet
	closed  atomic.Bool

	timerMu  sync.Mutex
	timer    *time.Timer
	armed    atomic.Bool
	lastFire int64 // the store's clock when the timer last fired

	shards [numShards]shard
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory configured by opts. A nil opts is
// valid; a negative capacity is an error.
func NewMemory(opts *MemoryOptions) (*Memory, error) {
	m := &Memory{}
	if opts != nil {
		if opts.Capacity < 0 {
			return nil, fmt.Errorf("clickstore: NewMemory: capacity %d is negative", opts.Capacity)
		}
		m.window = int64(opts.Policy.Window())
		m.capacity = int64(opts.Capacity)
		m.nowFn = opts.Now
	}
	m.init()
	return m, nil
}

func (m *Memory) init() {
	m.initOnce.Do(func() {
		if m.window == 0 {
			m.window = int64(retention.DefaultWindow)
		}
		// Deadlines are offsets plus the window: keep the sum within an
		// int64 for any window a Policy allows.
		m.window = min(m.window, maxWindow)
		if m.capacity == 0 {
			m.capacity = DefaultCapacity
		}
		if m.nowFn == nil {
			m.wall = wallclock.New()
			m.clk.start(m.wall.Now())
			return
		}
		m.clk.start(m.nowFn())
	})
}

// now returns the store's clock as an offset from its start.
func (m *Memory) now() int64 {
	if m.wall != nil {
		// The wall clock's start is the store's: its Elapsed is the
		// offset, without the two clock readings of time.Now.
		return m.clk.raise(m.wall.Elapsed())
	}
	return m.clk.offset(m.nowFn())
}

// Len returns how many clicks the store physically holds, including any
// that have expired but are not yet destroyed.
func (m *Memory) Len() int {
	if m == nil {
		return 0
	}
	m.init()
	return int(m.held.Load())
}

// String returns "clickstore.Memory(" and how many clicks it holds
// ")", e.g. "clickstore.Memory(3 held)". A Memory prints and logs as
// that alone: fmt would otherwise walk its fields, the held clicks'
// pseudonyms and networks among them, while its timer changes them (a
// data race).
func (m *Memory) String() string {
	if m == nil {
		return "clickstore.Memory(nil)"
	}
	return "clickstore.Memory(" + strconv.FormatInt(m.held.Load(), 10) + " held)"
}

// Format implements [fmt.Formatter]: every verb prints [Memory.String].
func (m *Memory) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, m.String()) }

// LogValue implements [slog.LogValuer]: a Memory logs as [Memory.String].
func (m *Memory) LogValue() slog.Value { return slog.StringValue(m.String()) }

func errClosed(op string) error { return fmt.Errorf("clickstore: %s: %w", op, ErrClosed) }

// enter begins every method of Memory that takes a context: it refuses a
// nil *Memory and a nil or done ctx, with an error naming op, and sets up
// the zero Memory.
func (m *Memory) enter(ctx context.Context, op string) error {
	switch {
	case m == nil:
		return errors.New("clickstore: " + op + ": nil *Memory")
	case ctx == nil:
		return errors.New("clickstore: " + op + ": nil context")
	}
	m.init()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("clickstore: %s: %w", op, err)
	}
	return nil
}

// Record implements [Store]. It does not allocate once the click's link and
// attributes are interned in its shard.
func (m *Memory) Record(ctx context.Context, c Click) (bool, error) {
	if err := m.enter(ctx, "record"); err != nil {
		return false, err
	}
	if err := c.Validate(); err != nil {
		return false, err
	}
	if c.Kind != KindClick {
		return false, invalid("kind", "stores hold clicks only")
	}
	first, err := m.record(&c)
	if errors.Is(err, ErrFull) {
		// Expired clicks on other shards may still count: destroy them
		// and try once more.
		m.sweepAll(m.now())
		first, err = m.record(&c)
	}
	if err == nil && first && !m.armed.Load() {
		m.arm()
	}
	return first, err
}

func (m *Memory) record(c *Click) (bool, error) {
	s := m.shard(c.Visitor)
	if first, err, ok := m.recordFromShard(c, s); ok {
		return first, err
	}
	// The previous pseudonym's shard comes first in the lock order and
	// was busy: take both locks in order and look again.
	p := m.shard(c.PrevVisitor)
	defer unlockPair(lockPair(s, p))
	now, held, err := m.look(c, s)
	if held || err != nil {
		return false, err
	}
	return m.recordPrev(c, s, p, now)
}

// recordFromShard is record with the lock of s, the current pseudonym's
// shard, taken first. Most clicks are repeats under the current key, and
// for those the previous pseudonym's shard is not locked at all. ok is
// false, and nothing was done, when that shard must be locked first and
// another call holds it.
func (m *Memory) recordFromShard(c *Click, s *shard) (first bool, err error, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, held, err := m.look(c, s)
	if held || err != nil {
		return false, err, true
	}
	p := s
	if !c.PrevVisitor.IsZero() {
		p = m.shard(c.PrevVisitor)
	}
	if p != s {
		if !lockAfter(s, p) {
			return false, nil, false
		}
		defer p.mu.Unlock()
	}
	first, err = m.recordPrev(c, s, p, now)
	return first, err, true
}

// look begins a Record with the lock of s, the current pseudonym's shard,
// held: it reads the store's clock, destroys what expired in s and reports
// whether s holds the visitor's click on the link.
func (m *Memory) look(c *Click, s *shard) (now int64, held bool, err error) {
	if m.closed.Load() {
		return 0, false, errClosed("record")
	}
	now = m.now() // read under the lock, so each shard's records are in clock order
	m.expire(s, now)
	return now, s.held(c.Visitor, c.Link, now, m.window), nil
}

// recordPrev ends a Record whose current pseudonym holds no click on the
// link, with the locks of s and p held (p is the previous pseudonym's
// shard, or s when that is the same or there is none): it records c in s
// unless the previous pseudonym holds a click on the link.
func (m *Memory) recordPrev(c *Click, s, p *shard, now int64) (bool, error) {
	if !c.PrevVisitor.IsZero() {
		if p != s {
			m.expire(p, now)
		}
		if p.held(c.PrevVisitor, c.Link, now, m.window) {
			return false, nil
		}
	}
	if !m.reserve() {
		return false, fmt.Errorf("clickstore: record: %w (capacity %d)", ErrFull, m.capacity)
	}
	s.insert(c, now)
	return true, nil
}

// reserve counts one more held click and reports whether it fits. It never
// counts past the capacity, not even for a moment: Len and Sweep read the
// count while Records run.
func (m *Memory) reserve() bool {
	for {
		h := m.held.Load()
		if h >= m.capacity {
			return false
		}
		if m.held.CompareAndSwap(h, h+1) {
			return true
		}
	}
}

// lockAfter locks p while s is locked, if that keeps the address order
// of lockPair or p is free, and reports whether it did: a call holding p
// and waiting for s cannot then deadlock with this one.
func lockAfter(s, p *shard) bool {
	if uintptr(unsafe.Pointer(s)) < uintptr(unsafe.Pointer(p)) {
		p.mu.Lock()
		return true
	}
	return p.mu.TryLock()
}

func (m *Memory) shard(v Pseudonym) *shard {
	return &m.shards[binary.LittleEndian.Uint64(v[:8])%numShards]
}

// lockPair locks s and p (p may be nil or s) in address order, so that two
// Records locking the same pair cannot deadlock, and returns the second
// lock taken (nil if only one) for unlockPair.
func lockPair(s, p *shard) (*shard, *shard) {
	if p == nil || p == s {
		s.mu.Lock()
		return s, nil
	}
	if uintptr(unsafe.Pointer(p)) < uintptr(unsafe.Pointer(s)) {
		s, p = p, s
	}
	s.mu.Lock()
	p.mu.Lock()
	return s, p
}

func unlockPair(a, b *shard) {
	if b != nil {
		b.mu.Unlock()
	}
	a.mu.Unlock()
}

// expire destroys s's expired records and keeps the held count and the
// count of what expired for the next Sweep to report.
func (m *Memory) expire(s *shard, now int64) int {
	n := s.expire(now, m.window)
	if n > 0 {
		m.held.Add(int64(-n))
		m.expired.Add(int64(n))
	}
	return n
}

// Latest implements [Store].
func (m *Memory) Latest(ctx context.Context, visitor, prev Pseudonym, link string) (Click, bool, error) {
	if err := m.enter(ctx, "latest"); err != nil {
		return Click{}, false, err
	}
	if len(link) > MaxLinkLen {
		return Click{}, false, tooLong("link", len(link), MaxLinkLen)
	}
	var (
		best    Click
		bestPut int64
		found   bool
	)
	for _, v := range [2]Pseudonym{visitor, prev} {
		if v.IsZero() {
			continue
		}
		s := m.shard(v)
		s.mu.Lock()
		if m.closed.Load() {
			s.mu.Unlock()
			return Click{}, false, errClosed("latest")
		}
		c, put, ok := s.latest(v, link, m.now(), m.window)
		s.mu.Unlock()
		if ok && (!found || put > bestPut) {
			best, bestPut, found = c, put, true
		}
	}
	return best, found, nil
}

// All implements [Store]. It reads each shard in batches, so it never holds
// a lock while the caller's loop body runs; once Close has returned, the
// iteration yields no held click, only an error wrapping ErrClosed, even
// if Close was called from its loop body.
func (m *Memory) All(ctx context.Context) iter.Seq2[Click, error] {
	return func(yield func(Click, error) bool) {
		if err := m.enter(ctx, "all"); err != nil {
			yield(Click{}, err)
			return
		}
		buf := make([]Click, 0, allBatch)
		defer clear(buf[:cap(buf)]) // copies of held clicks: leave none in the heap
		for i := range m.shards {
			s := &m.shards[i]
			var cursor uint32
			started := false
			for {
				if err := ctx.Err(); err != nil {
					yield(Click{}, fmt.Errorf("clickstore: all: %w", err))
					return
				}
				s.mu.Lock()
				if m.closed.Load() {
					s.mu.Unlock()
					yield(Click{}, errClosed("all"))
					return
				}
				if !started || !s.within(cursor) {
					cursor, started = s.head, true
				}
				buf, cursor = s.batch(buf[:0], cursor, m.now(), m.window)
				s.mu.Unlock()
				for _, c := range buf {
					if m.closed.Load() {
						// Closed while the loop ran (from its body, say):
						// the batch read before is no longer held.
						yield(Click{}, errClosed("all"))
						return
					}
					if !yield(c, nil) {
						return
					}
				}
				if len(buf) < allBatch {
					break
				}
			}
		}
	}
}

const allBatch = 256

// EraseVisitor implements [Store].
func (m *Memory) EraseVisitor(ctx context.Context, v Pseudonym) (int, error) {
	if err := m.enter(ctx, "erase visitor"); err != nil {
		return 0, err
	}
	if v.IsZero() {
		return 0, invalid("visitor", "zero pseudonym")
	}
	s := m.shard(v)
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.closed.Load() {
		return 0, errClosed("erase visitor")
	}
	now := m.now()
	live, gone := s.eraseVisitor(v, now, m.window)
	m.held.Add(int64(-gone))
	return live, nil
}

// EraseLink implements [Store]. It reads every shard's records, which is
// fine for the rare data-subject request it serves.
func (m *Memory) EraseLink(ctx context.Context, link string) (int, error) {
	if err := m.enter(ctx, "erase link"); err != nil {
		return 0, err
	}
	if link == "" || len(link) > MaxLinkLen {
		return 0, Click{Link: link}.Validate()
	}
	total := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		if m.closed.Load() {
			s.mu.Unlock()
			return total, errClosed("erase link")
		}
		live, gone := s.eraseLink(link, m.now(), m.window)
		s.mu.Unlock()
		m.held.Add(int64(-gone))
		total += live
	}
	return total, nil
}

// Sweep implements [Store] and [retention.Sweepable]: it destroys every
// click expired at now or at the store's own clock, whichever is later.
// It does not move the store's clock: a now ahead of it (a sweeper on
// another clock) destroys clicks early, but clicks recorded after still
// live their window by the store's clock, and a now before 1678 or after
// 2262 counts as that far back or ahead.
// Oldest is the age of the oldest click held at the instant swept at (the
// later of now and the store's clock), counted from when the store's
// clock recorded it: never the window or more.
// Deleted counts every click destroyed on expiry since the previous Sweep
// returned, by it, a Record or the store's own timer (which, on time,
// destroys most of them before any sweeper comes), each in one Sweep only:
// the sweeps' Deleted add up to every click that expired, so what was
// recorded is what the sweeps report deleted, plus what is held, plus
// what was erased.
func (m *Memory) Sweep(ctx context.Context, now time.Time) (retention.SweepStats, error) {
	if err := m.enter(ctx, "sweep"); err != nil {
		return retention.SweepStats{}, err
	}
	if m.closed.Load() {
		return retention.SweepStats{}, errClosed("sweep")
	}
	// now destroys what expired by it, but does not move the store's
	// clock: a time ahead of it (a sweeper's clock, a mistake) would
	// otherwise stretch the lifetime of every click recorded after.
	off := max(m.clk.at(now), m.now())
	st, _, _ := m.sweepAll(off)
	st.Deleted = int(m.expired.Swap(0))
	return st, nil
}

// sweepAll expires every shard at now and reports the stats and the
// earliest deadline still held (ok false if none).
func (m *Memory) sweepAll(now int64) (st retention.SweepStats, next int64, ok bool) {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		st.Deleted += m.expire(s, now)
		if put, has := s.oldest(); has {
			st.Oldest = max(st.Oldest, time.Duration(now-put))
			if d := put + m.window; !ok || d < next {
				next, ok = d, true
			}
		}
		s.mu.Unlock()
	}
	st.Held = int(m.held.Load())
	return st, next, ok
}

// arm starts the store's timer, which destroys clicks at their deadline
// while nobody calls the store.
func (m *Memory) arm() {
	m.timerMu.Lock()
	defer m.timerMu.Unlock()
	if m.armed.Load() || m.closed.Load() {
		return
	}
	m.armed.Store(true)
	d := min(time.Duration(m.window), timerTick)
	if m.timer == nil {
		m.timer = time.AfterFunc(d, m.fire)
	} else {
		m.timer.Reset(d)
	}
}

// fire runs on the timer: it sweeps and re-arms for the next deadline.
func (m *Memory) fire() {
	m.timerMu.Lock()
	defer m.timerMu.Unlock()
	if m.closed.Load() {
		return
	}
	// Disarm before looking, so a Record that lands after the look
	// arms the timer again itself.
	m.armed.Store(false)
	now := m.now()
	_, next, ok := m.sweepAll(now)
	if ok {
		m.armed.Store(true)
		d := time.Duration(next - now)
		if now == m.lastFire {
			// The store's clock has not moved since the last firing (a
			// stalled or coarse Now, a fake clock): waiting for the
			// deadline by the runtime's clock would fire again and again
			// while it stands still, a busy loop. Look again in a tick.
			d = timerTick
		}
		m.lastFire = now
		m.timer.Reset(min(d, timerTick))
	}
}

// timerTick is the longest the store's timer sleeps while clicks are held:
// a step of the store's clock (MemoryOptions.Now, or the wall clock) is
// not seen by the runtime timer, so the timer looks at the clock at least
// this often, the granularity of physical deletion.
const timerTick = time.Second

// Close implements [Store]: it destroys every click, stops the timer and
// makes every later call fail with ErrClosed. It is idempotent.
func (m *Memory) Close() error {
	if m == nil {
		return errors.New("clickstore: close: nil *Memory")
	}
	m.init()
	if m.closed.Swap(true) {
		return nil
	}
	m.timerMu.Lock()
	if m.timer != nil {
		m.timer.Stop()
	}
	m.armed.Store(false)
	m.timerMu.Unlock()
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.wipe()
		s.mu.Unlock()
	}
	m.held.Store(0)
	return nil
}

// clock turns the store's Now into a nanosecond offset that never goes back
// and advances with the later of the monotonic and the wall clock.
type clock struct {
	base     time.Time // with a monotonic reading if Now gives one
	baseWall int64
	high     atomic.Int64
}

func (c *clock) start(now time.Time) {
	c.base = now
	c.baseWall = now.UnixNano()
}

func (c *clock) offset(now time.Time) int64 {
	return c.raise(c.at(now))
}

// at returns now as an offset from the clock's start, without moving the
// clock: the later of the monotonic and the wall clock's, saturated
// rather than wrapped for a time whose Unix nanoseconds do not fit an
// int64 (before 1678 or after 2262) or are too far from the start.
func (c *clock) at(now time.Time) int64 {
	var wall int64
	switch {
	case now.Before(firstNano):
		wall = math.MinInt64
	case now.After(lastNano):
		wall = math.MaxInt64
	default:
		n := now.UnixNano()
		wall = n - c.baseWall
		if c.baseWall > 0 && wall > n {
			wall = math.MinInt64
		} else if c.baseWall < 0 && wall < n {
			wall = math.MaxInt64
		}
	}
	return max(int64(now.Sub(c.base)), wall)
}

// firstNano and lastNano are the first and last instants whose Unix
// nanoseconds fit an int64, in 1677 and 2262.
var (
	firstNano = time.Unix(0, math.MinInt64)
	lastNano  = time.Unix(0, math.MaxInt64)
)

// raise returns o, or the latest offset returned if that is later.
func (c *clock) raise(o int64) int64 {
	for {
		h := c.high.Load()
		if o <= h {
			return h
		}
		if c.high.CompareAndSwap(h, o) {
			return o
		}
	}
}
