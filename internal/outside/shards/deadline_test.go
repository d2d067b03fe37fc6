package shards_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
)

// TestRecordCutShortAfterTheServerRanIt checks what the docs say of a
// Record whose deadline (the caller's context, or Options.Timeout) ends
// after its command reached the server but before the reply came back,
// with a client that has ContextTimeoutEnabled as the docs ask: Record
// returns an error (uniqueness unknown); the server held the click, as
// the package documentation says, and Latest on any link and EraseVisitor
// find it (a held click an erasure missed would outlive the erasure
// request by up to the window). A proxy lets the command through and
// withholds the reply.
//
// The caller's deadline must also show in the error ("a done context ends
// any method with an error wrapping its Err", the clickstore.Store
// contract).
//
// Checked to fail: before the fixes, EraseVisitor returned 0 and Latest on
// any link found nothing (the click had no index entries), and the error
// was go-redis's i/o timeout alone, not wrapping
// context.DeadlineExceeded.
func TestRecordCutShortAfterTheServerRanIt(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	for _, tc := range []struct {
		viaTimeout, batch bool
		capacity          int
	}{{false, false, 0}, {true, false, 0}, {false, true, 0}, {true, true, 0}, {false, false, 100}, {true, true, 100}} {
		viaTimeout := tc.viaTimeout
		d := startDropper(t, srv.Addr())
		d.stall.Store(true)
		c := redis.NewClient(&redis.Options{Addr: d.addr(), ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = c.Close() })
		clk := newClock(base)
		opts := redisstore.Options{Capacity: tc.capacity}
		if viaTimeout {
			opts.Timeout = 100 * time.Millisecond
		}
		in := join(t, c, prefix(), clk.now, &opts)
		_, err := in.store.Record(ctx, clickOf(visitor(999), "warm", clk.now()))
		require.NoError(t, err)

		ck := clickOf(visitor(1), "x", clk.now())
		rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		if viaTimeout {
			rctx = ctx
		}
		if tc.capacity > 0 {
			d.arm(trigEvalSHA)
		} else {
			d.arm(trigSet)
		}
		if tc.batch {
			us, err := in.store.RecordBatch(rctx, []clickstore.Click{ck})
			require.Error(t, err, "a RecordBatch cut short reports an error")
			if !viaTimeout {
				assert.ErrorIs(t, err, context.DeadlineExceeded, "a done context ends RecordBatch with an error wrapping its Err")
			}
			assert.Equal(t, []clickstore.Uniqueness{clickstore.UniqueUnknown}, us)
		} else {
			first, err := in.store.Record(rctx, ck)
			require.Error(t, err, "a Record cut short reports an error")
			if !viaTimeout {
				assert.ErrorIs(t, err, context.DeadlineExceeded, "a done context ends Record with an error wrapping its Err")
			}
			assert.False(t, first)
			assert.Equal(t, clickstore.UniqueUnknown, clickstore.UniquenessOf(first, err))
		}
		cancel()
		require.Equal(t, int32(1), d.dropped.Load(), "the proxy withheld a reply")

		// The server held the click: the package documentation says so,
		// and an erasure finds it.
		_, held, err := in.store.Latest(ctx, ck.Visitor, clickstore.Pseudonym{}, "x")
		require.NoError(t, err)
		assert.True(t, held, "%+v: the click the server ran is held", tc)
		require.NoError(t, in.store.Flush(ctx))
		_, any, err := in.store.Latest(ctx, ck.Visitor, clickstore.Pseudonym{}, "")
		require.NoError(t, err)
		assert.True(t, any, "%+v: Latest on any link finds it through the index", tc)
		n, err := in.store.EraseVisitor(ctx, ck.Visitor)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "%+v: EraseVisitor finds the click a cut-short Record held", tc)
		again, err := in.store.Record(ctx, ck)
		require.NoError(t, err)
		assert.True(t, again, "%+v: once erased, the visitor's next click is first", tc)
	}
}
