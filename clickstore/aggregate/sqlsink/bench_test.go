package sqlsink

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/internal/pgtest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// benchClicks returns n clicks on 8 links by 256 visitors over 10
// minutes, with 4 countries and 2 devices, as aggregate's benchmarks use.
func benchClicks(n int) []clickstore.Click { return benchClicksFrom(n, 0) }

// benchClicksFrom is benchClicks with visitors first to first+255.
func benchClicksFrom(n, first int) []clickstore.Click {
	cs := make([]clickstore.Click, n)
	for i := range cs {
		c := click(fmt.Sprintf("link-%d", i%8), first+i%256)
		c.Time = t0.Add(time.Duration(i%600) * time.Second)
		c.Country = []string{"DE", "FR", "US", "JP"}[i%4]
		c.Device = []string{"mobile", "desktop"}[i%2]
		cs[i] = c
	}
	return cs
}

// BenchmarkAdd is what the tracker's request path pays: the SQL sink's Add
// against the in-memory Rollup's, both in the steady state (buckets and
// values held).
func BenchmarkAdd(b *testing.B) {
	ctx := context.Background()
	cs := benchClicks(4096)
	b.Run("rollup", func(b *testing.B) {
		r, err := aggregate.New(&aggregate.Options{Now: clock})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		for _, c := range cs {
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
	b.Run("sqlsink", func(b *testing.B) {
		s := open(b, sqlitePath(b), nil)
		for _, c := range cs {
			_ = s.Add(ctx, c, clickstore.Unique)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := s.Add(ctx, cs[i%len(cs)], clickstore.Repeat); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkTracker is what a tracked click costs with each sink attached,
// in the same run: clickstore/track's Handler (client address, cached
// user-agent class, pseudonyms, the Memory store) in front of a bare
// handler, with the in-memory aggregate.Rollup as its sink, and with a
// Sink on SQLite that flushes in the background every
// DefaultFlushInterval, as in production. 4096 visitors on 8 links, once
// the store holds them all.
func BenchmarkTracker(b *testing.B) {
	reqs := make([]*http.Request, 4096)
	for i := range reqs {
		r := httptest.NewRequest("GET", "http://t.example/go/x", nil)
		r.RemoteAddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), 1234).String()
		r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0")
		r.SetPathValue("link", fmt.Sprintf("link-%d", i%8))
		reqs[i] = r
	}
	bare := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusFound) })
	// run serves the clicks through a tracker with sink attached and
	// returns how many it served.
	run := func(b *testing.B, sink clickstore.Sink) uint64 {
		kr, err := retention.NewKeyring(nil)
		require.NoError(b, err)
		bl, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
		require.NoError(b, err)
		m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Capacity: 1 << 22})
		require.NoError(b, err)
		defer m.Close()
		tr, err := track.New(bl, m, sink, nil)
		require.NoError(b, err)
		h := tr.Handler(bare)
		w := httptest.NewRecorder()
		for _, r := range reqs {
			h.ServeHTTP(w, r) // the first sightings
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			h.ServeHTTP(w, reqs[i%len(reqs)])
			i++
		}
		b.StopTimer()
		st := tr.Stats()
		require.Equal(b, uint64(len(reqs)+i), st.Clicks, "every click counted")
		require.Zero(b, st.SinkFailures, "clicks the sink refused")
		return st.Clicks
	}
	b.Run("baseline=rollup", func(b *testing.B) {
		r, err := aggregate.New(nil)
		require.NoError(b, err)
		defer r.Close()
		_ = run(b, r)
	})
	b.Run("sqlsink", func(b *testing.B) {
		s, err := Open(context.Background(), sqlitePath(b), &Options{Logger: slog.New(slog.DiscardHandler)})
		require.NoError(b, err)
		defer s.Close(context.Background())
		served := run(b, s)
		st := s.Stats()
		require.Equal(b, served, st.Buffered+st.Written, "every click buffered or written")
	})
}

