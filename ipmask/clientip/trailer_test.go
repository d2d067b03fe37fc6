package clientip_test

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// trailerSeen is what a handler behind the middleware, and a logger
// wrapping it, find in the request's trailers once the body is read.
type trailerSeen struct{ inner, outer http.Header }

// trailerServer serves every request through the middleware (the peer,
// 127.0.0.1, is the client) to a handler that reads or closes the body
// and reports its trailers, and a logger around it that reports them
// once it returns.
func trailerServer(t *testing.T, closeOnly bool) (*httptest.Server, chan trailerSeen) {
	t.Helper()
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	seen := make(chan trailerSeen, 1)
	var inner http.Header
	h := mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if closeOnly {
			_ = r.Body.Close() // net/http reads the rest, trailers too
		} else {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		inner = r.Trailer.Clone()
	}))
	logger := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		seen <- trailerSeen{inner: inner, outer: r.Trailer.Clone()}
	})
	srv := httptest.NewUnstartedServer(logger)
	t.Cleanup(srv.Close)
	return srv, seen
}

// The trailers a client sends after a chunked body: its own address under
// a forwarding header's name, under another name, and inside other text.
const trailerText = "X-Forwarded-For: 127.0.0.1\r\nX-Peer: 127.0.0.1:4711\r\nX-Note: sent from 127.0.0.1 today\r\nX-Other: kept\r\n"

// TestMiddlewareHidesTrailers: trailers arrive once the body is read, after
// the middleware ran; a client can send "Trailer: X-Forwarded-For" (or
// nothing: net/http's HTTP/1 server keeps undeclared trailers too) and put
// its address there. A handler behind the middleware, and one wrapping
// it, find the trailers as the middleware leaves headers: those that carry
// a client address removed, the client's own address masked in the rest.
func TestMiddlewareHidesTrailers(t *testing.T) {
	want := http.Header{"X-Note": {"sent from 127.0.0.0 today"}, "X-Other": {"kept"}}
	for _, tt := range []struct {
		name, head  string
		closeOnly   bool
		extra, host string      // more trailers; the Host, if not "x"
		want        http.Header // more trailers expected
	}{
		{name: "HTTP/1.1, undeclared", head: ""},
		{name: "HTTP/1.1, declared", head: "Trailer: X-Forwarded-For, X-Peer, X-Note, X-Other\r\n"},
		{name: "HTTP/1.1, body closed unread", head: "", closeOnly: true},
		{name: "HTTP/1.1, Expect: 100-continue", head: "Expect: 100-continue\r\n"},
		// Fields that name the server keep an address in the header; no
		// trailer names it (RFC 9110 section 6.5.1 keeps routing fields
		// out of trailers), so in trailers they get no exception.
		{name: "HTTP/1.1, server-naming fields as trailers", extra: "Host: 127.0.0.1\r\nX-Forwarded-Host: 127.0.0.1:8080\r\nX-Original-Host: see 127.0.0.1\r\nReferer: http://127.0.0.1/\r\n",
			host: "127.0.0.1", want: http.Header{"X-Original-Host": {"see 127.0.0.0"}, "Referer": {"http://127.0.0.0/"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := trailerServer(t, tt.closeOnly)
			srv.Start()
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			require.NoError(t, err)
			defer c.Close()
			host := cmp.Or(tt.host, "x")
			_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: "+host+"\r\nTransfer-Encoding: chunked\r\n"+tt.head+"\r\n3\r\nabc\r\n0\r\n"+trailerText+tt.extra+"\r\n")
			require.NoError(t, err)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			if resp.StatusCode == http.StatusContinue {
				resp, err = http.ReadResponse(br, nil)
				require.NoError(t, err)
			}
			require.NoError(t, resp.Body.Close())
			require.Equal(t, http.StatusOK, resp.StatusCode)
			want := want.Clone()
			maps.Copy(want, tt.want)
			s := <-seen
			assert.Equal(t, want, s.inner, "the handler behind the middleware")
			assert.Equal(t, want, s.outer, "a logger wrapping it")
		})
	}
	t.Run("HTTP/2, declared", func(t *testing.T) {
		srv, seen := trailerServer(t, false)
		srv.EnableHTTP2 = true
		srv.StartTLS()
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, nil)
		require.NoError(t, err)
		req.Trailer = http.Header{"X-Forwarded-For": nil, "X-Peer": nil, "X-Note": nil, "X-Other": nil}
		req.Body = io.NopCloser(&trailerSetter{r: strings.NewReader("abc"), set: func() {
			for _, line := range strings.Split(strings.TrimSpace(trailerText), "\r\n") {
				k, v, _ := strings.Cut(line, ": ")
				req.Trailer.Set(k, v)
			}
		}})
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, 2, resp.ProtoMajor)
		s := <-seen
		assert.Equal(t, want, s.inner, "the handler behind the middleware")
		assert.Equal(t, want, s.outer, "a logger wrapping it")
		noLeak(t, fmt.Sprint(s), "127.0.0.1")
	})
}

// trailerSetter calls set when r is at its end, as a client sets the
// trailers it sends once the body is written.
type trailerSetter struct {
	r   io.Reader
	set func()
}

func (s *trailerSetter) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF && s.set != nil {
		s.set()
		s.set = nil
	}
	return n, err
}

// TestMiddlewareTrailerAllocs: only a request that may have trailers pays
// for the body that hides them, one allocation of 64 bytes.
func TestMiddlewareTrailerAllocs(t *testing.T) {
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	w := httptest.NewRecorder()
	body := io.NopCloser(strings.NewReader(""))
	serve := func(chunked bool) func() {
		req := httptest.NewRequest(http.MethodPost, "/", nil)
		req.RemoteAddr = "198.51.100.77:1"
		if chunked {
			req.TransferEncoding = []string{"chunked"}
		}
		tmpl := *req
		return func() {
			*req = tmpl
			req.Body = body
			h.ServeHTTP(w, req)
		}
	}
	plain, chunked := serve(false), serve(true)
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, plain), "a body of known length: the state alone")
	assert.Equal(t, 2.0, testing.AllocsPerRun(100, chunked), "a chunked body: and its wrapper")
	assert.LessOrEqual(t, leastBytesPer(chunked)-leastBytesPer(plain), uint64(64))
}
