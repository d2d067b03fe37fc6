package redisstore_test

import (
	"context"
	"strconv"
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
)

// While the store's slot migrates to another master under load, no answer
// is ever wrong: a held click is found by Latest (on its link and on any
// link) or the call fails, a repeat is never reported first, an erasure
// counts exactly the visitor's clicks over its calls, and once erased a
// visitor is never found again. Errors (TRYAGAIN once go-redis's redirects
// are spent) are allowed; silent not-founds are not.
func TestClusterSlotMigration(t *testing.T) {
	c, client := clusterClient(t)
	ctx := context.Background()
	s := newStore(t, client, &redisstore.Options{Prefix: prefix(t)})
	_, err := s.Clear(ctx) // -count=N reuses the prefix on the shared cluster
	require.NoError(t, err)
	const held, erased = 60, 30
	vis := func(i int) clickstore.Pseudonym { return clickstore.Pseudonym{byte(i), byte(i >> 8), 7} }
	rec := func(i int, link string) clickstore.Click {
		c := click(0, link)
		c.Visitor = vis(i)
		return c
	}
	for i := range held + erased {
		for _, l := range []string{"a", "b"} {
			first, err := s.Record(ctx, rec(i, l))
			require.NoError(t, err)
			require.True(t, first)
		}
	}

	slot := c.KeySlot(t, "{"+prefix(t)+"}")
	from := c.SlotOwner(t, slot)
	var to string
	for _, n := range c.Nodes(t) {
		if n.Master && n.Addr != from {
			to = n.Addr
			break
		}
	}
	require.NotEmpty(t, to)

	var calls, failures, wrong atomic.Int64
	var erasedCount [erased]atomic.Int64
	var eraseDone [erased]atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				i := (k*4 + g) % held
				calls.Add(4)
				if got, ok, err := s.Latest(ctx, vis(i), clickstore.Pseudonym{}, "a"); err != nil {
					failures.Add(1)
				} else if !ok || got.Link != "a" {
					wrong.Add(1)
					t.Errorf("Latest on a link: held click of visitor %d not found", i)
				}
				if _, ok, err := s.Latest(ctx, vis(i), clickstore.Pseudonym{}, ""); err != nil {
					failures.Add(1)
				} else if !ok {
					wrong.Add(1)
					t.Errorf("Latest on any link: held click of visitor %d not found", i)
				}
				if first, err := s.Record(ctx, rec(i, "b")); err != nil {
					failures.Add(1)
				} else if first {
					wrong.Add(1)
					t.Errorf("a repeat of visitor %d reported first", i)
				}
				e := (k*4 + g) % erased
				if eraseDone[e].Load() {
					if _, ok, err := s.Latest(ctx, vis(held+e), clickstore.Pseudonym{}, ""); err == nil && ok {
						wrong.Add(1)
						t.Errorf("erased visitor %d found", held+e)
					}
					continue
				}
				n, err := s.EraseVisitor(ctx, vis(held+e))
				erasedCount[e].Add(int64(n))
				if err != nil {
					failures.Add(1)
				} else {
					eraseDone[e].Store(true)
				}
			}
		})
	}
	start := time.Now()
	err = c.MigrateSlot(t, slot, to, 10, 2*time.Millisecond)
	migration := time.Since(start)
	time.Sleep(100 * time.Millisecond) // load on the new owner too
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	assert.Equal(t, to, c.SlotOwner(t, slot), "the slot moved")
	assert.Zero(t, wrong.Load(), "wrong answers")
	for e := range erased {
		if eraseDone[e].Load() {
			assert.Equal(t, int64(2), erasedCount[e].Load(), "visitor %d: clicks erased over its calls", held+e)
		}
	}
	t.Logf("migration of %d keys took %v; %d calls, %d failed (allowed), 0 wrong", 3*(held+erased)+1, migration, calls.Load(), failures.Load())
}

// faultLoad records first clicks of new visitors on s until stop is
// closed, and keeps what each call answered.
type faultLoad struct {
	s       *redisstore.Store
	base    int
	mu      sync.Mutex
	firsts  []clickstore.Pseudonym // confirmed first, no error
	failed  int
	wrong   int
	slowest time.Duration
	total   time.Duration
	calls   int
	errs    []string // the first few
}

func (l *faultLoad) run(ctx context.Context, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		c := click(0, "f")
		c.Visitor = clickstore.Pseudonym{byte(l.base), byte(i >> 16), byte(i >> 8), byte(i), 9}
		start := time.Now()
		first, err := l.s.Record(ctx, c)
		d := time.Since(start)
		l.mu.Lock()
		l.calls++
		l.total += d
		l.slowest = max(l.slowest, d)
		switch {
		case err != nil:
			if l.failed < 3 {
				l.errs = append(l.errs, err.Error())
			}
			l.failed++
		case !first:
			l.wrong++ // every visitor is new
		default:
			l.firsts = append(l.firsts, c.Visitor)
		}
		l.mu.Unlock()
	}
}

