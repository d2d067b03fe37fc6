package clickstoretest

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
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

// Clock is a fake clock that a test moves by hand, for the Now options of
// stores, keyrings, sweepers and trackers. It is safe for concurrent use,
// as those options must be: a clickstore.Memory's timer reads its clock
// from the timer's own goroutine (once a second while it holds clicks),
// and so do a retention.Keyring's, so a clock made of a variable the test
// assigns (func() time.Time { return now }) is a data race under -race.
//
// The zero Clock reads the zero time.Time until it is set; NewClock
// starts it at an instant. A Clock must not be copied after first use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock that reads t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time. Pass the method value (clock.Now) as a
// Now option.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t, forward or back.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Advance moves the clock by d (back if d is negative) and returns the
// new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// String returns "clickstoretest.Clock(" and the clock's time in RFC 3339
// with nanoseconds ")". A Clock prints and logs as that, so that printing
// one while another goroutine moves it is no data race.
func (c *Clock) String() string {
	if c == nil {
		return "clickstoretest.Clock(nil)"
	}
	return "clickstoretest.Clock(" + c.Now().Format(time.RFC3339Nano) + ")"
}

// Format implements [fmt.Formatter]: every verb prints [Clock.String].
func (c *Clock) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, c.String()) }

// LogValue implements [slog.LogValuer]: a Clock logs as [Clock.String].
func (c *Clock) LogValue() slog.Value { return slog.StringValue(c.String()) }
