package aggregate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/cputime"
)

// baseline is the simplest counter a service might write instead: a
// mutex and a map of total clicks per link, nothing else.
type baseline struct {
	mu sync.Mutex
	m  map[string]int
}

func (b *baseline) Add(_ context.Context, c clickstore.Click, _ clickstore.Uniqueness) error {
	b.mu.Lock()
	b.m[c.Link]++
	b.mu.Unlock()
	return nil
}

// benchClicks returns n clicks on 8 links by 256 visitors over 10 minutes,
// with 4 countries and 2 devices.
func benchClicks(n int) []clickstore.Click {
	cs := make([]clickstore.Click, n)
	for i := range cs {
		c := click(fmt.Sprintf("link-%d", i%8), t0.Add(time.Duration(i%600)*time.Second), uint64(i%256))
		c.Country = []string{"DE", "FR", "US", "JP"}[i%4]
		c.Device = []string{"mobile", "desktop"}[i%2]
		cs[i] = c
	}
	return cs
}

// busyDay returns the clicks of one busy link over one UTC day, in time
// order: 50,000 distinct visitors, a third of the clicks by a visitor seen
// before, from 8 countries, 5,000 networks (so the day's network "other"
// cell is large), 6 referrers and 3 devices. Its sketches are the size a
// popular link's reach: hours of ~2,000 visitors, days of 50,000.
func busyDay() []clickstore.Click {
	const distinct = 50_000
	rng := rand.New(rand.NewPCG(1, 2))
	day := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	countries := []string{"DE", "DE", "DE", "FR", "US", "US", "JP", "GB", "NL", "IT"}
	referrers := []string{"", "news.example.com", "search.example", "social.example", "mail.example", "blog.example"}
	devices := []string{"mobile", "mobile", "desktop", "tablet"}
	var vs []uint64
	for seen := uint64(0); seen < distinct; {
		if seen > 0 && rng.IntN(3) == 0 {
			vs = append(vs, rng.Uint64N(seen))
			continue
		}
		vs = append(vs, seen)
		seen++
	}
	cs := make([]clickstore.Click, len(vs))
	for i, v := range vs {
		c := click("busy", day.Add(time.Duration(i)*24*time.Hour/time.Duration(len(vs))), v)
		r := rand.New(rand.NewPCG(v, 3)) // a visitor's attributes stay the same
		c.Country = countries[r.IntN(len(countries))]
		c.Network = netip.PrefixFrom(netip.AddrFrom4([4]byte{203, byte(r.IntN(20)), byte(r.IntN(250)), 0}), 24)
		c.Referrer = referrers[rng.IntN(len(referrers))]
		c.Device = devices[r.IntN(len(devices))]
		cs[i] = c
	}
	return cs
}

// loop runs f in a b.Loop, reporting allocations and, where the platform
// can measure it, the CPU time the benchmark's thread spent per operation
// ("cpu-ns/op"): on a shared, loaded machine the wall-clock ns/op counts
// the time spent waiting for a core, and cpu-ns/op does not (the GC's
// background workers run on other threads and are left out of it too).
func loop(b *testing.B, f func(i int)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	start, ok := cputime.Thread()
	i := 0
	for b.Loop() {
		f(i)
		i++
	}
	if end, ok2 := cputime.Thread(); ok && ok2 && b.N > 0 {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}

// filled returns a default Rollup that has counted cs once, as unique
// clicks: the steady state the benchmarks measure.
func filled(b *testing.B, cs []clickstore.Click) *Rollup {
	r, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range cs {
		if err := r.Add(context.Background(), c, clickstore.Unique); err != nil {
			b.Fatal(err)
		}
	}
	return r
}

// BenchmarkAdd measures Rollup.Add in the steady state: "small" replays
// 4096 clicks by 256 visitors over 10 minutes (small sparse sketches);
// "busy" replays a busy link's day (see busyDay) over sketches already
// holding its 50,000 visitors, in time order. The baseline counts total
// clicks per link in a map.
func BenchmarkAdd(b *testing.B) {
	ctx := context.Background()
	sets := []struct {
		name string
		cs   []clickstore.Click
	}{
		{"small", benchClicks(4096)},
		{"busy", busyDay()},
	}
	b.Run("baseline", func(b *testing.B) {
		cs := sets[0].cs
		s := &baseline{m: map[string]int{}}
		loop(b, func(i int) { _ = s.Add(ctx, cs[i%len(cs)], clickstore.Unique) })
	})
	for _, set := range sets {
		b.Run("rollup-"+set.name, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := filled(b, set.cs)
			runtime.GC()
			runtime.ReadMemStats(&after)
			loop(b, func(i int) {
				if err := r.Add(ctx, set.cs[i%len(set.cs)], clickstore.Repeat); err != nil {
					b.Fatal(err)
				}
			})
			// What the filled Rollup holds: the memory side of the
			// sparse/dense trade-off.
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")
		})
	}
	b.Run("rollup-small-parallel", func(b *testing.B) {
		cs := sets[0].cs
		r := filled(b, cs)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				_ = r.Add(ctx, cs[i%len(cs)], clickstore.Repeat)
				i++
			}
		})
	})
}

