package outside_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// TestRejectAnswersNothingRaw checks, for the middleware's Reject option,
// that a request whose forwarding header does not parse (it holds the
// visitor's address with leading zeros, or beside junk) is answered 400
// with nothing of it echoed, and that an access log wrapping the
// middleware sees the masked peer and none of the headers (the README:
// "rejected requests included"); KeyFunc, the rate limiters' key, is the
// masked network for the requests it lets through. Checked to fail: with
// the middleware taken out of the chain, the access log holds the
// addresses and the malformed requests are served.
func TestRejectAnswersNothingRaw(t *testing.T) {
	lb, err := clientip.NewTrusted(proxyAddr + "/32")
	require.NoError(t, err)
	r, err := clientip.New(clientip.RightmostUntrusted(lb))
	require.NoError(t, err)
	mw, err := clientip.NewMiddleware(r, ipmask.Default, &clientip.MiddlewareOptions{OnFailure: clientip.Reject})
	require.NoError(t, err)
	var key string
	o := &plainObservers{}
	h := o.accessLog(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, err := clientip.KeyFunc(r)
		require.NoError(t, err)
		key = k
	})))
	for name, c := range map[string]struct {
		xff    string
		status int
	}{
		"leading zeros": {"198.051.100.077", http.StatusBadRequest},
		"junk beside":   {visitor4.String() + "x", http.StatusBadRequest},
		"zone":          {visitor6.String() + "%eth0", http.StatusBadRequest},
		"unknown node":  {visitor4.String() + ", unknown", http.StatusBadRequest},
		"good":          {visitor6.String(), http.StatusOK},
	} {
		t.Run(name, func(t *testing.T) {
			req := browserRequest("/")
			req.RemoteAddr = proxyAddr + ":4711"
			req.Header.Set("X-Forwarded-For", c.xff)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			require.Equal(t, c.status, w.Code)
			assertNoForm(t, w.Body.Bytes(), "the answer", visitor4, visitor6)
			assertNoForm(t, []byte(o.access.String()), "the access log", visitor4, visitor6)
			if c.status == http.StatusOK {
				assert.Equal(t, "2001:db8:1::/48", key)
			}
		})
	}
}

// TestOptOutStoresNothing checks that a visitor who opts out (Global
// Privacy Control's Sec-GPC: 1, as the tracker's documentation suggests,
// or a query parameter) leaves nothing in the store or the statistics, and
// that one who does not is counted. Checked to fail: without OptOutHeader
// the GPC request is counted.
func TestOptOutStoresNothing(t *testing.T) {
	ctx := context.Background()
	d := newDeployment(t, nil, nil, nil)
	tracker, err := track.New(d.builder, d.store, d.stats, &track.Options{OptOutHeader: "Sec-Gpc", OptOutParam: "optout", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /go/{link}", tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) })))
	h := d.mw(mux)
	send := func(path string, gpc bool) {
		r := browserRequest(path)
		r.RemoteAddr = netip.AddrPortFrom(visitor4, 4711).String()
		if gpc {
			r.Header.Set("Sec-GPC", "1")
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	send("/go/spring", true)
	send("/go/spring?optout=1", false)
	assert.Equal(t, uint64(2), tracker.Stats().OptedOut)
	assert.Empty(t, d.held(t))
	now := time.Now()
	cells, err := d.stats.Cells(ctx, aggregate.Query{Link: "spring", From: now.Add(-48 * time.Hour), To: now.Add(48 * time.Hour)})
	require.NoError(t, err)
	assert.Empty(t, cells)
	send("/go/spring", false)
	assert.Len(t, d.held(t), 1)
}
