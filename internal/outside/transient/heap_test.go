package transient_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/retention"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHeapReturnsWithNoCall: a million clicks on a thousand links, recorded
// over a minute into a Memory with its default clock, are destroyed by
// the store's own timer, with no Sweep, no Sweeper and no call to the
// store, within a second of their deadline; the heap then returns to
// within 2 MiB of where it was before the store was filled, while the
// store stays open. Checked to fail: the heap check with the store's
// last clicks still held (the second sleep cut to before their
// deadline) fails, and so does Len.
func TestHeapReturnsWithNoCall(t *testing.T) {
	const clicks = 1 << 20
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		heap := func() uint64 {
			runtime.GC()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return ms.HeapAlloc
		}
		links := make([]string, 1000)
		for i := range links {
			links[i] = fmt.Sprintf("link-%d", i)
		}
		m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Capacity: clicks})
		require.NoError(t, err)
		defer m.Close()
		before := heap()
		for i := range clicks {
			if i%(clicks/60) == 0 {
				time.Sleep(time.Second)
			}
			_, err := m.Record(ctx, click(pseudonym(i), links[i%len(links)], time.Now()))
			if err != nil {
				require.NoError(t, err)
			}
		}
		require.Equal(t, clicks, m.Len())
		full := heap()
		time.Sleep(retention.DefaultWindow - time.Minute)
		synctest.Wait()
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		assert.Zero(t, m.Len(), "destroyed with no call to the store")
		after := heap()
		t.Logf("heap: %d B before, %d B full, %d B after", before, full, after)
		assert.Less(t, int64(after)-int64(before), int64(2<<20), "heap back near baseline")
	})
}
