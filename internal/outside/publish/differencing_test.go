package publish_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// randomSet adds n clicks to r: visitors drawn so that cells of every
// size occur (a few busy visitors, many who come once), over links,
// every dimension varied, bots, conversions and every uniqueness, spread
// over span from t0.
func randomSet(t *testing.T, rng *rand.Rand, r *aggregate.Rollup, set, n int, links []string, span time.Duration) {
	countries := []string{"DE", "FR", "", "IS", "LI", "NR", "TV"}
	referrers := []string{"", "news.example", "mail.example", "rare.example", "once.example"}
	devices := []string{"", "desktop", "mobile", "tablet", "tv"}
	for range n {
		i := rng.IntN(40)
		if rng.IntN(4) == 0 {
			i = 40 + rng.IntN(400) // visitors who come once or twice
		}
		c := clickstore.Click{
			Link:     links[rng.IntN(len(links))],
			Time:     t0.Add(time.Duration(rng.Int64N(int64(span)))),
			Visitor:  pseudonym(set, i),
			Network:  net4(198, 51, byte(i%9)),
			Country:  countries[(i+rng.IntN(2))%len(countries)],
			Referrer: referrers[rng.IntN(len(referrers))],
			Device:   devices[i%len(devices)],
		}
		if i%7 == 3 {
			c.Network = netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i % 5)}), 48)
		}
		if rng.IntN(9) == 0 {
			c.Bot = "crawler"
		}
		if rng.IntN(11) == 0 {
			c.Kind = clickstore.KindConversion
		}
		add(t, r, c, clickstore.Uniqueness(rng.IntN(3)))
	}
}

type bucketOf struct {
	scope aggregate.Scope
	link  string
	start time.Time
}

type groupOf struct {
	bucketOf
	dim aggregate.Dimension
}

// A reader who has one published report, and only it, differences its
// cells every way the report allows: a bucket's total minus its
// published values of one dimension ("row sums"), a link's range total
// minus its published buckets ("column sums"), the suppressed summaries
// of the hidden buckets, and "other". Over many click sets, options
// (caps reached or not, dimensions off), granularities, ranges, links
// and thresholds, every such difference comes out as the sum of all the
// suppressed cells it covers, and each is announced by a suppressed
// cell saying how many cells it stands for, so a reader isolates one
// cell's counts only where the report says SuppressedCells 1 (or, for a
// hidden bucket, where it is its link's only one), as Publish's doc
// admits, and never the value of a suppressed cell: no suppressed value
// appears in its bucket and dimension, no hidden bucket shows any cell
// but its marked Total, and a summary shows no link, value, visitors or
// bucket. The click sets are checked to make every kind of cell
// (summaries, hidden buckets, suppressed cells of one and of several
// cells, published "other" and range cells). Checked to fail: with the
// threshold the check reads raised by one (hidden buckets then show
// cells, sums and counts differ), and with one small raw cell appended
// to each report (its suppressed value is then published).
func TestNoDifferencingIsolatesASuppressedCell(t *testing.T) {
	ctx := context.Background()
	links := []string{"a", "b", "c"}
	seen := map[string]int{}
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 11))
		o := aggregate.Options{MaxValues: 1 + rng.IntN(7)}
		o.NoCountry, o.NoReferrer = rng.IntN(4) == 0, rng.IntN(4) == 0
		r := newRollup(t, o)
		randomSet(t, rng, r, int(seed), 300+rng.IntN(900), links, time.Duration(1+rng.IntN(60))*time.Hour)
		for range 8 {
			q := aggregate.Query{
				Granularity: []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day}[rng.IntN(3)],
				From:        t0.Add(-time.Duration(rng.IntN(7200)) * time.Second),
				To:          t0.Add(time.Duration(1+rng.IntN(62*3600)) * time.Second),
				K:           []int{0, 2, 3, 5, 8, 13, 40}[rng.IntN(7)],
			}
			if rng.IntN(3) == 0 {
				q.Link = links[rng.IntN(len(links))]
			}
			name := fmt.Sprintf("seed %d, %s, K %d, link %q", seed, q.Granularity, q.K, q.Link)
			rep, err := r.Report(ctx, q)
			require.NoError(t, err, name)
			raw, err := r.Cells(ctx, q)
			require.NoError(t, err, name)
			checkNoDifferencing(t, name, rep, raw)
			for _, c := range rep.Cells {
				switch {
				case c.Link == "":
					seen["summary"]++
				case c.Suppressed && c.Dimension == aggregate.Total:
					seen["hidden bucket"]++
				case c.Suppressed && c.SuppressedCells == 1:
					seen["suppressed, one cell"]++
				case c.Suppressed:
					seen["suppressed, several cells"]++
				case c.Other:
					seen["other, published"]++
				case c.Scope == aggregate.ScopeRange:
					seen["range"]++
				}
			}
		}
	}
	for _, kind := range []string{"summary", "hidden bucket", "suppressed, one cell", "suppressed, several cells", "other, published", "range"} {
		assert.Positive(t, seen[kind], "the click sets make no %s cell", kind)
	}
}

