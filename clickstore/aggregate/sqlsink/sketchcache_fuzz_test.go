package sqlsink

import (
	"bytes"
	"testing"

	"github.com/axiomhq/hyperloglog"
)

// FuzzSketchCacheMerge merges arbitrary stored bytes (what a database
// returns) with arbitrary batch bytes through a cache, twice, and without
// one. Properties: it never panics; with and without the cache, the
// results and errors agree; the second merge (served by the cache) gives
// the first's union; merging the batch's sketch again changes no
// estimate (a union is idempotent); an error never repeats the input.
func FuzzSketchCacheMerge(f *testing.F) {
	sk := newSketch()
	sk.Insert([]byte("a"))
	one, _ := sk.MarshalBinary()
	sk.Insert([]byte("b"))
	two, _ := sk.MarshalBinary()
	f.Add(one, two)
	f.Add(two, one)
	f.Add([]byte("not a sketch"), one)
	f.Fuzz(func(t *testing.T, stored, mine []byte) {
		c := newSketchCache(1 << 20)
		plain, perr := (*sketchCache)(nil).merge(stored, mine)
		got, err := c.merge(stored, mine)
		if (err == nil) != (perr == nil) {
			t.Fatalf("with the cache: error %v; without: %v", err, perr)
		}
		if err != nil {
			for _, in := range [][]byte{stored, mine} {
				if len(in) >= 8 && bytes.Contains([]byte(err.Error()), in) {
					t.Fatalf("error repeats the input: %v", err)
				}
			}
			return
		}
		again, err := c.merge(stored, mine)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("second merge: %v, union differs: %t", err, !bytes.Equal(again, got))
		}
		if estimateOf(t, got) != estimateOf(t, plain) {
			t.Fatalf("estimate %d with the cache, %d without", estimateOf(t, got), estimateOf(t, plain))
		}
		twice, err := c.merge(got, mine)
		if err != nil {
			t.Fatalf("merging into the union: %v", err)
		}
		if estimateOf(t, twice) != estimateOf(t, got) {
			t.Fatalf("merging the same sketch again: estimate %d, was %d", estimateOf(t, twice), estimateOf(t, got))
		}
	})
}

func estimateOf(t *testing.T, enc []byte) uint64 {
	t.Helper()
	var sk hyperloglog.Sketch
	if err := sk.UnmarshalBinary(enc); err != nil {
		t.Fatalf("a merge returned bytes that do not decode: %v", err)
	}
	return sk.Estimate()
}
