package sqlsink

import (
	"testing"

	"github.com/axiomhq/hyperloglog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/hll"
)

// The buffer hashes a visitor once and inserts the hash into every cell,
// and turns a busy cell's sketch dense: either way the sketch must be, byte
// for byte, the one Insert builds (sparse up to hll.DenseAt visitors, dense
// past it), or it would not merge with stored ones.
func TestBufferedSketchIsInserts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		visitors int
		dense    bool
	}{
		{"sparse, at the threshold", int(hll.DenseAt(precision)), false},
		{"dense, past it", 3000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d delta
			var scratch []byte
			plain, err := hyperloglog.NewSketch(precision, !tc.dense)
			require.NoError(t, err)
			for round := range 2 { // repeats change nothing
				for i := range tc.visitors {
					v := visitor(i)
					d.add(aggregate.Counts{Clicks: 1}, &v, visitorHash(&v), &scratch)
					if round == 0 {
						plain.Insert(v[:])
					}
				}
			}
			assert.Equal(t, tc.dense, d.dense)
			// Estimate compacts a sparse sketch's pending entries (the
			// buffer's check did, at hll.DenseAt), so that both encode alike.
			plain.Estimate()
			d.sk.Estimate()
			got, err := d.sk.MarshalBinary()
			require.NoError(t, err)
			want, err := plain.MarshalBinary()
			require.NoError(t, err)
			assert.Equal(t, want, got)
			assert.InDelta(t, tc.visitors, float64(d.sk.Estimate()), 0.02*float64(tc.visitors))
			assert.Equal(t, uint64(2*tc.visitors), d.n.Clicks)
		})
	}
	assert.Zero(t, visitorHash(nil))
}

// A batch put back (restore) merges its deltas into the buffer's: a dense
// sketch taken or merged in leaves the delta marked dense, so that its
// next inserts do not check its growth (and copy it dense again).
func TestDeltaMergeKeepsDense(t *testing.T) {
	var busy, small delta
	var scratch []byte
	for i := range 3000 {
		v := visitor(i)
		busy.add(aggregate.Counts{Clicks: 1}, &v, visitorHash(&v), &scratch)
	}
	require.True(t, busy.dense)
	v := visitor(5000)
	small.add(aggregate.Counts{Clicks: 1}, &v, visitorHash(&v), &scratch)

	var empty delta
	require.NoError(t, empty.merge(&busy))
	assert.True(t, empty.dense, "a dense sketch taken")
	require.NoError(t, small.merge(&busy))
	assert.True(t, small.dense, "a dense sketch merged in")
	assert.Equal(t, uint64(3001), small.n.Clicks)
}
