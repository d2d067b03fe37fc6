package outside_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/retention"
)

// Example shows the deployment these tests assemble from the README's
// snippets, and what an outside tester looks at: what the handler sees of
// a visitor behind the trusted proxy, and what the store holds.
func Example() {
	keyring, _ := retention.NewKeyring(&retention.KeyringOptions{Logger: slog.New(slog.DiscardHandler)})
	defer keyring.Close()
	builder, _ := clickstore.NewBuilder(ipmask.Default, keyring, nil)
	store, _ := clickstore.NewMemory(nil)
	defer store.Close()
	stats, _ := aggregate.New(nil)
	defer stats.Close()
	lb, _ := clientip.NewTrusted("10.0.0.0/8")
	resolver, _ := clientip.New(clientip.RightmostUntrusted(lb), clientip.RemoteAddr())
	mw, _ := clientip.NewMiddleware(resolver, ipmask.Default, nil)
	tracker, _ := track.New(builder, store, stats, &track.Options{Resolver: resolver})

	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("handler sees", r.RemoteAddr, r.Header.Get("X-Forwarded-For") == "", r.URL.RawQuery)
		w.WriteHeader(http.StatusFound)
	})))
	r := httptest.NewRequest(http.MethodGet, "/go/spring?ip=198.51.100.77", nil)
	r.RemoteAddr = "10.0.0.1:4711"
	r.Header.Set("X-Forwarded-For", "198.51.100.77")
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
	mw(mux).ServeHTTP(httptest.NewRecorder(), r)

	for c, err := range store.All(context.Background()) {
		if err == nil {
			fmt.Println("store holds", c.Link, c.Network)
		}
	}
	// Output:
	// handler sees 198.51.100.0:4711 true ip=198.51.100.0
	// store holds spring 198.51.100.0/24
}
