package aggregate

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/testkit"
)

// A Rollup prints and logs as its name and how many buckets it holds,
// with every verb, also while clicks are added: fmt walking its shards
// raced with Add (the race detector found it) and printed kilobytes.
func TestRollupPrintsAsItsName(t *testing.T) {
	r, err := New(nil)
	require.NoError(t, err)
	defer r.Close()
	ctx := context.Background()
	now := time.Now()
	require.NoError(t, r.Add(ctx, click("print", now, 1), clickstore.Unique))
	// One click fills its minute, hour and day bucket.
	testkit.CheckPrintsAs(t, r, "aggregate.Rollup(3 buckets)")

	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 500 {
			_ = r.Add(ctx, click(fmt.Sprint("l", i%9), now, uint64(i)), clickstore.Unique)
		}
	})
	for range 50 {
		_ = fmt.Sprintf("%+v", r)
	}
	wg.Wait()
	testkit.CheckPrintsAs(t, r, "aggregate.Rollup(30 buckets)")
	var nilRollup *Rollup
	testkit.CheckPrintsAs(t, nilRollup, "aggregate.Rollup(nil)")
}
