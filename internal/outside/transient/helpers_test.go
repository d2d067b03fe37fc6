package transient_test

import (
	"context"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/stretchr/testify/require"
)

// skewClock is time.Now (the bubble's fake clock under synctest) stepped
// by a settable amount, as a wall clock set by hand or by NTP is.
type skewClock struct {
	mu   sync.Mutex
	skew time.Duration
}

func (c *skewClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.skew)
}

func (c *skewClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skew += d
}

// pseudonym returns a distinct non-zero pseudonym for i, spread over the
// store's shards as real (keyed-hash) pseudonyms are.
func pseudonym(i int) clickstore.Pseudonym {
	var p clickstore.Pseudonym
	x := uint64(i)*0x9e3779b97f4a7c15 + 1
	binary.LittleEndian.PutUint64(p[:8], x)
	binary.LittleEndian.PutUint64(p[8:], ^x)
	return p
}

var network = netip.MustParsePrefix("192.0.2.0/24")

func click(v clickstore.Pseudonym, link string, at time.Time) clickstore.Click {
	return clickstore.Click{Link: link, Time: at, Visitor: v, Network: network}
}

func newMemory(t *testing.T, opts *clickstore.MemoryOptions) *clickstore.Memory {
	t.Helper()
	m, err := clickstore.NewMemory(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// visible reports whether the store has a click of v on link readable now,
// through every read method: Latest on the link, Latest on any link, and
// All. The three must agree.
func visible(t *testing.T, m clickstore.Store, v clickstore.Pseudonym, link string) bool {
	t.Helper()
	ctx := context.Background()
	_, onLink, err := m.Latest(ctx, v, clickstore.Pseudonym{}, link)
	require.NoError(t, err)
	inAll := false
	for c, err := range m.All(ctx) {
		require.NoError(t, err)
		if c.Visitor == v && c.Link == link {
			inAll = true
		}
	}
	require.Equal(t, onLink, inAll, "Latest and All disagree")
	return onLink
}