// forgotten re-records every confirmed first click and counts those the
// store no longer holds (reported first again) and the calls that failed.
func (l *faultLoad) forgotten(t *testing.T, ctx context.Context, s *redisstore.Store) (lost, failed int) {
	t.Helper()
	for _, v := range l.firsts {
		c := click(0, "f")
		c.Visitor = v
		var first bool
		var err error
		for range 3 { // right after recovery, a call may still fail
			if first, err = s.Record(ctx, c); err == nil {
				break
			}
		}
		switch {
		case err != nil:
			failed++
		case first:
			lost++
		}
	}
	return lost, failed
}

// A coordinated failover (CLUSTER FAILOVER on the replica) loses nothing;
// killing the master then makes its replica take over after the cluster
// node timeout, and the store's calls fail until the client learns the new
// topology, each bounded by Options.Timeout. Asynchronous replication may
// forget first clicks confirmed just before the kill; with WaitReplicas a
// first click is reported without error only once a replica has it.
func TestClusterFailover(t *testing.T) {
	c := redistest.StartCluster(t, nil)
	ctx := context.Background()
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	const timeout = 200 * time.Millisecond
	plain := newStore(t, client, &redisstore.Options{Prefix: "failover", Timeout: timeout})
	waiting := newStore(t, client, &redisstore.Options{Prefix: "failover", Timeout: timeout, WaitReplicas: 1})

	slot := c.KeySlot(t, "{failover}")
	replicaOf := func(master string) string {
		var id string
		nodes := c.Nodes(t)
		for _, n := range nodes {
			if n.Addr == master {
				id = n.ID
			}
		}
		for _, n := range nodes {
			if !n.Master && n.MasterID == id && !n.Failed {
				return n.Addr
			}
		}
		t.Fatalf("no replica of %s", master)
		return ""
	}
	// phase runs load on both stores, injects fault, waits until the
	// store works again (if recovers) or one second, and reports.
	phase := func(name string, fault func(), recovers bool) {
		loads := []*faultLoad{{s: plain, base: len(name) * 2}, {s: waiting, base: len(name)*2 + 1}}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, l := range loads {
			wg.Go(func() { l.run(ctx, stop) })
		}
		time.Sleep(200 * time.Millisecond)
		start := time.Now()
		fault()
		if !recovers {
			for _, l := range loads {
				l.mu.Lock()
				l.calls, l.failed, l.firsts, l.total, l.slowest, l.errs = 0, 0, nil, 0, 0, nil
				l.mu.Unlock()
			}
			time.Sleep(time.Second)
		}
		for recovers {
			_, err := plain.Record(ctx, click(byte(len(name)), "probe-"+name+strconv.Itoa(int(time.Since(start)))))
			if err == nil || time.Since(start) > 20*time.Second {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		recovered := time.Since(start)
		time.Sleep(100 * time.Millisecond)
		close(stop)
		wg.Wait()
		for i, l := range loads {
			assert.Zero(t, l.wrong, "%s: a new visitor reported as a repeat", name)
			lost := 0
			if recovers {
				var failed int
				lost, failed = l.forgotten(t, ctx, plain)
				assert.Zero(t, failed, "%s: re-recording after recovery failed", name)
			} else {
				assert.Empty(t, l.firsts, "%s: a click recorded with its slot's master gone", name)
			}
			if i == 1 {
				assert.Zero(t, lost, "%s, WaitReplicas: a confirmed first click was forgotten", name)
			}
			t.Logf("%s (WaitReplicas %d): first errors %q", name, i, l.errs)
			t.Logf("%s (WaitReplicas %d): recovered after %v; %d calls, %d failed, slowest %v, mean %v; %d confirmed firsts, %d forgotten",
				name, i, recovered.Round(time.Millisecond), l.calls, l.failed, l.slowest.Round(time.Millisecond),
				(l.total / time.Duration(max(l.calls, 1))).Round(time.Microsecond), len(l.firsts), lost)
		}
	}
	phase("coordinated failover", func() { c.Failover(t, replicaOf(c.SlotOwner(t, slot))) }, true)
	c.WaitHealthy(t)
	phase("master killed", func() { c.Kill(t, c.SlotOwner(t, slot)) }, true)
	phase("master without replica killed", func() { c.Kill(t, c.SlotOwner(t, slot)) }, false)
}
