package aggregate

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore"
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

func BenchmarkAdd(b *testing.B) {
	ctx := context.Background()
	cs := benchClicks(4096)
	b.Run("baseline", func(b *testing.B) {
		s := &baseline{m: map[string]int{}}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = s.Add(ctx, cs[i%len(cs)], clickstore.Unique)
			i++
		}
	})
	b.Run("rollup", func(b *testing.B) {
		r, err := New(nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cs { // steady state: buckets, values and visitors seen
			_ = r.Add(ctx, c, clickstore.Unique)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := r.Add(ctx, cs[i%len(cs)], clickstore.Repeat); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("rollup-parallel", func(b *testing.B) {
		r, err := New(nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cs {
			_ = r.Add(ctx, c, clickstore.Unique)
		}
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
