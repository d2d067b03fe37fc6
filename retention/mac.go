package retention

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"io"
)

// The HMAC-SHA256 (RFC 2104) of a Key, computed from the SHA-256 states
// after its padded key blocks, which the keyring computes once per key so
// that a MAC costs the blocks of the message and of the outer hash alone:
// two SHA-256 blocks for a visitor pseudonym instead of four. The states
// are key material like the secret: they live in the Key, are copied with
// it and are zeroed with it.

const (
	macBlock = 64 // SHA-256's block size, HMAC's padded key length
	// sha256State is the length of crypto/sha256's marshalled state:
	// magic, the eight chaining words, a block of buffer, the length.
	sha256State = 4 + sha256.Size + macBlock + 8
	sha256Magic = "sha\x03"
)

// macPads are the chaining values of SHA-256 after the key block XOR ipad
// (inner) and XOR opad (outer), as the big-endian words crypto/sha256
// marshals. All zero means "not computed": MAC then hashes the key blocks.
type macPads struct{ inner, outer [sha256.Size]byte }

// set reports whether p may hold states: the zero macPads (a zero or
// destroyed Key, or one whose states could not be had) does not. It reads
// one word of each state, not all 64 bytes: a state whose word is zero by
// chance (one in 2^64) only sends MAC down its slower path, which gives
// the same result.
func (p *macPads) set() bool {
	return binary.LittleEndian.Uint64(p.inner[:8])|binary.LittleEndian.Uint64(p.outer[:8]) != 0
}

// newKey returns the Key of epoch e with secret, its MAC states computed.
func newKey(e int64, secret [32]byte) Key {
	k := Key{Epoch: e, secret: secret}
	if k.IsZero() {
		return k
	}
	h := sha256.New()
	m, ok := h.(encoding.BinaryAppender)
	if !ok {
		return k
	}
	var blk [macBlock]byte
	var st [sha256State]byte
	for i, pad := range [...]byte{0x36, 0x5c} {
		keyBlock(&blk, &k.secret, pad)
		h.Reset()
		h.Write(blk[:])
		b, err := m.AppendBinary(st[:0])
		if err != nil || len(b) != sha256State || string(b[:4]) != sha256Magic {
			return k // not the format this code knows: MAC hashes the key blocks
		}
		dst := &k.pads.inner
		if i == 1 {
			dst = &k.pads.outer
		}
		copy(dst[:], b[4:4+sha256.Size])
	}
	clear(blk[:])
	clear(st[:])
	// A state MAC cannot resume from must not give a wrong MAC: check the
	// shortcut against the plain computation once per key.
	var probe [macBlock + 5]byte
	if k.MAC(probe[:]) != k.slowMAC(probe[:]) {
		k.pads = macPads{}
	}
	return k
}

// keyBlock sets blk to the secret padded to a block, XOR pad.
func keyBlock(blk *[macBlock]byte, secret *[32]byte, pad byte) {
	for i := range blk {
		var b byte
		if i < len(secret) {
			b = secret[i]
		}
		blk[i] = b ^ pad
	}
}

// MAC returns HMAC-SHA256(k.Secret(), msg). Pseudonyms and seals computed
// with it need no copy of the secret: a Key from a Keyring carries the
// hash states after its padded key blocks, so a MAC hashes only msg and
// the inner digest: two SHA-256 blocks fewer (for a message of up to 55
// bytes, such as a visitor pseudonym's, two instead of four). It does
// not allocate, and is safe to call from many goroutines at once.
//
// The zero Key's MAC is all zero bytes, whatever msg: HMAC under a key
// of zero bytes is a hash anyone can compute, and a pseudonym of an
// address under it would be brute-forced.
func (k Key) MAC(msg []byte) [sha256.Size]byte {
	// Inlined where it is called, so that a MAC costs one call, to mac,
	// not two (a step of the tracker's, see BENCHMARKS.md).
	return k.mac(msg)
}

// anyMAC is MAC for a message of any length, or a Key without its states.
func (k *Key) anyMAC(msg []byte) [sha256.Size]byte {
	if !k.pads.set() {
		if k.IsZero() {
			return [sha256.Size]byte{} // not HMAC under zero bytes, which anyone can compute
		}
		return k.slowMAC(msg)
	}
	h := sha256.New()
	u, ok := h.(encoding.BinaryUnmarshaler)
	if !ok {
		return k.slowMAC(msg)
	}
	var st [sha256State]byte
	copy(st[:], sha256Magic)
	binary.BigEndian.PutUint64(st[sha256State-8:], macBlock) // the key block is hashed
	var sum [sha256.Size]byte
	for i, pad := range [...]*[sha256.Size]byte{&k.pads.inner, &k.pads.outer} {
		copy(st[4:], pad[:])
		if u.UnmarshalBinary(st[:]) != nil {
			return k.slowMAC(msg)
		}
		if i == 0 {
			h.Write(msg)
		} else {
			h.Write(sum[:])
		}
		h.Sum(sum[:0])
	}
	clear(st[4 : 4+sha256.Size])
	return sum
}

