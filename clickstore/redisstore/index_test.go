package redisstore_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/retention"
)

// A first click's index entries are written off the request path: another
// instance finds the click on its link at once (the marker), on any link
// once the recording instance has written its queue (Flush, Close, or its
// writer), and the recording instance itself always.
func TestIndexWrittenOffTheRequestPath(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := newClient(t, srv.Addr())
	ctx := context.Background()
	a := newStore(t, client, nil)
	b := newStore(t, client, nil)
	redisstore.StopIndexWriter(a) // entries stay queued until Flush or Close
	v := clickstore.Pseudonym{1, 1}

	first, err := a.Record(ctx, click(1, "x"))
	require.NoError(t, err)
	require.True(t, first)
	_, ok, err := b.Latest(ctx, v, clickstore.Pseudonym{}, "x")
	require.NoError(t, err)
	assert.True(t, ok, "the marker is there: Latest on the link finds it")
	_, ok, err = b.Latest(ctx, v, clickstore.Pseudonym{}, "")
	require.NoError(t, err)
	assert.False(t, ok, "the index entry is still queued on the other instance")
	first, err = b.Record(ctx, click(1, "x"))
	require.NoError(t, err)
	assert.False(t, first, "uniqueness never waits for the index")

	require.NoError(t, a.Flush(ctx))
	got, ok, err := b.Latest(ctx, v, clickstore.Pseudonym{}, "")
	require.NoError(t, err)
	assert.True(t, ok && got.Link == "x", "after Flush, Latest on any link finds the click")

	_, err = a.Record(ctx, click(1, "y"))
	require.NoError(t, err)
	got, ok, err = a.Latest(ctx, v, clickstore.Pseudonym{}, "")
	require.NoError(t, err)
	assert.True(t, ok && got.Link == "y", "an instance's own index reads write its queue first")

	_, err = a.Record(ctx, click(1, "z"))
	require.NoError(t, err)
	require.NoError(t, a.Close())
	n, err := b.EraseVisitor(ctx, v)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "Close wrote the last entry: the erasure finds all three clicks")
	assert.ErrorIs(t, a.Flush(ctx), clickstore.ErrClosed)
}

// A write of index entries that fails drops them, counts them and logs
// the burst; the click itself stays held.
func TestIndexWriteFailureCounted(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Local: true})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	s := newStore(t, client, &redisstore.Options{Logger: logger})
	redisstore.StopIndexWriter(s)
	ctx := context.Background()
	_, err := s.Record(ctx, click(1, "x"))
	require.NoError(t, err)
	_, err = s.Record(ctx, click(2, "x"))
	require.NoError(t, err)
	srv.Kill()
	err = s.Flush(ctx)
	require.Error(t, err)
	assert.ErrorContains(t, err, "2 index entries")
	assert.Equal(t, redisstore.Stats{IndexErrors: 1, IndexDropped: 2}, s.Stats())
	assert.Contains(t, logs.String(), "redisstore: index write failed")
}

// A server that lost the scripts (a restart, SCRIPT FLUSH) is sent their
// source: clicks with a previous pseudonym, alone and in a batch, and the
// index writer's runs still work.
func TestScriptsLoadedAgain(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := newClient(t, srv.Addr())
	ctx := context.Background()
	s := newStore(t, client, nil)
	old, cur := clickstore.Pseudonym{1, 1}, clickstore.Pseudonym{2, 1}
	_, err := s.Record(ctx, click(1, "x"))
	require.NoError(t, err)
	require.NoError(t, s.Flush(ctx))

	require.NoError(t, client.ScriptFlush(ctx).Err())
	c := click(2, "x")
	c.PrevVisitor = old
	first, err := s.Record(ctx, c)
	require.NoError(t, err)
	assert.False(t, first, "held under the previous pseudonym")

	require.NoError(t, client.ScriptFlush(ctx).Err())
	d := click(2, "y")
	d.PrevVisitor = old
	got, err := s.RecordBatch(ctx, []clickstore.Click{c, d, d})
	require.NoError(t, err)
	assert.Equal(t, []clickstore.Uniqueness{clickstore.Repeat, clickstore.Unique, clickstore.Repeat}, got)

	// A batch whose first command is a SET NX GET of a first click (a nil
	// reply, which the pipeline reports as its first error) before the
	// script run.
	require.NoError(t, client.ScriptFlush(ctx).Err())
	e := click(2, "w")
	e.PrevVisitor = old
	got, err = s.RecordBatch(ctx, []clickstore.Click{click(3, "w"), e})
	require.NoError(t, err)
	assert.Equal(t, []clickstore.Uniqueness{clickstore.Unique, clickstore.Unique}, got)

	require.NoError(t, client.ScriptFlush(ctx).Err())
	n, err := s.EraseVisitor(ctx, cur)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the index write ran the script's source")
}

// Redis keeps a marker for the window plus a slack; a click at the end of
// the window finds the expired one and replaces it. Racing instances
// replace it once: exactly one of them is first.
func TestExpiredMarkerTakenOverOnce(t *testing.T) {
	srv := redistest.Start(t, nil)
	ctx := context.Background()
	var now atomic.Int64
	now.Store(t0.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	stores := make([]*redisstore.Store, 8)
	for i := range stores {
		stores[i] = newStore(t, newClient(t, srv.Addr()), &redisstore.Options{Now: clock})
	}
	prev := click(9, "x")
	first, err := stores[0].Record(ctx, prev)
	require.NoError(t, err)
	require.True(t, first)
	now.Store(t0.Add(retention.DefaultWindow).UnixNano())

	for _, withPrev := range []bool{false, true} {
		var firsts atomic.Int32
		var wg sync.WaitGroup
		c := click(1, "x")
		if withPrev {
			c = click(2, "x")
			c.PrevVisitor = clickstore.Pseudonym{9, 1} // expired too
		}
		_, err := stores[0].Record(ctx, c)
		require.NoError(t, err)
		now.Add(int64(retention.DefaultWindow)) // every marker is expired, none deleted by Redis
		for _, s := range stores {
			for range 4 {
				wg.Go(func() {
					f, err := s.Record(ctx, c)
					assert.NoError(t, err)
					if f {
						firsts.Add(1)
					}
				})
			}
		}
		wg.Wait()
		assert.Equal(t, int32(1), firsts.Load(), "with a previous pseudonym: %v", withPrev)
		got, ok, err := stores[1].Latest(ctx, c.Visitor, clickstore.Pseudonym{}, "x")
		require.NoError(t, err)
		assert.True(t, ok && got.Visitor == c.Visitor, "the new click is held")
	}
}

// A Record that raced Close queues its entry after the last write: it is
// written at once, since no goroutine is left to write it.
func TestIndexEntryAfterCloseWritten(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := newClient(t, srv.Addr())
	s := newStore(t, client, nil)
	require.NoError(t, s.Close())
	c := click(1, "late")
	redisstore.QueueIndexEntry(s, c, t0.UnixNano())
	links, err := client.ZRange(context.Background(), "{"+prefix(t)+"}:v:"+string(c.Visitor[:]), 0, -1).Result()
	require.NoError(t, err)
	require.Len(t, links, 1)
	assert.Contains(t, links[0], "late")
}
