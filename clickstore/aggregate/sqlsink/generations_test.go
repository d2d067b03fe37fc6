package sqlsink

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heldCost is what g holds, each entry counted anew by cost (not as it
// was put), so that a caller whose count drifts from its entries' fails.
func heldCost[K comparable, V any](g *generations[K, V], cost func(K, V) int) int {
	held := 0
	for _, gen := range []map[K]costed[V]{g.cur, g.old} {
		for k, e := range gen {
			held += cost(k, e.v)
		}
	}
	return held
}

// generations keeps within its bound, keeps what is used, drops what is
// not for a generation, and keeps no entry larger than a generation.
func TestGenerations(t *testing.T) {
	const bound = 100
	g := newGenerations[int, int](bound)
	for i := range 1000 {
		g.put(i, i, 1+i%10)
		_, ok := g.get(0) // used all along
		require.True(t, ok, "after %d puts", i+1)
		require.LessOrEqual(t, heldCost(&g, func(k, _ int) int { return 1 + k%10 }), bound, "after %d puts", i+1)
		require.Equal(t, g.size, heldCost(&g, func(k, _ int) int {
			if _, ok := g.cur[k]; ok {
				return 1 + k%10
			}
			return 0
		}), "the current generation's size, after %d puts", i+1)
	}
	_, ok := g.get(1)
	assert.False(t, ok, "unused for a generation: dropped")
	v, ok := g.get(999)
	assert.True(t, ok)
	assert.Equal(t, 999, v)

	g.put(999, -1, 5) // replaced, counted anew
	v, _ = g.get(999)
	assert.Equal(t, -1, v)
	g.put(999, -2, bound)
	_, ok = g.get(999)
	assert.False(t, ok, "larger than a generation: not kept, nor its former value")

	g.deleteFunc(func(k int) bool { return k%2 == 1 })
	_, ok = g.get(997)
	assert.False(t, ok, "deleted")
	_, ok = g.get(0)
	assert.True(t, ok, "kept")
	g.delete(0)
	_, ok = g.get(0)
	assert.False(t, ok, "deleted")
}
