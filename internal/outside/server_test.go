package outside_test

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// loopbackClient is the address the wire tests connect from: any address
// of 127.0.0.0/8 is this machine's on Linux, and one with every octet set
// shows whether a log masks it (127.0.0.1 masked is 127.0.0.0, which a
// search for "127.0.0.1" would not tell from a port).
var loopbackClient = netip.MustParseAddr("127.77.88.99")

// dialFrom connects to addr from loopbackClient.
func dialFrom(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: loopbackClient.AsSlice()}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err, "connecting from %s (Linux answers on all of 127.0.0.0/8)", loopbackClient)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	return c
}

// maskingErrorLog is the README's advice for http.Server's own log: "give
// http.Server an ErrorLog that masks, slog.NewLogLogger(h, slog.LevelError)
// with h a logmask.NewHandler".
func maskingErrorLog(t *testing.T, dst io.Writer) *log.Logger {
	t.Helper()
	h, err := logmask.NewHandler(slog.NewTextHandler(dst, nil), ipmask.Default, nil)
	require.NoError(t, err)
	return slog.NewLogLogger(h, slog.LevelError)
}

// TestServerErrorLog checks the README's answer to what net/http logs
// itself ("http: panic serving 198.51.100.77:51234", "http: TLS handshake
// error from ..."), which no middleware can rewrite: with the ErrorLog the
// README gives, neither line holds the client's address; with the default
// log, both do (the teeth of the check, run alongside).
func TestServerErrorLog(t *testing.T) {
	for _, masked := range []bool{true, false} {
		t.Run(fmt.Sprintf("masked=%v", masked), func(t *testing.T) {
			var logs testlog.Buffer
			el := log.New(&logs, "", 0)
			if masked {
				el = maskingErrorLog(t, &logs)
			}
			mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
			require.NoError(t, err)
			srv := httptest.NewUnstartedServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				panic("handler failed") // net/http logs the connection's raw address
			})))
			srv.Config.ErrorLog = el
			srv.Start()
			c := dialFrom(t, srv.Listener.Addr().String())
			_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			require.NoError(t, err)
			_, _ = io.ReadAll(c) // the server closes the connection after the panic
			c.Close()

			tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
			tlsSrv.Config.ErrorLog = el
			tlsSrv.StartTLS()
			c = dialFrom(t, tlsSrv.Listener.Addr().String())
			_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") // not a TLS handshake
			require.NoError(t, err)
			_, _ = io.ReadAll(c)
			c.Close()
			srv.Close()
			tlsSrv.Close() // waits for the connections' goroutines, which log

			out := logs.String()
			require.Contains(t, out, "panic serving")
			require.Contains(t, out, "TLS handshake error")
			if masked {
				assertNoForm(t, []byte(out), "http.Server's ErrorLog", loopbackClient)
				assert.Contains(t, out, "127.77.88.0")
			} else {
				assert.Contains(t, out, loopbackClient.String(), "the default ErrorLog writes the raw address")
			}
		})
	}
}

