package outside_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// stringer is a fmt.Stringer whose text holds an address.
type stringer struct{ a netip.Addr }

func (s stringer) String() string { return "peer " + s.a.String() }

// peerInfo is a struct a service logs as it is.
type peerInfo struct {
	IP     string
	Addr   netip.Addr
	Port   int
	hidden string
}

// TestSlogHandlerMasksWhatServicesLog checks the README's "its
// slog.Handler masks every record by content" over the classes of value a
// service logs, with an address of each visitor class in each: the
// message; a string, netip.Addr, AddrPort and /32 Prefix; net.IP,
// *net.TCPAddr and a *net.OpError as net/http's dial and accept errors
// carry them; a wrapped error; a Stringer; a struct, a pointer to one, a
// map and a slice holding addresses; []byte and json.RawMessage; a whole
// *http.Request, its http.Header, *url.URL and url.Values as they arrive
// (before any middleware); an attribute key and a group name that are
// addresses; With attributes and groups. Through slog's JSON and text
// handlers, at every level. Checked to fail: the same records through the
// bare handlers hold every address (the teeth subtest).
func TestSlogHandlerMasksWhatServicesLog(t *testing.T) {
	for _, client := range append(visitors(), visitor4, visitor6) {
		for _, kind := range []string{"json", "text", "bare json (teeth)"} {
			t.Run(fmt.Sprintf("%s/%s", client, kind), func(t *testing.T) {
				var out bytes.Buffer
				var h slog.Handler = slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})
				if kind != "text" {
					h = slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})
				}
				if kind != "bare json (teeth)" {
					var err error
					h, err = logmask.NewHandler(h, ipmask.Default, nil)
					require.NoError(t, err)
				}
				logRecords(slog.New(h), client)
				if kind == "bare json (teeth)" {
					require.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, out.Bytes()))
					return
				}
				ipmasktest.AssertNoRawIP(t, ipmask.Default, out.Bytes())
				assertNoForm(t, out.Bytes(), kind+" log", client)
			})
		}
	}
}

// logRecords logs, through l, every class of value with a in it.
func logRecords(l *slog.Logger, a netip.Addr) {
	s := a.String()
	ap := netip.AddrPortFrom(a, 51234)
	tcp := net.TCPAddrFromAddrPort(ap)
	opErr := &net.OpError{Op: "read", Net: "tcp", Source: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 8080}, Addr: tcp, Err: os.ErrDeadlineExceeded}
	r := httptest.NewRequest(http.MethodGet, "/go/x?ip="+url.QueryEscape(s), nil)
	r.RemoteAddr = ap.String()
	r.Header.Set("X-Forwarded-For", s)
	r.Header.Set("Cookie", "ip="+s)
	info := peerInfo{IP: s, Addr: a, Port: 1, hidden: s}
	raw, _ := json.Marshal(map[string]string{"ip": s})
	ctx := context.Background()

	l.Info("request from " + s)
	l.Debug("values", "s", s, "addr", a, "addrport", ap, "prefix", netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), "ip", net.IP(a.AsSlice()))
	l.Warn("net", "tcp", tcp, "op", opErr, "wrapped", fmt.Errorf("accept: %w", opErr), "joined", errors.Join(errors.New("x"), opErr))
	l.Error("types", "stringer", stringer{a}, "struct", info, "ptr", &info, "map", map[string]netip.Addr{"client": a}, "slice", []string{"10.0.0.1", s})
	l.Info("bytes", "b", []byte(s), "raw", json.RawMessage(raw))
	l.Info("http", "req", r, "header", r.Header, "url", r.URL, "query", r.URL.Query())
	l.Info("keys", s, "value", slog.Group(s, "k", "v"))
	l.With("peer", s).WithGroup(s).Info("with", "k", s)
	l.LogAttrs(ctx, slog.LevelInfo, "attrs", slog.Any("addrs", []netip.Addr{a}), slog.Any("any", any(ap)))
}
