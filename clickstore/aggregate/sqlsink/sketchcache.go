package sqlsink

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/axiomhq/hyperloglog"
)

// sketchCacheBytes bounds the memory a Sink's sketchCache holds, counted
// as sketchCost says: enough for the decoded sketches of several thousand
// cells of a busy link tracker's flush.
const sketchCacheBytes = 8 << 20

// sketchCache keeps decoded sketches by their encoding, so that merging
// a batch's sketch into a stored one whose bytes the cache has seen (most
// often the bytes this Sink wrote at its last flush) skips decoding them.
//
// It is addressed by content, not by cell: a stored sketch is decoded from
// the cache only when its bytes are exactly the cached bytes, and equal
// bytes decode to the same sketch whoever wrote them. So nothing needs
// invalidating: if another process writes a cell, or a transaction rolls
// back, or a row is swept or erased, the stored bytes are simply ones the
// cache does not hold (or, if it holds them, it holds their decoding). An
// entry is only ever a missed chance, never a wrong answer.
//
// A merge takes the decoding out of its entry, merges into it and puts it
// back under the union's encoding (which replaces the old one in the
// database: were the write rolled back, the old bytes would just be
// decoded again). The old entry remembers the merge, the batch's sketch
// and the union: the cells of a batch often hold the same visitors (a
// link's total, its one country, its one device class), so the same two
// sketches are merged several times in a row, and all but the first find
// the union ready.
//
// The bound is kept in generations: an entry not used for a generation
// is dropped.
//
// The zero sketchCache is not usable; newSketchCache makes one. It is safe
// for concurrent use (SQLite may call its merge function from several
// connections).
type sketchCache struct {
	mu   sync.Mutex
	seed maphash.Seed
	gens generations[uint64, *cachedSketch] // by the encoding's hash

	hits, misses atomic.Uint64 // merges that decoded no stored sketch, or one
}

// cachedSketch is an encoding, its decoding (nil once a merge took it)
// and the last merge into it: mine, a copy of the sketch merged in, and
// merged, the union's encoding. Its fields are guarded by the cache's mu.
type cachedSketch struct {
	enc          []byte
	sk           *hyperloglog.Sketch
	mine, merged []byte
}

func newSketchCache(bound int) *sketchCache {
	return &sketchCache{seed: maphash.MakeSeed(), gens: newGenerations[uint64, *cachedSketch](bound)}
}

// sketchCost is what an entry of an encoding of n bytes is counted as:
// the encoding and a decoding about as large (sparse sketches), plus the
// map's and the sketch's overhead.
func sketchCost(n int) int { return 2*n + 256 }

// cost is what e is counted as: its encoding's and the sketch merged in.
func (e *cachedSketch) cost() int { return sketchCost(len(e.enc)) + len(e.mine) }

// lookup returns the entry of enc, whose hash is h, moving it to the
// current generation, or nil. The caller holds mu.
func (c *sketchCache) lookup(h uint64, enc []byte) *cachedSketch {
	if e, _ := c.gens.get(h); e != nil && bytes.Equal(e.enc, enc) {
		return e
	}
	return nil
}

// merge returns the union of two marshalled sketches, marshalled; stored
// may be nil. It decodes stored only if the cache does not hold it (and
// returns the union at once if it made it before), and caches the union.
// c may be nil: it then decodes both.
func (c *sketchCache) merge(stored, mine []byte) ([]byte, error) {
	var m hyperloglog.Sketch
	if stored == nil || c == nil {
		if err := m.UnmarshalBinary(mine); err != nil {
			return nil, fmt.Errorf("sketch: %w", err)
		}
		if stored == nil {
			return mine, nil
		}
	}
	var (
		st *hyperloglog.Sketch
		h  uint64 // stored's hash
	)
	if c != nil {
		h = maphash.Bytes(c.seed, stored)
		c.mu.Lock()
		e := c.lookup(h, stored)
		if e != nil && e.merged != nil && bytes.Equal(e.mine, mine) {
			c.mu.Unlock()
			c.hits.Add(1)
			return e.merged, nil
		}
		if e != nil && e.sk != nil {
			st, e.sk = e.sk, nil
		}
		c.mu.Unlock()
		if err := m.UnmarshalBinary(mine); err != nil {
			if st != nil {
				c.put(h, stored, st, nil, nil) // untouched: back where it was
			}
			return nil, fmt.Errorf("sketch: %w", err)
		}
	}
	if st == nil {
		if c != nil {
			c.misses.Add(1)
		}
		st = new(hyperloglog.Sketch)
		if err := st.UnmarshalBinary(stored); err != nil {
			return nil, fmt.Errorf("stored sketch of %d bytes: %w", len(stored), err)
		}
	} else {
		c.hits.Add(1)
	}
	if err := st.Merge(&m); err != nil {
		return nil, fmt.Errorf("stored sketch: %w", err)
	}
	merged, err := st.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("merged sketch: %w", err)
	}
	if c != nil {
		c.put(h, stored, nil, bytes.Clone(mine), merged)
		c.put(maphash.Bytes(c.seed, merged), merged, st, nil, nil)
	}
	return merged, nil
}

// put records that enc, whose hash is h, decodes to sk (nil if taken) and that merging
// mine into it gives merged (nil if unknown). Neither sk nor a slice may
// be modified afterwards.
func (c *sketchCache) put(h uint64, enc []byte, sk *hyperloglog.Sketch, mine, merged []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.lookup(h, enc)
	if e == nil {
		e = &cachedSketch{enc: enc, sk: sk, mine: mine, merged: merged}
		c.gens.put(h, e, e.cost())
		return
	}
	if sk != nil {
		e.sk = sk
	}
	if merged != nil {
		e.mine, e.merged = mine, merged
		c.gens.put(h, e, e.cost()) // counted anew
	}
}

// sketchCaches maps the ids SQLite's merge function is called with to
// the caches of the Sinks that prepared those statements: a Sink
// registers its cache in New and removes it in Close.
var (
	sketchCaches sync.Map // uint64 → *sketchCache
	lastCacheID  atomic.Uint64
)

// registerSketchCache adds c to sketchCaches and returns its id, never 0.
func registerSketchCache(c *sketchCache) uint64 {
	id := lastCacheID.Add(1)
	sketchCaches.Store(id, c)
	return id
}

// sketchCacheOf returns the cache registered as id, or nil.
func sketchCacheOf(id int64) *sketchCache {
	c, _ := sketchCaches.Load(uint64(id))
	sc, _ := c.(*sketchCache)
	return sc
}
