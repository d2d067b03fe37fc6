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
//   - hset: the cheapest per-visitor structure there is, one variadic
//     HSET of 100 fields (pseudonym, entry) into one hash per 100 clicks,
//     no script, no read, no TTL: it loses a visitor's earlier entry when
//     a field repeats, so it prices a write, it is not a layout;
//   - log: one APPEND of 100 entries to one string per 100 clicks, the
//     floor of any index write (no per-visitor structure at all; finding
//     a visitor then means reading the log: BenchmarkLogScan).
//
// BENCHMARKS.md's redisstore section gives the figures of
//
//	go test -run '^$' -bench BenchmarkIndexLayoutServerCPU -benchtime 2000x -count 3 ./clickstore/redisstore/
func BenchmarkIndexLayoutServerCPU(b *testing.B) {
	const layoutFill = 1_000_000
	for _, layout := range []string{"visitor-key", "lex", "score48", "gen-hash", "hset", "log"} {
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
			if layout == "gen-hash" || layout == "hset" {
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
				if layout == "hset" || layout == "log" {
					args := make([]any, 0, 200)
					var log []byte
					for range 100 {
						v, m := entry()
						args = append(args, string(v[:]), m[16:])
						log = append(log, m...)
					}
					var err error
					if layout == "hset" {
						err = client.HSet(ctx, "gen", args...).Err()
					} else {
						err = client.Append(ctx, "log", string(log)).Err()
					}
					if err != nil {
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

// BenchmarkLogScan prices the read side of a store that keeps no
// per-visitor index, only a log of the window's first clicks (the layout
// "log" of BenchmarkIndexLayoutServerCPU): Latest on any link, the
// attribution of a conversion that names no link, would search the log
// of the whole window for the visitor's pseudonym. The log holds the
// window's entries (8-byte time, 16-byte pseudonym, a length byte, a
// 19-byte link) in 31 keys, one per minute; one script searches them all
// on the server (Lua's plain string.find, which is memchr and memcmp) and
// returns the visitor's entries. Each size is the window of a steady rate:
// 18,600 entries are 10 first clicks a second, 186,000 are 100. The
// figure is the server's CPU time per lookup, during which Redis serves
// no one else. BENCHMARKS.md gives the figures of
//
//	go test -run '^$' -bench BenchmarkLogScan -benchtime 20x -count 3 ./clickstore/redisstore/
func BenchmarkLogScan(b *testing.B) {
	for _, perMinute := range []int{600, 6000} {
		b.Run(strconv.Itoa(31*perMinute), func(b *testing.B) {
			srv := redistest.Start(b, nil)
			client := newClient(b, srv.Addr())
			ctx := context.Background()
			r := rand.New(rand.NewPCG(1, 2))
			var keys []string
			var needle [16]byte
			for m := range 31 {
				log := make([]byte, 0, perMinute*44)
				for i := range perMinute {
					var e [8 + 16 + 1]byte
					binary.BigEndian.PutUint64(e[:8], uint64(time.Now().UnixNano()))
					binary.BigEndian.PutUint64(e[8:16], r.Uint64())
					binary.BigEndian.PutUint64(e[16:24], r.Uint64())
					e[24] = 19
					if m == 7 && i == perMinute/2 {
						copy(needle[:], e[8:24])
					}
					log = append(append(log, e[:]...), "link-0123456789abcd"...)
				}
				k := "l:" + strconv.Itoa(m)
				if err := client.Set(ctx, k, log, 0).Err(); err != nil {
					b.Fatal(err)
				}
				keys = append(keys, k)
			}
			if err := logScanScript.Load(ctx, client).Err(); err != nil {
				b.Fatal(err)
			}
			c0 := serverCPU(b, srv.Addr())
			for b.Loop() {
				found, err := logScanScript.Run(ctx, client, keys, string(needle[:])).Slice()
				if err != nil || len(found) != 1 {
					b.Fatalf("found %d entries, err %v; want 1", len(found), err)
				}
			}
			c1 := serverCPU(b, srv.Addr())
			b.ReportMetric(float64((c1-c0).Microseconds())/1000/float64(b.N), "server-ms/lookup")
		})
	}
}

// logScanScript returns the links of the log entries of a pseudonym: KEYS
// the log's keys, ARGV 1 the pseudonym.
var logScanScript = redis.NewScript(`
local v, out = ARGV[1], {}
for i = 1, #KEYS do
  local log = redis.call('GET', KEYS[i])
  if log then
    local p = 1
    while true do
      local s = string.find(log, v, p, true)
      if not s then break end
      local n = string.byte(log, s + 16)
      out[#out + 1] = string.sub(log, s + 17, s + 16 + n)
      p = s + 16
    end
  end
end
return out
`)
