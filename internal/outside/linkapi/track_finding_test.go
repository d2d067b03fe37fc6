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
	mu  sync.Mutex
	n   int
	bot string // the last conversion's bot label
}

func (c *conversions) lastBot() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bot
}

func (c *conversions) Add(_ context.Context, cl clickstore.Click, _ clickstore.Uniqueness) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl.Kind == clickstore.KindConversion {
		c.n++
		c.bot = cl.Bot
	}
	return nil
}

// The track package counts a conversion from a HEAD or a prefetch (Track
// with KindConversion, and ConversionHandler) as it counts such a click:
// labelled as a bot and counted as such (issue 8: "a bot is labelled and
// counted as such"), attributed to the visitor's click with the label
// kept, so that statistics can tell it apart. A prerendered thank-you
// page's pixel is fetched once, whether or not the visitor then opens the
// page: dropping it would lose the conversions of those who do. A caller
// that wants none checks track.BotLabel first, as the linktracker does
// (TestPrefetchedPixelIsNoConversion). Checked to fail: with convert
// returning Unattributed for a bot (the review's proposed change), no
// conversion reaches the sink.
func TestTrackLabelsPrefetchedConversions(t *testing.T) {
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
		assert.Equal(t, track.Counted, v.Outcome, "%s %v", r.Method, r.Header)
		assert.Equal(t, "x", v.Link, "attributed to the visitor's click")
		assert.Contains(t, []string{track.LabelHead, track.LabelPrefetch}, v.Bot, "%s %v: labelled", r.Method, r.Header)
		assert.Equal(t, v.Bot, sink.lastBot(), "the label reaches the sink")
	}
	h := tr.ConversionHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), visit("GET", "/thanks.gif", http.Header{"Sec-Purpose": {"prefetch"}}))
	assert.Equal(t, len(notConversions)+1, sink.n, "conversions counted, each labelled")
	assert.Equal(t, track.LabelPrefetch, sink.lastBot())
}
