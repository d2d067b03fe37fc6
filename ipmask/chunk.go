package ipmask

import (
	"sync/atomic"
	"unsafe"
)

// The strings MaskString returns are carved out of small shared chunks
// rather than allocated one by one. A result is 7 to 39 bytes, and one
// allocation of it cost more than parsing, masking and formatting the
// address together; a chunk holds about twenty IPv4 results, so about one
// allocation in twenty remains. (The collector's work, which goes with the
// bytes allocated rather than with the allocations, stays.)
//
// Each result is a region of a chunk reserved with an atomic add on the
// chunk's offset, written once by the goroutine that reserved it before
// the string is returned, and never written again: chunks are never
// reused, so a string stays valid (and immutable) for as long as it is
// referenced, and the regions of concurrent callers never overlap. The
// price is retention: a result keeps its whole chunk alive, chunkSize
// bytes, for as long as it is referenced.

// chunkSize is the size of a chunk, an allocation size class of its own
// (so none of it is rounded away): room for about twenty IPv4 results, and
// the most memory one retained result keeps alive.
const chunkSize = 256

// chunkText is the room for text in a chunk, after its offset.
const chunkText = chunkSize - 8

// chunk is a block of text carved into results. It holds no pointers, so
// the collector never scans it.
type chunk struct {
	// used counts the bytes reserved, changed only by atomic adds once
	// the chunk is shared. It only grows; once past chunkText every
	// reservation fails and the chunk is replaced. It is 64 bits so that
	// no number of failed reservations can wrap it around, and the first
	// field so that it is 64-bit aligned on 32-bit platforms too.
	used uint64
	text [chunkText]byte
}

// A chunk is exactly chunkSize bytes: this does not compile otherwise.
var _ [0]struct{} = [unsafe.Sizeof(chunk{}) - chunkSize]struct{}{}

// chunkShard holds the chunk that results are currently carved from, for
// the callers that hash to it, alone on its cache line.
type chunkShard struct {
	cur atomic.Pointer[chunk]
	_   [64 - unsafe.Sizeof(atomic.Pointer[chunk]{})]byte
}

// chunkShards spreads concurrent callers over several chunks so that they
// do not all contend for one offset. A caller picks its shard from the
// address of a variable on its stack, which differs between goroutines and
// stays the same across one goroutine's calls; it is only a hint for
// speed, since every shard is safe for any number of callers.
var chunkShards [16]chunkShard

// reserve returns n bytes (1 to chunkText) of a chunk, for the caller to
// fill before it makes the string of them, from the chunk of the shard that
// hint (the address of a variable on the caller's stack) picks. No other
// call is ever given any of them.
func reserve(n int, hint uintptr) []byte {
	// Mixing the bits above the 1 KiB granule spreads both neighbouring
	// goroutine stacks and frames at different depths of one stack.
	sh := &chunkShards[uint32(hint>>10)*0x9e3779b9>>28]
	c := sh.cur.Load()
	if c != nil {
		if end := atomic.AddUint64(&c.used, uint64(n)); end <= chunkText {
			return c.text[end-uint64(n) : end : end]
		}
	}
	return sh.fresh(c, n)
}

// fresh starts a new chunk with a region of n bytes, installs it in place
// of full (nil at first) unless another caller has already replaced it,
// and returns the region. A chunk that is not installed serves this region
// alone.
func (sh *chunkShard) fresh(full *chunk, n int) []byte {
	c := &chunk{used: uint64(n)}
	sh.cur.CompareAndSwap(full, c)
	return c.text[:n:n]
}
