package clientip

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
)

// otherAddr is a net.Addr of a type the net package does not have, as a
// PROXY-protocol listener's or a tunnel's may be.
type otherAddr string

func (otherAddr) Network() string  { return "other" }
func (a otherAddr) String() string { return string(a) }

func TestMaskNetAddr(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   net.Addr
		want string
		typ  any
	}{
		{name: "TCP IPv4, 16-byte form", in: &net.TCPAddr{IP: net.ParseIP("198.51.100.77"), Port: 443}, want: "198.51.100.0:443", typ: &net.TCPAddr{}},
		{name: "TCP IPv6 with a zone", in: &net.TCPAddr{IP: net.ParseIP("fe80::1:2:3:4"), Zone: "eth0", Port: 1}, want: "[fe80::]:1", typ: &net.TCPAddr{}},
		{name: "TCP 6to4 carrying an IPv4 address", in: &net.TCPAddr{IP: net.ParseIP("2002:c633:644d::1"), Port: 1}, want: "[2002:c633:6400::]:1", typ: &net.TCPAddr{}},
		{name: "UDP", in: &net.UDPAddr{IP: net.ParseIP("2001:db8:1:2::9"), Port: 53}, want: "[2001:db8:1::]:53", typ: &net.UDPAddr{}},
		{name: "other type, address and port", in: otherAddr("198.51.100.77:80"), want: "198.51.100.0:80", typ: textAddr{}},
		{name: "other type, address alone", in: otherAddr("2001:db8:1:2::9"), want: "2001:db8:1::", typ: textAddr{}},
		{name: "Unix socket, no address", in: &net.UnixAddr{Name: "@", Net: "unix"}, want: "@", typ: &net.UnixAddr{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := maskNetAddr(tt.in, ipmask.Default)
			assert.Equal(t, tt.want, got.String())
			assert.IsType(t, tt.typ, got)
			assert.Equal(t, tt.in.Network(), got.Network())
		})
	}
	assert.Nil(t, maskNetAddr(nil, ipmask.Default))
}

// flushHijacker is a writer that can hijack and flush, as net/http's
// HTTP/1 writer can.
type flushHijacker struct{ *httptest.ResponseRecorder }

func (flushHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, nil }

// TestHijackWriterLetsGoOnReturn: the request's context, which a goroutine
// may keep past the handler (context.WithoutCancel for background work),
// holds the middleware's writer; once the handler returns, that writer no
// longer holds the server's (and through it the connection, the raw peer's
// text, the request), and a use of it after the handler returned, which
// net/http forbids, gets an error rather than writing into a finished
// response.
func TestHijackWriterLetsGoOnReturn(t *testing.T) {
	for _, again := range []bool{false, true} {
		mw, err := NewMiddleware(nil, ipmask.Default, nil)
		require.NoError(t, err)
		var kept http.ResponseWriter
		h := mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { kept = w }))
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = "198.51.100.77:1"
		rw := flushHijacker{httptest.NewRecorder()}
		h.ServeHTTP(rw, req)
		if again { // served again, with a writer the middleware did not hand on
			h.ServeHTTP(flushHijacker{httptest.NewRecorder()}, req)
		}
		fw, ok := kept.(*flushWriter)
		require.True(t, ok, "the recorder flushes and hijacks: %T", kept)
		assert.Equal(t, http.ResponseWriter(doneWriter{}), fw.rw, "served again=%v", again)
		_, err = kept.Write([]byte("late"))
		assert.ErrorIs(t, err, errHandlerDone)
		kept.(http.Flusher).Flush() // no panic
		_, _, err = kept.(http.Hijacker).Hijack()
		assert.ErrorIs(t, err, http.ErrNotSupported)
		assert.Empty(t, rw.Body.String(), "nothing reached the finished response")
	}
}

var canHijackSink bool

// BenchmarkCanHijack is what every request pays to find out whether the
// writer it is served with can hijack the connection.
func BenchmarkCanHijack(b *testing.B) {
	for _, c := range []struct {
		name string
		w    http.ResponseWriter
	}{
		{"recorder-cannot", httptest.NewRecorder()},
		{"http1-like-can", flushHijacker{httptest.NewRecorder()}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				canHijackSink = canHijack(c.w)
			}
		})
	}
}
