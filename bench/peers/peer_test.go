// Package peers measures the pure dedup job (set visitor+link if absent,
// 30-minute lifetime, 1,000,000 distinct keys each seen twice, store starting
// empty) on clickstore.Memory against three Go caches and a mutex+map
// baseline, side by side in one `go test -bench` run.
//
// Run with -benchtime 2000000x so each serial or parallel run covers the job's
// 2M operations exactly once: the first pass over the keys inserts, the second
// finds them:
//
//	cd bench/peers && go test -run '^$' -bench . -benchmem -benchtime 2000000x -count 5
//
// It is a module of its own so that the library never depends on the caches
// it is compared with; `make test` and `go test ./...` at the top do not run
// it.
package peers

import (
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/jellydator/ttlcache/v3"
	"github.com/maypok86/otter/v2"
)

const (
	numKeys  = 1_000_000
	numLinks = 1000
	window   = 30 * time.Minute
	capacity = 1 << 21 // 2,097,152 >= 2M for every bounded contender
)

// t0 is the time of every click; visitors and clicks come from
// clickstoretest, as in clickstore's own tests.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// key is the cache key of the peers: the 16-byte pseudonym then the link ID
// (the link's index, little-endian).
type key = [24]byte

var (
	dataOnce sync.Once
	clicks   []clickstore.Click // for Memory: Link is "link-<i%1000>"
	keys     []key              // for the others: same visitor, link ID i%1000
)

func data() {
	dataOnce.Do(func() {
		links := make([]string, numLinks)
		for i := range links {
			links[i] = fmt.Sprintf("link-%d", i)
		}
		clicks = make([]clickstore.Click, numKeys)
		keys = make([]key, numKeys)
		for i := range numKeys {
			clicks[i] = clickstoretest.Click(i, links[i%numLinks], t0)
			p := clickstoretest.Visitor(i)
			copy(keys[i][:16], p[:])
			binary.LittleEndian.PutUint64(keys[i][16:], uint64(i%numLinks))
		}
	})
}

// store is one contender, fresh and empty: rec(i) does the job for key i and
// reports whether it inserted (first sighting); done releases it.
type store struct {
	rec  func(i int) bool
	done func()
}

type contender struct {
	name string
	new  func() store
}

// mapStore is the baseline: one mutex, a Go map of key to expiry, no janitor,
// a constant clock (as the repo's own baseline).
type mapStore struct {
	mu sync.Mutex
	m  map[key]int64
}

func (s *mapStore) record(k *key, now int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.m[*k]; ok && exp > now {
		return false
	}
	s.m[*k] = now + int64(window)
	return true
}

// stopLRU closes the unexported done channel of an expirable.LRU, the only way
// to end the cleanup goroutine NewLRU starts (v2.0.7 has no Close). Without it
// every LRU built here, with its million entries, would stay reachable from
// that goroutine for the rest of the process and tax every later benchmark's
// garbage collections.
func stopLRU(c *expirable.LRU[key, struct{}]) {
	f := reflect.ValueOf(c).Elem().FieldByName("done")
	close(*(*chan struct{})(unsafe.Pointer(f.UnsafeAddr())))
}

func memoryStore(now func() time.Time) store {
	m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Now: now, Capacity: capacity})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	return store{
		rec: func(i int) bool {
			first, err := m.Record(ctx, clicks[i])
			if err != nil {
				panic(err)
			}
			return first
		},
		done: func() { m.Close() },
	}
}