// BenchmarkSketches isolates the distinct-visitor sketches of the busy
// day: per click, the visitor enters the 15 sketches of its cells (minute,
// hour and day × total and 4 dimensions). "axiomhq" is what Rollup.Add did
// before: hyperloglog.Sketch.Insert of the pseudonym into plain sparse
// sketches, which re-encode their whole sparse list every m/100 new
// entries until it holds m = 16,384. "cells" is the Rollup's own cells:
// one hash per click, sketches dense past 256 entries.
// Both replay the day over sketches that already hold it.
func BenchmarkSketches(b *testing.B) {
	cs := busyDay()
	type cellKey struct {
		g   Granularity
		d   Dimension
		val string
		t   int64
	}
	keys := func(c *clickstore.Click, yield func(cellKey)) {
		for _, g := range granularities {
			t := floorDiv(c.Time.Unix(), int64(g.Duration()/time.Second))
			yield(cellKey{g, Total, "", t})
			yield(cellKey{g, Country, c.Country, t})
			yield(cellKey{g, Network, c.Network.String(), t})
			yield(cellKey{g, Referrer, c.Referrer, t})
			yield(cellKey{g, Device, c.Device, t})
		}
	}
	b.Run("axiomhq", func(b *testing.B) {
		m := map[cellKey]*hyperloglog.Sketch{}
		per := make([][]*hyperloglog.Sketch, len(cs))
		for i := range cs {
			keys(&cs[i], func(k cellKey) {
				sk := m[k]
				if sk == nil {
					sk = newSketch(DefaultPrecision, true)
					m[k] = sk
				}
				sk.Insert(cs[i].Visitor[:])
				per[i] = append(per[i], sk)
			})
		}
		loop(b, func(i int) {
			c := &cs[i%len(cs)]
			for _, sk := range per[i%len(cs)] {
				sk.Insert(c.Visitor[:])
			}
		})
	})
	b.Run("cells", func(b *testing.B) {
		m := map[cellKey]*cell{}
		x := sketchBuf{p: DefaultPrecision}
		per := make([][]*cell, len(cs))
		for i := range cs {
			h := visitorHash(&cs[i].Visitor)
			keys(&cs[i], func(k cellKey) {
				c := m[k]
				if c == nil {
					c = new(cell)
					m[k] = c
				}
				c.add(Counts{}, h, true, &x)
				per[i] = append(per[i], c)
			})
		}
		loop(b, func(i int) {
			h := visitorHash(&cs[i%len(cs)].Visitor)
			for _, c := range per[i%len(cs)] {
				c.add(Counts{}, h, true, &x)
			}
		})
	})
}

func BenchmarkMerge(b *testing.B) {
	ctx := context.Background()
	src, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range benchClicks(4096) {
		_ = src.Add(ctx, c, clickstore.Unique)
	}
	dst, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := dst.Merge(src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReport(b *testing.B) {
	ctx := context.Background()
	r, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range benchClicks(4096) {
		_ = r.Add(ctx, c, clickstore.Unique)
	}
	q := Query{Granularity: Minute, From: t0, To: t0.Add(time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Report(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}
