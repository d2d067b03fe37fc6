package tally_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
)

var granularities = []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day}

// visitor returns the pseudonym of visitor i (never zero).
func visitor(i int) clickstore.Pseudonym {
	var p clickstore.Pseudonym
	copy(p[:], fmt.Sprintf("t%015d", i))
	return p
}

// click returns a human click of visitor i on link at t.
func click(link string, t time.Time, i int) clickstore.Click {
	return clickstore.Click{
		Link:    link,
		Time:    t,
		Visitor: visitor(i),
		Network: netip.MustParsePrefix("198.51.100.0/24"),
		Country: "DE",
		Device:  "mobile",
	}
}

// totals returns the bucket Total cells of q, by bucket start in Unix
// nanoseconds, and the range Total cell's counts.
func totals(t *testing.T, b aggregate.Backend, q aggregate.Query) (map[int64]aggregate.Cell, aggregate.Cell) {
	t.Helper()
	cells, err := b.Cells(context.Background(), q)
	require.NoError(t, err)
	got := map[int64]aggregate.Cell{}
	var rng aggregate.Cell
	for _, c := range cells {
		if c.Dimension != aggregate.Total {
			continue
		}
		if c.Scope == aggregate.ScopeRange {
			rng = c
			continue
		}
		got[c.Start.UnixNano()] = c
	}
	return got, rng
}
