package durable_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/internal/pgtest"
)

// cutter is a TCP proxy in front of PostgreSQL that loses replies: armed
// with a tag, it swallows the first server message chunk holding it and
// drops the connection, so that the server has done the work and the
// client never hears of it. Armed with "COMMIT" that is the reply to a
// committed flush; with "INSERT" the reply to an upsert inside one.
type cutter struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	tag    []byte // what to cut on; nil when disarmed
	conns  []net.Conn
	cuts   atomic.Int64
	wg     sync.WaitGroup
	// stalled holds every byte in both directions, connections open, as
	// a database that hangs does, until it is cleared.
	stalled atomic.Bool
}

// hold waits while the proxy is stalled.
func (c *cutter) hold() {
	for c.stalled.Load() {
		time.Sleep(5 * time.Millisecond)
	}
}

// pipe copies src to dst, held while the proxy is stalled.
func (c *cutter) pipe(dst, src net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			c.hold()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// newCutter starts a cutter in front of the PostgreSQL server of dsn and
// returns it with the dsn through it.
func newCutter(t *testing.T, dsn string) (*cutter, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	c, addr := newProxy(t, u.Host)
	u.Host = addr
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return c, u.String()
}

// newProxy starts a cutter in front of the server at target (host:port)
// and returns it with its own address.
func newProxy(t *testing.T, target string) (*cutter, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c := &cutter{ln: ln, target: target}
	c.wg.Add(1)
	go c.serve()
	t.Cleanup(func() {
		c.stalled.Store(false)
		ln.Close()
		c.mu.Lock()
		for _, conn := range c.conns {
			conn.Close()
		}
		c.mu.Unlock()
		c.wg.Wait()
	})
	return c, ln.Addr().String()
}

func (c *cutter) arm(tag string) {
	c.mu.Lock()
	c.tag = nil
	if tag != "" {
		c.tag = []byte(tag)
	}
	c.mu.Unlock()
}

// fire reports whether chunk holds the armed tag, and disarms if so.
func (c *cutter) fire(chunk []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tag == nil || !bytes.Contains(chunk, c.tag) {
		return false
	}
	c.tag = nil
	c.cuts.Add(1)
	return true
}

func (c *cutter) serve() {
	defer c.wg.Done()
	for {
		down, err := c.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", c.target)
		if err != nil {
			down.Close()
			continue
		}
		c.mu.Lock()
		c.conns = append(c.conns, up, down)
		c.mu.Unlock()
		c.wg.Add(2)
		go func() { // client to server, as it is
			defer c.wg.Done()
			c.pipe(up, down)
			up.Close()
			down.Close()
		}()
		go func() { // server to client, cut when armed
			defer c.wg.Done()
			defer up.Close()
			defer down.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := up.Read(buf)
				if n > 0 {
					if c.fire(buf[:n]) {
						return
					}
					c.hold()
					if _, werr := down.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// TestLostRepliesCountOnce runs two instances through a proxy that loses
// the server's reply to a flush's COMMIT (the batch is in the database,
// the instance cannot know) or to an upsert inside it (the batch is
// rolled back), at random flushes, and retries each failed flush as the
// background loop would. In the end every click is counted exactly once
// and the uniques are those of a Rollup given the same clicks.
func TestLostRepliesCountOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DB(t)
	cut, proxied := newCutter(t, dsn)
	sinks := make([]*sqlsink.Sink, 2)
	for i := range sinks {
		sinks[i] = openSink(t, proxied, &sqlsink.Options{Now: fixedNow, FlushInterval: time.Hour, Logger: discard()})
	}
	all := clicks(3, 500)
	r := newRollup(t)
	rnd := rand.New(rand.NewPCG(3, 4))
	failed := 0
	for i, a := range all {
		require.NoError(t, r.Add(ctx, a.c, a.u))
		s := sinks[i%2]
		require.NoError(t, s.Add(ctx, a.c, a.u))
		if rnd.IntN(20) != 0 {
			continue
		}
		switch rnd.IntN(3) {
		case 0:
			cut.arm("COMMIT")
		case 1:
			cut.arm("INSERT")
		}
		for try := 0; ; try++ {
			require.Less(t, try, 10, "a flush never succeeds")
			err := s.Flush(ctx)
			if err == nil {
				break
			}
			failed++
		}
		cut.arm("")
	}
	for _, s := range sinks {
		require.NoError(t, s.Flush(ctx))
	}
	require.Greater(t, cut.cuts.Load(), int64(5), "the proxy cut too few replies to test anything")
	assert.Positive(t, failed, "no flush saw its reply lost")

	// Read directly, not through the proxy, with a fresh sink.
	check := openSink(t, dsn, nil)
	assertSameReports(t, r, check, []aggregate.Query{
		{Granularity: aggregate.Day, From: now.Add(-72 * time.Hour), To: now.Add(24 * time.Hour), K: 1},
		{Granularity: aggregate.Hour, From: now.Add(-41 * time.Hour), To: now.Add(time.Hour), K: 2},
	})
	var st sqlsink.Stats
	for _, s := range sinks {
		st2 := s.Stats()
		st.Written += st2.Written
		st.Dropped += st2.Dropped
		st.Buffered += st2.Buffered
	}
	assert.Equal(t, uint64(len(all)), st.Written, "Stats.Written of both instances")
	assert.Zero(t, st.Dropped)
	assert.Zero(t, st.Buffered)
}
