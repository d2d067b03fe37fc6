package clientip_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// unwrapOnly is a ResponseWriter wrapper of the modern kind, as the
// tracker's and many loggers' are: no Hijack of its own, only Unwrap, so
// that http.ResponseController reaches the connection through it.
type unwrapOnly struct{ http.ResponseWriter }

func (u unwrapOnly) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// TestMiddlewareHijackedConnMasked takes the connection over behind the
// middleware, as every websocket library does (gorilla/websocket's
// Conn.RemoteAddr is the hijacked conn's), through each way there is: the
// net.Conn handed out reports the peer's masked address, never the raw one,
// and the ResponseWriter keeps the interfaces and the ResponseController
// methods the server's own has.
func TestMiddlewareHijackedConnMasked(t *testing.T) {
	for _, tt := range []struct {
		name    string
		outer   func(http.Handler) http.Handler // between the server and the middleware
		hijack  func(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error)
		checkRW bool
		flusher bool // whether the writer the middleware gets flushes
		tls     bool // HTTP/1.1 over TLS: the conn hijacked is a *tls.Conn
	}{
		{name: "Hijacker", hijack: func(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
			return w.(http.Hijacker).Hijack()
		}, checkRW: true, flusher: true},
		{name: "ResponseController", hijack: func(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
			return http.NewResponseController(w).Hijack()
		}, flusher: true},
		{name: "ResponseController over TLS", hijack: func(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
			return http.NewResponseController(w).Hijack()
		}, flusher: true, tls: true},
		{name: "ResponseController, Unwrap-only writer outside", outer: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(unwrapOnly{w}, r) })
		}, hijack: func(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
			return http.NewResponseController(w).Hijack()
		}},
		{name: "Hijacker through an Unwrap-only writer inside", hijack: func(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
			return http.NewResponseController(unwrapOnly{w}).Hijack()
		}, flusher: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
			require.NoError(t, err)
			type result struct {
				remote, connRemote, connType string
				flusher, readerFrom, pusher  bool
				rcErrs                       []error
				err                          error
			}
			got := make(chan result, 1)
			var h http.Handler = mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				res := result{remote: r.RemoteAddr}
				_, res.flusher = w.(http.Flusher)
				_, res.readerFrom = w.(io.ReaderFrom)
				_, res.pusher = w.(http.Pusher)
				if tt.checkRW {
					rc := http.NewResponseController(w)
					res.rcErrs = []error{rc.SetReadDeadline(time.Now().Add(time.Minute)), rc.SetWriteDeadline(time.Now().Add(time.Minute)), rc.EnableFullDuplex()}
				}
				c, brw, err := tt.hijack(w)
				if err != nil {
					res.err = err
					got <- res
					return
				}
				defer c.Close()
				res.connRemote, res.connType = c.RemoteAddr().String(), fmt.Sprintf("%T", c.RemoteAddr())
				_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
				_ = brw.Flush()
				got <- res
			}))
			if tt.outer != nil {
				h = tt.outer(h)
			}
			srv := httptest.NewUnstartedServer(h)
			if tt.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			resp, err := srv.Client().Get(srv.URL)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, "ok", string(b), "the hijacked connection answers")
			res := <-got
			require.NoError(t, res.err)
			require.True(t, strings.HasPrefix(res.remote, "127.0.0.0:"), res.remote)
			assert.Equal(t, res.remote, res.connRemote, "the connection's RemoteAddr is the peer's masked address: here the client's, as in the request")
			assert.Equal(t, "*net.TCPAddr", res.connType, "and still a TCP address")
			assert.Equal(t, tt.flusher, res.flusher, "the middleware's writer flushes when the one it got does")
			assert.True(t, res.readerFrom, "and reads from a file with sendfile")
			assert.False(t, res.pusher, "HTTP/1 has no push: no Pusher the server's writer lacks")
			for _, err := range res.rcErrs {
				assert.NoError(t, err, "ResponseController reaches the connection's deadlines and full duplex")
			}
		})
	}
}

