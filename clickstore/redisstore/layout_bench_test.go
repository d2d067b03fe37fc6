package redisstore_test

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clickanon/clickanon/internal/redistest"
)

// BenchmarkIndexLayoutServerCPU measures what redis-server spends a click
// on three layouts of the visitor index, with pseudonyms that are random
// as HMAC outputs are (sequential ones make a sorted set look cheaper
// than it is: every insert lands at its end). Each layout's set is first
// filled with layoutFill entries, then every click adds one entry in
// pipelines of 100:
//
//   - visitor-key: the store's layout, a sorted set per visitor, scored by
//     time, and its PEXPIRE;
//   - lex: one set for every visitor, members visitor ‖ time ‖ link of
//     score 0, read with ZRANGEBYLEX;
//   - score48: one set, scored by the pseudonym's first 48 bits;
//   - gen-hash: one hash per generation of the time (say a minute), field
//     the pseudonym, value the visitor's entries in that generation, so
//     that a visitor's entries in the window are a field of each of the
//     window's generations; a script per 100 clicks reads the fields
//     (HMGET), appends to those that exist and writes them all (HSET),
//     then sets the hash's TTL once. It replaces the time index too, so
//     its figure is to be compared with visitor-key plus the time index.
//
// BENCHMARKS.md's redisstore section gives the figures of
//
//	go test -run '^$' -bench BenchmarkIndexLayoutServerCPU -benchtime 2000x -count 3 ./clickstore/redisstore/
func BenchmarkIndexLayoutServerCPU(b *testing.B) {
	const layoutFill = 1_000_000
	for _, layout := range []string{"visitor-key", "lex", "score48", "gen-hash"} {
		b.Run(layout, func(b *testing.B) {
			srv := redistest.Start(b, nil)
			client := newClient(b, srv.Addr())
			ctx := context.Background()
			r := rand.New(rand.NewPCG(1, 2))
			entry := func() (v [16]byte, member string) {
				binary.BigEndian.PutUint64(v[:8], r.Uint64())
				binary.BigEndian.PutUint64(v[8:], r.Uint64())
				ms := strconv.FormatInt(time.Now().UnixMilli(), 10)
				return v, string(v[:]) + ms + "123456" + "link1"
			}
			// The one-set layouts start full; the visitor-key layout's keys
			// are each new anyway, as most visitors' are.
			if layout == "gen-hash" {
				for range layoutFill / 1000 {
					args := make([]any, 0, 2000)
					for range 1000 {
						v, m := entry()
						args = append(args, string(v[:]), m[16:])
					}
					if err := client.HSet(ctx, "gen", args...).Err(); err != nil {
						b.Fatal(err)
					}
				}
			}
			if layout == "lex" || layout == "score48" {
				for range layoutFill / 1000 {
					zs := make([]redis.Z, 1000)
					for i := range zs {
						v, m := entry()
						zs[i] = redis.Z{Score: score(layout, v), Member: m}
					}
					if err := client.ZAdd(ctx, "idx", zs...).Err(); err != nil {
						b.Fatal(err)
					}
				}
			}
			c0 := serverCPU(b, srv.Addr())
			for b.Loop() {
				if layout == "gen-hash" {
					args := make([]any, 0, 201)
					args = append(args, 31*60*1000)
					for range 100 {
						v, m := entry()
						args = append(args, string(v[:]), m[16:])
					}
					if err := genHashScript.Run(ctx, client, []string{"gen"}, args...).Err(); err != nil {
						b.Fatal(err)
					}
					continue
				}
				pipe := client.Pipeline()
				for range 100 {
					v, m := entry()
					switch layout {
					case "visitor-key":
						k := "v:" + string(v[:])
						pipe.ZAdd(ctx, k, redis.Z{Score: float64(time.Now().UnixMilli()), Member: m[16:]})
						pipe.PExpire(ctx, k, 31*time.Minute)
					default:
						pipe.ZAdd(ctx, "idx", redis.Z{Score: score(layout, v), Member: m})
					}
				}
				if _, err := pipe.Exec(ctx); err != nil {
					b.Fatal(err)
				}
			}
			c1 := serverCPU(b, srv.Addr())
			b.ReportMetric(float64((c1-c0).Microseconds())/float64(100*b.N), "server-us/click")
		})
	}
}

// genHashScript adds entries to a generation hash: KEYS 1 the hash;
// ARGV 1 PX ms, then per entry the pseudonym and the entry.
var genHashScript = redis.NewScript(`
local n = (#ARGV - 1) / 2
local fields = {}
for j = 1, n do fields[j] = ARGV[2 * j] end
local old = redis.call('HMGET', KEYS[1], unpack(fields))
local hs = {}
for j = 1, n do
  local e = ARGV[2 * j + 1]
  hs[2 * j - 1] = fields[j]
  hs[2 * j] = old[j] and (old[j] .. e) or e
end
redis.call('HSET', KEYS[1], unpack(hs))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
`)

// score is a member's score in the one-set layouts.
func score(layout string, v [16]byte) float64 {
	if layout == "score48" {
		return float64(binary.BigEndian.Uint64(v[:8]) >> 16)
	}
	return 0
}
