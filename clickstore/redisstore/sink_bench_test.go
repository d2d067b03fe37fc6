package redisstore_test

import (
	"context"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/redistest"
)

// BenchmarkSinkAdd adds unique human clicks of distinct visitors (one
// counter per cell, five cells, three buckets, fifteen sketches) through
// one client, and compares, on the same server in the same run, with:
//
//   - BaselineHIncrBy: bare go-redis pipelined HINCRBY of one counter, one
//     round trip, the floor for any write;
//   - OldTxPipelined: the MULTI/EXEC transaction Add sent before it became
//     a script with a request token (same commands, same keys).
func BenchmarkSinkAdd(b *testing.B) {
	srv := redistest.Start(b, nil)
	client := sinkClient(b, srv.Addr())
	ctx := context.Background()
	s := newSink(b, client, sinkT0)
	var seq atomic.Uint64
	next := func() clickstore.Click {
		return clickstore.Click{
			Link: "bench", Time: sinkT0, Visitor: sinkVisitor(seq.Add(1)),
			Network: netip.MustParsePrefix("192.0.2.0/24"), Country: "DE",
			Referrer: "news.example", Device: "mobile",
		}
	}
	b.Run("Add/Serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Add(ctx, next(), clickstore.Unique); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Add/Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Add(ctx, next(), clickstore.Unique); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	key := sinkPrefix(b) + ":baseline"
	hincr := func() error {
		_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.HIncrBy(ctx, key, "clicks:total:", 1)
			return nil
		})
		return err
	}
	b.Run("BaselineHIncrBy/Serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := hincr(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("BaselineHIncrBy/Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := hincr(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	old := sinkPrefix(b) + ":old:4:{bench}:"
	b.Run("OldTxPipelined/Serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := oldTxAdd(ctx, client, old, next()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("OldTxPipelined/Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := oldTxAdd(ctx, client, old, next()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// oldTxAdd sends what Add sent before it was a script, for a unique human
// click at sinkT0 with now sinkT0: per bucket, HINCRBY clicks and unique
// of five cells, PFADD and EXPIRE of five sketches, EXPIRE of the hash
// (the day bucket never expires).
func oldTxAdd(ctx context.Context, client redis.UniversalClient, prefix string, c clickstore.Click) error {
	cells := [...][2]string{{"total", ""}, {"country", c.Country}, {"network", c.Network.String()}, {"referrer", c.Referrer}, {"device", c.Device}}
	_, err := client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, g := range sinkGranularities {
			start := g.Start(c.Time).Unix()
			key := prefix + g.String()[:1] + ":" + strconv.FormatInt(start, 10)
			var ttl time.Duration
			switch g {
			case aggregate.Minute:
				ttl = time.Minute + aggregate.DefaultMinuteRetention
			case aggregate.Hour:
				ttl = time.Hour + aggregate.DefaultHourRetention
			}
			for _, cl := range cells {
				p.HIncrBy(ctx, key, "clicks:"+cl[0]+":"+cl[1], 1)
				p.HIncrBy(ctx, key, "unique:"+cl[0]+":"+cl[1], 1)
				h := key + ":v:" + cl[0] + ":" + cl[1]
				p.PFAdd(ctx, h, string(c.Visitor[:]))
				if ttl > 0 {
					p.Expire(ctx, h, ttl)
				}
			}
			if ttl > 0 {
				p.Expire(ctx, key, ttl)
			}
		}
		return nil
	})
	return err
}
