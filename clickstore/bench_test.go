package clickstore_test

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// The dedup job of the issue: set visitor+link if absent, 30-minute
// lifetime, 1M keys each seen twice, store growing from empty. The baseline
// is the straightforward design: one mutex, a Go map of key to time, and a
// janitor goroutine that scans it every second.

const benchKeys = 1 << 20

type baseKey struct {
	v    clickstore.Pseudonym
	link string
}

type baseline struct {
	mu   sync.Mutex
	m    map[baseKey]int64
	stop chan struct{}
	done sync.WaitGroup
}

func newBaseline(now func() int64) *baseline {
	b := &baseline{m: make(map[baseKey]int64), stop: make(chan struct{})}
	b.done.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
				n := now()
				b.mu.Lock()
				for k, at := range b.m {
					if at+int64(retention.DefaultWindow) <= n {
						delete(b.m, k)
					}
				}
				b.mu.Unlock()
			}
		}
	})
	return b
}

func (b *baseline) close() { close(b.stop); b.done.Wait() }

func (b *baseline) record(k baseKey, now int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if at, ok := b.m[k]; ok && at+int64(retention.DefaultWindow) > now {
		return false
	}
	b.m[k] = now
	return true
}

type benchData struct {
	clicks []clickstore.Click
}

var (
	dataOnce sync.Once
	data     benchData
)

func benchClicks() []clickstore.Click {
	dataOnce.Do(func() {
		links := make([]string, 1000)
		for i := range links {
			links[i] = fmt.Sprintf("link-%d", i)
		}
		data.clicks = make([]clickstore.Click, benchKeys)
		for i := range data.clicks {
			data.clicks[i] = testClick(i, links[i%len(links)])
		}
	})
	return data.clicks
}

func BenchmarkDedup(b *testing.B) {
	clicks := benchClicks()
	ctx := context.Background()
	now := func() time.Time { return t0 }
	b.Run("impl=baseline/serial", func(b *testing.B) {
		bl := newBaseline(func() int64 { return t0.UnixNano() })
		defer bl.close()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c := &clicks[i%benchKeys]
			bl.record(baseKey{c.Visitor, c.Link}, t0.UnixNano())
			i++
		}
	})
	b.Run("impl=memory/serial", func(b *testing.B) {
		m, _ := clickstore.NewMemory(&clickstore.MemoryOptions{Now: now, Capacity: benchKeys})
		defer m.Close()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := m.Record(ctx, clicks[i%benchKeys]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("impl=baseline/parallel", func(b *testing.B) {
		bl := newBaseline(func() int64 { return t0.UnixNano() })
		defer bl.close()
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c := &clicks[next.Add(1)%benchKeys]
				bl.record(baseKey{c.Visitor, c.Link}, t0.UnixNano())
			}
		})
	})
	b.Run("impl=memory/parallel", func(b *testing.B) {
		m, _ := clickstore.NewMemory(&clickstore.MemoryOptions{Now: now, Capacity: benchKeys})
		defer m.Close()
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := m.Record(ctx, clicks[next.Add(1)%benchKeys]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkBytesPerClick reports the heap each held click costs, with 1M
// held: B/click.
func BenchmarkBytesPerClick(b *testing.B) {
	clicks := benchClicks()
	ctx := context.Background()
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	b.Run("impl=baseline", func(b *testing.B) {
		for b.Loop() {
			bl := newBaseline(func() int64 { return t0.UnixNano() })
			before := heap()
			for i := range clicks {
				bl.record(baseKey{clicks[i].Visitor, clicks[i].Link}, t0.UnixNano())
			}
			b.ReportMetric(float64(heap()-before)/benchKeys, "B/click")
			bl.close()
		}
	})
	b.Run("impl=memory", func(b *testing.B) {
		for b.Loop() {
			m, _ := clickstore.NewMemory(&clickstore.MemoryOptions{Now: func() time.Time { return t0 }, Capacity: benchKeys})
			before := heap()
			for i := range clicks {
				_, _ = m.Record(ctx, clicks[i])
			}
			b.ReportMetric(float64(heap()-before)/benchKeys, "B/click")
			m.Close()
		}
	})
}

// BenchmarkExpire measures destroying one expired bucket as a function of
// how many clicks it holds: ns/click should stay flat.
func BenchmarkExpire(b *testing.B) {
	clicks := benchClicks()
	ctx := context.Background()
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				now := t0
				m, _ := clickstore.NewMemory(&clickstore.MemoryOptions{Now: func() time.Time { return now }})
				for i := range n {
					_, _ = m.Record(ctx, clicks[i])
				}
				now = t0.Add(retention.DefaultWindow)
				start := time.Now()
				b.StartTimer()
				st, _ := m.Sweep(ctx, now)
				b.StopTimer()
				total += time.Since(start)
				if st.Deleted != n {
					b.Fatalf("deleted %d, want %d", st.Deleted, n)
				}
				m.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N)/float64(n), "ns/click")
		})
	}
}

// BenchmarkErase measures destroying clicks on request, by link and by
// visitor, with 100,000 held: ns/click.
func BenchmarkErase(b *testing.B) {
	clicks := benchClicks()[:100_000]
	ctx := context.Background()
	for _, by := range []string{"link", "visitor"} {
		b.Run("by="+by, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				m, _ := clickstore.NewMemory(&clickstore.MemoryOptions{Now: func() time.Time { return t0 }})
				for i := range clicks {
					_, _ = m.Record(ctx, clicks[i])
				}
				start := time.Now()
				b.StartTimer()
				n := 0
				if by == "link" {
					for i := range 1000 {
						k, _ := m.EraseLink(ctx, clicks[i].Link)
						n += k
					}
				} else {
					for i := range clicks {
						k, _ := m.EraseVisitor(ctx, clicks[i].Visitor)
						n += k
					}
				}
				b.StopTimer()
				total += time.Since(start)
				if n != len(clicks) {
					b.Fatalf("erased %d, want %d", n, len(clicks))
				}
				m.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N)/float64(len(clicks)), "ns/click")
		})
	}
}

// BenchmarkValidate measures Click.Validate on a typical click, which
// every store and sink runs on every click: its Referrer is checked for an
// address as well as for text.
func BenchmarkValidate(b *testing.B) {
	raw := netip.MustParseAddr("198.51.100.7")
	c := clickstore.Click{
		Link: "spring-sale", Time: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC),
		Visitor: clickstoretest.Visitor(1), Network: ipmask.Default.Prefix(raw),
		Device: "mobile", Referrer: "news.example.com",
	}
	// An outbound link (/out/{link...}) has dots after hex digits: it
	// pays the address scan of logmask.
	url := c
	url.Link = "https://shop.example.com/spring-sale/v2.1/index.html"
	for _, tt := range []struct {
		name string
		c    clickstore.Click
	}{{"typical", c}, {"outbound-url-link", url}} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := tt.c.Validate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
