package aggregate_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/ipmask"
)

func pseudonym(i byte) clickstore.Pseudonym { return clickstore.Pseudonym{0: 1, 15: i} }

// Six visitors click a link; five come from one network, one from another.
// The report publishes the link's totals and the big network, and
// suppresses the network with a single visitor, keeping its count visible
// under "suppressed" so the breakdown still adds up.
func ExampleRollup_Report() {
	ctx := context.Background()
	at := time.Date(2026, 3, 3, 10, 15, 0, 0, time.UTC)
	// The Rollup drops hour buckets 90 days after they end, by its clock:
	// give it one that reads the example's date.
	r, err := aggregate.New(&aggregate.Options{Now: func() time.Time { return at }})
	if err != nil {
		panic(err)
	}
	for i := range 6 {
		net := netip.MustParsePrefix("198.51.100.0/24")
		if i == 5 {
			net = netip.MustParsePrefix("203.0.113.0/24")
		}
		c := clickstore.Click{Link: "spring-sale", Time: at, Visitor: pseudonym(byte(i)), Network: net}
		if err := r.Add(ctx, c, clickstore.Unique); err != nil {
			panic(err)
		}
	}
	rep, err := r.Report(ctx, aggregate.Query{Link: "spring-sale", Granularity: aggregate.Hour, From: at.Add(-time.Hour), To: at.Add(time.Hour)})
	if err != nil {
		panic(err)
	}
	for _, c := range rep.Cells {
		if c.Scope == aggregate.ScopeBucket && (c.Dimension == aggregate.Total || c.Dimension == aggregate.Network) {
			fmt.Printf("%s %s %q clicks=%d visitors=%d suppressed=%t\n", c.Start.Format("15:04"), c.Dimension, c.Value, c.Clicks, c.Visitors, c.Suppressed)
		}
	}
	// Output:
	// 10:00 total "" clicks=6 visitors=6 suppressed=false
	// 10:00 network "198.51.100.0/24" clicks=5 visitors=5 suppressed=false
	// 10:00 network "" clicks=1 visitors=0 suppressed=true
}

// Unique visitors over a range are the union of the buckets' sketches, not
// a sum: a visitor who comes back the next day is counted once.
func ExampleRollup_Cells_uniquesOverARange() {
	ctx := context.Background()
	monday := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	r, err := aggregate.New(&aggregate.Options{Now: func() time.Time { return monday.AddDate(0, 0, 7) }})
	if err != nil {
		panic(err)
	}
	for day := range 3 {
		for i := range 10 { // the same ten visitors every day
			c := clickstore.Click{Link: "docs", Time: monday.AddDate(0, 0, day), Visitor: pseudonym(byte(i)), Network: netip.MustParsePrefix("192.0.2.0/24")}
			if err := r.Add(ctx, c, clickstore.Unique); err != nil {
				panic(err)
			}
		}
	}
	cells, err := r.Cells(ctx, aggregate.Query{Link: "docs", Granularity: aggregate.Day, From: monday.Truncate(24 * time.Hour), To: monday.AddDate(0, 0, 7)})
	if err != nil {
		panic(err)
	}
	for _, c := range cells {
		if c.Dimension == aggregate.Total {
			fmt.Println(c.Scope, c.Start.Format("Mon"), "unique clicks", c.Unique, "visitors", c.Visitors)
		}
	}
	// Output:
	// bucket Mon unique clicks 10 visitors 10
	// bucket Tue unique clicks 10 visitors 10
	// bucket Wed unique clicks 10 visitors 10
	// range Mon unique clicks 30 visitors 10
}

func ExampleWriteCSV() {
	ctx := context.Background()
	r, err := aggregate.New(&aggregate.Options{NoCountry: true, NoNetwork: true, NoReferrer: true, NoDevice: true})
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 3, 3, 10, 15, 0, 0, time.UTC)
	for i := range 5 {
		c := clickstore.Click{Link: "spring-sale", Time: at, Visitor: pseudonym(byte(i)), Network: netip.MustParsePrefix("192.0.2.0/24")}
		if err := r.Add(ctx, c, clickstore.Unique); err != nil {
			panic(err)
		}
	}
	rep, err := r.Report(ctx, aggregate.Query{Granularity: aggregate.Day, From: at.Truncate(24 * time.Hour), To: at.Truncate(24*time.Hour).AddDate(0, 0, 1)})
	if err != nil {
		panic(err)
	}
	if err := aggregate.WriteCSV(os.Stdout, rep); err != nil {
		panic(err)
	}
	// Output:
	// scope,link,granularity,start,end,dimension,value,other,suppressed,suppressed_cells,clicks,unique,unknown_uniqueness,bots,conversions,visitors
	// bucket,spring-sale,day,2026-03-03T00:00:00Z,2026-03-04T00:00:00Z,total,,false,false,0,5,5,0,0,0,5
	// range,spring-sale,day,2026-03-03T00:00:00Z,2026-03-04T00:00:00Z,total,,false,false,0,5,5,0,0,0,5
}

// A Click built by hand, or by a Builder whose policy keeps every bit, may
// carry a whole address as its network. Backends count it under the
// network their policy keeps (ipmask.Default unless configured), so no
// statistic holds more than a /24 or a /48.
func ExampleNetworkOf() {
	for _, n := range []string{"198.51.100.7/32", "2001:db8:1:2::7/128", "2002:c633:6407::/48", "::ffff:198.51.100.9/128", "198.18.0.0/15"} {
		fmt.Println(aggregate.NetworkOf(netip.MustParsePrefix(n), ipmask.Default))
	}
	// Output:
	// 198.51.100.0/24
	// 2001:db8:1::/48
	// 2002:c633:6400::/40
	// 198.51.100.0/24
	// 198.18.0.0/15
}

// A backend may keep coarser networks than the default, never finer ones.
func ExampleNetworkPolicy() {
	p, err := aggregate.NetworkPolicy(ipmask.Policy{})
	fmt.Println(p, err)
	p, err = aggregate.NetworkPolicy(ipmask.Strict)
	fmt.Println(p, err)
	every, _ := ipmask.New(32, 128)
	_, err = aggregate.New(&aggregate.Options{NetworkPolicy: every})
	fmt.Println(err)
	// Output:
	// ipv4/24,ipv6/48 <nil>
	// ipv4/16,ipv6/32 <nil>
	// aggregate: network policy ipv4/32,ipv6/128 keeps more bits than ipmask.Default (ipv4/24,ipv6/48)
}
