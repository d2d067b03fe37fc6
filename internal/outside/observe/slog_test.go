package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// customErr is an error type whose Error text is built from its fields.
type customErr struct {
	op   string
	peer string
}

func (e *customErr) Error() string { return e.op + " from " + e.peer + ": refused" }

// addrOnly is a net.Addr of a service's own.
type addrOnly struct{ s string }

func (a addrOnly) Network() string { return "custom" }
func (a addrOnly) String() string  { return a.s }

// strg is a Stringer whose text is the address.
type strg struct{ s string }

func (s strg) String() string { return "client=" + s.s }

// ptrStrg has its String method on the pointer only.
type ptrStrg struct{ S string }

func (s *ptrStrg) String() string { return "hidden" }

// panicky panics in every method a handler may call, with the address
// in the panic's value.
type panicky struct{ s string }

func (p panicky) String() string               { panic("peer " + p.s) }
func (p panicky) MarshalJSON() ([]byte, error) { panic(fmt.Errorf("peer %s", p.s)) }

// panickyErr is an error whose Error method panics with the address.
type panickyErr struct{ s string }

func (p *panickyErr) Error() string { panic("peer " + p.s) }

// lv is a LogValuer returning what f returns.
type lv struct{ f func() slog.Value }

func (v lv) LogValue() slog.Value { return v.f() }

type nested struct {
	Peer  *string
	Inner struct{ Addrs []netip.Addr }
	Any   any
	priv  string
}

type place struct {
	name string
	// attrs returns attributes carrying text (which holds addr).
	attr func(text string, addr netip.Addr) slog.Attr
}

