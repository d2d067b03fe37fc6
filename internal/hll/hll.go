// Package hll holds what the aggregate Rollup and the SQL sink's buffer
// share about the HyperLogLog sketches (github.com/axiomhq/hyperloglog) of
// a cell's visitors: the hash a visitor is inserted under, and when a
// sparse sketch is turned dense.
//
// A sketch starts sparse (a compressed list of the visitors' hashes,
// near-exact and small). axiomhq keeps it sparse up to 2^p entries,
// re-encoding the whole list every 2^p/100 inserts, repeats included: with
// thousands of visitors in a cell that costs most of a click's CPU. So a
// cell turns its sketch dense (2^p one-byte registers) once it holds more
// than DenseAt(p) distinct entries. Merging the sparse sketch into a dense
// one gives exactly the registers axiomhq's own conversion would, so the
// estimates, the encoding (MarshalBinary) and Merge stay axiomhq's.
package hll

import (
	"encoding/binary"

	"github.com/axiomhq/hyperloglog"
	metro "github.com/dgryski/go-metro"
)

// seed is the seed of the MetroHash64 that axiomhq's Insert applies to an
// element; its binary format (version 2) pins both.
const seed = 1337

// VisitorHash returns the hash that hyperloglog.Sketch.Insert(v[:])
// inserts, so that a visitor is hashed once per click and the hash handed
// to every cell's InsertHash, and the sketches stay mergeable with any
// built by Insert.
func VisitorHash(v *[16]byte) uint64 { return metro.Hash64(v[:], seed) }

// DenseAt returns how many distinct entries a sparse sketch of precision p
// may hold before it is turned dense: 2^p/64, 256 at precision 14. Up to
// it a sparse sketch is near-exact and small (about 2 KiB in memory at 256
// entries) and an insert amortises the re-encoding of a list of at most
// ~300 entries; past it the sketch is 2^p bytes (16 KiB at p = 14) and an
// insert is one register update.
func DenseAt(p uint8) uint64 { return 1 << p >> 6 }

// Growth follows a sparse sketch's size between checks. The zero Growth
// is a sketch not yet checked. It is not safe for concurrent use: it
// lives with its sketch, under the same lock.
type Growth struct {
	// pending counts the inserts since the last check, counted the
	// distinct entries found then.
	pending, counted uint32
}

// Inserted records an insert into the sparse sketch sk of precision p and,
// when enough have come since the last check (as many as could take it
// past DenseAt, and at least a quarter of DenseAt), checks it: it returns
// the dense sketch to use in sk's place, or nil to keep sk. scratch is a
// buffer the check may grow and reuse.
func (g *Growth) Inserted(sk *hyperloglog.Sketch, p uint8, scratch *[]byte) *hyperloglog.Sketch {
	g.pending++
	d := uint32(DenseAt(p))
	after := max(d>>2, 1)
	if g.counted < d-d>>2 {
		after = d - g.counted
	}
	if g.pending < after {
		return nil
	}
	return g.Check(sk, p, scratch)
}

// Check checks the sparse sketch sk of precision p now (after a merge, or
// before an estimate), as Inserted does. It reads a cheap upper bound on
// its entries from its encoding first, so that a small sketch is neither
// re-encoded nor allocated for; past the bound, Estimate merges its
// pending entries and counts its list (linear counting over 2^25 slots,
// well under 1% off at these sizes).
func (g *Growth) Check(sk *hyperloglog.Sketch, p uint8, scratch *[]byte) *hyperloglog.Sketch {
	g.pending = 0
	if n, ok := sparseBound(sk, scratch); ok && n <= DenseAt(p) {
		g.counted = uint32(n)
		return nil
	}
	if n := sk.Estimate(); n <= DenseAt(p) {
		g.counted = uint32(n)
		return nil
	}
	d, err := hyperloglog.NewSketch(p, false)
	if err != nil || d.Merge(sk) != nil {
		return nil // a precision or sketch axiomhq refuses: keep sk as it is
	}
	return d
}

// sparseBound returns an upper bound on the distinct entries of a sparse
// sketch: its pending entries (some may repeat listed ones) plus its
// list's count, read from its binary encoding (axiomhq's format version 2,
// documented on UnmarshalBinary: byte 3 is 1 for sparse, bytes 4:8 the
// pending count, then the pending keys, then the list's count). It
// allocates only while scratch grows. ok is false if sk is not sparse.
func sparseBound(sk *hyperloglog.Sketch, scratch *[]byte) (n uint64, ok bool) {
	b, err := sk.AppendBinary((*scratch)[:0])
	*scratch = b
	if err != nil || len(b) < 8 || b[3] != 1 {
		return 0, false
	}
	tmp := binary.BigEndian.Uint32(b[4:8])
	off := 8 + 4*uint64(tmp)
	if uint64(len(b)) < off+4 {
		return 0, false
	}
	return uint64(tmp) + uint64(binary.BigEndian.Uint32(b[off:off+4])), true
}
