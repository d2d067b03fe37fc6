package clickstore

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"sync"
	"time"
	"unsafe"
)

const (
	numShards = 64
	chunkLen  = 1024               // records per slab chunk (48 KiB)
	bucketNs  = int64(time.Second) // time covered by one bucket
	nilSeq    = ^uint32(0)         // no record; never handed out
	minHeads  = 64                 // smallest hash index
	bucketMin = 64                 // buckets kept before compacting the deque
)

// rec is one held click: 48 bytes with no pointers, so slabs of them are
// never scanned by the garbage collector. A zero v marks a hole (an erased
// record, or a sequence number skipped).
type rec struct {
	v    Pseudonym
	t    int64  // Click.Time in Unix nanoseconds
	net  uint64 // Network, in one of the forms below (see setNetwork)
	dt   uint32 // recording time minus its bucket's start; above dtBits, net's form
	link uint32 // ID in the shard's link table
	attr uint32 // ID in the shard's attribute table, 0 for none
	x    uint32 // hash chain links: see shard.link
}

// A record's size is most of what a held click costs: keep it at 48 bytes.
var _ [0]struct{} = [unsafe.Sizeof(rec{}) - 48]struct{}{}

// rec.dt holds the recording time's offset in its bucket in its low dtBits
// bits, and the form of rec.net in the two above.
const (
	dtBits = 30
	dtMask = 1<<dtBits - 1

	_ = uint64(1<<dtBits - bucketNs) // an offset, < bucketNs, fits in dtBits
)

// Forms of rec.net. Networks are masked (Click.Validate), so the bits after
// a network's length are zero: up to 63 bits of network fit in 64 with
// the length marked by a 1 bit right after them.
const (
	netMarked6 = iota // IPv6 of at most 63 bits: its first 64 bits, marked
	netMarked4        // IPv4: its 32 bits, then 32 zero bits, marked
	net64             // IPv6 of 64 bits: its first 64 bits
	netLong           // IPv6 longer: its ID in the shard's nets table
)

func (r *rec) offset() int64 { return int64(r.dt & dtMask) }

func (r *rec) form() uint32 { return r.dt >> dtBits }

type chunk [chunkLen]rec

// bucket groups records recorded within bucketNs of start. Records with
// sequence numbers before end (and after the previous bucket's) belong to
// it.
type bucket struct {
	start int64
	end   uint32
}

// shard is one lock's worth of the store. Records are numbered by a uint32
// sequence that wraps; the live ones are [head, tail), stored in chunks
// starting at base (a multiple of chunkLen).
type shard struct {
	mu sync.Mutex

	chunks     []*chunk
	spare      *chunk
	base       uint32
	head, tail uint32

	buckets []bucket // buckets[bh:] are live, oldest first
	bh      int

	heads []uint32 // hash index: newest record of each chain
	shift uint8    // 64 - log2(len(heads))
	n     int      // records linked in the index (not holes)

	links table[string]
	attrs table[attrs]
	nets  table[netip.Prefix] // networks too long for a record: see netLong

	_ [64]byte // keep neighbouring shards' locks off one cache line
}

func (s *shard) rec(seq uint32) *rec {
	i := seq - s.base
	return &s.chunks[i/chunkLen][i%chunkLen]
}

// within reports whether seq is live, i.e. in [head, tail).
func (s *shard) within(seq uint32) bool { return seq-s.head < s.tail-s.head }

// slot returns v's hash chain. Pseudonyms are uniform, but the shard was
// chosen by the low bits of v's first half, so both halves are mixed and the
// top bits of the product taken (Fibonacci hashing): chains stay short even
// for pseudonyms that are not random.
func (s *shard) slot(v Pseudonym) uint32 {
	h := binary.LittleEndian.Uint64(v[:8]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(v[8:]), 29)
	return uint32((h * 0x9e3779b97f4a7c15) >> s.shift)
}

