package sqlsink_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
)

// Statistics in an SQLite file survive a restart: one sink counts and
// closes (which writes its buffer), another opened later on the same file
// publishes the report, with the small network suppressed.
func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sqlsink-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	dsn := "sqlite:" + filepath.Join(dir, "stats.db") // or a postgres:// URL
	at := time.Date(2026, 3, 3, 10, 15, 0, 0, time.UTC)
	clock := func() time.Time { return at } // the sink's clock decides retention

	sink, err := sqlsink.Open(ctx, dsn, &sqlsink.Options{Now: clock})
	if err != nil {
		panic(err)
	}
	for i := range 6 {
		net := netip.MustParsePrefix("198.51.100.0/24")
		if i == 5 {
			net = netip.MustParsePrefix("203.0.113.0/24")
		}
		c := clickstore.Click{Link: "spring-sale", Time: at, Visitor: clickstore.Pseudonym{0: 1, 15: byte(i)}, Network: net}
		if err := sink.Add(ctx, c, clickstore.Unique); err != nil {
			panic(err)
		}
	}
	if err := sink.Close(ctx); err != nil { // writes what is buffered
		panic(err)
	}
	fmt.Printf("written: %d\n", sink.Stats().Written)

	later, err := sqlsink.Open(ctx, dsn, &sqlsink.Options{Now: clock})
	if err != nil {
		panic(err)
	}
	defer later.Close(ctx)
	rep, err := aggregate.Publish(ctx, later, aggregate.Query{Link: "spring-sale", Granularity: aggregate.Hour, From: at.Add(-time.Hour), To: at.Add(time.Hour)})
	if err != nil {
		panic(err)
	}
	for _, c := range rep.Cells {
		if c.Scope == aggregate.ScopeBucket && (c.Dimension == aggregate.Total || c.Dimension == aggregate.Network) {
			fmt.Printf("%s %s %q clicks=%d visitors=%d suppressed=%t\n", c.Start.Format("15:04"), c.Dimension, c.Value, c.Clicks, c.Visitors, c.Suppressed)
		}
	}
	// Output:
	// written: 6
	// 10:00 total "" clicks=6 visitors=6 suppressed=false
	// 10:00 network "198.51.100.0/24" clicks=5 visitors=5 suppressed=false
	// 10:00 network "" clicks=1 visitors=0 suppressed=true
}

// Stats are what a metrics collector reads.
func ExampleSink_Stats() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sqlsink-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	at := time.Date(2026, 3, 3, 10, 15, 0, 0, time.UTC)
	sink, err := sqlsink.Open(ctx, "sqlite:"+filepath.Join(dir, "stats.db"), &sqlsink.Options{Now: func() time.Time { return at }})
	if err != nil {
		panic(err)
	}
	defer sink.Close(ctx)
	c := clickstore.Click{Link: "spring-sale", Time: at, Visitor: clickstore.Pseudonym{0: 1}, Network: netip.MustParsePrefix("192.0.2.0/24")}
	_ = sink.Add(ctx, c, clickstore.Unique)
	fmt.Printf("%+v\n", sink.Stats())
	if err := sink.Flush(ctx); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", sink.Stats())
	// Output:
	// {Flushes:0 FlushErrors:0 Written:0 Buffered:1 BufferedCells:15 Dropped:0}
	// {Flushes:1 FlushErrors:0 Written:1 Buffered:0 BufferedCells:0 Dropped:0}
}
