package clickstore

import (
	"context"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Record locks the current pseudonym's shard first and, for a click that
// is not a repeat there, the previous pseudonym's after it. When that one
// comes first in the lock order and another call holds it, Record lets go
// and takes both in order: the click is then decided as if it had taken
// them in order from the start, recorded once or found held, without
// deadlock.
func TestMemoryRecordLockOrder(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	m, err := NewMemory(&MemoryOptions{Now: func() time.Time { return now }})
	require.NoError(t, err)
	defer m.Close()
	pseudonym := func(shard, n byte) (v Pseudonym) {
		v[0], v[15] = shard, n
		return v
	}
	cur, prev, other := pseudonym(5, 1), pseudonym(3, 1), pseudonym(3, 2)
	s, p := m.shard(cur), m.shard(prev)
	require.Less(t, uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(s)), "the previous pseudonym's shard comes first")
	require.Same(t, p, m.shard(other))
	click := func(v, pv Pseudonym) Click {
		return Click{Link: "abc", Time: now, Visitor: v, PrevVisitor: pv, Network: netip.MustParsePrefix("198.51.100.0/24")}
	}
	// Records with p held, from another goroutine, once p is free.
	recordWhileHeld := func(c Click) bool {
		p.mu.Lock()
		first, err, ok := m.recordFromShard(&c, s)
		assert.False(t, ok, "p is busy and comes first: nothing is decided")
		assert.False(t, first)
		assert.NoError(t, err)
		require.True(t, s.mu.TryLock(), "s is let go")
		s.mu.Unlock()
		done := make(chan bool)
		go func() {
			first, err := m.Record(ctx, c)
			assert.NoError(t, err)
			done <- first
		}()
		p.mu.Unlock()
		return <-done
	}

	assert.True(t, recordWhileHeld(click(cur, other)), "a first click")
	assert.Equal(t, 1, m.Len())
	first, err := m.Record(ctx, click(cur, other))
	require.NoError(t, err)
	assert.False(t, first, "a repeat, decided under s alone")

	// The previous pseudonym's click makes the current one's a repeat.
	_, err = m.Record(ctx, Click{Link: "xyz", Time: now, Visitor: prev, Network: netip.MustParsePrefix("198.51.100.0/24")})
	require.NoError(t, err)
	c := click(cur, prev)
	c.Link = "xyz"
	assert.False(t, recordWhileHeld(c), "held under the previous key")
	assert.Equal(t, 2, m.Len())
}
