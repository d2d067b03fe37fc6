package aggregate

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/axiomhq/hyperloglog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/hll"
)

// plainSketch returns what Rollup.Add kept before cells turned dense early
// and hashed once: a sparse axiomhq sketch fed with Insert.
func plainSketch(vs []clickstore.Pseudonym) *hyperloglog.Sketch {
	sk := newSketch(DefaultPrecision, true)
	for i := range vs {
		sk.Insert(vs[i][:])
	}
	return sk
}

// visitorsStream returns n distinct visitors in a random order with about
// one repeat for every two of them.
func visitorsStream(n int, seed uint64) []clickstore.Pseudonym {
	rng := rand.New(rand.NewPCG(seed, 7))
	var vs []clickstore.Pseudonym
	for seen := 0; seen < n; {
		if seen > 0 && rng.IntN(3) == 0 {
			vs = append(vs, visitor(uint64(rng.IntN(seen))+seed<<32))
			continue
		}
		vs = append(vs, visitor(uint64(seen)+seed<<32))
		seen++
	}
	return vs
}

func TestCellEstimatesMatchAxiomhq(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
	}{
		{"sparse, 100", 100},
		{"at the threshold, 256", 256},
		{"dense, 257", 257},
		{"dense, 1000", 1000},
		{"dense, 5000", 5000},
		{"dense in both, 20000", 20000},
		{"dense in both, 50000", 50000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := visitorsStream(tc.n, uint64(tc.n))
			var c cell
			x := sketchBuf{p: DefaultPrecision}
			for i := range vs {
				c.add(Counts{Clicks: 1}, visitorHash(&vs[i]), true, &x)
			}
			plain := plainSketch(vs)
			got, want := c.visitors(&x), plain.Estimate()
			assert.InEpsilon(t, tc.n, got, 0.02, "estimate of %d distinct visitors", tc.n)
			assert.Equal(t, uint64(tc.n) > hll.DenseAt(DefaultPrecision), c.dense, "dense only past hll.DenseAt")
			if !c.dense || tc.n > 1<<DefaultPrecision {
				// Same representation as the plain sketch (axiomhq turns
				// dense past 2^p entries): the same estimate, exactly.
				assert.Equal(t, want, got, "estimate differs from axiomhq's")
			} else {
				assert.InEpsilon(t, want, got, 0.02, "estimate strays from axiomhq's beyond HLL error")
			}
			if c.dense {
				// The registers are exactly those of a sketch dense from
				// the start: no hash was lost in the switch.
				d := newSketch(DefaultPrecision, false)
				for i := range vs {
					d.Insert(vs[i][:])
				}
				a, err := d.MarshalBinary()
				require.NoError(t, err)
				b, err := c.sk.MarshalBinary()
				require.NoError(t, err)
				assert.Equal(t, a, b, "dense registers")
			}
		})
	}
}

func TestDenseCellsMergeWithPlainSketches(t *testing.T) {
	// What a durable sink does: unmarshal the Rollup's sketch and merge it
	// with sketches built elsewhere, sparse or dense, in either direction.
	busy := visitorsStream(3000, 1)
	quiet := visitorsStream(40, 2)
	var c cell
	x := sketchBuf{p: DefaultPrecision}
	for i := range busy {
		c.add(Counts{}, visitorHash(&busy[i]), true, &x)
	}
	require.True(t, c.dense)
	enc, err := c.sk.MarshalBinary()
	require.NoError(t, err)
	var fromRollup hyperloglog.Sketch
	require.NoError(t, fromRollup.UnmarshalBinary(enc))

	want := newSketch(DefaultPrecision, false)
	for _, v := range append(append([]clickstore.Pseudonym{}, busy...), quiet...) {
		want.Insert(v[:])
	}
	into := plainSketch(quiet) // sparse
	require.NoError(t, into.Merge(&fromRollup))
	assert.Equal(t, want.Estimate(), into.Estimate(), "dense cell merged into a sparse sketch")

	back := fromRollup.Clone()
	require.NoError(t, back.Merge(plainSketch(quiet)))
	assert.Equal(t, want.Estimate(), back.Estimate(), "sparse sketch merged into a dense cell")
}

func TestAddAllocsSteadyState(t *testing.T) {
	// Replaying clicks whose buckets, values and visitors a Rollup holds.
	// AllocsPerRun divides in integers; counting the mallocs of whole
	// replays shows the fraction.
	for _, tc := range []struct {
		name string
		cs   []clickstore.Click
		max  float64
	}{
		// 256 visitors: every sketch sparse and small; size checks read
		// the encoding and never merge, so nothing allocates.
		{"small sketches", benchClicks(4096), 0},
		// A busy link's day: dense hour and day cells, sparse minute
		// cells. 0.0065 measured; sparse sketches kept to 2^p entries
		// made 0.14.
		{"busy link", busyDay()[:20_000], 0.02},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r, err := New(nil)
			require.NoError(t, err)
			for _, c := range tc.cs {
				require.NoError(t, r.Add(ctx, c, clickstore.Unique))
			}
			for _, c := range tc.cs { // scratch buffers and lists settle
				require.NoError(t, r.Add(ctx, c, clickstore.Repeat))
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 2 {
				for _, c := range tc.cs {
					_ = r.Add(ctx, c, clickstore.Repeat)
				}
			}
			runtime.ReadMemStats(&after)
			perAdd := float64(after.Mallocs-before.Mallocs) / float64(2*len(tc.cs))
			assert.LessOrEqual(t, perAdd, tc.max, "amortised allocations per Add")
		})
	}
}

// visitorHash is hll.VisitorHash of a pseudonym.
func visitorHash(v *clickstore.Pseudonym) uint64 { return hll.VisitorHash((*[16]byte)(v)) }