// TestWireHeaderForms sends, over a real connection from a trusted proxy,
// the header forms net/http itself reads differently from a test's
// http.Header: names in lower and mixed case, several copies of a header,
// obs-fold continuation lines, an empty value, and a name with
// underscores. The visitor found is the one the proxy wrote last (or the
// peer, when the proxy wrote none), never one the client wrote to the
// left; the handler sees none of the addresses, and the tracker stores the
// visitor's network. A header that does not parse (two copies of a
// single-value header, an obs-fold that adds an entry) fails closed: the
// handler sees the peer, and the tracker counts the request Unresolved,
// holding nothing. Checked to
// fail: with the proxy left out of the trusted set, every row finds the
// peer.
func TestWireHeaderForms(t *testing.T) {
	v := visitor4.String()
	forged := "203.0.113.1"
	peerNet := ipmask.Default.Prefix(loopbackClient)
	for name, c := range map[string]struct {
		header string // strategy's header; "" is X-Forwarded-For, rightmost untrusted
		lines  string
		want   netip.Prefix // the visitor's network; peerNet when the proxy wrote none
		failed bool         // the header does not parse: the peer for the handler, nothing held
	}{
		"lower case":          {"", "x-forwarded-for: " + forged + ", " + v + "\r\n", ipmask.Default.Prefix(visitor4), false},
		"mixed case copies":   {"", "X-FORWARDED-FOR: " + forged + "\r\nx-Forwarded-for: " + v + "\r\n", ipmask.Default.Prefix(visitor4), false},
		"empty last copy":     {"", "X-Forwarded-For: " + v + "\r\nX-Forwarded-For:\r\n", ipmask.Default.Prefix(visitor4), false},
		"underscores ignored": {"", "X_Forwarded_For: " + forged + "\r\n", peerNet, false},
		"cdn lower case":      {"Cf-Connecting-Ip", "cf-connecting-ip: " + visitor6.String() + "\r\n", ipmask.Default.Prefix(visitor6), false},
		"cdn two copies":      {"Cf-Connecting-Ip", "CF-Connecting-IP: " + forged + "\r\nCF-Connecting-IP: " + v + "\r\n", peerNet, true},
		"cdn empty":           {"Cf-Connecting-Ip", "CF-Connecting-IP: \r\n", peerNet, false},
		// net/http joins an obs-fold continuation line to the value with
		// a space (RFC 9112 allows that or a 400): the list's last entry is
		// still the one the proxy wrote.
		"obs-fold":        {"", "X-Forwarded-For: " + forged + ",\r\n " + v + "\r\n", ipmask.Default.Prefix(visitor4), false},
		"obs-fold forged": {"", "X-Forwarded-For: " + v + "\r\n\t" + forged + "\r\n", peerNet, true},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDeployment(t, []string{"127.0.0.0/8"}, func(tr *clientip.Trusted) clientip.Strategy {
				if c.header == "" {
					return clientip.RightmostUntrusted(tr)
				}
				return clientip.SingleHeader(tr, c.header)
			}, nil)
			var dump string
			mux := http.NewServeMux()
			mux.Handle("GET /go/{link}", d.tracker.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := httputil.DumpRequest(r, false)
				info, _ := clientip.FromContext(r.Context())
				dump = r.RemoteAddr + " " + info.Prefix.String() + "\n" + string(b)
				w.Header().Set("Location", "/")
				w.WriteHeader(http.StatusFound)
			})))
			srv := httptest.NewServer(d.mw(mux))
			defer srv.Close()
			conn := dialFrom(t, srv.Listener.Addr().String())
			defer conn.Close()
			_, err := io.WriteString(conn, "GET /go/spring HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0\r\n"+c.lines+"Connection: close\r\n\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusFound, resp.StatusCode)
			held := d.held(t)
			assert.Contains(t, dump, c.want.String())
			assertNoForm(t, []byte(dump), "what the handler saw", visitor4, visitor6, netip.MustParseAddr(forged), loopbackClient)
			if c.failed {
				assert.Empty(t, held, "a request whose client is not found is not the proxy's click")
				assert.Equal(t, uint64(1), d.tracker.Stats().Unresolved)
				return
			}
			require.Len(t, held, 1, dump)
			assert.Equal(t, c.want, held[0].Network)
		})
	}
}

// TestWireTrailersAndHijack checks two bullets of README guarantee 7 over
// a real connection, with a plain access log wrapping the middleware: a
// client that declares "Trailer: X-Forwarded-For" and sends its address
// there (and in a trailer of another name), after the body, is seen by
// neither the handler, which reads the body and then the trailers, nor the
// access log; and a handler that takes the connection over (a websocket
// upgrade) gets a net.Conn whose RemoteAddr is masked. Checked to fail:
// without the middleware both hold the address.
func TestWireTrailersAndHijack(t *testing.T) {
	mw, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	o := &plainObservers{}
	var seen testlog.Buffer
	mux := http.NewServeMux()
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		fmt.Fprintf(&seen, "trailers %v\n", r.Trailer)
		b, _ := httputil.DumpRequest(r, false)
		seen.Write(b)
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, "no hijack", http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		fmt.Fprintf(&seen, "hijacked from %s\n", conn.RemoteAddr())
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\npeer " + conn.RemoteAddr().String() + "\n")
		_ = rw.Flush()
	})
	srv := httptest.NewServer(o.accessLog(mw(mux)))
	defer srv.Close()

	c := dialFrom(t, srv.Listener.Addr().String())
	a := loopbackClient.String()
	_, err = io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Forwarded-For, X-Note\r\n\r\n"+
		"5\r\nhello\r\n0\r\nX-Forwarded-For: "+a+"\r\nX-Note: from "+a+" via proxy\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	resp.Body.Close()
	c.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	c = dialFrom(t, srv.Listener.Addr().String())
	_, err = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	require.NoError(t, err)
	answer, _ := io.ReadAll(c)
	c.Close()
	require.Contains(t, string(answer), "101 Switching Protocols")
	require.Contains(t, string(answer), "peer 127.77.88.0:")
	require.Contains(t, seen.String(), "trailers map[")
	require.Contains(t, seen.String(), "hijacked from 127.77.88.0:")
	assertNoForm(t, []byte(seen.String()), "what the handlers saw", loopbackClient)
	assertNoForm(t, answer, "the hijacked connection's answer", loopbackClient)
	assertNoForm(t, []byte(o.access.String()), "access log", loopbackClient)
}