// hijackRecorder is a ResponseRecorder that can hand out a connection, as
// net/http's HTTP/1 writer can, whose peer is remote.
type hijackRecorder struct {
	*httptest.ResponseRecorder
	remote net.Addr
}

func (h hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return addrConn{remote: h.remote}, nil, nil
}

type addrConn struct {
	net.Conn // nil: only the addresses are asked for
	remote   net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

// TestMiddlewareHijackHTTP2: net/http's HTTP/2 writer cannot hijack, so
// the middleware hands it on as it is: still a Pusher, still no Hijacker.
func TestMiddlewareHijackHTTP2(t *testing.T) {
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	var pusher, hijacker bool
	var hijackErr error
	srv := httptest.NewUnstartedServer(mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, pusher = w.(http.Pusher)
		_, hijacker = w.(http.Hijacker)
		_, _, hijackErr = http.NewResponseController(w).Hijack()
	})))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, 2, resp.ProtoMajor)
	assert.True(t, pusher, "the HTTP/2 writer's Pusher")
	assert.False(t, hijacker)
	assert.ErrorIs(t, hijackErr, http.ErrNotSupported)
}

// TestMiddlewareHijackServedAgain: a request served through the
// middleware again with a writer that hijacks the raw connection (a
// retry's own) gets the masking writer too.
func TestMiddlewareHijackServedAgain(t *testing.T) {
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	var seen []string
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if assert.NoError(t, err) {
			seen = append(seen, c.RemoteAddr().String())
		}
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "[" + canary6 + "]:4711"
	peer := &net.TCPAddr{IP: net.ParseIP(canary6), Port: 4711}
	h.ServeHTTP(hijackRecorder{httptest.NewRecorder(), peer}, req)
	h.ServeHTTP(hijackRecorder{httptest.NewRecorder(), peer}, req)
	assert.Equal(t, []string{"[2001:db8:1::]:4711", "[2001:db8:1::]:4711"}, seen)
}

// TestMiddlewareHijackAllocs: the masking writer lives in the request's
// one allocation, which stays in the 112-byte size class.
func TestMiddlewareHijackAllocs(t *testing.T) {
	mw, err := clientip.NewMiddleware(loopbackResolver(t), ipmask.Default, nil)
	require.NoError(t, err)
	var flusher bool
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, flusher = w.(http.Flusher) }))
	var w http.ResponseWriter = hijackRecorder{httptest.NewRecorder(), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}} // boxed once
	tmpl := httptest.NewRequest(http.MethodGet, "/", nil)
	tmpl.RemoteAddr = "127.0.0.1:5555"
	tmpl.Header.Set("X-Forwarded-For", "198.51.100.77")
	proxied := fresh(tmpl)
	h.ServeHTTP(w, proxied())
	require.True(t, flusher, "the recorder flushes, so the writer handed on does")
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { h.ServeHTTP(w, proxied()) }), 1.0)
	assert.LessOrEqual(t, leastBytesPer(func() { h.ServeHTTP(w, proxied()) }), uint64(112))
}

// TestMiddlewareReverseProxyUpgrade: httputil.ReverseProxy behind the
// middleware proxies a protocol upgrade (a websocket) by hijacking the
// client's connection through http.ResponseController: it works through
// the middleware's writer, both ways, and the backend sees the masked
// address in X-Forwarded-For.
func TestMiddlewareReverseProxyUpgrade(t *testing.T) {
	xff := make(chan string, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		xff <- r.Header.Get("X-Forwarded-For")
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		line, _ := brw.ReadString('\n')
		_, _ = brw.WriteString("echo " + line)
		_ = brw.Flush()
	}))
	t.Cleanup(backend.Close)
	u, err := url.Parse(backend.URL)
	require.NoError(t, err)
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	front := httptest.NewServer(mw(httputil.NewSingleHostReverseProxy(u)))
	t.Cleanup(front.Close)

	c, err := net.Dial("tcp", front.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	_, err = io.WriteString(c, "ping\n")
	require.NoError(t, err)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "echo ping\n", line)
	assert.Equal(t, "127.0.0.0", <-xff)
}
