package hll_test

import (
	"encoding/binary"
	"testing"

	"github.com/axiomhq/hyperloglog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/hll"
)

func visitor(i int) [16]byte {
	var v [16]byte
	binary.BigEndian.PutUint64(v[8:], uint64(i)*0x9e3779b97f4a7c15)
	return v
}

// A sketch fed through Growth stays sparse up to DenseAt distinct
// visitors, however often they repeat, and past it turns into the dense
// sketch Insert would have built; its estimate stays within HLL's error.
func TestGrowthTurnsDensePastDenseAt(t *testing.T) {
	const p = 14
	for _, n := range []int{1, int(hll.DenseAt(p)), int(hll.DenseAt(p)) + 1, 5000} {
		sk, err := hyperloglog.NewSketch(p, true)
		require.NoError(t, err)
		var g hll.Growth
		var scratch []byte
		dense := false
		for range 3 {
			for i := range n {
				v := visitor(i)
				sk.InsertHash(hll.VisitorHash(&v))
				if !dense {
					if d := g.Inserted(sk, p, &scratch); d != nil {
						sk, dense = d, true
					}
				}
			}
		}
		if !dense {
			if d := g.Check(sk, p, &scratch); d != nil {
				sk, dense = d, true
			}
		}
		assert.Equal(t, uint64(n) > hll.DenseAt(p), dense, "n=%d", n)
		want, err := hyperloglog.NewSketch(p, !dense)
		require.NoError(t, err)
		for i := range n {
			v := visitor(i)
			want.Insert(v[:])
		}
		assert.Equal(t, want.Estimate(), sk.Estimate(), "n=%d: the estimate Insert gives", n)
		assert.InDelta(t, n, float64(sk.Estimate()), 0.02*float64(n)+1, "n=%d", n)
	}
}

// VisitorHash is the hash Insert inserts: dense sketches (one register per
// index, so equal encodings mean equal registers whatever the order) built
// either way are byte for byte the same, or sketches built by InsertHash
// would stop merging with those of other instances.
func TestVisitorHashIsInsertsHash(t *testing.T) {
	byInsert, err := hyperloglog.NewSketch(14, false)
	require.NoError(t, err)
	byHash, err := hyperloglog.NewSketch(14, false)
	require.NoError(t, err)
	for i := range 3000 {
		v := visitor(i)
		byInsert.Insert(v[:])
		byHash.InsertHash(hll.VisitorHash(&v))
	}
	a, err := byInsert.MarshalBinary()
	require.NoError(t, err)
	b, err := byHash.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, a, b)
}
