package publish_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// Publish promises that every published cell stands for at least K
// distinct visitors, and Options.Precision says which precisions a
// Rollup takes. For every precision New accepts, and every K up to the
// bound the documentation gives for it (2^Precision/64 + 1; DefaultK at
// least), a bucket, a dimension value or a range of K-1 distinct
// visitors, each clicking one to three times, is never published, over
// many different sets of visitors (the sketch's estimate depends on
// their hashes); one of K is, where K is small enough to be counted
// near-exactly (up to 2^Precision/64). Found failing: at Precision 4 to 7 a set
// of 4 visitors was estimated as 5 and published at the default K.
// Checked to fail: with the fix's lower bound on Precision set back to 4.
func TestNoPrecisionPublishesFewerThanK(t *testing.T) {
	ctx := context.Background()
	set := 0
	for p := uint8(1); p <= 18; p++ {
		if _, err := aggregate.New(&aggregate.Options{Precision: p}); err != nil {
			continue // not a precision New accepts
		}
		maxK := max(aggregate.DefaultK, 1<<p>>6+1)
		ks := []int{0, 2, 3, aggregate.DefaultK, 7, 17, maxK}
		for _, k := range ks {
			want := k
			if k == 0 {
				want = aggregate.DefaultK
			}
			if want > maxK {
				continue
			}
			trials := 40
			if want > 20 {
				trials = 2
			}
			for range trials {
				set++
				r := newRollup(t, aggregate.Options{Precision: p})
				for i := range want - 1 {
					for rep := range 1 + i%3 {
						add(t, r, clickstore.Click{Link: "few", Time: t0.Add(time.Duration(rep) * time.Second), Visitor: pseudonym(set, i), Network: net4(192, 0, 2), Country: "DE", Device: "tv"}, clickstore.Unique)
					}
				}
				rep, err := r.Report(ctx, aggregate.Query{Link: "few", Granularity: aggregate.Minute, From: t0.Add(-time.Hour), To: t0.Add(time.Hour), K: k})
				require.NoError(t, err)
				for _, c := range rep.Cells {
					if !assert.True(t, c.Suppressed, "precision %d, K %d: %s %s %q of %d visitors (really %d) published", p, want, c.Scope, c.Dimension, c.Value, c.Visitors, want-1) {
						return
					}
				}
				if want > 1<<p>>6 {
					continue // K visitors make a dense sketch: an estimate
				}
				// One more visitor reaches K, still near-exact: published.
				add(t, r, clickstore.Click{Link: "few", Time: t0, Visitor: pseudonym(set, want-1), Network: net4(192, 0, 2), Country: "DE", Device: "tv"}, clickstore.Unique)
				rep, err = r.Report(ctx, aggregate.Query{Link: "few", Granularity: aggregate.Minute, From: t0.Add(-time.Hour), To: t0.Add(time.Hour), K: k})
				require.NoError(t, err)
				published := 0
				for _, c := range rep.Cells {
					if !c.Suppressed {
						published++
					}
				}
				assert.Equal(t, 1+len(dimensions)+1, published, "precision %d, K %d: %d visitors: bucket, its values and range published", p, want, want)
			}
		}
	}
	require.Positive(t, set, fmt.Sprint("no precision accepted"))
}