// places are the ways one attribute can carry an address.
func places() []place {
	ip := func(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }
	return []place{
		{"string", func(s string, _ netip.Addr) slog.Attr { return slog.String("v", s) }},
		{"key", func(s string, _ netip.Addr) slog.Attr { return slog.Int(s, 1) }},
		{"bytes", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", []byte(s)) }},
		{"raw json", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", json.RawMessage(`"`+s+`"`)) }},
		{"netip.Addr", func(_ string, a netip.Addr) slog.Attr { return slog.Any("v", a) }},
		{"*netip.Addr", func(_ string, a netip.Addr) slog.Attr { return slog.Any("v", &a) }},
		{"netip.AddrPort", func(_ string, a netip.Addr) slog.Attr { return slog.Any("v", netip.AddrPortFrom(a, 8443)) }},
		{"netip.Prefix", func(_ string, a netip.Addr) slog.Attr { return slog.Any("v", netip.PrefixFrom(a, a.BitLen())) }},
		{"netip.Prefix wide", func(_ string, a netip.Addr) slog.Attr { return slog.Any("v", netip.PrefixFrom(a, a.BitLen()-4)) }},
		{"[]netip.Addr", func(_ string, a netip.Addr) slog.Attr { return slog.Any("v", []netip.Addr{a, a}) }},
		{"map addr key", func(_ string, a netip.Addr) slog.Attr { return slog.Any("v", map[netip.Addr]int{a: 1}) }},
		{"net.IP", func(_ string, a netip.Addr) slog.Attr { return slog.Any("v", ip(a)) }},
		{"net.IP 16", func(_ string, a netip.Addr) slog.Attr {
			return slog.Any("v", func() net.IP { b := a.As16(); return net.IP(b[:]) }())
		}},
		{"*net.IPNet", func(_ string, a netip.Addr) slog.Attr {
			return slog.Any("v", &net.IPNet{IP: ip(a), Mask: net.CIDRMask(a.BitLen(), a.BitLen())})
		}},
		{"net.IPNet value", func(_ string, a netip.Addr) slog.Attr {
			return slog.Any("v", net.IPNet{IP: ip(a), Mask: net.CIDRMask(a.BitLen(), a.BitLen())})
		}},
		{"*net.TCPAddr", func(_ string, a netip.Addr) slog.Attr { return slog.Any("v", &net.TCPAddr{IP: ip(a), Port: 1}) }},
		{"net.TCPAddr value", func(_ string, a netip.Addr) slog.Attr { return slog.Any("v", net.TCPAddr{IP: ip(a), Port: 1}) }},
		{"*net.UDPAddr", func(_ string, a netip.Addr) slog.Attr { return slog.Any("v", &net.UDPAddr{IP: ip(a), Port: 1}) }},
		{"*net.IPAddr", func(_ string, a netip.Addr) slog.Attr { return slog.Any("v", &net.IPAddr{IP: ip(a)}) }},
		{"*net.UnixAddr", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", &net.UnixAddr{Name: s, Net: "unix"}) }},
		{"net.Addr of its own", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", net.Addr(addrOnly{s})) }},
		{"error", func(s string, _ netip.Addr) slog.Attr { return slog.Any("err", errors.New("dial "+s)) }},
		{"wrapped error", func(s string, _ netip.Addr) slog.Attr {
			return slog.Any("err", fmt.Errorf("outer: %w", fmt.Errorf("inner %s: %w", s, io.EOF)))
		}},
		{"joined error", func(s string, _ netip.Addr) slog.Attr {
			return slog.Any("err", errors.Join(io.EOF, errors.New("peer "+s)))
		}},
		{"custom error", func(s string, _ netip.Addr) slog.Attr { return slog.Any("err", &customErr{"read", s}) }},
		{"net.OpError", func(_ string, a netip.Addr) slog.Attr {
			return slog.Any("err", &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: ip(a), Port: 6379}, Err: errors.New("refused")})
		}},
		{"slog.Any error", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", fmt.Errorf("x %s", s)) }},
		{"stringer", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", strg{s}) }},
		{"*stringer", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", &strg{s}) }},
		{"hiding stringer", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", &ptrStrg{s}) }},
		{"valuer string", func(s string, _ netip.Addr) slog.Attr {
			return slog.Any("v", lv{func() slog.Value { return slog.StringValue(s) }})
		}},
		{"valuer addr", func(_ string, a netip.Addr) slog.Attr {
			return slog.Any("v", lv{func() slog.Value { return slog.AnyValue(a) }})
		}},
		{"valuer of valuer", func(s string, _ netip.Addr) slog.Attr {
			return slog.Any("v", lv{func() slog.Value {
				return slog.AnyValue(lv{func() slog.Value { return slog.AnyValue(errors.New(s)) }})
			}})
		}},
		{"valuer group", func(s string, a netip.Addr) slog.Attr {
			return slog.Any("v", lv{func() slog.Value {
				return slog.GroupValue(slog.String(s, s), slog.Any("a", a),
					slog.Any("inner", lv{func() slog.Value { return slog.StringValue(s) }}))
			}})
		}},
		{"valuer empty-key group", func(s string, a netip.Addr) slog.Attr {
			return slog.Any("", lv{func() slog.Value { return slog.GroupValue(slog.String("x", s)) }})
		}},
		{"group", func(s string, a netip.Addr) slog.Attr {
			return slog.Group("g", slog.String("s", s), slog.Group("h", slog.Any("a", a)))
		}},
		{"group named by the address", func(s string, a netip.Addr) slog.Attr {
			return slog.Group("g", slog.Group(s, slog.Any("a", a)))
		}},
		{"inline group", func(s string, a netip.Addr) slog.Attr {
			return slog.Group("", slog.String("s", s), slog.Any(s, a))
		}},
		{"struct", func(s string, a netip.Addr) slog.Attr {
			n := nested{Peer: &s, priv: s}
			n.Inner.Addrs = []netip.Addr{a}
			return slog.Any("v", n)
		}},
		{"*struct", func(s string, a netip.Addr) slog.Attr {
			n := &nested{Any: map[string]any{"x": []any{s}}}
			return slog.Any("v", &n)
		}},
		{"map", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", map[string]string{s: "k"}) }},
		{"map any", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", map[string]any{"k": []string{s}}) }},
		{"slice", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", []string{"a", s}) }},
		{"array", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", [2]string{"a", s}) }},
		{"*string", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", &s) }},
		{"**string", func(s string, _ netip.Addr) slog.Attr { p := &s; return slog.Any("v", &p) }},
		{"named string", func(s string, _ netip.Addr) slog.Attr {
			type host string
			return slog.Any("v", host(s))
		}},
		{"attr as value", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", slog.String("inner", s)) }},
		{"[]slog.Attr", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", []slog.Attr{slog.String("inner", s)}) }},
		{"slog.Value", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", slog.StringValue(s)) }},
		{"panicking methods", func(s string, _ netip.Addr) slog.Attr { return slog.Any("v", panicky{s}) }},
		{"panicking error", func(s string, _ netip.Addr) slog.Attr { return slog.Any("err", &panickyErr{s}) }},
		{"panicking valuer", func(s string, _ netip.Addr) slog.Attr {
			return slog.Any("v", lv{func() slog.Value { panic("peer " + s) }})
		}},
		{"nil pointer error", func(string, netip.Addr) slog.Attr { return slog.Any("err", (*customErr)(nil)) }},
	}
}

type handlerKind struct {
	name string
	// make returns a handler writing to w; replace says whether it masks
	// with ReplaceAttr (group names are then not masked, as documented).
	make    func(t *testing.T, w io.Writer) slog.Handler
	replace bool
}

func handlerKinds() []handlerKind {
	wrap := func(h slog.Handler) slog.Handler {
		mh, err := logmask.NewHandler(h, ipmask.Default, nil)
		if err != nil {
			panic(err)
		}
		return mh
	}
	masker := func(t *testing.T) *logmask.Masker {
		m, err := logmask.NewMasker(ipmask.Default, nil)
		require.NoError(t, err)
		return m
	}
	return []handlerKind{
		{"Handler json", func(_ *testing.T, w io.Writer) slog.Handler { return wrap(slog.NewJSONHandler(w, nil)) }, false},
		{"Handler text", func(_ *testing.T, w io.Writer) slog.Handler { return wrap(slog.NewTextHandler(w, nil)) }, false},
		{"ReplaceAttr json", func(t *testing.T, w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: masker(t).ReplaceAttr})
		}, true},
		{"ReplaceAttr text", func(t *testing.T, w io.Writer) slog.Handler {
			return slog.NewTextHandler(w, &slog.HandlerOptions{ReplaceAttr: masker(t).ReplaceAttr})
		}, true},
	}
}

// orders are the ways a logger is derived before it logs: the attribute
// is given to the call, to With before or after a group, or to a
// WithGroup named by the address.
func orders() []struct {
	name string
	log  func(l *slog.Logger, text string, a slog.Attr, groupNames bool)
} {
	return []struct {
		name string
		log  func(l *slog.Logger, text string, a slog.Attr, groupNames bool)
	}{
		{"call", func(l *slog.Logger, _ string, a slog.Attr, _ bool) {
			l.LogAttrs(context.Background(), slog.LevelInfo, "m", a)
		}},
		{"With", func(l *slog.Logger, _ string, a slog.Attr, _ bool) { l.With(a).Info("m") }},
		{"WithGroup then With", func(l *slog.Logger, _ string, a slog.Attr, _ bool) {
			l.WithGroup("g1").With(a).WithGroup("g2").Info("m", "k", 1)
		}},
		{"With then WithGroup", func(l *slog.Logger, _ string, a slog.Attr, _ bool) {
			l.With("k", 0).With(a).WithGroup("g1").WithGroup("g2").Info("m", "k", 1)
		}},
		{"in WithGroup", func(l *slog.Logger, text string, a slog.Attr, groupNames bool) {
			if groupNames {
				l = l.WithGroup(text)
			} else {
				l = l.WithGroup("g")
			}
			l.WithGroup("h").LogAttrs(context.Background(), slog.LevelWarn, "m", a)
		}},
	}
}

// TestHandlerEveryPlaceEveryForm logs every address form of
// ipmasktest.Cases in every place a record can carry one (the message,
// keys, group names, every typed value, errors, Stringers, LogValuers,
// reflected values) in every order of WithAttrs and WithGroup, through the
// Handler around slog's JSON and text handlers and through ReplaceAttr
// configured on them, and finds no raw address. Checked to fail: the same
// logs through the bare handlers leak in every place (the teeth check per
// place), and breaking the Handler's text masking, its group-name joins,
// its ReplaceAttr for Any values or its long-text path each fails it.
func TestHandlerEveryPlaceEveryForm(t *testing.T) {
	for _, c := range ipmasktest.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			for _, k := range handlerKinds() {
				for _, p := range places() {
					if k.replace && p.name == "group named by the address" {
						continue // documented: ReplaceAttr never sees group names
					}
					for _, o := range orders() {
						var out bytes.Buffer
						l := slog.New(k.make(t, &out))
						o.log(l, c.Text, p.attr(c.Text, c.Addr), !k.replace)
						ipmasktest.AssertNoRawIP(t, ipmask.Default, out.Bytes(), "%s, %s, %s", k.name, p.name, o.name)
					}
				}
				var out bytes.Buffer
				slog.New(k.make(t, &out)).Info("visit from " + c.Text)
				ipmasktest.AssertNoRawIP(t, ipmask.Default, out.Bytes(), "%s, the message", k.name)
			}
		})
	}
	// Teeth: each place leaks through a bare JSON or text handler (but
	// the two whose panic slog itself reports without its value).
	c := ipmasktest.Cases()[0]
	for _, p := range places() {
		if p.name == "panicking valuer" || p.name == "nil pointer error" {
			continue
		}
		var out bytes.Buffer
		for _, h := range []slog.Handler{slog.NewJSONHandler(&out, nil), slog.NewTextHandler(&out, nil)} {
			slog.New(h).LogAttrs(context.Background(), slog.LevelInfo, "m", p.attr(c.Text, c.Addr))
		}
		assert.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, out.Bytes()), "teeth: %s leaks unmasked: %s", p.name, out.String())
	}
}
