package outside_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
)

// TestAggregatesCountOnceAndSuppress checks guarantee 6 on a deployment,
// for the Rollup and the SQLite sink: 8 goroutines click at once, 50
// visitors of 3 networks, some of them several times, some bots; every
// click is counted exactly once (the report's total clicks are the clicks
// the tracker answered; uniques are the distinct visitors); in a report
// at the README's k = 5, every published cell of a dimension stands for at
// least 5 visitors, a network with 4 visitors is suppressed, not dropped,
// and each dimension's cells, suppressed ones included, add up to the
// total. Checked to fail: with K 1 the 4-visitor network is published.
func TestAggregatesCountOnceAndSuppress(t *testing.T) {
	for _, backend := range []string{"rollup", "sqlite"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			var sink clickstore.Sink
			var b aggregate.Backend
			var flush func()
			if backend == "sqlite" {
				s, err := sqlsink.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "stats.db"), &sqlsink.Options{FlushInterval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
				require.NoError(t, err)
				defer s.Close(ctx)
				sink, b, flush = s, s, func() { require.NoError(t, s.Flush(ctx)) }
			}
			d := newDeployment(t, []string{proxyAddr + "/32"}, nil, sink)
			if sink == nil {
				b, flush = d.stats, func() {}
			}
			mux := http.NewServeMux()
			mux.Handle("GET /go/{link}", d.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) })))
			h := d.mw(mux)

			// 30 visitors in 198.51.100.0/24, 16 in 2001:db8:1::/48, 4 in
			// 203.0.113.0/24; each clicks 1 to 3 times.
			var visitors []netip.Addr
			for i := range 30 {
				visitors = append(visitors, netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}))
			}
			for i := range 16 {
				visitors = append(visitors, netip.MustParseAddr(fmt.Sprintf("2001:db8:1:%x::7", i+1)))
			}
			for i := range 4 {
				visitors = append(visitors, netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)}))
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			clicks := 0
			for g := range 8 {
				wg.Go(func() {
					for i, v := range visitors {
						if (i+g)%3 == 0 {
							continue // not every goroutine clicks for every visitor
						}
						r := hostileRequest(v, true, "/go/spring")
						if i%10 == 9 {
							r.Header.Set("User-Agent", "curl/8.5.0") // a bot
						}
						w := httptest.NewRecorder()
						h.ServeHTTP(w, r)
						if w.Code == http.StatusFound {
							mu.Lock()
							clicks++
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			flush()
			st := d.tracker.Stats()
			require.Equal(t, uint64(clicks), st.Clicks)

			now := time.Now()
			q := aggregate.Query{Link: "spring", Granularity: aggregate.Day, From: now.Add(-48 * time.Hour), To: now.Add(48 * time.Hour)}
			rep, err := aggregate.Publish(ctx, b, q)
			require.NoError(t, err)
			total := map[aggregate.Scope]aggregate.Counts{}
			sums := map[aggregate.Scope]map[aggregate.Dimension]aggregate.Counts{}
			suppressedNet := false
			for _, c := range rep.Cells {
				if c.Link == "" { // the summary cells of suppressed totals
					continue
				}
				if c.Dimension == aggregate.Total {
					total[c.Scope] = c.Counts
					continue
				}
				if sums[c.Scope] == nil {
					sums[c.Scope] = map[aggregate.Dimension]aggregate.Counts{}
				}
				sums[c.Scope][c.Dimension] = sums[c.Scope][c.Dimension].Add(c.Counts)
				if c.Suppressed {
					if c.Dimension == aggregate.Network {
						suppressedNet = true
					}
					assert.Empty(t, c.Value, "a suppressed cell names no value")
					continue
				}
				assert.GreaterOrEqual(t, c.Visitors, uint64(5), "published cell %s=%q", c.Dimension, c.Value)
				assert.NotEqual(t, "203.0.113.0/24", c.Value, "the network of 4 visitors is not published")
			}
			assert.True(t, suppressedNet, "the small network is suppressed, not dropped")
			require.Len(t, total, 2, "a bucket and a range total")
			for scope, tot := range total {
				assert.Equal(t, uint64(clicks), tot.Clicks, "scope %s: every click once", scope)
				assert.Equal(t, st.Unique, tot.Unique)
				assert.Equal(t, st.Bots, tot.Bots)
				for dim, sum := range sums[scope] {
					assert.Equal(t, tot, sum, "scope %s: the %s cells add up to the total", scope, dim)
				}
			}
			assert.Equal(t, uint64(45), st.Unique, "45 human visitors (every tenth is a bot)")
		})
	}
}
