package clientip_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/reqctx"
	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// TestMiddlewareInPlaceRealServer runs the middleware, which rewrites the
// request net/http's server hands it, behind a real server over HTTP/1.1
// and HTTP/2, with concurrent requests that send bodies, under the race
// detector: the server reads nothing of the request from another
// goroutine while the handler runs. A logging middleware wrapping it
// sees, after it returns, the masked RemoteAddr and the Info, and no raw
// address; the context chain the server made is intact under the node.
func TestMiddlewareInPlaceRealServer(t *testing.T) {
	for _, proto := range []struct {
		name  string
		major int
	}{{"HTTP/1.1", 1}, {"HTTP/2", 2}} {
		t.Run(proto.name, func(t *testing.T) {
			mw, err := clientip.NewMiddleware(loopbackResolver(t), ipmask.Default, nil)
			require.NoError(t, err)
			type seen struct {
				remote       string
				info         clientip.Info
				afterHeaders []string
			}
			var mu sync.Mutex
			var logged []seen
			inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				if err != nil {
					http.Error(w, "body", http.StatusInternalServerError)
					return
				}
				_, ran := reqctx.ClientAddr(r.Context())
				_, server := r.Context().Value(http.ServerContextKey).(*http.Server)
				w.Header().Set("X-Seen", fmt.Sprintf("%s|%t|%t", b, ran, server))
				_, _ = io.WriteString(w, r.RemoteAddr)
			})
			logging := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					next.ServeHTTP(w, r)
					info, _ := clientip.FromContext(r.Context())
					s := seen{remote: r.RemoteAddr, info: info, afterHeaders: r.Header.Values("X-Forwarded-For")}
					mu.Lock()
					logged = append(logged, s)
					mu.Unlock()
				})
			}
			srv := httptest.NewUnstartedServer(logging(mw(inner)))
			srv.EnableHTTP2 = proto.major == 2
			srv.StartTLS()
			defer srv.Close()
			client := srv.Client()

			const workers, each = 8, 10
			var wg sync.WaitGroup
			errs := make(chan error, workers*each)
			for g := range workers {
				wg.Go(func() {
					for i := range each {
						n := fmt.Sprint(g*each + i)
						req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, strings.NewReader("body "+n))
						if err != nil {
							errs <- err
							return
						}
						req.Header.Set("X-Forwarded-For", "203.0.113.9, "+canary4)
						req.Header.Set("X-N", n)
						resp, err := client.Do(req)
						if err != nil {
							errs <- err
							return
						}
						got, err := io.ReadAll(resp.Body)
						_ = resp.Body.Close()
						if err != nil {
							errs <- err
							return
						}
						if resp.ProtoMajor != proto.major || !strings.HasPrefix(string(got), "198.51.100.0:") ||
							resp.Header.Get("X-Seen") != "body "+n+"|true|true" {
							errs <- fmt.Errorf("request %s: HTTP/%d, %q, %q", n, resp.ProtoMajor, got, resp.Header.Get("X-Seen"))
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				assert.NoError(t, err)
			}
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, logged, workers*each)
			for _, s := range logged {
				assert.True(t, strings.HasPrefix(s.remote, "198.51.100.0:"), "the outer handler sees the masked RemoteAddr, not %q", s.remote)
				assert.Equal(t, clientip.Resolved, s.info.Outcome, "and the Info")
				assert.Empty(t, s.afterHeaders, "and no X-Forwarded-For")
				noLeak(t, fmt.Sprint(s), canary4)
			}
		})
	}
}

// TestMiddlewareUnderTimeoutHandler: http.TimeoutHandler runs the
// middleware on a goroutine of its own, with a copy of the request, and
// answers from another when the handler overruns; that goroutine reads
// nothing the middleware writes (the race detector would say so).
func TestMiddlewareUnderTimeoutHandler(t *testing.T) {
	mw, err := clientip.NewMiddleware(loopbackResolver(t), ipmask.Default, nil)
	require.NoError(t, err)
	release, done := make(chan struct{}), make(chan struct{})
	var remote string
	slow := mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		defer close(done)
		<-r.Context().Done() // overruns until the timeout cancels it
		<-release            // and returns only once TimeoutHandler has answered
		remote = r.RemoteAddr
	}))
	h := http.TimeoutHandler(slow, time.Millisecond, "timeout")
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	req.Header.Set("X-Forwarded-For", canary4)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	close(release)
	<-done // the handler's goroutine has finished: what it wrote can be read
	assert.Equal(t, "198.51.100.0:5555", remote)
	assert.Equal(t, "127.0.0.1:5555", req.RemoteAddr, "TimeoutHandler handed on a copy of the request")
	assert.Empty(t, req.Header.Values("X-Forwarded-For"), "whose header map is the same")
}

// TestServerErrorLogMasked pins the advice of the package documentation:
// net/http logs a handler's panic with the connection's raw address,
// behind the middleware too; an ErrorLog made from logmask's handler
// masks it.
func TestServerErrorLogMasked(t *testing.T) {
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	serve := func(errorLog *log.Logger) {
		srv := httptest.NewUnstartedServer(mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic("boom")
		})))
		srv.Config.ErrorLog = errorLog
		srv.Start()
		defer srv.Close()
		resp, err := srv.Client().Get(srv.URL)
		if err == nil {
			_ = resp.Body.Close()
		}
	}
	var raw, masked testlog.Buffer
	serve(log.New(&raw, "", 0))
	require.Contains(t, raw.String(), "panic serving 127.0.0.1:", "net/http logs the raw peer")

	h, err := logmask.NewHandler(slog.NewTextHandler(&masked, nil), ipmask.Default, nil)
	require.NoError(t, err)
	serve(slog.NewLogLogger(h, slog.LevelError))
	assert.Contains(t, masked.String(), "panic serving 127.0.0.0:")
	ipmasktest.AssertNoRawIP(t, ipmask.Default, masked.String())
}
