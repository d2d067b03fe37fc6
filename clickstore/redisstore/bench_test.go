package redisstore_test

import (
	"context"
	"encoding/binary"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/redistest"
)

// Each benchmark records first clicks of distinct visitors, so every
// operation is a write, and compares with bare go-redis SET NX PX on the
// same server in the same run (BenchmarkBaseline*).

var benchSeq atomic.Uint64

func benchClick() clickstore.Click {
	c := click(0, "bench")
	binary.BigEndian.PutUint64(c.Visitor[8:], benchSeq.Add(1))
	c.Visitor[0] = 1
	return c
}

func benchServer(b *testing.B) *redis.Client {
	srv := redistest.Start(b, nil)
	return newClient(b, srv.Addr())
}

func BenchmarkRecord(b *testing.B) {
	client := benchServer(b)
	s := newStore(b, client, nil)
	ctx := context.Background()
	b.Run("Serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Record(ctx, benchClick()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Record(ctx, benchClick()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("Batch100", func(b *testing.B) {
		b.ReportAllocs()
		batch := make([]clickstore.Click, 100)
		for b.Loop() {
			for i := range batch {
				batch[i] = benchClick()
			}
			if _, err := s.RecordBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/click")
	})
	b.Run("BaselineSetNX/Serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := client.SetNX(ctx, "base:"+strconv.FormatUint(benchSeq.Add(1), 10), "1", 30*time.Minute).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("BaselineSetNX/Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := client.SetNX(ctx, "base:"+strconv.FormatUint(benchSeq.Add(1), 10), "1", 30*time.Minute).Err(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("BaselineSetNX/Pipelined100", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pipe := client.Pipeline()
			for range 100 {
				pipe.SetNX(ctx, "base:"+strconv.FormatUint(benchSeq.Add(1), 10), "1", 30*time.Minute)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/click")
	})
}

// Record allocates about what a bare SET NX PX does through the same
// client (go-redis's own command, reply and arguments), and a batch less
// per click than 100 pipelined SET NX PX: keys and the script argument
// share one buffer, and the fixed arguments are boxed once per store.
func TestRecordAllocs(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := newClient(t, srv.Addr())
	s := newStore(t, client, nil)
	ctx := context.Background()
	base := testing.AllocsPerRun(200, func() {
		_ = client.SetNX(ctx, "base:"+strconv.FormatUint(benchSeq.Add(1), 10), "1", 30*time.Minute).Err()
	})
	record := testing.AllocsPerRun(200, func() {
		if _, err := s.Record(ctx, benchClick()); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, record, base+1, "Record allocates %v, SET NX PX %v", record, base)

	batch := make([]clickstore.Click, 100)
	pipelined := testing.AllocsPerRun(20, func() {
		pipe := client.Pipeline()
		for range 100 {
			pipe.SetNX(ctx, "base:"+strconv.FormatUint(benchSeq.Add(1), 10), "1", 30*time.Minute)
		}
		_, _ = pipe.Exec(ctx)
	})
	batched := testing.AllocsPerRun(20, func() {
		for i := range batch {
			batch[i] = benchClick()
		}
		if _, err := s.RecordBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, batched, pipelined, "a batch of 100 allocates %v, 100 pipelined SET NX PX %v", batched, pipelined)
}
