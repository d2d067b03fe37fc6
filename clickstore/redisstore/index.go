package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/clickanon/clickanon/clickstore"
)

// maxPending bounds the index entries a Store queues while Redis is
// slow or down; beyond it, entries are dropped and counted (Stats).
const maxPending = 1 << 16

// gather is how long the index writer lets entries queue before it
// writes them, unless a full run is queued: it bounds how late another
// instance's index reads see a first click (see "Indexes" in the package
// documentation).
const gather = time.Millisecond

// indexTimeout bounds one write of queued index entries.
const indexTimeout = 5 * time.Second

// pending is a first click whose index entries are not written yet.
type pending struct {
	v    clickstore.Pseudonym
	link string
	rec  int64 // recorded time, Unix ns of the store's clock
}

// indexer writes the index entries of first clicks decided on the fast
// path: Record queues them (no allocation once the queue has grown) and a
// goroutine writes what has queued in one pipeline, then what queued
// meanwhile, so that the writes batch themselves under load and cost the
// request path nothing. Reads that start from an index flush the queue
// first, so that one instance always sees its own clicks.
type indexer struct {
	s *Store

	mu      sync.Mutex
	q       []pending
	dropped uint64
	closed  bool // set by close: add then writes at once

	wmu   sync.Mutex // held while a batch is written
	spare []pending  // guarded by wmu

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func (x *indexer) start(s *Store) {
	x.s = s
	x.wake = make(chan struct{}, 1)
	x.stop = make(chan struct{})
	x.done = make(chan struct{})
	go x.run()
}

// add queues a first click's index entries.
func (x *indexer) add(v clickstore.Pseudonym, link string, rec int64) {
	x.mu.Lock()
	if len(x.q) >= maxPending {
		x.dropped++
		x.mu.Unlock()
		return
	}
	x.q = append(x.q, pending{v: v, link: link, rec: rec})
	closed := x.closed
	x.mu.Unlock()
	if closed {
		// A Record that raced Close: no goroutine will write it.
		_ = x.flush(context.Background())
		return
	}
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

func (x *indexer) run() {
	defer close(x.done)
	t := time.NewTimer(gather)
	t.Stop()
	for {
		select {
		case <-x.wake:
		case <-x.stop:
			_ = x.flush(context.Background())
			return
		}
		x.mu.Lock()
		n := len(x.q)
		x.mu.Unlock()
		if n < indexRun {
			// Let more entries queue, so that one write carries
			// many of them.
			t.Reset(gather)
			select {
			case <-t.C:
			case <-x.stop:
				_ = x.flush(context.Background())
				return
			}
		}
		_ = x.flush(context.Background())
	}
}

// close stops the goroutine and writes what is queued; entries added
// later are written at once. It is idempotent.
func (x *indexer) close() {
	if x.stop == nil {
		return
	}
	x.mu.Lock()
	x.closed = true
	x.mu.Unlock()
	x.halt()
	_ = x.flush(context.Background()) // what was queued after the goroutine's last write
}

// halt stops the goroutine after its last write; entries added later
// stay queued until a flush.
func (x *indexer) halt() {
	x.once.Do(func() { close(x.stop) })
	<-x.done
}

// flush writes every entry queued before the call (those a concurrent
// flush is writing included) and returns the write's error. Entries whose
// write failed are dropped: their clicks expire by their TTL all the same.
func (x *indexer) flush(ctx context.Context) error {
	if x.s == nil {
		return nil
	}
	x.wmu.Lock()
	defer x.wmu.Unlock()
	x.mu.Lock()
	batch := x.q
	x.q = x.spare[:0]
	x.mu.Unlock()
	if len(batch) == 0 {
		x.spare = batch
		return nil
	}
	// The latest recorded time stands for the store's clock, which the
	// writer does not read: a Now function need not be safe for
	// concurrent use with the caller's own code.
	latest := batch[0].rec
	for _, p := range batch[1:] {
		latest = max(latest, p.rec)
	}
	written, err := x.write(ctx, batch, latest)
	clear(batch) // drop the links
	x.spare = batch[:0]
	if lost := len(batch) - written; lost > 0 {
		x.mu.Lock()
		x.dropped += uint64(lost)
		x.mu.Unlock()
		err = fmt.Errorf("redisstore: writing %d index entries: %w", lost, err)
	}
	note(ctx, &x.s.fails.index, func() time.Time { return time.Unix(0, latest) }, &opIndex, err)
	return err
}

// indexRun bounds the entries one indexScript run writes, so that no run
// blocks the server for long; a longer batch is several runs in one
// pipeline.
const indexRun = 256

// indexScript adds first clicks to the time index and their visitors'
// indexes, trims the entries whose clicks are expired, and refreshes the
// indexes' TTLs, as the record script does for the clicks it holds. The
// client builds every key, score and member, so that the script only
// hands them to Redis: per entry a ZADD into the visitor's index and a
// PEXPIRE of it, and one variadic ZADD into the time index per run.
//
// KEYS: 1 the time index, then each entry's visitor index.
// ARGV: 1 PX ms, 2 the visitor-index cutoff ("(" and a millisecond), 3 the
// time-index cutoff (likewise), 4 a trim flag per entry ("t": trim the
// visitor's index, "-": not), then per entry its time-index score (the
// recorded millisecond) and member, then per entry its visitor-index
// member (scored likewise). One entry in trimEvery asks for a trim, as
// the record script does, so that each visitor's index sheds its expired
// entries under traffic without every click paying for it.
const indexBody = `
local ti, px, vcut, flags = KEYS[1], ARGV[1], ARGV[2], ARGV[4]
local n = #KEYS - 1
for j = 1, n do
  local vi = KEYS[j + 1]
  redis.call('ZADD', vi, ARGV[3 + 2 * j], ARGV[4 + 2 * n + j])
  if string.byte(flags, j) == 116 then redis.call('ZREMRANGEBYSCORE', vi, '-inf', vcut) end
  redis.call('PEXPIRE', vi, px)
end
redis.call('ZADD', ti, unpack(ARGV, 5, 4 + 2 * n))
-- Entries of clicks Redis has expired too (the window plus the slack
-- ago): nothing else refers to them.
redis.call('ZREMRANGEBYSCORE', ti, '-inf', ARGV[3])
redis.call('PEXPIRE', ti, px)
return n
`

var (
	indexScript = redis.NewScript(indexBody)
	indexSHA    = any(indexScript.Hash())
)

// write adds batch's entries to the indexes with indexScript, in one
// pipeline of one run per indexRun entries; latest, the latest recorded
// time in batch, stands for the store's clock. It returns how many
// entries it wrote (all or none). Every key, score and member is a view
// of one buffer, which go-redis sends without copying (it takes *string
// arguments), so that the cost per entry is the server's.
func (x *indexer) write(ctx context.Context, batch []pending, latest int64) (int, error) {
	s := x.s
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), indexTimeout)
	defer cancel()
	const ms = 13 // the millisecond digits of a stamp
	cutMS := floorDiv(latest-int64(s.window), 1e6)
	// Both indexes keep an entry for the slack past its window: the
	// visitor's index so that an instance whose clock runs behind this
	// one's (by less than the slack) still finds the clicks it shows
	// (Latest on any link, EraseVisitor), the time index until Redis has
	// expired the click too.
	tcut := "(" + strconv.FormatInt(cutMS-slack.Milliseconds(), 10)
	vcut := tcut
	kl := len(s.visIdx) + len(clickstore.Pseudonym{})
	n := 0
	for _, p := range batch {
		n += kl + len(stamp{}) + 16 + 1 + 2*(len(stamp{})-ms+len(p.link))
	}
	// Per entry: the visitor's index, the score, the time-index member,
	// the visitor-index member; then the trim flags.
	buf := make([]byte, 0, n)
	ends := make([]int, 0, 4*len(batch)+1)
	for _, p := range batch {
		st := stampOf(time.Unix(0, p.rec))
		buf = append(append(buf, s.visIdx...), p.v[:]...)
		ends = append(ends, len(buf))
		buf = append(buf, st[:ms]...)
		ends = append(ends, len(buf))
		buf = append(append(append(buf, st[ms:]...), p.v[:]...), p.link...)
		ends = append(ends, len(buf))
		buf = append(append(buf, st[ms:]...), p.link...)
		ends = append(ends, len(buf))
	}
	for _, p := range batch {
		flag := byte('-')
		if p.rec%trimEvery == 0 {
			flag = 't'
		}
		buf = append(buf, flag)
	}
	ends = append(ends, len(buf))
	all := unsafe.String(unsafe.SliceData(buf), len(buf))
	strs := make([]string, len(ends)) // never grown: arguments point into it
	start := 0
	for i, end := range ends {
		strs[i] = all[start:end]
		start = end
	}
	flags := strs[len(strs)-1]
	runs := (len(batch) + indexRun - 1) / indexRun
	args := make([]any, 0, (3+1+4)*runs+4*len(batch)+runs)
	fl := make([]string, 0, runs)
	pipe := s.client.Pipeline()
	for i := 0; i < len(batch); i += indexRun {
		j := min(i+indexRun, len(batch))
		a := len(args)
		args = append(args, "evalsha", indexSHA, 1+j-i, s.timeIdxArg)
		for k := i; k < j; k++ {
			args = append(args, &strs[4*k])
		}
		fl = append(fl, flags[i:j])
		args = append(args, s.pxArg, vcut, tcut, &fl[len(fl)-1])
		for k := i; k < j; k++ {
			args = append(args, &strs[4*k+1], &strs[4*k+2])
		}
		for k := i; k < j; k++ {
			args = append(args, &strs[4*k+3])
		}
		_ = pipe.Process(ctx, redis.NewCmd(ctx, args[a:len(args):len(args)]...))
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// The server lost the script (a restart): run its source.
		pipe = s.client.Pipeline()
		for _, c := range cmds {
			a := c.Args()
			a[0], a[1] = "eval", indexBody
			_ = pipe.Process(ctx, redis.NewCmd(ctx, a...))
		}
		_, err = pipe.Exec(ctx)
	}
	if err != nil {
		s.failed(ctx, err)
		return 0, err
	}
	return len(batch), nil
}

// droppedEntries returns how many index entries were dropped.
func (x *indexer) droppedEntries() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.dropped
}
