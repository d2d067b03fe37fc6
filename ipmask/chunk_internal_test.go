package ipmask

import (
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// Callers that share one shard, all at once, are given disjoint regions:
// each fills its regions with its own byte and finds nothing else in any of
// them afterwards. A region given twice would hold another caller's byte,
// and with -race a shared byte is also a reported race.
func TestReserveDisjointUnderContention(t *testing.T) {
	const callers, regions = 8, 2000
	hint := uintptr(0x1000) // one shard for all of them
	got := make([][][]byte, callers)
	var wg sync.WaitGroup
	for g := range callers {
		wg.Go(func() {
			for i := range regions {
				r := reserve(1+(g+i)%maxText, hint)
				for j := range r {
					r[j] = byte('a' + g)
				}
				got[g] = append(got[g], r)
			}
		})
	}
	wg.Wait()
	for g, rs := range got {
		for i, r := range rs {
			if !assert.Len(t, r, 1+(g+i)%maxText) || !assert.Equal(t, len(r), cap(r), "caller %d region %d may grow into the next", g, i) {
				return
			}
			for _, b := range r {
				if b != byte('a'+g) {
					t.Fatalf("caller %d region %d holds %q: regions overlap", g, i, r)
				}
			}
		}
	}
}

// Regions are carved one after the other from one chunk until it is full;
// then a fresh chunk starts with the region that did not fit, so one
// allocation serves many regions.
func TestReserveFillsAChunk(t *testing.T) {
	hint := uintptr(0x7000)
	full := reserve(chunkText, hint) // a fresh chunk, full at once
	assert.Len(t, full, chunkText)
	a := reserve(10, hint) // starts the next chunk
	b := reserve(10, hint)
	assert.NotEqual(t, unsafe.Pointer(&full[chunkText-1]), unsafe.Add(unsafe.Pointer(&a[0]), -1), "a full chunk gives no more")
	assert.Equal(t, unsafe.Add(unsafe.Pointer(&a[0]), 10), unsafe.Pointer(&b[0]), "the next region follows")
	allocs := testing.AllocsPerRun(10, func() {
		for range chunkText / 10 {
			_ = reserve(10, hint)
		}
	})
	assert.LessOrEqual(t, allocs, 1.0, "a chunk's worth of regions costs one allocation")
}
