package crash_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/pgtest"
)

// Sizes of a flusher's batches: every batch adds flushBatch/flushLinks
// clicks to each link, in minutes spread over two hours, some thousands
// of rows, so that a flush takes long enough to be killed in.
const (
	flushLinks = 40
	flushBatch = 160
)

// A process writing batches to a database through a Sink is killed with
// SIGKILL at a random moment, most often in the middle of a Flush, again
// and again on the same SQLite file (reopened each time, write-ahead log
// and all) and the same PostgreSQL database. After each kill the database
// opens, and holds, on top of what it held, exactly the batches whose
// Flush returned, plus perhaps the one being flushed, whole: never a
// batch half written (every link, bucket granularity and dimension adds
// up to the same total), never one counted twice, never one lost that a
// returned Flush reported written; and the visitors of every link are
// all there. Checked to fail: with the child reporting a batch as done
// before its Flush (the batch then in flight is missed), and with the
// sink's SQLite file opened with journal_mode(OFF) (a kill in a flush
// leaves half a batch).
func TestSIGKILLMidFlush(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		dsn := "sqlite:" + filepath.Join(t.TempDir(), "stats.db")
		killRounds(t, dsn, dsn, scaled(6, 3))
	})
	t.Run("postgresql", func(t *testing.T) {
		t.Parallel()
		dsn := pgtest.DB(t)
		killRounds(t, dsn, withParam(dsn, "application_name=crashflusher"), scaled(4, 3))
	})
}

// killRounds runs rounds of a flusher on childDSN, killed each time, and
// checks dsn after each.
func killRounds(t *testing.T, dsn, childDSN string, rounds int) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 12))
	var (
		prev          uint64 // clicks the database held
		ids           uint64 // visitors so far (one per click)
		mid, inFlight int    // kills in a flush; flushes killed yet committed
		flushTimes    []time.Duration
	)
	for round := range rounds {
		base := uint64(round) * 1_000_000
		c := startChild(t, "flusher", envDSN+"="+childDSN, fmt.Sprintf("%s=%d", envBase, base),
			fmt.Sprintf("%s=%d", envLinks, flushLinks), fmt.Sprintf("%s=%d", envBatch, flushBatch))
		target := 1 + rng.IntN(3) // the flush to kill, after timing those before it
		begun, done := -1, -1
		begins := map[int]time.Time{}
		killed := false
		for e := range c.events {
			switch e.kind {
			case "error":
				t.Fatalf("round %d: the child failed: %s\n%s", round, e.rest, c.errors())
			case "begin":
				begun, begins[e.k] = e.k, e.at
				if e.k == target && !killed {
					var mean time.Duration
					for _, d := range flushTimes {
						mean += d
					}
					mean /= time.Duration(max(len(flushTimes), 1))
					// The moment of the kill: anywhere in a flush as long
					// as the mean, or a little after; every other round in
					// its first half, so that most kills land in a flush.
					span := mean * 13 / 10
					if round%2 == 0 {
						span = mean / 2
					}
					time.Sleep(time.Duration(rng.Int64N(int64(span) + 1)))
					require.NoError(t, c.cmd.Process.Kill())
					killed = true
				}
			case "done":
				done = e.k
				if !killed {
					flushTimes = append(flushTimes, e.at.Sub(begins[e.k]))
				}
			}
		}
		require.True(t, killed, "round %d: the child ended before the kill:\n%s", round, c.errors())
		err := c.cmd.Wait()
		require.Error(t, err, "killed")
		if begun > done {
			mid++
		}
		if childDSN != dsn {
			waitGone(t, dsn, "crashflusher")
		}

		total := checkWhole(t, dsn, round)
		require.GreaterOrEqual(t, total, prev, "round %d: the database lost clicks", round)
		added := total - prev
		require.Zero(t, added%flushBatch, "round %d: %d clicks added, not whole batches", round, added)
		batches := int(added / flushBatch)
		assert.GreaterOrEqual(t, batches, done+1, "round %d: batches whose Flush returned are all there", round)
		assert.LessOrEqual(t, batches, begun+1, "round %d: no batch counted twice, none not begun", round)
		if batches == begun+1 && begun > done {
			inFlight++
		}
		prev, ids = total, ids+added
	}
	t.Logf("%d rounds: %d kills in a flush, %d of them after the flush committed; %d clicks kept; flushes took %v",
		rounds, mid, inFlight, prev, flushTimes)
	assert.Positive(t, mid, "some kills landed in a flush")
}

// checkWhole opens dsn as a restarted instance would and checks that it
// holds whole batches: every link the same clicks, in every granularity,
// with each dimension's cells adding up to the total, every click unique
// and every visitor counted. It returns the clicks of the day.
func checkWhole(t *testing.T, dsn string, round int) uint64 {
	t.Helper()
	ctx := context.Background()
	s := openSink(t, dsn)
	defer s.Close(ctx)
	var perLink map[string]uint64
	var visitors map[string]uint64
	for _, g := range []aggregate.Granularity{aggregate.Day, aggregate.Hour, aggregate.Minute} {
		cs, err := s.Cells(ctx, dayQuery("", g))
		require.NoError(t, err, "round %d: cells", round)
		links := map[string]uint64{}
		type bucketDim struct {
			link  string
			start time.Time
			dim   aggregate.Dimension
		}
		sums := map[bucketDim]uint64{}
		for _, c := range cs {
			if c.Scope != aggregate.ScopeBucket {
				continue
			}
			assert.Equal(t, c.Clicks, c.Unique, "round %d: %s %s every click unique", round, c.Link, g)
			sums[bucketDim{c.Link, c.Start, c.Dimension}] += c.Clicks
			if c.Dimension == aggregate.Total {
				links[c.Link] += c.Clicks
				if g == aggregate.Day {
					if visitors == nil {
						visitors = map[string]uint64{}
					}
					visitors[c.Link] = c.Visitors
				}
			}
		}
		for k, n := range sums {
			if k.dim != aggregate.Total {
				assert.Equal(t, sums[bucketDim{k.link, k.start, aggregate.Total}], n, "round %d: %s %s %v: %s adds up to the total", round, k.link, g, k.start, k.dim)
			}
		}
		if perLink == nil {
			perLink = links
			continue
		}
		assert.Equal(t, perLink, links, "round %d: %s buckets hold the day's clicks", round, g)
	}
	var total, first uint64
	for link, n := range perLink {
		if first == 0 {
			first = n
		}
		assert.Equal(t, first, n, "round %d: link %s holds as many clicks as the others", round, link)
		total += n
		// One new visitor a click: sparse sketches, near exact.
		assert.InDelta(t, float64(n), float64(visitors[link]), 1+float64(n)/50, "round %d: visitors of %s", round, link)
	}
	if total > 0 {
		assert.Len(t, perLink, flushLinks, "round %d: every link", round)
	}
	return total
}
