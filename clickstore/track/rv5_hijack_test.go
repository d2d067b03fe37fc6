package track_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// TestClientipHijackEitherOrder: a handler that takes the connection over
// (a websocket upgrade, through http.ResponseController as current
// libraries do) behind both the tracker and the clientip middleware, in
// either order, gets a connection reporting the masked peer: the tracker's
// writer, which has Unwrap and no Hijack of its own, neither hides the
// connection from the middleware's writer nor reaches past it.
func TestClientipHijackEitherOrder(t *testing.T) {
	mask, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	for _, outside := range []bool{true, false} {
		t.Run(map[bool]string{true: "clientip outside", false: "clientip inside"}[outside], func(t *testing.T) {
			e := newTrackEnv(t, nil)
			seen := make(chan string, 1)
			ws := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				c, brw, err := http.NewResponseController(w).Hijack()
				if err != nil {
					seen <- "hijack: " + err.Error()
					return
				}
				defer c.Close()
				seen <- c.RemoteAddr().String()
				_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				_ = brw.Flush()
			})
			mux := http.NewServeMux()
			var h http.Handler = mux
			if outside {
				mux.Handle("GET /go/{link}", e.tracker.Handler(ws))
				h = mask(mux)
			} else {
				mux.Handle("GET /go/{link}", e.tracker.Handler(mask(ws)))
			}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			resp, err := http.Get(srv.URL + "/go/spring-sale")
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			require.NoError(t, resp.Body.Close())
			got := <-seen
			assert.True(t, strings.HasPrefix(got, "127.0.0.0:"), "the hijacked connection's peer, masked: %q", got)
		})
	}
}
