package clickstoretest

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/clickanon/clickanon/clickstore"
)

// Visitor returns a pseudonym for visitor number i, for tests and
// benchmarks that need many distinct visitors: a different, non-zero one
// for each i, with its bits spread as a keyed hash's would be, so that
// visitors fall evenly over a store's shards. The same i always gives the
// same pseudonym.
func Visitor(i int) clickstore.Pseudonym {
	var p clickstore.Pseudonym
	// Odd multipliers make each half a bijection of i; the +1 keeps
	// Visitor(0) non-zero.
	binary.LittleEndian.PutUint64(p[:8], uint64(i)*0x9e3779b97f4a7c15+1)
	binary.LittleEndian.PutUint64(p[8:], uint64(i)*0xbf58476d1ce4e5b9+7)
	return p
}

// Click returns a valid click of [Visitor](i) on link at time at, from the
// masked network 10.x.y.0/24 where x and y are bits 16 to 31 and 8 to 15
// of i (so 256 visitors in a row share a network). It has no optional
// attributes; set them on the result.
func Click(i int, link string, at time.Time) clickstore.Click {
	return clickstore.Click{
		Link:    link,
		Time:    at,
		Visitor: Visitor(i),
		Network: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), 0}), 24),
	}
}