// BenchmarkFlush writes batches of 4096 clicks (480 rows) into a database
// that already holds their rows, as in the steady state: the sink's Flush
// (draining the buffer into rows, the batch token, the upsert of sums, the
// merge of sketches) against a bare batched INSERT … ON CONFLICT DO UPDATE
// of the same rows in one transaction, one multi-row VALUES statement
// prepared once (sums added, sketch overwritten: no token, no merge), each
// in a database of its own. Every
// iteration times one of each, in turn first, so that the load of a shared
// machine falls on both alike: bare-incr/s and sink-incr/s are clicks
// written per second, ratio is the sink's over the bare upsert's. Both
// fill a buffer (and the bare upsert drains it) outside the timings, so
// that both run under the same garbage-collection load; B/op and
// allocs/op are the two writes' together.
//
// In visitors=same every batch has the same 256 visitors, so the stored
// sketches hold the new ones and the sink merges none (on PostgreSQL it
// sends no sketch, and the upsert checks the remembered version alone).
// In visitors=new each batch brings 256 visitors not seen before, so the
// sink merges every sketch it writes with the stored one, and the stored
// sketches grow; the bare upsert then writes the same grown sketches
// (their union, computed outside its timing), so that both write the same
// bytes and the ratio is the sink's own work: the token, merging the
// sketches and (on PostgreSQL) checking the versions. rewrites/row counts
// the rows the sink wrote a second time (another writer changed them, or
// the sink did not remember them): 0 here, where the sink is the only
// writer of its database. In visitors=new/writers=2 (PostgreSQL) two
// Sinks on one database, two instances of a fleet, take turns flushing
// new visitors into the same cells, so that every cell a Sink writes was
// changed by the other since: every row is written twice, the worst case.
func BenchmarkFlush(b *testing.B) {
	for _, d := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", sqlitePath}, {"postgresql", pgtest.DB}} {
		for _, bc := range []struct {
			name    string
			fresh   bool
			writers int // Sinks on the database, taking turns
		}{{"visitors=same", false, 1}, {"visitors=new", true, 1}, {"visitors=new/writers=2", true, 2}} {
			if bc.writers > 1 && d.name == "sqlite" {
				continue // SQLite merges in SQL, whoever wrote last
			}
			fresh := bc.fresh
			b.Run(d.name+"/"+bc.name, func(b *testing.B) {
				ctx := context.Background()
				cs := benchClicks(4096)
				opts := &Options{Logger: slog.New(slog.DiscardHandler)}
				bare, dsn := open(b, d.dsn(b), opts), d.dsn(b)
				sinks := make([]*Sink, bc.writers)
				for k := range sinks {
					sinks[k] = open(b, dsn, opts)
				}
				sink := sinks[0] // the one flushing next
				fill := func(s *Sink) {
					for j, c := range cs {
						if err := s.Add(ctx, c, clickstore.Uniqueness(j%3)); err != nil {
							b.Fatal(err)
						}
					}
				}
				drain := func() *batch { // as a flush would, leaving room for the next fill
					bt, err := bare.buf.drain(&bare.cfg, bare.cfg.now())
					require.NoError(b, err)
					bare.held.Add(int64(-bt.cells))
					return bt
				}
				fill(bare)
				bt := drain()
				union := sketchUnion{}
				if fresh {
					union.merge(b, bt.rows)
				}
				st, err := bare.db.PrepareContext(ctx, bareUpsert(bare.dialect, len(bt.rows)))
				require.NoError(b, err)
				defer st.Close()
				args := appendRowArgs(nil, bt.rows, nil, nil)
				upsert := func() {
					tx, err := bare.db.BeginTx(ctx, nil)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...); err != nil {
						b.Fatal(err)
					}
					if err := tx.Commit(); err != nil {
						b.Fatal(err)
					}
				}
				flush := func() {
					if err := sink.Flush(ctx); err != nil {
						b.Fatal(err)
					}
				}
				timed := func(f func()) time.Duration {
					start := time.Now()
					f()
					return time.Since(start)
				}
				upsert() // both databases hold the rows
				for _, sink = range sinks {
					fill(sink)
					flush()
				}
				var tBare, tSink time.Duration
				i := 0
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					if fresh {
						cs = benchClicksFrom(len(cs), (i+1)*256)
					}
					fill(bare)
					if bt := drain(); fresh {
						require.Len(b, bt.rows, len(args)/cellParams, "the same cells, so the prepared upsert fits")
						union.merge(b, bt.rows)
						args = appendRowArgs(args[:0], bt.rows, nil, nil)
					}
					sink = sinks[i%len(sinks)]
					fill(sink)
					b.StartTimer()
					if i%2 == 0 {
						tBare += timed(upsert)
						tSink += timed(flush)
					} else {
						tSink += timed(flush)
						tBare += timed(upsert)
					}
					i++
				}
				n := float64(len(cs) * i)
				b.ReportMetric(n/tBare.Seconds(), "bare-incr/s")
				b.ReportMetric(n/tSink.Seconds(), "sink-incr/s")
				b.ReportMetric(tBare.Seconds()/tSink.Seconds(), "ratio")
				b.ReportMetric(float64(len(bt.rows)), "rows/op")
				var rewrites, hits, misses uint64
				for _, s := range sinks {
					rewrites += s.rewrites.Load()
					hits += s.sketches.hits.Load()
					misses += s.sketches.misses.Load()
				}
				if d.name == "postgresql" {
					b.ReportMetric(float64(rewrites)/float64(len(bt.rows)*(i+len(sinks))), "rewrites/row")
				}
				if hits+misses > 0 {
					b.ReportMetric(float64(hits)/float64(hits+misses), "cache-hits/merge")
				}
			})
		}
	}
}

