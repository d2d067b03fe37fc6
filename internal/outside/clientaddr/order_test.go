package clientaddr_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/retention"
)

// newTracker is the README's tracker, resolving with res.
func newTracker(t *testing.T, res *clientip.Resolver) *track.Tracker {
	t.Helper()
	keyring, err := retention.NewKeyring(nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = keyring.Close() })
	builder, err := clickstore.NewBuilder(ipmask.Default, keyring, nil)
	require.NoError(t, err)
	store, err := clickstore.NewMemory(nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	stats, err := aggregate.New(nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = stats.Close() })
	tracker, err := track.New(builder, store, stats, &track.Options{Resolver: res, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return tracker
}

// TestInstalledTwice checks the package doc's "a request served through
// the middleware again (a retry, or the middleware installed twice, with
// a router between) keeps its first resolution" for the ways a service
// installs it twice: one middleware value on a router and on a route, and
// two built from one configuration (a helper that builds it for each
// route group), with one Resolver or two, the inner one under NoRewrite
// or with a policy that keeps more bits (the doc's condition: the first's
// masked address is masked under it too), a router between that copies
// the request; and the README's "the tracker still tells three visitors of
// one /24 apart" behind both. The handler finds the first resolution's
// Info (Resolved, by the header strategy, the client's network) and the
// tracker counts three unique visitors. Checked to fail: before the fix,
// every row with two values (the second resolved the masked address
// again: Strategy remote-addr, and one unique visitor where there were
// three); with rewritten() made to answer false, the same.
func TestInstalledTwice(t *testing.T) {
	tr, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	newResolver := func() *clientip.Resolver {
		r, err := clientip.New(clientip.RightmostUntrusted(tr), clientip.RemoteAddr())
		require.NoError(t, err)
		return r
	}
	router := func(next http.Handler) http.Handler { // a router that copies the request, as chi's does
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(r.Context()))
		})
	}
	for _, how := range []string{"one value", "two values, one resolver", "two values, two resolvers", "two values, inner NoRewrite", "two values, inner looser policy"} {
		for _, failure := range []clientip.Failure{clientip.UsePeer, clientip.Continue} {
			t.Run(fmt.Sprintf("%s/%s", how, failure), func(t *testing.T) {
				r1 := newResolver()
				opts := &clientip.MiddlewareOptions{OnFailure: failure}
				outer, err := clientip.NewMiddleware(r1, ipmask.Default, opts)
				require.NoError(t, err)
				inner := outer
				switch how {
				case "two values, one resolver":
					inner, err = clientip.NewMiddleware(r1, ipmask.Default, opts)
				case "two values, two resolvers":
					inner, err = clientip.NewMiddleware(newResolver(), ipmask.Default, opts)
				case "two values, inner NoRewrite":
					inner, err = clientip.NewMiddleware(r1, ipmask.Default, &clientip.MiddlewareOptions{OnFailure: failure, NoRewrite: true})
				case "two values, inner looser policy":
					loose, perr := ipmask.New(28, 64)
					require.NoError(t, perr)
					inner, err = clientip.NewMiddleware(r1, loose, opts)
				}
				require.NoError(t, err)
				tracker := newTracker(t, r1)
				var infos []clientip.Info
				ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					info, _ := clientip.FromContext(r.Context())
					infos = append(infos, info)
					w.WriteHeader(http.StatusFound)
				})
				mux := http.NewServeMux()
				mux.Handle("GET /go/{link}", tracker.Handler(inner(ok)))
				h := outer(router(mux))
				for range 2 {
					for _, c := range []string{"198.51.100.7", "198.51.100.8", "198.51.100.9"} {
						req := httptest.NewRequest(http.MethodGet, "/go/spring", nil)
						req.RemoteAddr = "10.0.0.1:4711"
						req.Header.Set("X-Forwarded-For", "203.0.113.9, "+c)
						req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
						w := httptest.NewRecorder()
						h.ServeHTTP(w, req)
						require.Equal(t, http.StatusFound, w.Code)
					}
				}
				require.Len(t, infos, 6)
				for i, info := range infos {
					assert.Equal(t, clientip.Resolved, info.Outcome, "request %d", i)
					assert.Equal(t, "x-forwarded-for/rightmost-untrusted", info.Strategy.String(), "request %d", i)
					assert.Equal(t, netip.MustParsePrefix("198.51.100.0/24"), info.Prefix, "request %d", i)
				}
				st := tracker.Stats()
				assert.Equal(t, uint64(3), st.Unique, "three visitors of one /24 told apart")
				assert.Equal(t, uint64(3), st.Repeat)
			})
		}
	}
}