// maxOneBlock is the longest message whose SHA-256 padding fits the one
// block after the key block: 55 bytes, a 0x80 byte and the 8-byte length.
const maxOneBlock = macBlock - 1 - 8

// mac is MAC. A message of at most maxOneBlock bytes, which a visitor
// pseudonym's is, is hashed here; anything else, and a Key without its
// states, by anyMAC. Such a message and its padding are one block,
// and so is the inner digest and its padding: each hash is resumed from its
// key state, given its last block padded here, and read from its chaining
// words, without the buffering and the copy of the digest that Write and
// Sum make for a message of any length. If crypto/sha256 does not resume
// or report its state in the format this code knows, anyMAC answers. It
// does not allocate, except under the race detector, where anyMAC answers
// (crypto/sha256's AppendBinary allocates there). The one-block path
// stands beside anyMAC's general loop rather than as a branch in it:
// folded into one loop, a tracked click measured about 40 ns slower in
// clickstore/track's BenchmarkHandler (test binaries alternated), though
// BenchmarkKeyMAC did not move. Its two hashes are written out rather than
// looped over, and the hash is asserted to one interface once, not to
// two (a step of the tracker's, see BENCHMARKS.md).
func (k *Key) mac(msg []byte) [sha256.Size]byte {
	if len(msg) > maxOneBlock || raceDetector || !k.pads.set() {
		return k.anyMAC(msg)
	}
	// Written out in one function: the hash is then known to be
	// crypto/sha256's, its calls are direct and it stays on the stack
	// (handed to a helper as an interface, it escapes).
	h, ok := sha256.New().(resumable)
	if !ok {
		return k.anyMAC(msg)
	}
	var st [sha256State]byte
	copy(st[:], sha256Magic)
	// The inner hash: the key state, then the message's padded block.
	copy(st[4:], k.pads.inner[:])
	binary.BigEndian.PutUint64(st[sha256State-8:], macBlock) // the key block is hashed
	var blk [macBlock]byte
	n := copy(blk[:], msg)
	blk[n] = 0x80
	binary.BigEndian.PutUint64(blk[macBlock-8:], uint64(macBlock+n)*8)
	if h.UnmarshalBinary(st[:]) != nil {
		return k.anyMAC(msg)
	}
	h.Write(blk[:])
	if b, err := h.AppendBinary(st[:0]); err != nil || len(b) != sha256State {
		clear(st[4 : 4+sha256.Size])
		return k.anyMAC(msg)
	}
	// The outer hash: the key state, then the inner digest's padded
	// block.
	copy(blk[:], st[4:4+sha256.Size])
	blk[sha256.Size] = 0x80
	clear(blk[sha256.Size+1 : macBlock-8])
	binary.BigEndian.PutUint64(blk[macBlock-8:], (macBlock+sha256.Size)*8)
	copy(st[4:], k.pads.outer[:])
	binary.BigEndian.PutUint64(st[sha256State-8:], macBlock)
	var sum [sha256.Size]byte
	ok = h.UnmarshalBinary(st[:]) == nil
	if ok {
		h.Write(blk[:])
		b, err := h.AppendBinary(st[:0])
		ok = err == nil && len(b) == sha256State
		copy(sum[:], st[4:4+sha256.Size])
	}
	clear(st[4 : 4+sha256.Size])
	clear(blk[:sha256.Size])
	if !ok {
		return k.anyMAC(msg)
	}
	return sum
}

// resumable is what mac needs of crypto/sha256's hash: to be
// resumed from a state, written and asked for its state.
type resumable interface {
	io.Writer
	encoding.BinaryUnmarshaler
	encoding.BinaryAppender
}

// slowMAC is MAC hashing the padded key blocks.
func (k Key) slowMAC(msg []byte) [sha256.Size]byte {
	h := sha256.New()
	var blk [macBlock]byte
	var sum [sha256.Size]byte
	keyBlock(&blk, &k.secret, 0x36)
	h.Write(blk[:])
	h.Write(msg)
	h.Sum(sum[:0])
	keyBlock(&blk, &k.secret, 0x5c)
	h.Reset()
	h.Write(blk[:])
	h.Write(sum[:])
	h.Sum(sum[:0])
	clear(blk[:])
	return sum
}
