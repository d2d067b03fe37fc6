package clickstore

import (
	"net/netip"
	"unsafe"
)

// table interns values of a shard (links, attribute sets, long networks) so
// that records refer to them by a uint32 ID and hold no pointers. Each
// value's bytes are copied into a buffer the table owns; the value is
// counted by reference, and zeroed when its last reference goes. The map is
// rebuilt when it shrinks far below its peak, since a Go map never gives
// memory back by itself.
//
// ID 0 is never handed out. A table is not safe for concurrent use; its
// shard's lock guards it.
type table[K comparable] struct {
	ids  map[K]uint32
	ents []entry[K] // indexed by ID; ents[0] unused
	free []uint32
	peak int
}

type entry[K comparable] struct {
	key  K      // views into buf
	buf  []byte // owned copy of key's bytes
	refs uint32
}

// lookup returns the ID of k, if interned.
func (t *table[K]) lookup(k K) (uint32, bool) {
	id, ok := t.ids[k]
	return id, ok
}

// acquire returns the ID of k, interning it (with own, which copies k into
// a buffer and returns the key viewing it) if needed, and takes a reference.
func (t *table[K]) acquire(k K, own func(K) (K, []byte)) uint32 {
	if id, ok := t.ids[k]; ok {
		t.ents[id].refs++
		return id
	}
	if t.ids == nil {
		t.ids = make(map[K]uint32)
		t.ents = make([]entry[K], 1, 16)
	}
	key, buf := own(k)
	var id uint32
	if n := len(t.free); n > 0 {
		id = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		id = uint32(len(t.ents))
		t.ents = append(t.ents, entry[K]{})
	}
	t.ents[id] = entry[K]{key: key, buf: buf, refs: 1}
	t.ids[key] = id
	t.peak = max(t.peak, len(t.ids))
	return id
}

// release drops a reference to id, destroying the value with the last.
func (t *table[K]) release(id uint32) {
	e := &t.ents[id]
	if e.refs--; e.refs > 0 {
		return
	}
	delete(t.ids, e.key)
	clear(e.buf)
	*e = entry[K]{}
	t.free = append(t.free, id)
	switch n := len(t.ids); {
	case n == 0:
		*t = table[K]{} // all gone: give every byte back
	case t.peak >= 1024 && n < t.peak/4:
		m := make(map[K]uint32, n)
		for k, v := range t.ids {
			m[k] = v
		}
		t.ids, t.peak = m, n
	}
}

// wipe destroys every value.
func (t *table[K]) wipe() {
	for i := range t.ents {
		clear(t.ents[i].buf)
	}
	*t = table[K]{}
}

// ownString copies s into a buffer of its own.
func ownString(s string) (string, []byte) {
	b := []byte(s)
	return unsafe.String(unsafe.SliceData(b), len(b)), b
}

// attrs is the part of a Click that is interned per shard: the optional
// attributes, which have few distinct values in practice. (RawAddr, when
// kept, makes every visitor's set distinct: part of the cost of keeping it.)
type attrs struct {
	raw                            netip.Addr
	country, bot, referrer, device string
}

// ownAttrs copies a's strings into one buffer of their own.
func ownAttrs(a attrs) (attrs, []byte) {
	n := len(a.country) + len(a.bot) + len(a.referrer) + len(a.device)
	if n == 0 {
		return a, nil
	}
	b := make([]byte, 0, n)
	view := func(s string) string {
		if s == "" {
			return ""
		}
		i := len(b)
		b = append(b, s...)
		return unsafe.String(&b[i], len(s))
	}
	a.country = view(a.country)
	a.bot = view(a.bot)
	a.referrer = view(a.referrer)
	a.device = view(a.device)
	return a, b
}