// bareUpsert is the baseline statement: n rows in one INSERT … VALUES …
// ON CONFLICT DO UPDATE that adds the counts and overwrites the sketch,
// for dialect d: the form of the sink's own upserts, in one statement
// where the sink writes 256 rows at most per statement.
func bareUpsert(d Dialect, n int) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO clickanon_cells (" + cellColumns + ") VALUES ")
	d.values(&sb, n, cellParams)
	sb.WriteString(" ON CONFLICT (" + cellKeyColumns + `) DO UPDATE SET clicks = clickanon_cells.clicks + excluded.clicks,
uniq = clickanon_cells.uniq + excluded.uniq, unknown = clickanon_cells.unknown + excluded.unknown,
bots = clickanon_cells.bots + excluded.bots, conversions = clickanon_cells.conversions + excluded.conversions,
sketch = excluded.sketch`)
	return sb.String()
}

// BenchmarkBufferedCellBytes measures the heap a buffered cell takes, to
// size MaxBufferedCells: clicks of one visitor each on distinct links, so
// that every cell holds a counter and a one-visitor sketch.
func BenchmarkBufferedCellBytes(b *testing.B) {
	ctx := context.Background()
	const clicks = 6000 // 90,000 cells
	for b.Loop() {
		s := open(b, sqlitePath(b), &Options{MaxBufferedCells: 15 * clicks})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range clicks {
			if err := s.Add(ctx, click(fmt.Sprintf("cell-%d", i), i), clickstore.Unique); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(s.Stats().BufferedCells), "B/cell")
		runtime.KeepAlive(s)
	}
}

// sketchUnion keeps, by cell, the union of every sketch a bare upsert has
// written, so that it writes what a merging writer would store.
type sketchUnion map[key]*hyperloglog.Sketch

// merge merges each row's sketch into the union and sets the row's sketch
// to the union's.
func (u sketchUnion) merge(tb testing.TB, rows []row) {
	for i := range rows {
		r := &rows[i]
		if r.sketch == nil {
			continue
		}
		sk := new(hyperloglog.Sketch)
		require.NoError(tb, sk.UnmarshalBinary(r.sketch))
		acc := u[r.key]
		if acc == nil {
			u[r.key] = sk
			continue
		}
		require.NoError(tb, acc.Merge(sk))
		b, err := acc.MarshalBinary()
		require.NoError(tb, err)
		r.sketch = b
	}
}
