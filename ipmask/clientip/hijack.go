package clientip

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"
	"unsafe"

	"github.com/clickanon/clickanon/ipmask"
)

// A handler that takes the connection over (Hijack, directly or through
// http.ResponseController, as websocket libraries do: gorilla/websocket's
// Conn.RemoteAddr and coder/websocket's are the hijacked conn's) would get
// a net.Conn whose RemoteAddr is the raw peer, past every rewrite of the
// request. So when the ResponseWriter the middleware gets can hijack, the
// next handler gets one of the writers below instead, kept in the request's
// one allocation: its Hijack hands out a conn whose RemoteAddr is the
// peer's masked address. It has the optional interfaces of net/http's own
// writers (http.Flusher and http.Pusher when the writer it wraps has them;
// io.ReaderFrom, io.StringWriter and http.CloseNotifier always, with the
// same effect) and the methods http.ResponseController looks for
// (FlushError, SetReadDeadline, SetWriteDeadline, EnableFullDuplex), and no
// Unwrap: that would hand out the writer that hijacks the raw connection.

// hijackWriter is the middleware's ResponseWriter; flushWriter, pushWriter
// and flushPushWriter are the same memory with Flush, Push or both, chosen
// by what the wrapped writer has (see wrap).
type hijackWriter struct {
	rw http.ResponseWriter
	p  ipmask.Policy
}

type flushWriter struct{ hijackWriter }
type pushWriter struct{ hijackWriter }
type flushPushWriter struct{ hijackWriter }

// wrap sets w to hand on rw and returns it as the variant with rw's
// Flusher and Pusher.
func (w *hijackWriter) wrap(rw http.ResponseWriter, p ipmask.Policy) http.ResponseWriter {
	w.rw, w.p = rw, p
	_, f := rw.(http.Flusher)
	_, push := rw.(http.Pusher)
	switch {
	case f && push:
		return (*flushPushWriter)(unsafe.Pointer(w))
	case f:
		return (*flushWriter)(unsafe.Pointer(w))
	case push:
		return (*pushWriter)(unsafe.Pointer(w))
	}
	return w
}

// done lets go of the wrapped writer once the handler has returned: the
// request's context, which a goroutine may keep past the handler (for
// background work), holds w, and the server's writer holds the
// connection, the raw peer's text and the request. A use of w after the
// handler returned, which net/http forbids, then gets errHandlerDone
// instead of writing into a finished response.
func (w *hijackWriter) done() { w.rw = doneWriter{} }

// doneWriter is what a hijackWriter wraps once its handler has returned.
type doneWriter struct{}

var errHandlerDone = errors.New("clientip: the ResponseWriter was used after its handler returned")

func (doneWriter) Header() http.Header                  { return http.Header{} }
func (doneWriter) Write([]byte) (int, error)            { return 0, errHandlerDone }
func (doneWriter) WriteHeader(int)                      {}
func (doneWriter) Flush()                               {}
func (doneWriter) Push(string, *http.PushOptions) error { return errHandlerDone }

// canHijack reports whether rw can hand out its connection, directly or
// through the writers its Unwrap returns, and is not one of the
// middleware's own writers, which mask it already.
func canHijack(rw http.ResponseWriter) bool {
	for range 64 { // a longer chain is likely a cycle: hide it all the same
		switch u := rw.(type) {
		case *hijackWriter, *flushWriter, *pushWriter, *flushPushWriter:
			return false
		case http.Hijacker:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			rw = u.Unwrap()
		default:
			return false
		}
	}
	return true
}

func (w *hijackWriter) Header() http.Header         { return w.rw.Header() }
func (w *hijackWriter) Write(b []byte) (int, error) { return w.rw.Write(b) }
func (w *hijackWriter) WriteHeader(code int)        { w.rw.WriteHeader(code) }

// WriteString implements io.StringWriter.
func (w *hijackWriter) WriteString(s string) (int, error) { return io.WriteString(w.rw, s) }

// ReadFrom implements io.ReaderFrom with the wrapped writer's (sendfile on
// net/http's), or a copy.
func (w *hijackWriter) ReadFrom(src io.Reader) (int64, error) {
	if rf, ok := w.rw.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{w.rw}, src)
}

