package redisstore

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
)

// requestTokens names the calls of one Store or Sink so that a call go-redis
// resends after a lost reply is recognised as the same call: a random
// instance id and a counter make each token unique across instances. Its
// zero value is not usable; call init first. next is safe for concurrent
// use.
type requestTokens struct {
	instance [8]byte
	counter  atomic.Uint64
}

func (r *requestTokens) init() error {
	_, err := rand.Read(r.instance[:])
	return err
}

// next returns a new token.
func (r *requestTokens) next() [16]byte {
	var b [16]byte
	copy(b[:8], r.instance[:])
	binary.BigEndian.PutUint64(b[8:], r.counter.Add(1))
	return b
}

// short returns a new token of tokenLen bytes for a marker's value: the
// instance id's first 4 bytes and the counter's last 4. A resent command
// must not mistake another call's value for its own: that would take the
// same marker, within its window, being set by an instance whose id shares
// those 4 bytes at the same count modulo 2^32, or by this instance 2^32
// calls later.
func (r *requestTokens) short() [tokenLen]byte {
	var b [tokenLen]byte
	copy(b[:4], r.instance[:])
	binary.BigEndian.PutUint32(b[4:], uint32(r.counter.Add(1)))
	return b
}
