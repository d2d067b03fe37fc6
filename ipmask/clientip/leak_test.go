package clientip_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// noLeak checks that text holds no address the default policy does not
// mask, and not the input it describes (when that is long enough to be
// told from the message's own words).
func noLeak(t testing.TB, text, input string) {
	t.Helper()
	ipmasktest.AssertNoRawIP(t, ipmask.Default, []byte(text))
	if input = strings.TrimSpace(input); len(input) >= 6 {
		assert.NotContains(t, text, input, "the message quotes its input")
	}
}

// TestPrintingShowsNoRawAddr prints every exported type, as values and
// pointers, with every common verb and through slog, after use with
// canary addresses: no raw address appears (Info.Raw is set only by
// KeepRaw, an explicit request for it, and is left out here).
func TestPrintingShowsNoRawAddr(t *testing.T) {
	tr, err := clientip.NewTrusted("198.51.100.77", "2001:db8:1:2:3:4:5:6")
	require.NoError(t, err)
	r, err := clientip.New(clientip.SingleHeader(tr, "X-Real-IP"), clientip.Forwarded(tr), clientip.RightmostUntrusted(tr), clientip.TrustedHops(tr, 2), clientip.RemoteAddr())
	require.NoError(t, err)
	_, resolveErr := r.Resolve(http.Header{"X-Real-Ip": {"198.51.100.78x"}}, "198.51.100.77:1")
	require.Error(t, resolveErr)
	mw, err := clientip.NewMiddleware(r, ipmask.Default, &clientip.MiddlewareOptions{OnFailure: clientip.Continue})
	require.NoError(t, err)
	var info clientip.Info
	var ctx context.Context
	h := mw(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		info, _ = clientip.FromContext(req.Context())
		ctx = req.Context()
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "198.51.100.77:1"
	req.Header.Set("X-Real-Ip", "2001:db8:1:2:3:4:5:7")
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.Equal(t, clientip.Resolved, info.Outcome)

	values := []any{tr, r, r.Strategies(), r.Stats(), info, &info, ctx, resolveErr,
		clientip.UsePeer, clientip.Resolved, clientip.Strategy{}}
	var b strings.Builder
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			fmt.Fprintf(&b, verb+"\n", v)
		}
	}
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "info", info, "err", resolveErr, "stats", r.Stats())
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "info", info, "err", resolveErr, "strategy", r.Strategies()[0])
	noLeak(t, b.String(), "198.51.100.77")
	noLeak(t, b.String(), "2001:db8:1:2:3:4:5:7")
}

type connKey struct{}

// TestPrintedContextShowsNoRawAddr: behind the middleware, on a real
// server whose ConnContext hook stores the peer's address (a Stringer)
// and net/http its own local address (here, as the client's, 127.0.0.1),
// printing the request's context, or one a handler derives from it, with
// any verb shows neither.
func TestPrintedContextShowsNoRawAddr(t *testing.T) {
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	printed := make(chan string, 1)
	srv := httptest.NewUnstartedServer(mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		derived, cancel := context.WithCancel(context.WithValue(r.Context(), connKey{}, "x"))
		defer cancel()
		var b strings.Builder
		for _, ctx := range []context.Context{r.Context(), derived} {
			fmt.Fprintf(&b, "%v %+v %#v %s\n", ctx, ctx, ctx, ctx)
		}
		printed <- b.String()
	})))
	srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, c.RemoteAddr())
	}
	srv.Start()
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	out := <-printed
	noLeak(t, out, "127.0.0.1")
}