// put returns the time seq was recorded, by the store's clock. seq must be
// live and not a hole.
func (s *shard) put(seq uint32, r *rec) int64 {
	bs := s.buckets[s.bh:]
	lo, hi := 0, len(bs)-1 // the bucket is the first whose end is after seq
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if seq-s.head < bs[mid].end-s.head {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return bs[lo].start + r.offset()
}

// held reports whether a click of v on link is held at now. The link is
// compared with the interned text of v's records, which costs less than
// finding its ID in the links' map: a visitor holds few records.
func (s *shard) held(v Pseudonym, link string, now, window int64) bool {
	if len(s.heads) == 0 {
		return false
	}
	for prev, seq := nilSeq, s.heads[s.slot(v)]; seq != nilSeq; {
		r := s.rec(seq)
		if r.v == v && s.links.ents[r.link].key == link {
			return s.put(seq, r)+window > now
		}
		prev, seq = seq, r.x^prev
	}
	return false
}

// latest returns the newest click of v held at now, on link or on any link
// if link is "", with the time it was recorded.
func (s *shard) latest(v Pseudonym, link string, now, window int64) (Click, int64, bool) {
	if len(s.heads) == 0 {
		return Click{}, 0, false
	}
	lid := uint32(0)
	if link != "" {
		var ok bool
		if lid, ok = s.links.lookup(link); !ok {
			return Click{}, 0, false
		}
	}
	for prev, seq := nilSeq, s.heads[s.slot(v)]; seq != nilSeq; {
		r := s.rec(seq)
		if r.v == v && (lid == 0 || r.link == lid) {
			put := s.put(seq, r)
			if put+window <= now {
				// Chains run newest to oldest, so the rest are older.
				return Click{}, 0, false
			}
			return s.click(r), put, true
		}
		prev, seq = seq, r.x^prev
	}
	return Click{}, 0, false
}

// click reads r back as a Click; its strings are fresh copies, so they
// survive the record.
func (s *shard) click(r *rec) Click {
	c := Click{
		Link:    string(s.links.ents[r.link].buf),
		Time:    time.Unix(0, r.t),
		Visitor: r.v,
		Network: s.network(r),
	}
	if r.attr != 0 {
		a := s.attrs.ents[r.attr].key
		c.RawAddr = a.raw
		c.Country = clone(a.country)
		c.Bot = clone(a.bot)
		c.Referrer = clone(a.referrer)
		c.Device = clone(a.device)
	}
	return c
}

func clone(s string) string {
	if s == "" {
		return ""
	}
	return string([]byte(s))
}

// insert appends c, recorded at now, to the shard.
func (s *shard) insert(c *Click, now int64) {
	if s.n >= len(s.heads) {
		s.rehash(max(minHeads, 2*len(s.heads)))
	}
	if s.tail == nilSeq {
		s.append(now) // skip the sequence number that means "none"; a hole
	}
	seq := s.append(now)
	r := s.rec(seq)
	r.v = c.Visitor
	r.t = c.Time.UnixNano()
	r.link = s.links.acquire(c.Link, ownString)
	if a := (attrs{raw: c.RawAddr, country: c.Country, bot: c.Bot, referrer: c.Referrer, device: c.Device}); a != (attrs{}) {
		r.attr = s.attrs.acquire(a, ownAttrs)
	}
	s.setNetwork(r, c.Network)
	s.link(seq, r)
	s.n++
}

// setNetwork stores p, a masked prefix, in r.net and its form in r.dt.
func (s *shard) setNetwork(r *rec, p netip.Prefix) {
	a, n := p.Addr(), p.Bits()
	var form uint32
	switch {
	case a.Is4():
		b := a.As4()
		r.net, form = uint64(binary.BigEndian.Uint32(b[:]))<<32|1<<(63-n), netMarked4
	case n < 64:
		b := a.As16()
		r.net, form = binary.BigEndian.Uint64(b[:8])|1<<(63-n), netMarked6
	case n == 64:
		b := a.As16()
		r.net, form = binary.BigEndian.Uint64(b[:8]), net64
	default:
		r.net, form = uint64(s.nets.acquire(p, ownPrefix)), netLong
	}
	r.dt |= form << dtBits
}

// network reads back what setNetwork stored in r.
func (s *shard) network(r *rec) netip.Prefix {
	var n int
	hi := r.net
	switch f := r.form(); f {
	case netLong:
		return s.nets.ents[r.net].key
	case netMarked4, netMarked6:
		n = 63 - bits.TrailingZeros64(hi)
		hi &= hi - 1 // clear the mark
		if f == netMarked4 {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], uint32(hi>>32))
			return netip.PrefixFrom(netip.AddrFrom4(b), n)
		}
	default:
		n = 64
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	return netip.PrefixFrom(netip.AddrFrom16(b), n)
}

