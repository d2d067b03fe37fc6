package journey_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

// SIGTERM while clicks keep arriving from many visitors at once: the
// tracker stops taking requests, answers those it took, writes every
// count and exits 0; started again on the same database it shows every
// click it answered 302 exactly once: the clicks are at least the 302s
// and at most the 302s plus the requests that got no answer (one the
// server took and counted may lose its answer as the connection closes);
// the unique clicks are at least the visitors that got a 302 and at most
// those that sent one, never more. The flush interval is an hour, so only
// the write on SIGTERM can save them. Checked to fail: with the signal
// replaced by SIGKILL (no final write) the clicks after the restart were
// fewer than the 302s (0 here); with the counts read back doubled (a
// double count) the upper bounds failed.
func TestSIGTERMWhileClicksArrive(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "links.db")
	args := []string{"-db", db, "-trusted-proxies", "127.0.0.1/32", "-create-per-minute", "0", "-flush-interval", "1h"}
	p := start(t, args...)
	ua := http.Header{"User-Agent": {firefox}}
	links := []string{p.create("https://example.com/x", ua), p.create("https://example.com/y", ua)}

	const clickers = 8
	var (
		found, failed [2]atomic.Uint64
		mu            sync.Mutex
		answered      = [2]map[string]bool{{}, {}} // visitors with a 302, per link
		sent          = [2]map[string]bool{{}, {}}
		wg            sync.WaitGroup
		stop          = make(chan struct{})
		some          atomic.Uint64
	)
	for c := range clickers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				li := i % 2
				who := fmt.Sprintf("198.51.%d.%d", 100+c, i%50+1)
				mu.Lock()
				sent[li][who] = true
				mu.Unlock()
				a, err := p.try("GET", "/l/"+links[li], "", http.Header{"User-Agent": {firefox}, "X-Forwarded-For": {who}})
				switch {
				case err != nil:
					failed[li].Add(1)
					return // the server is gone
				case a.code == http.StatusFound:
					found[li].Add(1)
					some.Add(1)
					mu.Lock()
					answered[li][who] = true
					mu.Unlock()
				default:
					failed[li].Add(1)
					return
				}
			}
		})
	}
	p.Eventually("clicks arriving", func() bool { return some.Load() > 300 })
	p.stop()
	close(stop)
	wg.Wait()

	q := start(t, args...)
	for li, l := range links {
		s := q.stats(l)
		t.Logf("link %d: %d answered 302, %d without an answer, %d counted", li, found[li].Load(), failed[li].Load(), s.Clicks)
		assert.GreaterOrEqual(t, s.Clicks, found[li].Load(), "link %d: every click answered 302 is counted", li)
		assert.LessOrEqual(t, s.Clicks, found[li].Load()+failed[li].Load(), "link %d: none twice", li)
		assert.GreaterOrEqual(t, s.Unique, uint64(len(answered[li])), "link %d: unique clicks", li)
		assert.LessOrEqual(t, s.Unique, uint64(len(sent[li])), "link %d: unique clicks", li)
		assert.Zero(t, s.Unknown, "link %d", li)
	}
}
