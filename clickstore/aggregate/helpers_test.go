package aggregate

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/clickanon/clickanon/clickstore"
)

// t0 is a fixed instant the tests count from: Tuesday 2026-03-03 10:00 UTC.
var t0 = time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)

// visitor returns a distinct, non-zero pseudonym for every i.
func visitor(i uint64) clickstore.Pseudonym {
	var p clickstore.Pseudonym
	binary.BigEndian.PutUint64(p[:8], i+1)
	binary.BigEndian.PutUint64(p[8:], ^i)
	return p
}

// click returns a valid click on link at t by visitor i from 192.0.2.0/24.
func click(link string, t time.Time, i uint64) clickstore.Click {
	return clickstore.Click{
		Link:     link,
		Time:     t,
		Visitor:  visitor(i),
		Network:  netip.MustParsePrefix("192.0.2.0/24"),
		Country:  "DE",
		Referrer: "news.example.com",
		Device:   "mobile",
	}
}

// totals sums the counts of every cell of scope s and dimension d.
func totals(cells []Cell, s Scope, d Dimension) Counts {
	var n Counts
	for _, c := range cells {
		if c.Scope == s && c.Dimension == d {
			n = n.Add(c.Counts)
		}
	}
	return n
}

// find returns the bucket cell of link, start and dimension d with value v
// (not other, not suppressed) and whether there is one.
func find(cells []Cell, link string, start time.Time, d Dimension, v string) (Cell, bool) {
	for _, c := range cells {
		if c.Scope == ScopeBucket && c.Link == link && c.Start.Equal(start) && c.Dimension == d && c.Value == v && !c.Other && !c.Suppressed {
			return c, true
		}
	}
	return Cell{}, false
}

// The Rollups of these tests expire their buckets by a clock stopped at
// t0, so that the tests' fixed dates stay within every retention whatever
// the date they run on.
func init() { defaultNow = func() time.Time { return t0 } }
