package track

import (
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// t0 is when the agent cache tests look agents up.
var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// The agent cache classifies each agent once while it is cached, answers a
// hit without allocating, and never holds more entries than its size.
func TestAgentCache(t *testing.T) {
	var calls atomic.Int64
	classify := func(ua string) Agent {
		calls.Add(1)
		return Classify(ua)
	}
	c := newAgentCache(64, time.Hour, time.Now, classify)
	require.Len(t, c.slots, 64)

	ua := "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
	e := c.get(ua, t0)
	assert.Equal(t, Classify(ua), e.agent)
	assert.Equal(t, clickstore.DigestAgent(ua), e.digest)
	assert.Equal(t, int64(1), calls.Load())

	allocs := testing.AllocsPerRun(100, func() { e = c.get(ua, t0) })
	assert.Zero(t, allocs)
	assert.Equal(t, int64(1), calls.Load(), "a hit does not classify again")

	for i := range 10_000 {
		c.get(fmt.Sprintf("agent/%d", i), t0)
	}
	n := 0
	for i := range c.slots {
		if c.slots[i].Load() != nil {
			n++
		}
	}
	assert.LessOrEqual(t, n, 64)

	// An agent longer than maxCachedAgent is classified by its start and
	// not kept, so that clients cannot make the cache hold much.
	long := "curl/8.4.0 " + strings.Repeat("x", maxCachedAgent)
	before := calls.Load()
	e = c.get(long, t0)
	assert.Equal(t, LabelHTTPClient, e.agent.Bot)
	assert.Equal(t, clickstore.DigestAgent(long), e.digest, "the digest is of the whole agent")
	c.get(long, t0)
	assert.Equal(t, before+2, calls.Load(), "not cached")
	for i := range c.slots {
		if p := c.slots[i].Load(); p != nil {
			assert.LessOrEqual(t, p.n, maxCachedAgent)
		}
	}

	assert.Len(t, newAgentCache(1, time.Hour, time.Now, classify).slots, 2, "sizes round up to a two-way set")
	assert.Len(t, newAgentCache(100, time.Hour, time.Now, classify).slots, 128, "and to a power of two")
}

// Concurrent lookups of the same and of different agents agree with the
// classifier (run with -race).
func TestAgentCacheConcurrent(t *testing.T) {
	c := newAgentCache(8, time.Hour, time.Now, Classify)
	agents := []string{"curl/8.4.0", "Slackbot 1.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Mobile/15E148", "", "WhatsApp/2.23.20.0 A", "axios/1.7.7", "Twitterbot/1.0", "Mozilla/5.0 (Windows NT 10.0)", "Java/17.0.2", "okhttp/4.12.0", "libwww-perl/6.72", "PostmanRuntime/7.39.0"}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				ua := agents[(i+w)%len(agents)]
				e := c.get(ua, t0)
				if !assert.Equal(t, Classify(ua), e.agent, ua) || !assert.Equal(t, clickstore.DigestAgent(ua), e.digest, ua) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkAgent: the tracker's cached classification of a user agent it
// has seen, against classifying it afresh.
func BenchmarkAgent(b *testing.B) {
	ua := "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36"
	b.Run("baseline=Classify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Classify(ua)
		}
	})
	b.Run("cached", func(b *testing.B) {
		c := newAgentCache(DefaultAgentCache, time.Hour, time.Now, Classify)
		now := time.Now()
		c.get(ua, now)
		b.ReportAllocs()
		for b.Loop() {
			c.get(ua, now)
		}
	})
}

// The cache keeps no agent's text: a user agent may carry its sender's
// address, and the cache outlives the requests.
func TestAgentCacheHoldsNoAgentText(t *testing.T) {
	c := newAgentCache(64, time.Hour, time.Now, Classify)
	agents := []string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0 (from 198.51.100.7)",
		"Mozilla/5.0 (Linux; Android 14; 2001:db8:1:2::7) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36",
		"MyApp/1.0 (client 203.0.113.9; build 7)",
	}
	for _, ua := range agents {
		c.get(ua, t0)
	}
	n := 0
	for i := range c.slots {
		e := c.slots[i].Load()
		if e == nil {
			continue
		}
		n++
		held := fmt.Sprintf("%+v %#v", *e, *e)
		ipmasktest.AssertNoRawIP(t, ipmask.Policy{}, held, "cache entry %d", i)
		for _, ua := range agents {
			assert.NotContains(t, held, ua[:20], "cache entry %d holds agent text", i)
		}
	}
	assert.Positive(t, n, "entries were looked at") // two agents may share a slot
}

