package linkapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/retention"
)

// conversions counts what a sink is given as a conversion.
type conversions struct {
	mu sync.Mutex
	n  int
}

func (c *conversions) Add(_ context.Context, cl clickstore.Click, _ clickstore.Uniqueness) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl.Kind == clickstore.KindConversion {
		c.n++
	}
	return nil
}

// The track package counts a HEAD or a prefetch of a conversion (Track
// with KindConversion, and ConversionHandler) as a conversion attributed
// to the visitor's click, like a real one: its bot label is kept on the
// conversion, but the conversion is counted. A bot is "labelled and
// counted as such, never as unique" (issue 8); a conversion nobody made
// should not be attributed. The linktracker now skips them itself (see
// TestPrefetchedPixelIsNoConversion); every other user of the package
// still counts them. Checked to fail: it fails on the package as it is
// (5 conversions counted of 5 requests that were no conversion).
func TestTrackAttributesPrefetchedConversions(t *testing.T) {
	t.Skip("FINDING F1: clickstore/track attributes HEAD and prefetched conversions to the visitor's click")
	kr, err := retention.NewKeyring(nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = kr.Close() })
	b, err := clickstore.NewBuilder(ipmask.Default, kr, nil)
	require.NoError(t, err)
	store, err := clickstore.NewMemory(nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	sink := &conversions{}
	tr, err := track.New(b, store, sink, &track.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)

	visit := func(method, target string, h http.Header) *http.Request {
		r := httptest.NewRequest(method, target, nil)
		r.RemoteAddr = "198.51.100.23:4711"
		r.Header.Set("User-Agent", browser)
		for k, v := range h {
			r.Header[k] = v
		}
		return r
	}
	require.Equal(t, track.Counted, tr.Track(visit("GET", "/l/x", nil), "x", clickstore.KindClick).Outcome)
	notConversions := []*http.Request{
		visit("HEAD", "/thanks.gif", nil),
		visit("GET", "/thanks.gif", http.Header{"Sec-Purpose": {"prefetch;prerender"}}),
		visit("GET", "/thanks.gif", http.Header{"Purpose": {"prefetch"}}),
		visit("GET", "/thanks.gif", http.Header{"X-Moz": {"prefetch"}}),
	}
	for _, r := range notConversions {
		v := tr.Track(r, "", clickstore.KindConversion)
		assert.NotEqual(t, track.Counted, v.Outcome, "%s %v: labelled %q", r.Method, r.Header, v.Bot)
	}
	h := tr.ConversionHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), visit("GET", "/thanks.gif", http.Header{"Sec-Purpose": {"prefetch"}}))
	assert.Zero(t, sink.n, "conversions counted")
}
