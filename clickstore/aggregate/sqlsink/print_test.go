package sqlsink

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/testkit"
)

// A Sink prints and logs as its name and dialect, with every verb, also
// while clicks are added and flushed: fmt walking its buffer raced with
// Add (a data race).
func TestSinkPrintsAsItsName(t *testing.T) {
	s := open(t, sqlitePath(t), nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 300 {
			_ = s.Add(ctx, click(fmt.Sprint("p", i%7), i), clickstore.Unique)
			if i%100 == 0 {
				_ = s.Flush(ctx)
			}
		}
	})
	for range 50 {
		_ = fmt.Sprintf("%+v", s)
	}
	wg.Wait()
	testkit.CheckPrintsAs(t, s, "sqlsink.Sink(sqlite)")
	var nilSink *Sink
	testkit.CheckPrintsAs(t, nilSink, "sqlsink.Sink(nil)")
}
