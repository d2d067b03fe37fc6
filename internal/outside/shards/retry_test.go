package shards_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/redisstore"
)

const (
	trigSet     = "$3\r\nset\r\n"
	trigEvalSHA = "evalsha"
)

// TestLostReplyNeverCountsTwice checks "a retried write whose first attempt
// succeeded reports the same answer" on every write path the store's own
// tests do not cut (they cut a plain Record and one with a previous
// pseudonym): a Record whose KeyStore check goes in the same pipeline, a
// repeat, a Record through the Capacity script (a retry must not take two
// places), RecordBatch with and without Capacity (duplicates and a previous
// pseudonym in the batch), and the erasures, which report how many clicks
// they destroyed. A loopback proxy lets the request reach the server, reads
// the server's answer and cuts the client's connection, so go-redis sends
// the request again on a new one. Each answer must be the one an uncut call
// gives, and a later call must see exactly what one call did.
//
// Checked to fail: with the token comparison of the fast path (judge) or
// of the record script made never to match, the retried first clicks
// (Record, batch; with Capacity too) are reported as repeats; before the
// erasures' done keys, EraseVisitor and EraseLink reported 0.
func TestLostReplyNeverCountsTwice(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()

	type fixture struct {
		d     *dropper
		store *redisstore.Store
		clk   *clock
	}
	setup := func(t *testing.T, opts *redisstore.Options) fixture {
		d := startDropper(t, srv.Addr())
		c := redis.NewClient(&redis.Options{Addr: d.addr(), PoolSize: 1})
		t.Cleanup(func() { _ = c.Close() })
		clk := newClock(base)
		in := join(t, c, prefix(), clk.now, opts)
		// Warm: the epoch key exists and the scripts are loaded.
		_, err := in.store.Record(ctx, clickOf(visitor(999), "warm", clk.now()))
		require.NoError(t, err)
		w := clickOf(visitor(998), "warm", clk.now())
		w.PrevVisitor = visitor(997)
		_, err = in.store.Record(ctx, w)
		require.NoError(t, err)
		require.NoError(t, in.store.Flush(ctx))
		return fixture{d, in.store, clk}
	}
	cut := func(t *testing.T, f fixture, trigger string) {
		t.Helper()
		require.NoError(t, f.store.Flush(ctx))
		f.d.arm(trigger)
	}
	dropped := func(t *testing.T, f fixture, want int32) {
		t.Helper()
		require.Equal(t, want, f.d.dropped.Load(), "the proxy must have cut a reply")
	}

	t.Run("Record", func(t *testing.T) {
		for _, capacity := range []int{0, 1000} {
			f := setup(t, &redisstore.Options{Capacity: capacity})
			trig := trigSet
			if capacity > 0 {
				trig = trigEvalSHA
			}
			c := clickOf(visitor(1), "x", f.clk.now())
			cut(t, f, trig)
			first, err := f.store.Record(ctx, c)
			require.NoError(t, err)
			dropped(t, f, 1)
			assert.True(t, first, "capacity %d: a retried first click is first", capacity)

			cut(t, f, trig)
			first, err = f.store.Record(ctx, c)
			require.NoError(t, err)
			dropped(t, f, 2)
			assert.False(t, first, "capacity %d: a retried repeat is a repeat", capacity)

			p := clickOf(visitor(2), "x", f.clk.now())
			p.PrevVisitor = visitor(1)
			cut(t, f, trigEvalSHA)
			first, err = f.store.Record(ctx, p)
			require.NoError(t, err)
			dropped(t, f, 3)
			assert.False(t, first, "capacity %d: a retried click of a held previous pseudonym is a repeat", capacity)

			p = clickOf(visitor(3), "x", f.clk.now())
			p.PrevVisitor = visitor(4)
			cut(t, f, trigEvalSHA)
			first, err = f.store.Record(ctx, p)
			require.NoError(t, err)
			dropped(t, f, 4)
			assert.True(t, first, "capacity %d: a retried first click with a previous pseudonym is first", capacity)
		}
	})

	t.Run("Capacity", func(t *testing.T) {
		// Warm-up holds 2; a capacity of 4 leaves two places.
		f := setup(t, &redisstore.Options{Capacity: 4})
		cut(t, f, trigEvalSHA)
		first, err := f.store.Record(ctx, clickOf(visitor(1), "x", f.clk.now()))
		require.NoError(t, err)
		dropped(t, f, 1)
		require.True(t, first)
		first, err = f.store.Record(ctx, clickOf(visitor(2), "x", f.clk.now()))
		require.NoError(t, err, "a retried Record took one place, not two")
		assert.True(t, first)
		_, err = f.store.Record(ctx, clickOf(visitor(3), "x", f.clk.now()))
		assert.ErrorIs(t, err, clickstore.ErrFull)
	})

	t.Run("RecordBatch", func(t *testing.T) {
		for _, capacity := range []int{0, 1000} {
			f := setup(t, &redisstore.Options{Capacity: capacity})
			trig := trigSet
			if capacity > 0 {
				trig = trigEvalSHA
			}
			now := f.clk.now()
			_, err := f.store.Record(ctx, clickOf(visitor(9), "held", now))
			require.NoError(t, err)
			prevFirst := clickOf(visitor(10), "y", now)
			prevFirst.PrevVisitor = visitor(11)
			prevRepeat := clickOf(visitor(12), "held", now)
			prevRepeat.PrevVisitor = visitor(9)
			batch := []clickstore.Click{
				clickOf(visitor(1), "y", now),
				clickOf(visitor(1), "y", now), // the same visitor and link: a repeat
				clickOf(visitor(2), "y", now),
				clickOf(visitor(9), "held", now), // held before the batch
				prevFirst,
				prevRepeat,
				clickOf(visitor(2), "z", now),
			}
			want := []clickstore.Uniqueness{clickstore.Unique, clickstore.Repeat, clickstore.Unique, clickstore.Repeat, clickstore.Unique, clickstore.Repeat, clickstore.Unique}
			cut(t, f, trig)
			us, err := f.store.RecordBatch(ctx, batch)
			require.NoError(t, err)
			dropped(t, f, 1)
			assert.Equal(t, want, us, "capacity %d: a resent batch answers as the first run did", capacity)

			us, err = f.store.RecordBatch(ctx, batch)
			require.NoError(t, err)
			for i, u := range us {
				assert.Equal(t, clickstore.Repeat, u, "capacity %d: click %d is held once", capacity, i)
			}
		}
	})

	t.Run("erasures", func(t *testing.T) {
		f := setup(t, nil)
		now := f.clk.now()
		for _, link := range []string{"a", "b", "c"} {
			for v := range 4 {
				_, err := f.store.Record(ctx, clickOf(visitor(v), link, now))
				require.NoError(t, err)
			}
		}
		cut(t, f, trigEvalSHA)
		n, err := f.store.EraseVisitor(ctx, visitor(0))
		dropped(t, f, 1)
		if err == nil {
			assert.Equal(t, 3, n, "EraseVisitor reports the clicks it destroyed")
		}
		cut(t, f, trigEvalSHA)
		n, err = f.store.EraseLink(ctx, "b")
		dropped(t, f, 2)
		if err == nil {
			assert.Equal(t, 3, n, "EraseLink reports the clicks it destroyed")
		}
		for v := range 4 {
			for _, link := range []string{"a", "b", "c"} {
				_, ok, err := f.store.Latest(ctx, visitor(v), clickstore.Pseudonym{}, link)
				require.NoError(t, err)
				assert.Equal(t, v != 0 && link != "b", ok, "visitor %d on %s", v, link)
			}
		}
		cut(t, f, trigEvalSHA)
		n, err = f.store.Clear(ctx)
		dropped(t, f, 3)
		require.NoError(t, err)
		assert.Equal(t, 6+2, n, "Clear reports the clicks it destroyed (with the two warm-up clicks)")
		var errs error
		for range 2 {
			n, err := f.store.Clear(ctx)
			errs = errors.Join(errs, err)
			assert.Zero(t, n)
		}
		require.NoError(t, errs)
	})
	t.Run("KeyStore", func(t *testing.T) {
		d := startDropper(t, srv.Addr())
		c := redis.NewClient(&redis.Options{Addr: d.addr()})
		t.Cleanup(func() { _ = c.Close() })
		ks, err := redisstore.NewKeyStore(c, &redisstore.KeyStoreOptions{Prefix: prefix()})
		require.NoError(t, err)
		_, _, err = ks.Load(ctx, 1) // loads the client's connection
		require.NoError(t, err)
		cand, other := [32]byte{1, 2, 3}, [32]byte{4, 5, 6}
		d.arm(trigEvalSHA)
		got, err := ks.LoadOrCreate(ctx, 7, cand, time.Minute)
		require.NoError(t, err)
		require.Equal(t, int32(1), d.dropped.Load(), "the proxy must have cut a reply")
		assert.Equal(t, cand, got, "a resent LoadOrCreate returns the key its first run created")
		got, err = ks.LoadOrCreate(ctx, 7, other, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, cand, got, "one key per epoch")
	})
}