// ownPrefix interns p as it is: it holds no bytes of its own to copy.
func ownPrefix(p netip.Prefix) (netip.Prefix, []byte) { return p, nil }

// append claims the next sequence number, recorded at now, and returns it;
// its record is zero.
func (s *shard) append(now int64) uint32 {
	if len(s.chunks) == 0 || s.tail-s.base == uint32(len(s.chunks)*chunkLen) {
		c := s.spare
		s.spare = nil
		if c == nil {
			c = new(chunk)
		}
		if len(s.chunks) == 0 {
			s.base = s.tail - s.tail%chunkLen
		}
		s.chunks = append(s.chunks, c)
	}
	seq := s.tail
	s.tail++
	if nb := len(s.buckets); nb == s.bh || now-s.buckets[nb-1].start >= bucketNs {
		s.buckets = append(s.buckets, bucket{start: now})
	}
	b := &s.buckets[len(s.buckets)-1]
	b.end = s.tail
	s.rec(seq).dt = uint32(now - b.start)
	return seq
}

// link puts seq, whose record is r, at the head of its hash chain.
//
// Chains run newest to oldest and are doubly linked through one field (an
// XOR linked list): a record's x is the sequence number of the record
// before it in its chain XOR that of the record after it, nilSeq standing
// for none. A walk from the chain's head knows the record before the
// current one, and so the one after: x^prev. The record at the chain's end,
// which expiry takes out, knows the one before it: x^nilSeq.
func (s *shard) link(seq uint32, r *rec) {
	h := &s.heads[s.slot(r.v)]
	if *h != nilSeq {
		s.rec(*h).x ^= nilSeq ^ seq // its prev was nilSeq, now seq
	}
	r.x = nilSeq ^ *h
	*h = seq
}

// unlink takes seq, whose record is r, out of its hash chain, where it sits
// between prev and next (nilSeq for none).
func (s *shard) unlink(prev, seq, next uint32, r *rec) {
	if prev == nilSeq {
		s.heads[s.slot(r.v)] = next
	} else {
		s.rec(prev).x ^= seq ^ next
	}
	if next != nilSeq {
		s.rec(next).x ^= seq ^ prev
	}
}

// destroy unlinks seq, whose record is r, releases what it references and
// zeroes it, leaving a hole. It walks r's chain to find r's neighbours.
func (s *shard) destroy(seq uint32, r *rec) {
	prev := nilSeq
	for cur := s.heads[s.slot(r.v)]; cur != seq; {
		prev, cur = cur, s.rec(cur).x^prev
	}
	s.unlink(prev, seq, r.x^prev, r)
	s.drop(r)
}

// drop releases what r references and zeroes it, leaving a hole; r must be
// out of the index already.
func (s *shard) drop(r *rec) {
	s.links.release(r.link)
	if r.attr != 0 {
		s.attrs.release(r.attr)
	}
	if r.form() == netLong {
		s.nets.release(uint32(r.net))
	}
	*r = rec{}
	s.n--
}

// rehash rebuilds the hash index with size slots (a power of two).
func (s *shard) rehash(size int) {
	s.heads = make([]uint32, size)
	s.shift = uint8(64 - bits.TrailingZeros(uint(size)))
	for i := range s.heads {
		s.heads[i] = nilSeq
	}
	for seq := s.head; seq != s.tail; seq++ {
		if r := s.rec(seq); !r.v.IsZero() {
			s.link(seq, r) // oldest first, so chains end up newest first
		}
	}
}

// expire destroys the records recorded at or before now-window and returns
// how many it destroyed. Records are in recording order, so it stops at the
// first live one: the cost is proportional to what expired.
func (s *shard) expire(now, window int64) int {
	n := 0
	for s.head != s.tail {
		b := &s.buckets[s.bh]
		if b.start+window > now {
			break // the whole oldest bucket is live: so is everything
		}
		r := s.rec(s.head)
		if !r.v.IsZero() {
			if b.start+r.offset()+window > now {
				break
			}
			// Every other record in r's chain is newer: r is at its
			// end, so r.x is the record before it.
			s.unlink(r.x^nilSeq, s.head, nilSeq, r)
			s.drop(r)
			n++
		} else {
			*r = rec{}
		}
		s.pop()
	}
	if n > 0 {
		s.shrink()
	}
	return n
}