func checkNoDifferencing(t *testing.T, name string, rep aggregate.Report, raw []aggregate.Cell) {
	t.Helper()
	k := uint64(rep.Query.K)
	// The truth, from the raw cells.
	hidden := map[bucketOf]bool{}
	for _, c := range raw {
		if c.Dimension == aggregate.Total && c.Visitors < k {
			hidden[bucketOf{c.Scope, c.Link, c.Start}] = true
		}
	}
	small := map[groupOf]aggregate.Counts{} // suppressed cells of published buckets, summed
	nSmall := map[groupOf]int{}
	smallValues := map[groupOf]map[string]bool{}
	hiddenSum := map[groupOf]aggregate.Counts{} // of hidden buckets, by scope and dimension
	nHidden := map[groupOf]int{}
	hiddenOfLink := map[string]aggregate.Counts{}
	for _, c := range raw {
		b := bucketOf{c.Scope, c.Link, c.Start}
		if hidden[b] {
			g := groupOf{bucketOf{scope: c.Scope}, c.Dimension}
			hiddenSum[g] = hiddenSum[g].Add(c.Counts)
			nHidden[g]++
			if c.Dimension == aggregate.Total && c.Scope == aggregate.ScopeBucket {
				hiddenOfLink[c.Link] = hiddenOfLink[c.Link].Add(c.Counts)
			}
			continue
		}
		if c.Dimension != aggregate.Total && c.Visitors < k {
			g := groupOf{b, c.Dimension}
			small[g] = small[g].Add(c.Counts)
			nSmall[g]++
			if !c.Other {
				if smallValues[g] == nil {
					smallValues[g] = map[string]bool{}
				}
				smallValues[g][c.Value] = true
			}
		}
	}

	// What the reader sees.
	total := map[bucketOf]aggregate.Counts{}
	published := map[groupOf]aggregate.Counts{}
	suppressed := map[groupOf]aggregate.Cell{}
	summaries := map[groupOf]aggregate.Cell{}
	bucketsOfLink := map[string]aggregate.Counts{}
	rangeOf := map[string]aggregate.Cell{}
	for _, c := range rep.Cells {
		b := bucketOf{c.Scope, c.Link, c.Start}
		g := groupOf{b, c.Dimension}
		switch {
		case c.Link == "":
			assert.True(t, c.Suppressed, "%s: a cell with no link is a suppressed summary", name)
			assert.Empty(t, c.Value, "%s: a summary shows a value", name)
			assert.Zero(t, c.Visitors, "%s: a summary shows visitors", name)
			assert.True(t, c.Start.Equal(rep.Query.From) && c.End.Equal(rep.Query.To), "%s: a summary spans the query, not a bucket", name)
			summaries[groupOf{bucketOf{scope: c.Scope}, c.Dimension}] = c
		case hidden[b]:
			assert.True(t, c.Suppressed && c.Dimension == aggregate.Total && c.IsZero() && c.Value == "" && c.Visitors == 0,
				"%s: a hidden bucket shows more than its marked Total: %+v", name, c)
		case c.Suppressed:
			assert.NotEqual(t, aggregate.Total, c.Dimension, name)
			assert.Empty(t, c.Value, "%s: a suppressed cell shows its value", name)
			suppressed[g] = c
		case c.Dimension == aggregate.Total && c.Scope == aggregate.ScopeRange:
			rangeOf[c.Link] = c
		case c.Dimension == aggregate.Total:
			total[b] = c.Counts
			bucketsOfLink[c.Link] = bucketsOfLink[c.Link].Add(c.Counts)
		default:
			assert.Equal(t, aggregate.ScopeBucket, c.Scope, "%s: a breakdown over the range", name)
			published[g] = published[g].Add(c.Counts)
			if !c.Other {
				assert.False(t, smallValues[g][c.Value], "%s: suppressed value %s %q published", name, c.Dimension, c.Value)
			}
		}
	}

	// Row sums: a published bucket's total minus its published values of
	// a dimension is exactly its suppressed cell, standing for all the
	// small cells.
	for g, n := range nSmall {
		s, ok := suppressed[g]
		if !assert.True(t, ok, "%s: %d small %s cells of %s %s not announced", name, n, g.dim, g.link, g.start) {
			continue
		}
		assert.Equal(t, n, s.SuppressedCells, "%s: the suppressed cell says how many it stands for", name)
		assert.Equal(t, small[g], s.Counts, "%s: a suppressed cell is the sum of the small cells", name)
		assert.Equal(t, total[g.bucketOf], published[g].Add(s.Counts), "%s: total minus the published values is the suppressed cell", name)
	}
	for g := range suppressed {
		assert.Positive(t, nSmall[g], "%s: a suppressed cell stands for no small cell", name)
	}
	// Column sums: a link's range minus its published buckets is the sum
	// of its hidden buckets, each marked in place.
	for link, rc := range rangeOf {
		assert.Equal(t, rc.Counts, bucketsOfLink[link].Add(hiddenOfLink[link]), "%s: range of %q minus its published buckets is its hidden ones", name, link)
	}
	// Summaries: the sum of the hidden buckets' cells, by scope and
	// dimension, saying how many cells.
	for g, n := range nHidden {
		s, ok := summaries[g]
		if assert.True(t, ok, "%s: hidden %s cells not in a summary", name, g.dim) {
			assert.Equal(t, n, s.SuppressedCells, "%s: a summary says how many cells it stands for", name)
			assert.Equal(t, hiddenSum[g], s.Counts, "%s: a summary is the sum of the hidden cells", name)
		}
	}
	assert.Equal(t, len(nHidden), len(summaries), "%s: summaries without hidden cells", name)
}
