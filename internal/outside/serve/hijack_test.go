package serve_test

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A tracked route that upgrades the connection (a WebSocket handshake
// answered on the hijacked connection, with http.Hijacker or with
// http.ResponseController) is not counted, whatever it writes there,
// 101 or a redirect: the tracker cannot see the answer, as documented.
// The same route answering a plain GET with a redirect still is.
func TestUpgradedConnectionsAreNotCounted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer string
		rc     bool
	}{
		{"101 via Hijacker", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", false},
		{"101 via ResponseController", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", true},
		{"302 via Hijacker", "HTTP/1.1 302 Found\r\nLocation: https://example.com/\r\nContent-Length: 0\r\n\r\n", false},
		{"302 via ResponseController", "HTTP/1.1 302 Found\r\nLocation: https://example.com/\r\nContent-Length: 0\r\n\r\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, nil)
			mux := http.NewServeMux()
			var served sync.WaitGroup // the handlers of hijacked connections, which srv.Close does not wait for
			tracked := g.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Upgrade") == "" {
					http.Redirect(w, r, "https://example.com/", http.StatusFound)
					return
				}
				var (
					c   net.Conn
					buf *bufio.ReadWriter
					err error
				)
				if tc.rc {
					c, buf, err = http.NewResponseController(w).Hijack()
				} else {
					c, buf, err = w.(http.Hijacker).Hijack()
				}
				if err != nil {
					http.Error(w, "no", http.StatusInternalServerError)
					return
				}
				defer c.Close()
				_, _ = buf.WriteString(tc.answer)
				_ = buf.Flush()
			}))
			mux.HandleFunc("GET /go/{link}", func(w http.ResponseWriter, r *http.Request) {
				served.Add(1)
				defer served.Done()
				tracked.ServeHTTP(w, r)
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()

			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			require.NoError(t, err)
			_, err = c.Write([]byte("GET /go/chat HTTP/1.1\r\nHost: x\r\nUser-Agent: " + chrome +
				"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"))
			require.NoError(t, err)
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(line, strings.SplitN(tc.answer, "\r\n", 2)[0]), line)
			_ = c.Close()

			r, err := http.NewRequest("GET", srv.URL+"/go/chat", nil)
			require.NoError(t, err)
			r.Header.Set("User-Agent", chrome)
			resp, err := client().Do(r)
			require.NoError(t, err)
			_ = resp.Body.Close()
			srv.Close()
			served.Wait() // every handler has returned

			s := g.tracker.Stats()
			assert.Equal(t, uint64(1), s.Clicks, "the upgrade was counted, or the plain GET was not")
			assert.Equal(t, uint64(1), s.Unserved)
			assert.Len(t, g.sink.all(), 1)
		})
	}
}