// An entry answers for one window from its making: at its end, or at a
// clock set back before its start, the agent is classified again.
func TestAgentCacheEntriesLiveOneWindow(t *testing.T) {
	var calls atomic.Int64
	c := newAgentCache(64, 30*time.Minute, time.Now, func(ua string) Agent { calls.Add(1); return Classify(ua) })
	ua := "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
	for _, step := range []struct {
		name  string
		at    time.Time
		calls int64
	}{
		{"first sighting", t0, 1},
		{"within the window", t0.Add(30*time.Minute - time.Nanosecond), 1},
		{"at the window's end", t0.Add(30 * time.Minute), 2},
		{"within the new entry's window", t0.Add(59 * time.Minute), 2},
		{"clock set back before the entry", t0.Add(29 * time.Minute), 3},
	} {
		e := c.get(ua, step.at)
		assert.Equal(t, Classify(ua), e.agent, step.name)
		assert.Equal(t, step.calls, calls.Load(), step.name)
	}
}

// The timer clears expired entries while no request comes, and stops once
// the cache is empty.
func TestAgentCacheForgetsWithoutRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newAgentCache(64, 30*time.Minute, time.Now, Classify)
		held := func() (n int) {
			for i := range c.slots {
				if c.slots[i].Load() != nil {
					n++
				}
			}
			return n
		}
		// Two agents stored in different slots (the seed is random, so
		// pick the second to miss the first's slot), so that neither
		// replaces the other.
		slot := func(ua string) uint64 {
			h := maphash.String(c.seed, ua)
			return h&c.mask | h>>63
		}
		first := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) first"
		second := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) second"
		for i := 0; slot(second) == slot(first); i++ {
			second = fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0; Win64; x64) second %d", i)
		}
		c.get(first, time.Now())
		time.Sleep(10 * time.Minute)
		c.get(second, time.Now())
		require.Equal(t, 2, held())

		time.Sleep(20*time.Minute - time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, 2, held(), "the first entry lives its whole window")
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, 1, held(), "the first entry is cleared at its end")
		assert.True(t, c.armed.Load(), "the timer waits for the second")

		time.Sleep(10 * time.Minute)
		synctest.Wait()
		assert.Zero(t, held(), "the second entry is cleared at its end")
		assert.False(t, c.armed.Load(), "an empty cache has no timer running")

		c.get("Mozilla/5.0 (Windows NT 10.0; Win64; x64) third", time.Now())
		assert.True(t, c.armed.Load(), "a new entry arms the timer again")
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		assert.Zero(t, held())
	})
}

// The timer scans the table at most clearAhead times a window: when it
// fires for the first entry due, it also clears those due within
// window/clearAhead after it, and none earlier.
func TestAgentCacheClearsInBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const window = 64 * time.Minute // window/clearAhead is a minute
		c := newAgentCache(4096, window, time.Now, Classify)
		// dueBy counts the entries held, and those of them that end by d.
		dueBy := func(d time.Time) (held, due int) {
			for i := range c.slots {
				if e := c.slots[i].Load(); e != nil {
					held++
					if e.born+int64(window) <= d.UnixNano() {
						due++
					}
				}
			}
			return held, due
		}
		start := time.Now()
		for i := range 180 { // one new agent every 10 s for half an hour
			c.get(fmt.Sprintf("Mozilla/5.0 agent %d", i), time.Now())
			time.Sleep(10 * time.Second)
		}
		first := start.Add(window) // when the first entry is due
		time.Sleep(time.Until(first) - time.Nanosecond)
		synctest.Wait()
		n, due := dueBy(first.Add(time.Minute))
		require.Greater(t, due, 1, "entries due within a minute of the first")
		_, gone := dueBy(time.Now())
		assert.Zero(t, gone, "nothing is cleared before the first entry is due")

		time.Sleep(time.Nanosecond)
		synctest.Wait()
		left, soon := dueBy(first.Add(time.Minute))
		assert.Equal(t, n-due, left, "the first entry and those due within a minute of it are cleared together")
		assert.Zero(t, soon)

		var next int64 // when the next entry is due
		for i := range c.slots {
			if e := c.slots[i].Load(); e != nil && (next == 0 || e.born+int64(window) < next) {
				next = e.born + int64(window)
			}
		}
		time.Sleep(time.Until(time.Unix(0, next)) - time.Nanosecond)
		synctest.Wait()
		now, _ := dueBy(time.Now())
		assert.Equal(t, left, now, "no scan before the next entry is due")
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		later, _ := dueBy(time.Now())
		assert.Less(t, later, left, "the next scan comes at the next entry's end")
	})
}