// pop advances head past a zeroed record, freeing chunks and buckets
// behind it.
func (s *shard) pop() {
	s.head++
	if s.head == s.buckets[s.bh].end {
		s.buckets[s.bh] = bucket{}
		s.bh++
		if s.bh == len(s.buckets) {
			s.buckets, s.bh = s.buckets[:0], 0
		} else if s.bh >= bucketMin && s.bh > len(s.buckets)/2 {
			n := copy(s.buckets, s.buckets[s.bh:])
			clear(s.buckets[n:])
			s.buckets, s.bh = s.buckets[:n], 0
		}
	}
	if s.head-s.base == chunkLen || s.head == s.tail {
		if s.head-s.base == chunkLen {
			if s.spare == nil {
				s.spare = s.chunks[0] // zeroed record by record already
			}
			s.chunks[0] = nil
			s.chunks = s.chunks[1:]
			s.base += chunkLen
		}
		if len(s.chunks) == 0 {
			s.chunks = nil
		}
	}
}

// shrink gives memory back once the shard holds far fewer records than its
// index was sized for.
func (s *shard) shrink() {
	switch {
	case s.head == s.tail:
		s.heads, s.n = nil, 0
		s.buckets, s.bh = nil, 0
		s.chunks, s.spare = nil, nil
		s.links.wipe()
		s.attrs.wipe()
		s.nets.wipe()
	case len(s.heads) > minHeads && s.n < len(s.heads)/8:
		size := minHeads
		for size < 2*s.n {
			size *= 2
		}
		s.rehash(size)
	}
	if cap(s.chunks) > 4*len(s.chunks)+16 {
		s.chunks = append([]*chunk(nil), s.chunks...)
	}
	if cap(s.buckets) > 4*(len(s.buckets)-s.bh)+bucketMin {
		s.buckets, s.bh = append([]bucket(nil), s.buckets[s.bh:]...), 0
	}
}

// oldest returns when the oldest live record was recorded.
func (s *shard) oldest() (int64, bool) {
	for seq := s.head; seq != s.tail; seq++ {
		if r := s.rec(seq); !r.v.IsZero() {
			return s.put(seq, r), true
		}
	}
	return 0, false
}

// eraseVisitor destroys v's records and returns how many were live at now
// and how many were destroyed in all.
func (s *shard) eraseVisitor(v Pseudonym, now, window int64) (live, gone int) {
	if len(s.heads) == 0 {
		return 0, 0
	}
	for prev, seq := nilSeq, s.heads[s.slot(v)]; seq != nilSeq; {
		r := s.rec(seq)
		next := r.x ^ prev
		if r.v != v {
			prev, seq = seq, next
			continue
		}
		if s.put(seq, r)+window > now {
			live++
		}
		s.unlink(prev, seq, next, r)
		s.drop(r)
		gone++
		seq = next // prev stays: it is next's prev now
	}
	return live, gone
}

// eraseLink destroys the records on link; the counts are as eraseVisitor's.
func (s *shard) eraseLink(link string, now, window int64) (live, gone int) {
	lid, ok := s.links.lookup(link)
	if !ok {
		return 0, 0
	}
	refs := int(s.links.ents[lid].refs)
	for seq := s.head; seq != s.tail && gone < refs; seq++ {
		r := s.rec(seq)
		if r.v.IsZero() || r.link != lid {
			continue
		}
		if s.put(seq, r)+window > now {
			live++
		}
		s.destroy(seq, r)
		gone++
	}
	return live, gone
}

// batch appends to buf up to allBatch clicks live at now, from seq on, and
// returns the sequence number to continue from.
func (s *shard) batch(buf []Click, seq uint32, now, window int64) ([]Click, uint32) {
	for ; seq != s.tail && len(buf) < allBatch; seq++ {
		r := s.rec(seq)
		if r.v.IsZero() || s.put(seq, r)+window <= now {
			continue
		}
		buf = append(buf, s.click(r))
	}
	return buf, seq
}

// wipe destroys everything in the shard.
func (s *shard) wipe() {
	for _, c := range s.chunks {
		clear(c[:])
	}
	s.links.wipe()
	s.attrs.wipe()
	s.nets.wipe()
	s.chunks, s.spare, s.base, s.head, s.tail = nil, nil, 0, 0, 0
	s.buckets, s.bh = nil, 0
	s.heads, s.n = nil, 0
}
