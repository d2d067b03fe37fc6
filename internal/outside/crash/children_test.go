package crash_test

// The child processes of the tests: the test binary run again with
// childEnv set to the part it plays, and its parameters in the
// environment. A child reports on its standard output, one line per event.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
)

// Parameters of a child, in its environment.
const (
	envDSN    = "CLICKANON_CRASH_DSN"
	envBase   = "CLICKANON_CRASH_BASE"   // flusher: the first visitor id
	envLinks  = "CLICKANON_CRASH_LINKS"  // flusher: links per batch
	envBatch  = "CLICKANON_CRASH_BATCH"  // flusher: clicks per batch
	envWorker = "CLICKANON_CRASH_WORKER" // writer: its number
	envSeed   = "CLICKANON_CRASH_SEED"   // writer: the clicks' seed
	envN      = "CLICKANON_CRASH_N"      // writer: its clicks
)

func runChild(part string) int {
	var err error
	switch part {
	case "flusher":
		err = flusher()
	case "writer":
		err = writer()
	default:
		err = fmt.Errorf("unknown part %q", part)
	}
	if err != nil {
		fmt.Printf("error %v\n", err)
		return 2
	}
	return 0
}

func envInt(name string) uint64 {
	v, err := strconv.ParseUint(os.Getenv(name), 10, 64)
	if err != nil {
		fmt.Printf("error %s: %v\n", name, err)
		os.Exit(2)
	}
	return v
}

// flusherLink is link i of a flusher's batches.
func flusherLink(i uint64) string { return fmt.Sprintf("kill-%03d", i) }

// flusherClick is click i of batch k of a flusher whose first visitor is
// base: a new visitor each, on link i % links, in the first two hours of
// the test day.
func flusherClick(base, links, batch, k, i uint64) clickstore.Click {
	n := k*batch + i
	return click(flusherLink(i%links), base+n, day.Add(time.Hour+time.Duration(n%7200)*time.Second))
}

// flusher opens the database and writes batches of clicks (batch clicks
// each, the same number on every link) until it is killed: before each
// Flush it prints "begin K", after Flush returned nil "done K".
func flusher() error {
	ctx := context.Background()
	dsn, base, links, batch := os.Getenv(envDSN), envInt(envBase), envInt(envLinks), envInt(envBatch)
	s, err := sqlsink.Open(ctx, dsn, &sqlsink.Options{Now: fixedNow, FlushInterval: time.Hour, Logger: discard()})
	if err != nil {
		return err
	}
	fmt.Println("open")
	for k := uint64(0); k < 200; k++ {
		for i := range batch {
			if err := s.Add(ctx, flusherClick(base, links, batch, k, i), clickstore.Unique); err != nil {
				return err
			}
		}
		fmt.Printf("begin %d\n", k)
		if err := s.Flush(ctx); err != nil {
			return err
		}
		fmt.Printf("done %d\n", k)
	}
	time.Sleep(time.Minute) // the parent kills it long before
	return fmt.Errorf("not killed")
}

// added is a click and its uniqueness, as a writer adds them.
type added struct {
	c clickstore.Click
	u clickstore.Uniqueness
}

var uniqs = []clickstore.Uniqueness{clickstore.UniqueUnknown, clickstore.Unique, clickstore.Repeat}

// hotLinks are the links every writer adds to.
var hotLinks = []string{"hot", "hot-2", "ünï 50%_off"}

// writerClicks returns writer w's n clicks of seed: on the same few links
// and minutes as every other writer's, from one pool of 900 visitors (so
// that the writers' sketches of a cell overlap, and the busy ones turn
// dense), with every uniqueness, bots and conversions.
func writerClicks(seed, w, n uint64) []added {
	r := rand.New(rand.NewPCG(seed, w))
	out := make([]added, n)
	for i := range out {
		id := r.Uint64N(900)
		c := click(hotLinks[r.IntN(len(hotLinks))], id, day.Add(3*time.Hour+time.Duration(r.Int64N(int64(3*time.Minute)))))
		switch r.UintN(20) {
		case 0:
			c.Bot = "crawler"
		case 1:
			c.Kind = clickstore.KindConversion
		}
		out[i] = added{c, uniqs[r.IntN(len(uniqs))]}
	}
	return out
}

// writerReport is what a writer prints when it is done: its sink's Stats.
type writerReport struct {
	Stats sqlsink.Stats
}

// writer adds its clicks, flushing at random moments on top of a
// background loop that flushes every few milliseconds, then closes the
// sink and prints its Stats as JSON.
func writer() error {
	ctx := context.Background()
	dsn, w, seed, n := os.Getenv(envDSN), envInt(envWorker), envInt(envSeed), envInt(envN)
	s, err := sqlsink.Open(ctx, dsn, &sqlsink.Options{Now: fixedNow, FlushInterval: 3 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Logger: discard()})
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(seed, ^w))
	for i, a := range writerClicks(seed, w, n) {
		if err := s.Add(ctx, a.c, a.u); err != nil {
			return fmt.Errorf("add %d: %w", i, err)
		}
		if r.UintN(40) == 0 {
			if err := s.Flush(ctx); err != nil {
				return fmt.Errorf("flush after add %d: %w", i, err)
			}
		}
	}
	if err := s.Close(ctx); err != nil {
		return err
	}
	b, err := json.Marshal(writerReport{s.Stats()})
	if err != nil {
		return err
	}
	fmt.Printf("stats %s\n", b)
	return nil
}
