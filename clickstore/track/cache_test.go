package track

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
)

// The agent cache classifies each agent once while it is cached, answers a
// hit without allocating, and never holds more entries than its size.
func TestAgentCache(t *testing.T) {
	var calls atomic.Int64
	classify := func(ua string) Agent {
		calls.Add(1)
		return Classify(ua)
	}
	c := newAgentCache(64, classify)
	require.Len(t, c.slots, 64)

	ua := "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
	e := c.get(ua)
	assert.Equal(t, Classify(ua), e.agent)
	assert.Equal(t, clickstore.DigestAgent(ua), e.digest)
	assert.Equal(t, int64(1), calls.Load())

	allocs := testing.AllocsPerRun(100, func() { e = c.get(ua) })
	assert.Zero(t, allocs)
	assert.Equal(t, int64(1), calls.Load(), "a hit does not classify again")

	for i := range 10_000 {
		c.get(fmt.Sprintf("agent/%d", i))
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
	e = c.get(long)
	assert.Equal(t, LabelHTTPClient, e.agent.Bot)
	assert.Equal(t, clickstore.DigestAgent(long), e.digest, "the digest is of the whole agent")
	c.get(long)
	assert.Equal(t, before+2, calls.Load(), "not cached")
	for i := range c.slots {
		if p := c.slots[i].Load(); p != nil {
			assert.LessOrEqual(t, len(p.ua), maxCachedAgent)
		}
	}

	assert.Len(t, newAgentCache(1, classify).slots, 2, "sizes round up to a two-way set")
	assert.Len(t, newAgentCache(100, classify).slots, 128, "and to a power of two")
}

// Concurrent lookups of the same and of different agents agree with the
// classifier (run with -race).
func TestAgentCacheConcurrent(t *testing.T) {
	c := newAgentCache(8, Classify)
	agents := []string{"curl/8.4.0", "Slackbot 1.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Mobile/15E148", "", "WhatsApp/2.23.20.0 A", "axios/1.7.7", "Twitterbot/1.0", "Mozilla/5.0 (Windows NT 10.0)", "Java/17.0.2", "okhttp/4.12.0", "libwww-perl/6.72", "PostmanRuntime/7.39.0"}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				ua := agents[(i+w)%len(agents)]
				e := c.get(ua)
				if !assert.Equal(t, Classify(ua), e.agent, ua) || !assert.Equal(t, ua, e.ua) {
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
		c := newAgentCache(DefaultAgentCache, Classify)
		c.get(ua)
		b.ReportAllocs()
		for b.Loop() {
			c.get(ua)
		}
	})
}
