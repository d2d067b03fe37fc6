package clickstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// Wiring the Tracker into an existing ServeMux: requests to /go/{link}
// are counted, with uniqueness, before the redirect handler runs.
func ExampleTracker_Middleware() {
	keyring, _ := retention.NewKeyring(nil)                           // random keys, destroyed after their window
	builder, _ := clickstore.NewBuilder(ipmask.Default, keyring, nil) // /24 and /48 networks, keyed pseudonyms
	store, _ := clickstore.NewMemory(nil)                             // the 30-minute buffer
	defer store.Close()
	stats, _ := aggregate.New(nil) // what persists: counts
	tracker, _ := clickstore.NewTracker(builder, store, stats, nil)

	track, _ := tracker.Middleware(func(r *http.Request) (string, clickstore.Kind, bool) {
		link, ok := strings.CutPrefix(r.URL.Path, "/go/")
		return link, clickstore.KindClick, ok
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/go/", func(w http.ResponseWriter, r *http.Request) {
		v, _ := clickstore.VisitFromContext(r.Context())
		fmt.Println(v.Link, v.Outcome, v.Uniqueness)
		http.Redirect(w, r, "https://example.com/", http.StatusFound)
	})
	h := track(mux)

	for _, ua := range []string{"Mozilla/5.0 (Windows NT 10.0)", "Mozilla/5.0 (Windows NT 10.0)", "Slackbot 1.0"} {
		r := httptest.NewRequest("GET", "/go/spring-sale", nil)
		r.RemoteAddr = "198.51.100.7:5000"
		r.Header.Set("User-Agent", ua)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	now := time.Now()
	cells, _ := stats.Cells(context.Background(), aggregate.Query{Link: "spring-sale", Granularity: aggregate.Day, From: now.Add(-24 * time.Hour), To: now.Add(24 * time.Hour)})
	for _, c := range cells {
		if c.Dimension == aggregate.Network {
			fmt.Println(c.Value, c.Clicks, "clicks")
		}
	}
	// Output:
	// spring-sale counted unique
	// spring-sale counted repeat
	// spring-sale counted repeat
	// 198.51.100.0/24 3 clicks
}
