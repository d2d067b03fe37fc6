package clientaddr_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// TestWriterFeaturesWork checks that what NewMiddleware's doc says the
// writer it hands on keeps does its job over a real HTTP/1.1 server, not
// only that the interfaces are there: a flush (http.Flusher and
// http.ResponseController) reaches the client while the handler still
// runs; io.Copy from a file (io.ReaderFrom) sends the whole file; deadlines
// set through ResponseController are kept (a read deadline in the past
// fails the body read); a hijacked connection carries bytes both ways
// with its RemoteAddr masked. The middleware sits between two plain
// middlewares. Checked to fail: with Flush dropped from the handler, the
// client's read of the first chunk times out (the guard, not a timed
// assertion); with the file shortened, the body differs.
func TestWriterFeaturesWork(t *testing.T) {
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	content := strings.Repeat("0123456789abcdef", 1<<12)
	require.NoError(t, os.WriteFile(file, []byte(content), 0o600))

	proceed, gone := make(chan struct{}), make(chan struct{})
	wait := func() {
		select {
		case <-proceed:
		case <-gone: // the test failed: let the handler return
		}
	}
	plain := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { next.ServeHTTP(w, r) })
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/flush", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		wait()
		_, _ = io.WriteString(w, "second\n")
		assert.NoError(t, http.NewResponseController(w).Flush())
		wait()
		_, _ = io.WriteString(w, "third\n")
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, _ *http.Request) {
		f, err := os.Open(file)
		if err != nil {
			http.Error(w, "open", http.StatusInternalServerError)
			return
		}
		defer f.Close()
		_, _ = w.(io.ReaderFrom).ReadFrom(f)
	})
	mux.HandleFunc("/deadline", func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
			http.Error(w, "deadline: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if _, err := io.ReadAll(r.Body); err == nil {
			http.Error(w, "read past the deadline", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, _ *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, "hijack", http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nremote=" + conn.RemoteAddr().String() + "\n")
		_ = brw.Flush()
		line, _ := brw.ReadString('\n')
		_, _ = io.WriteString(conn, "echo:"+line)
	})
	srv := httptest.NewServer(plain(mw(plain(mux))))
	defer srv.Close()
	defer close(gone)

	// Flush: each chunk arrives while the handler waits. (Without the
	// flush, the response's header would never come: the timeout is the
	// guard that ends the test then.)
	client := srv.Client()
	client.Timeout = 10 * time.Second
	resp, err := client.Get(srv.URL + "/flush")
	require.NoError(t, err)
	br := bufio.NewReader(resp.Body)
	for _, want := range []string{"first\n", "second\n"} {
		got := make(chan string, 1)
		go func() { s, _ := br.ReadString('\n'); got <- s }()
		select {
		case s := <-got:
			assert.Equal(t, want, s)
		case <-time.After(10 * time.Second):
			require.Fail(t, "a flushed chunk never arrived", want)
		}
		proceed <- struct{}{}
	}
	rest, _ := io.ReadAll(br)
	assert.Equal(t, "third\n", string(rest))
	_ = resp.Body.Close()

	// ReadFrom: the whole file.
	resp, err = client.Get(srv.URL + "/file")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, len(content), len(body))
	assert.Equal(t, content, string(body))

	// A read deadline set through the middleware's writer is the server's.
	resp, err = client.Post(srv.URL+"/deadline", "text/plain", strings.NewReader(strings.Repeat("x", 1<<20)))
	if err == nil {
		assert.Equal(t, http.StatusNoContent, resp.StatusCode)
		_ = resp.Body.Close()
	}

	// Hijack: bytes both ways, RemoteAddr masked.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, "GET /hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	require.NoError(t, err)
	cr := bufio.NewReader(conn)
	hresp, err := http.ReadResponse(cr, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusSwitchingProtocols, hresp.StatusCode)
	line, err := cr.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "remote=127.0.0.0:"+portOf(conn.LocalAddr().String())+"\n", line, "the hijacked conn's RemoteAddr is masked, port kept")
	_, err = io.WriteString(conn, "ping\n")
	require.NoError(t, err)
	line, err = cr.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "echo:ping\n", line)
}

func portOf(s string) string {
	_, p, _ := net.SplitHostPort(s)
	return p
}
