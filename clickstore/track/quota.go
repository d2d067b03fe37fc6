package track

import (
	"encoding/binary"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// quota counts, per masked network, the clicks the tracker had the store
// hold within the last window, so that one network cannot fill the store.
//
// A store holds a first click for exactly the window W, so the clicks a
// network has held at now are its first clicks recorded after now-W. The
// quota counts them in slots of W/8 and sums the slots that can still hold
// a click: the sum may count clicks up to one slot older than W, so it
// errs on the side of the store's room, never of the flood. Erasures are
// not seen; they only make the count high for a window.
//
// Most networks are far below the quota: each shard keeps, in peak, at
// least the count of its busiest network, so that allow answers them with
// one atomic load and no lock.
type quota struct {
	limit  uint32
	slot   int64 // nanoseconds per slot
	shards [quotaShards]quotaShard
}

const (
	quotaSlots  = 8              // slots per window
	quotaRing   = quotaSlots + 1 // the slot now falls in, and the window before
	quotaShards = 16             // locks, to keep cores apart; a power of two
)

type quotaShard struct {
	mu    sync.Mutex
	nets  map[netip.Prefix]netCount
	swept int64 // the slot of the last sweep
	// peak is at least held(last) of every network in nets: the most
	// any of them can be holding, whatever the clock says. Written
	// under mu, read without it.
	peak atomic.Uint32
	_    [36]byte // to a cache line of its own
}

// netCount is one network's first clicks per slot, in a ring indexed by
// slot number modulo quotaRing; last is the newest slot written.
type netCount struct {
	n    [quotaRing]uint32
	last int64
}

func newQuota(limit int, window time.Duration) *quota {
	q := &quota{limit: uint32(min(uint64(limit), math.MaxUint32)), slot: max(int64(window)/quotaSlots, 1)}
	for i := range q.shards {
		q.shards[i].nets = make(map[netip.Prefix]netCount)
	}
	return q
}

// shard returns p's shard: by its bytes folded by XOR, eight at a time.
func (q *quota) shard(p netip.Prefix) *quotaShard {
	b := p.Addr().As16()
	h := binary.LittleEndian.Uint64(b[:8]) ^ binary.LittleEndian.Uint64(b[8:])
	h ^= h >> 32
	h ^= h >> 16
	h ^= h >> 8
	return &q.shards[(byte(h)^byte(p.Bits()))&(quotaShards-1)]
}

// held returns how many clicks of the network may be held at slot s.
func (c *netCount) held(s int64) uint32 {
	if s-c.last >= quotaRing {
		return 0
	}
	var sum uint32
	for i := max(s-quotaRing+1, c.last-quotaRing+1); i <= c.last; i++ {
		sum += c.n[i%quotaRing]
	}
	return sum
}

// allow reports whether the network may have one more click held at now.
func (q *quota) allow(p netip.Prefix, now time.Time) bool {
	sh := q.shard(p)
	if sh.peak.Load() < q.limit {
		return true // no network of the shard can be at the quota
	}
	s := now.UnixNano() / q.slot
	sh.mu.Lock()
	c, ok := sh.nets[p]
	sh.mu.Unlock()
	return !ok || c.held(s) < q.limit
}

// add counts a click of the network held from now.
func (q *quota) add(p netip.Prefix, now time.Time) {
	s := now.UnixNano() / q.slot
	sh := q.shard(p)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s != sh.swept {
		sh.sweep(s)
	}
	c := sh.nets[p]
	if s < c.last {
		s = c.last // the clock went back: count it in the newest slot
	}
	for i := c.last + 1; i <= s && i <= c.last+quotaRing; i++ {
		c.n[i%quotaRing] = 0 // slots the ring skipped over
	}
	c.n[s%quotaRing]++
	c.last = s
	sh.nets[p] = c
	if h := c.held(s); h > sh.peak.Load() {
		sh.peak.Store(h)
	}
}

// sweep forgets the networks that can hold nothing at slot s, so that the
// map holds only networks with clicks within the window, and lowers peak to
// the busiest of those left.
func (sh *quotaShard) sweep(s int64) {
	sh.swept = s
	var peak uint32
	for p, c := range sh.nets {
		if s-c.last >= quotaRing {
			delete(sh.nets, p)
			continue
		}
		peak = max(peak, c.held(c.last))
	}
	sh.peak.Store(peak)
}

// networks returns how many networks the quota is counting.
func (q *quota) networks() int {
	n := 0
	for i := range q.shards {
		sh := &q.shards[i]
		sh.mu.Lock()
		n += len(sh.nets)
		sh.mu.Unlock()
	}
	return n
}