// Hijack implements http.Hijacker: the wrapped writer's connection, or
// the one http.ResponseController finds through its Unwrap, reporting the
// peer's masked address.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.rw).Hijack()
	if c != nil {
		c = &maskedConn{c: c, remote: maskNetAddr(c.RemoteAddr(), w.p)}
	}
	return c, brw, err
}

// CloseNotify implements the deprecated http.CloseNotifier, which some
// frameworks assert without checking (gin's Context.Stream): the wrapped
// writer's channel, or one that never fires.
func (w *hijackWriter) CloseNotify() <-chan bool {
	if cn, ok := w.rw.(http.CloseNotifier); ok { //nolint:staticcheck // the interface net/http's writer has
		return cn.CloseNotify()
	}
	return nil
}

// FlushError, SetReadDeadline, SetWriteDeadline and EnableFullDuplex are
// what http.ResponseController looks for before Unwrap.
func (w *hijackWriter) FlushError() error { return http.NewResponseController(w.rw).Flush() }

func (w *hijackWriter) SetReadDeadline(t time.Time) error {
	return http.NewResponseController(w.rw).SetReadDeadline(t)
}

func (w *hijackWriter) SetWriteDeadline(t time.Time) error {
	return http.NewResponseController(w.rw).SetWriteDeadline(t)
}

func (w *hijackWriter) EnableFullDuplex() error {
	return http.NewResponseController(w.rw).EnableFullDuplex()
}

// Flush implements http.Flusher, for a wrapped writer that has it.
func (w *flushWriter) Flush()     { w.rw.(http.Flusher).Flush() }
func (w *flushPushWriter) Flush() { w.rw.(http.Flusher).Flush() }

// Push implements http.Pusher, for a wrapped writer that has it.
func (w *pushWriter) Push(target string, opts *http.PushOptions) error {
	return w.rw.(http.Pusher).Push(target, opts)
}

func (w *flushPushWriter) Push(target string, opts *http.PushOptions) error {
	return w.rw.(http.Pusher).Push(target, opts)
}

// maskedConn is a hijacked connection that reports the peer's masked
// address. It hands out nothing else of the connection it wraps (no
// NetConn, no Unwrap), which would report the raw one.
type maskedConn struct {
	c      net.Conn
	remote net.Addr
}

func (c *maskedConn) Read(b []byte) (int, error)         { return c.c.Read(b) }
func (c *maskedConn) Write(b []byte) (int, error)        { return c.c.Write(b) }
func (c *maskedConn) Close() error                       { return c.c.Close() }
func (c *maskedConn) LocalAddr() net.Addr                { return c.c.LocalAddr() }
func (c *maskedConn) RemoteAddr() net.Addr               { return c.remote }
func (c *maskedConn) SetDeadline(t time.Time) error      { return c.c.SetDeadline(t) }
func (c *maskedConn) SetReadDeadline(t time.Time) error  { return c.c.SetReadDeadline(t) }
func (c *maskedConn) SetWriteDeadline(t time.Time) error { return c.c.SetWriteDeadline(t) }

// CloseWrite shuts down the writing side, as *net.TCPConn and *tls.Conn
// do, for proxies that half-close.
func (c *maskedConn) CloseWrite() error {
	if cw, ok := c.c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("clientip: the hijacked connection cannot close its writing side alone")
}

// maskNetAddr returns a masked by p: a *net.TCPAddr or *net.UDPAddr with
// its IP masked and its port, another address whose text is an IP address
// (with a port or not) as text, and any other (a Unix socket's) as it is.
func maskNetAddr(a net.Addr, p ipmask.Policy) net.Addr {
	switch a := a.(type) {
	case nil:
		return nil
	case *net.TCPAddr:
		ap := a.AddrPort()
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(p.Mask(ap.Addr()), ap.Port()))
	case *net.UDPAddr:
		ap := a.AddrPort()
		return net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.Mask(ap.Addr()), ap.Port()))
	}
	s := a.String()
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return textAddr{a.Network(), netip.AddrPortFrom(p.Mask(ap.Addr()), ap.Port()).String()}
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return textAddr{a.Network(), p.Mask(ip).String()}
	}
	return a
}

// textAddr is a net.Addr of a network the net package has no type for.
type textAddr struct{ network, text string }

func (a textAddr) Network() string { return a.network }
func (a textAddr) String() string  { return a.text }