var contenders = []contender{
	{"memory", func() store {
		return memoryStore(func() time.Time { return t0 })
	}},
	// The same store on its default clock (time.Now), to show what the
	// constant clock saves; nothing expires within a run either way.
	{"memory-timenow", func() store { return memoryStore(nil) }},
	{"otter", func() store {
		c := otter.Must(&otter.Options[key, struct{}]{
			MaximumSize:      capacity,
			ExpiryCalculator: otter.ExpiryCreating[key, struct{}](window),
		})
		return store{
			rec: func(i int) bool {
				_, inserted := c.SetIfAbsent(keys[i], struct{}{})
				return inserted
			},
			done: func() { c.StopAllGoroutines() },
		}
	}},
	// The same without a size bound (no TinyLFU eviction policy), to show
	// what the bound costs; Memory's Capacity, by contrast, never evicts.
	{"otter-nomax", func() store {
		c := otter.Must(&otter.Options[key, struct{}]{
			ExpiryCalculator: otter.ExpiryCreating[key, struct{}](window),
		})
		return store{
			rec: func(i int) bool {
				_, inserted := c.SetIfAbsent(keys[i], struct{}{})
				return inserted
			},
			done: func() { c.StopAllGoroutines() },
		}
	}},
	{"ttlcache", func() store {
		// Start is never called: no cleanup goroutine runs.
		c := ttlcache.New[key, struct{}](
			ttlcache.WithTTL[key, struct{}](window),
			ttlcache.WithCapacity[key, struct{}](capacity),
			ttlcache.WithDisableTouchOnHit[key, struct{}](), // a repeat must not extend the lifetime
		)
		return store{
			rec: func(i int) bool {
				_, found := c.GetOrSet(keys[i], struct{}{})
				return !found
			},
			done: func() {},
		}
	}},
	{"mapmutex", func() store {
		s := &mapStore{m: make(map[key]int64)}
		now := t0.UnixNano()
		return store{
			rec:  func(i int) bool { return s.record(&keys[i], now) },
			done: func() {},
		}
	}},
	// Last, since its cleanup goroutine (every ttl/100 = 18 s) cannot be
	// stopped through the API: see stopLRU.
	{"lru-expirable", func() store {
		c := expirable.NewLRU[key, struct{}](capacity, nil, window)
		return store{
			// Not atomic: two goroutines can both miss and both Add, and
			// the second Add renews the first's expiry. Contains also
			// ignores expiry (an expired entry counts until deleted).
			rec: func(i int) bool {
				if c.Contains(keys[i]) {
					return false
				}
				c.Add(keys[i], struct{}{})
				return true
			},
			done: func() { stopLRU(c) },
		}
	}},
}

// BenchmarkDedup reports ns/op, B/op and allocs/op of the job, and
// "inserts", the number of first sightings in the run (1e6 when the run
// covers the 2M operations and the contender deduplicates correctly), and
// mallocs/op, allocs/op as a fraction.
func BenchmarkDedup(b *testing.B) {
	data()
	for _, c := range contenders {
		b.Run("impl="+c.name+"/serial", func(b *testing.B) {
			runtime.GC()
			s := c.new()
			defer s.done()
			b.ReportAllocs()
			m0 := mallocs()
			inserts, i := 0, 0
			for b.Loop() {
				if s.rec(i) {
					inserts++
				}
				if i++; i == numKeys {
					i = 0
				}
			}
			b.ReportMetric(float64(mallocs()-m0)/float64(b.N), "mallocs/op")
			b.ReportMetric(float64(inserts), "inserts")
		})
		b.Run("impl="+c.name+"/parallel", func(b *testing.B) {
			runtime.GC()
			s := c.new()
			defer s.done()
			// Goroutine g of G walks keys g, g+G, g+2G, ... (mod numKeys).
			// pb.Next hands out iterations dynamically, so the split
			// between goroutines, and hence the exact number of repeats,
			// is only close to even: see the inserts metric.
			stride := runtime.GOMAXPROCS(0)
			var ids, inserts atomic.Int64
			b.ReportAllocs()
			m0 := mallocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(ids.Add(1)-1) % numKeys
				n := int64(0)
				for pb.Next() {
					if s.rec(i) {
						n++
					}
					if i += stride; i >= numKeys {
						i -= numKeys
					}
				}
				inserts.Add(n)
			})
			b.ReportMetric(float64(mallocs()-m0)/float64(b.N), "mallocs/op")
			b.ReportMetric(float64(inserts.Load()), "inserts")
		})
	}
}

// mallocs is the process's count of heap allocations so far; the difference
// over a run, divided by b.N, is allocs/op without the integer truncation
// of the built-in figure (taken outside the timed loop for serial runs).
func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkHeapPerEntry inserts the 1M keys once into a fresh store and
// reports live heap per held entry (HeapAlloc after GC):
// B/entry counts from before the store was built (construction included),
// B/entry-after-new from just after. Its ns/op is meaningless.
func BenchmarkHeapPerEntry(b *testing.B) {
	data()
	for _, c := range contenders {
		if c.name == "memory-timenow" {
			continue // same structure as memory
		}
		b.Run("impl="+c.name, func(b *testing.B) {
			before := heapAlloc()
			s := c.new()
			afterNew := heapAlloc()
			n := 0
			for i := range numKeys {
				if s.rec(i) {
					n++
				}
			}
			after := heapAlloc()
			runtime.KeepAlive(s)
			s.done()
			if n != numKeys {
				b.Fatalf("inserted %d, want %d", n, numKeys)
			}
			b.ReportMetric(float64(int64(after)-int64(before))/numKeys, "B/entry")
			b.ReportMetric(float64(int64(after)-int64(afterNew))/numKeys, "B/entry-after-new")
		})
	}
}
