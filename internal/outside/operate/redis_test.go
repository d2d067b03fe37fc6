package operate_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/redistest"
)

// redisDocumented is what the metrics package documents for a Redis
// store ([Metrics.Store]) on top of what every store has.
var redisDocumented = map[string][]string{
	"clickanon_store_errors_total":        {"op", "store"},
	"clickanon_store_restarts_total":      {"store"},
	"clickanon_store_refused_full_total":  {"store"},
	"clickanon_store_index_dropped_total": {"store"},
}

// TestRedisDownMidRunScraped kills the Redis the linktracker uses while
// clicks go on and a goroutine scrapes /metrics, then starts it again
// (empty). Through it every scrape is well formed and no counter goes
// back (a store failure resets nothing); the Redis store's own metrics
// are there as documented (op labels among record, latest, sweep,
// index); the failures are counted (store errors by op, tracker store
// failures, sweep errors); /healthz goes 503 and back; every click is
// counted once (the stats API agrees with the counted requests) and no
// answer or log line holds a visitor's address. Checked to fail:
// monotonic with its comparison reversed, and an op label renamed in
// metrics.Store ("indexes") fails the shape check.
func TestRedisDownMidRunScraped(t *testing.T) {
	t.Parallel() // a child process, waited on
	srv := redistest.Start(t, &redistest.Options{Local: true})
	p := start(t, "-redis", srv.Addr(), "-store-timeout", "200ms", "-flush-interval", "100ms")
	id := p.createLink("https://example.com/redis-down")
	vs := visitors()

	errs := make(chan error, 100)
	stop := make(chan struct{})
	var scraper sync.WaitGroup
	scraper.Go(func() { p.scrapeUntil(stop, errs) })
	n := 0
	click := func(vs []visitor) {
		for _, v := range vs {
			code, _, err := p.do("GET", "/l/"+id, v.xff, "", "")
			require.NoError(t, err)
			require.Equal(t, http.StatusFound, code, "a click is answered whatever the store")
			n++
		}
	}
	click(vs[:20])
	srv.Kill()
	click(vs[20:40])
	p.Eventually("/healthz to see Redis gone", func() bool {
		code, _ := p.health()
		return code == http.StatusServiceUnavailable
	})
	assert.Positive(t, p.value(`clickanon_tracker_store_failures_total{tracker="linktracker"}`))
	assert.Positive(t, p.value(`clickanon_store_sweep_errors_total{store="redis"}`))
	srv.Restart()
	p.Eventually("/healthz ok again", func() bool {
		code, _ := p.health()
		return code == http.StatusOK
	})
	click(vs[40:])
	close(stop)
	scraper.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}

	fams, _, err := p.scrape()
	require.NoError(t, err)
	checkShape(t, fams)
	for name, labels := range redisDocumented {
		f := fams[name]
		if !assert.NotNil(t, f, name) {
			continue
		}
		assert.Equal(t, "counter", f.typ, name)
		assert.NotEmpty(t, f.help, name)
		for series := range f.samples {
			var got []string
			for _, m := range labelPair.FindAllStringSubmatch(series, -1) {
				got = append(got, m[1])
			}
			assert.Equal(t, labels, got, series)
		}
	}
	assert.Positive(t, sum(fams["clickanon_store_errors_total"], ""), "the store's failures by op")
	p.Eventually("the stats agree", func() bool {
		_, st := p.stats(id)
		return st.Clicks == uint64(n)
	})
	assert.EqualValues(t, n, p.value(`clickanon_tracker_requests_total{outcome="counted",tracker="linktracker"}`), fmt.Sprint("clicks: ", n))
	p.noLeak(t, addrsOf(t, vs))
	p.noLeak(t, addrsOf(t, vs))
}
