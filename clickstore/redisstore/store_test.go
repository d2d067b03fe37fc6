package redisstore_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/clickstore/redisstore"
	"github.com/clickanon/clickanon/internal/redistest"
	"github.com/clickanon/clickanon/retention"
)

// newClient returns a client of addr, closed when the test ends.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// prefix returns a key prefix unique to the test.
func prefix(t testing.TB) string {
	return fmt.Sprintf("r%d-%s", runOf(t), strings.NewReplacer("{", "(", "}", ")").Replace(t.Name()))
}

// runs numbers the tests (and each run of a test under -count) that ask
// for a prefix: the test binary's shared cluster keeps what an earlier
// run wrote, so a test's keys carry the number of its run as well as its
// name. Every call with the same t gets the same number.
var (
	runs   sync.Map // testing.TB → int64
	runSeq atomic.Int64
)

func runOf(t testing.TB) int64 {
	if n, ok := runs.Load(t); ok {
		return n.(int64)
	}
	n, _ := runs.LoadOrStore(t, runSeq.Add(1))
	return n.(int64)
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t, nil)
	clickstoretest.Run(t, conformanceStore(newClient(t, srv.Addr())))
}

// conformanceStore makes the suite's stores on client, each with its own
// prefix and a keyring whose keys are on client too.
func conformanceStore(client redis.UniversalClient) clickstoretest.NewStore {
	return func(t *testing.T, cfg clickstoretest.Config) clickstore.Store {
		ks, err := redisstore.NewKeyStore(client, &redisstore.KeyStoreOptions{Prefix: prefix(t), Policy: cfg.Policy})
		require.NoError(t, err)
		kr, err := retention.NewKeyring(&retention.KeyringOptions{Policy: cfg.Policy, Store: ks})
		require.NoError(t, err)
		s, err := redisstore.New(context.Background(), client, &redisstore.Options{
			Prefix:   prefix(t),
			Policy:   cfg.Policy,
			Now:      cfg.Now,
			Capacity: cfg.Capacity,
			Keyring:  kr,
		})
		require.NoError(t, err)
		return s
	}
}

// A click's marker gets a relative TTL of W plus the slack when it is
// held, never extended (a repeat does not touch it), so Redis deletes it
// whether or not a Sweep runs. Under traffic, each write of index entries
// trims the time index of the entries Redis has expired, and a visitor's
// later first clicks trim their own index (one entry in 16 asks for it; the
// test's clock makes each of its entries ask), so no index keeps expired
// pseudonyms for as long as traffic lasts (their TTLs are refreshed by new
// clicks).
func TestRecordTrimsIndexesWithoutSweep(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := newClient(t, srv.Addr())
	now := t0
	s := newStore(t, client, &redisstore.Options{Prefix: prefix(t), Now: func() time.Time { return now }})
	ctx := context.Background()
	for v := range byte(5) {
		_, err := s.Record(ctx, click(v+1, "a"))
		require.NoError(t, err)
	}
	tag := "{" + prefix(t) + "}"
	markers, err := client.Keys(ctx, tag+":c:*").Result()
	require.NoError(t, err)
	require.Len(t, markers, 5)
	ttls := make([]time.Duration, len(markers))
	for i, m := range markers {
		ttls[i] = client.PTTL(ctx, m).Val()
		assert.Greater(t, ttls[i], retention.DefaultWindow, "the marker outlives the window on Redis's clock")
		assert.LessOrEqual(t, ttls[i], retention.DefaultWindow+2*time.Second, "by the slack at most")
	}

	now = now.Add(time.Minute)
	first, err := s.Record(ctx, click(1, "a"))
	require.NoError(t, err)
	require.False(t, first)
	for i, m := range markers {
		assert.LessOrEqual(t, client.PTTL(ctx, m).Val(), ttls[i], "a repeat does not extend the marker's TTL")
	}

	// One Record in 16 trims: the visitor clicks 16 new links.
	now = now.Add(retention.DefaultWindow + 2*time.Second)
	for i := range 16 {
		first, err = s.Record(ctx, click(1, "b"+strconv.Itoa(i)))
		require.NoError(t, err)
		require.True(t, first)
	}
	require.NoError(t, s.Flush(ctx), "the indexes are written off the request path")
	n, err := client.ZCard(ctx, tag+":i").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(16), n, "the time index holds only the new clicks")
	v1 := clickstore.Pseudonym{1, 1}
	links, err := client.ZRange(ctx, tag+":v:"+string(v1[:]), 0, -1).Result()
	require.NoError(t, err)
	require.Len(t, links, 16, "the visitor's index holds only the new clicks")
	for _, l := range links {
		assert.Contains(t, l, "b", "expired link a was trimmed")
	}
}

// A batch encodes its clicks into one buffer; a click that outgrows its
// share (a long referrer here) is encoded apart. Every click reads back
// as it was recorded, whichever way it went.
func TestRecordBatchClicksReadBack(t *testing.T) {
	srv := redistest.Start(t, nil)
	s := newStore(t, newClient(t, srv.Addr()), nil)
	ctx := context.Background()
	var batch []clickstore.Click
	for i := range 12 {
		c := click(byte(i+1), "l"+strconv.Itoa(i))
		if i%3 == 1 {
			c.Referrer = strings.Repeat(string(rune('a'+i)), 200) + ".example"
		}
		c.Device = "d" + strconv.Itoa(i)
		batch = append(batch, c)
	}
	got, err := s.RecordBatch(ctx, batch)
	require.NoError(t, err)
	for i, c := range batch {
		require.Equal(t, clickstore.Unique, got[i], "click %d", i)
		back, ok, err := s.Latest(ctx, c.Visitor, clickstore.Pseudonym{}, c.Link)
		require.NoError(t, err)
		require.True(t, ok, "click %d", i)
		assert.Equal(t, c.Referrer, back.Referrer, "click %d", i)
		assert.Equal(t, c.Device, back.Device, "click %d", i)
		assert.Equal(t, c.Link, back.Link, "click %d", i)
		assert.Equal(t, c.Visitor, back.Visitor, "click %d", i)
	}
}

// A batch's clicks with previous pseudonyms are decided in order: a click
// whose previous pseudonym an earlier click of the batch has just held on
// the same link is a repeat, as one held before the batch makes it.
func TestRecordBatchPrevSeesEarlierClicks(t *testing.T) {
	srv := redistest.Start(t, nil)
	s := newStore(t, newClient(t, srv.Addr()), nil)
	ctx := context.Background()
	held := click(1, "x")
	_, err := s.Record(ctx, held)
	require.NoError(t, err)
	withPrev := func(v byte, prev clickstore.Pseudonym, link string) clickstore.Click {
		c := click(v, link)
		c.PrevVisitor = prev
		return c
	}
	old, fresh := clickstore.Pseudonym{1, 1}, clickstore.Pseudonym{2, 1}
	got, err := s.RecordBatch(ctx, []clickstore.Click{
		withPrev(3, old, "x"),   // held before the batch
		withPrev(2, old, "y"),   // nothing held: first
		withPrev(4, fresh, "y"), // the click just before holds it
		withPrev(5, fresh, "z"), // not on this link: first
		withPrev(2, old, "y"),   // its own click, just held
	})
	require.NoError(t, err)
	assert.Equal(t, []clickstore.Uniqueness{clickstore.Repeat, clickstore.Unique, clickstore.Repeat, clickstore.Unique, clickstore.Repeat}, got)
}
