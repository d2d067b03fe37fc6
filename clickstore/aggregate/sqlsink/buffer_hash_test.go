package sqlsink

import (
	"testing"

	"github.com/axiomhq/hyperloglog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// The buffer hashes a visitor once and inserts the hash into every cell:
// the sketches must be byte for byte those Insert builds, or they would not
// merge with stored ones.
func TestVisitorHashIsInserts(t *testing.T) {
	var viaHash delta
	plain, err := hyperloglog.NewSketch(precision, true)
	require.NoError(t, err)
	for i := range 3000 { // past the sparse list's first compaction
		v := visitor(i)
		viaHash.add(aggregate.Counts{Clicks: 1}, &v, visitorHash(&v))
		plain.Insert(v[:])
	}
	got, err := viaHash.sk.MarshalBinary()
	require.NoError(t, err)
	want, err := plain.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Zero(t, visitorHash(nil))
}
