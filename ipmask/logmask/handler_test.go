package logmask_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

func mustHandler(t testing.TB, h slog.Handler, opts *logmask.HandlerOptions) *logmask.Handler {
	t.Helper()
	mh, err := logmask.NewHandler(h, ipmask.Default, opts)
	require.NoError(t, err)
	return mh
}

// TestHandlerSlogtest runs the standard library's handler conformance
// tests on a Handler wrapped around a JSON handler.
func TestHandlerSlogtest(t *testing.T) {
	var buf *bytes.Buffer
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		buf = new(bytes.Buffer)
		return mustHandler(t, slog.NewJSONHandler(buf, nil), nil)
	}, func(t *testing.T) map[string]any {
		var m map[string]any
		require.NoError(t, json.Unmarshal(buf.Bytes(), &m))
		return m
	})
}

type stringer string

func (s stringer) String() string { return "peer " + string(s) }

type valuer string

func (v valuer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("peer", string(v)), slog.Int("n", 1))
}

type peer struct {
	Name string
	Addr string
}

// logEveryForm logs text and addr, which is the address text holds, in
// every way an attribute can carry an address, in the group named group.
func logEveryForm(logger *slog.Logger, group, text string, addr netip.Addr) {
	ip := net.IP(addr.AsSlice())
	zoned := addr
	if addr.Is6() && !addr.Is4In6() {
		zoned = addr.WithZone("eth0")
	}
	ones := net.CIDRMask(addr.BitLen(), addr.BitLen())
	logger.With("with", text, text, 1).WithGroup(group).Info("visit from "+text,
		slog.String("text", text),
		slog.Int(text, 1),
		slog.Any("addr", zoned),
		slog.Any("addrport", netip.AddrPortFrom(addr, 443)),
		slog.Any("prefix", netip.PrefixFrom(addr, addr.BitLen())),
		slog.Any("ip", ip),
		slog.Any("ipnet", &net.IPNet{IP: ip, Mask: ones}),
		slog.Any("tcp", &net.TCPAddr{IP: ip, Port: 80, Zone: "eth0"}),
		slog.Any("udp", &net.UDPAddr{IP: ip, Port: 53}),
		slog.Any("ipaddr", &net.IPAddr{IP: ip}),
		slog.Any("err", fmt.Errorf("dial %s: connection refused", text)),
		slog.Any("stringer", stringer(text)),
		slog.Any("valuer", valuer(text)),
		slog.Any("bytes", []byte(text)),
		slog.Any("struct", peer{Name: "p", Addr: text}),
		slog.Any("map", map[string]string{"peer": text}),
		slog.Group("nested", slog.String("text", text), slog.Any("addr", addr), slog.Group("deeper", slog.Any("ip", ip))),
	)
}

// TestHandlerMasksEveryForm logs every address form of ipmasktest.Cases in
// every kind of attribute, through JSON and text handlers, and finds no
// raw address in the output; the same logs without the Handler leak.
func TestHandlerMasksEveryForm(t *testing.T) {
	for _, c := range ipmasktest.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			for name, newHandler := range map[string]func(io.Writer) slog.Handler{
				"json": func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) },
				"text": func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) },
			} {
				var raw, masked bytes.Buffer
				logEveryForm(slog.New(newHandler(&raw)), "group "+c.Text, c.Text, c.Addr)
				logEveryForm(slog.New(mustHandler(t, newHandler(&masked), nil)), "group "+c.Text, c.Text, c.Addr)
				require.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, raw.Bytes()), "%s: the check has teeth", name)
				ipmasktest.AssertNoRawIP(t, ipmask.Default, masked.Bytes(), name)
				assert.NotContains(t, masked.String(), "eth0", "%s: zones dropped", name)
			}
		})
	}
}

// TestHandlerTypedValues checks what each typed value becomes.
func TestHandlerTypedValues(t *testing.T) {
	ip4 := net.ParseIP("203.0.113.9") // 16 bytes, as net.ParseIP returns
	tests := []struct {
		name  string
		value any
		want  string // JSON
	}{
		{"addr", netip.MustParseAddr("203.0.113.9"), `"203.0.113.0"`},
		{"addr zoned", netip.MustParseAddr("fe80::1%eth0"), `"fe80::"`},
		{"addr mapped", netip.MustParseAddr("::ffff:203.0.113.9"), `"203.0.113.0"`},
		{"addr masked kept", netip.MustParseAddr("203.0.113.0"), `"203.0.113.0"`},
		{"addrport", netip.MustParseAddrPort("[2001:db8:1:2::7]:443"), `"[2001:db8:1::]:443"`},
		{"prefix longer than the policy", netip.MustParsePrefix("203.0.113.9/28"), `"203.0.113.0/24"`},
		{"prefix shorter than the policy", netip.MustParsePrefix("203.0.113.9/16"), `"203.0.0.0/16"`},
		{"prefix 6to4", netip.MustParsePrefix("2002:cb00:7109::/48"), `"2002:cb00:7100::/40"`},
		{"net.IP", ip4, `"203.0.113.0"`},
		{"net.IPNet", &net.IPNet{IP: ip4.To4(), Mask: net.CIDRMask(32, 32)}, `{"IP":"203.0.113.0","Mask":"////AA=="}`},
		{"tcp", &net.TCPAddr{IP: ip4, Port: 80}, `{"IP":"203.0.113.0","Port":80,"Zone":""}`},
		{"tcp zone dropped", &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2::7"), Port: 80, Zone: "eth0"}, `{"IP":"2001:db8:1::","Port":80,"Zone":""}`},
		{"error", fmt.Errorf("dial tcp 203.0.113.9:80: refused"), `"dial tcp 203.0.113.0:80: refused"`},
		{"stringer", stringer("2001:db8:1:2::7"), `"peer 2001:db8:1::"`},
		{"bytes", []byte("from 203.0.113.9"), `"ZnJvbSAyMDMuMC4xMTMuMA=="`},
		{"struct", peer{Name: "a", Addr: "203.0.113.9"}, `"{Name:a Addr:203.0.113.0}"`},
		{"struct without address", peer{Name: "a", Addr: "none"}, `{"Name":"a","Addr":"none"}`},
		{"nil", nil, `null`},
		{"int", 42, `42`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(mustHandler(t, slog.NewJSONHandler(&buf, nil), nil)).Info("m", "v", tt.value)
			var got map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
			assert.JSONEq(t, tt.want, string(got["v"]))
		})
	}
}

func TestHandlerSkipPrivate(t *testing.T) {
	var buf bytes.Buffer
	h := mustHandler(t, slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}), &logmask.HandlerOptions{SkipPrivate: true})
	slog.New(h).Info("from 10.1.2.3 and 203.0.113.9", "ip", netip.MustParseAddr("192.168.1.7"), "peer", netip.MustParseAddr("198.51.100.7"))
	assert.Equal(t, "level=INFO msg=\"from 10.1.2.3 and 203.0.113.0\" ip=192.168.1.7 peer=198.51.100.0\n", buf.String())
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// TestReplaceAttr configures built-in handlers with Masker.ReplaceAttr and
// logs every address form through them.
func TestReplaceAttr(t *testing.T) {
	m, err := logmask.NewMasker(ipmask.Default, nil)
	require.NoError(t, err)
	for _, c := range ipmasktest.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			var buf bytes.Buffer
			opts := &slog.HandlerOptions{ReplaceAttr: m.ReplaceAttr}
			logger := slog.New(slog.NewJSONHandler(&buf, opts))
			// Group names are not attributes: ReplaceAttr cannot see them.
			logEveryForm(logger, "g", c.Text, c.Addr)
			logger = slog.New(slog.NewTextHandler(&buf, opts))
			logEveryForm(logger, "g", c.Text, c.Addr)
			ipmasktest.AssertNoRawIP(t, ipmask.Default, buf.Bytes())
		})
	}
}

// nop is an enabled handler that does nothing, so that allocation counts
// measure the Handler alone.
type nop struct{}

func (nop) Enabled(context.Context, slog.Level) bool  { return true }
func (nop) Handle(context.Context, slog.Record) error { return nil }
func (h nop) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h nop) WithGroup(string) slog.Handler           { return h }

// TestHandlerAllocs checks that a record holding no address costs no
// allocation, and that one holding an address is masked.
func TestHandlerAllocs(t *testing.T) {
	h := mustHandler(t, nop{}, nil)
	ctx := context.Background()
	now := time.Date(2024, 6, 11, 8, 0, 0, 0, time.UTC)
	r := slog.NewRecord(now, slog.LevelInfo, "request served in 12.5 ms, version 1.2.3", 0)
	r.AddAttrs(
		slog.String("method", "GET"), slog.String("path", "/c/abc?x=1"), slog.Int("status", 200),
		slog.Duration("took", 12*time.Millisecond), slog.Time("at", now), slog.Bool("ok", true),
		slog.Any("err", io.ErrUnexpectedEOF), slog.Any("level", slog.LevelWarn),
		slog.Group("req", slog.String("ua", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.6099.109"), slog.Int64("bytes", 1234)),
		slog.String("long", strings.Repeat("no address here, only words. ", 20)),
	)
	allocs := testing.AllocsPerRun(100, func() {
		_ = h.Handle(ctx, r)
	})
	assert.Zero(t, allocs)
	// Inside groups, each key is also read joined to the groups' names.
	inGroups := h.WithGroup("http").WithGroup("v1")
	allocs = testing.AllocsPerRun(100, func() {
		_ = inGroups.Handle(ctx, r)
	})
	assert.Zero(t, allocs, "inside groups")
}

// TestHandlerAllocsLongEncoded checks that text of over 256 bytes holding
// a percent-encoded colon and no address (a query string carrying an
// encoded URL), as a value, as a key and as a key joined to the names of
// groups, costs no allocation either: it is masked in a pooled buffer to
// find that nothing changes. Not under the race detector, whose sync.Pool
// drops buffers on purpose.
func TestHandlerAllocsLongEncoded(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops buffers: make test runs this without it (make allocs)")
	}
	h := mustHandler(t, nop{}, nil)
	ctx := context.Background()
	long := "/c/abc?next=https%3A%2F%2Fexample.com%2F" + strings.Repeat("segment%2F", 40)
	for _, text := range []string{long, long + strings.Repeat("%2Fmore", 200)} {
		r := slog.NewRecord(time.Time{}, slog.LevelInfo, text, 0)
		r.AddAttrs(slog.String("next", text), slog.Int(text, 1))
		for name, hh := range map[string]slog.Handler{"top level": h, "inside groups": h.WithGroup("http").WithGroup("v1")} {
			assert.Zero(t, testing.AllocsPerRun(100, func() { _ = hh.Handle(ctx, r) }), "%s, %d bytes", name, len(text))
		}
	}
}

// A handler writes some runes as escape sequences (\x8e, \u0001, \n, \ufffd)
// whose last characters could join the text after them into an address
// that was not one before: "\x8e:::1" prints as `\x8e:::1`, read as the key
// "x8e:" and ::1. The Handler writes such a rune as '?' when text that could
// join it follows, so nothing slog's text or JSON handler prints holds an
// address the policy did not mask: in the message, a key, a value (a
// string, or a []byte, which the text handler quotes) or a group name.
func TestHandlerEscapesCannotJoinAnAddress(t *testing.T) {
	escapes := []string{"\x8e", "\x01", "\n", "\t", "\x7f", "\u2028", "\ufeff", "\xff\xfe", "\xe2\x82"}
	tails := []string{":::1", "::1", ":2001:db8::7", ".2.3.4", ":203.0.113.9", "a:::1", "%3A%3A1"}
	for _, e := range escapes {
		for _, tail := range tails {
			v := "x" + e + tail
			var js, text bytes.Buffer
			for _, w := range []slog.Handler{slog.NewJSONHandler(&js, nil), slog.NewTextHandler(&text, nil)} {
				h, err := logmask.NewHandler(w, ipmask.Default, nil)
				require.NoError(t, err)
				slog.New(h).WithGroup(v).Info(v, "k", v, v, 1, "b", []byte(v))
			}
			ipmasktest.AssertNoRawIP(t, ipmask.Default, js.String(), "JSON of %q", v)
			ipmasktest.AssertNoRawIP(t, ipmask.Default, text.String(), "text of %q", v)
		}
	}
	// Printable text, and an escape followed by a space, are left alone.
	var buf bytes.Buffer
	h, err := logmask.NewHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}), ipmask.Default, nil)
	require.NoError(t, err)
	slog.New(h).Info("é a<b&c \x01 x", "k", "line\nnext")
	assert.Equal(t, "level=INFO msg=\"é a<b&c \\x01 x\" k=line?next\n", buf.String())
}

// A value whose String or Error method shows no address can still write
// one through another rendering a handler picks: slog's JSON handler
// marshals a struct (following its pointers, which %+v prints as hex) and
// calls MarshalJSON and MarshalText; its text handler calls MarshalText and
// prints a named byte slice as a quoted string.

type client struct{ IP string }

// event holds its client behind a pointer: %+v prints {Client:0xc000...}.
type event struct {
	Name   string
	Client *client
}

// visitor's String hides the address its exported field holds.
type visitor struct {
	ID   string
	Addr netip.Addr
}

func (v visitor) String() string { return "visitor " + v.ID }

// textOnly has MarshalText and no String method.
type textOnly struct{ a netip.Addr }

func (t textOnly) MarshalText() ([]byte, error) { return t.a.MarshalText() }

// payload is a named byte slice.
type payload []byte

// verboseErr shows its address only in %+v.
type verboseErr struct{ addr string }

func (e *verboseErr) Error() string { return "dial failed" }
func (e *verboseErr) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('+') {
		fmt.Fprintf(f, "dial %s failed", e.addr)
		return
	}
	io.WriteString(f, e.Error())
}

// hiddenText is a string type whose String method hides its value, which
// encoding/json writes as it is.
type hiddenText string

func (hiddenText) String() string { return "redacted" }

// pointerValuer resolves to a pointer to its address text.
type pointerValuer string

func (v pointerValuer) LogValue() slog.Value {
	s := string(v)
	return slog.AnyValue(&s)
}

// ipNumber is an IPv4 address as a number, which %+v prints as digits;
// its marshalling methods fail with an error that names it dotted.
type ipNumber uint32

func (n ipNumber) addr() netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}
func (n ipNumber) MarshalText() ([]byte, error) {
	return nil, fmt.Errorf("%v is not routable", n.addr())
}
func (n ipNumber) MarshalJSON() ([]byte, error) { return n.MarshalText() }

// plainFormatter shows its address to %v but not to %+v.
type plainFormatter struct{ addr string }

func (p plainFormatter) Format(f fmt.State, verb rune) {
	if f.Flag('+') {
		io.WriteString(f, "peer (details withheld)")
		return
	}
	io.WriteString(f, "peer "+p.addr)
}

// valueStringHandler writes each attribute as its key, '=' and
// slog.Value.String(), as handlers outside the standard library do.
type valueStringHandler struct {
	w    io.Writer
	opts *slog.HandlerOptions
}

func (h valueStringHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h valueStringHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if h.opts != nil && h.opts.ReplaceAttr != nil {
			a = h.opts.ReplaceAttr(nil, a)
		}
		fmt.Fprintf(h.w, "%s=%s\n", a.Key, a.Value.Resolve().String())
		return true
	})
	return nil
}
func (h valueStringHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h valueStringHandler) WithGroup(string) slog.Handler      { return h }

// TestHandlerEveryRendering logs values whose address shows in a rendering
// other than their String, Error or %+v text, through slog's JSON and text
// handlers, wrapped in a Handler and configured with ReplaceAttr: no raw
// address is written. The same logs without masking leak.
func TestHandlerEveryRendering(t *testing.T) {
	const raw = "203.0.113.9"
	addr := netip.MustParseAddr(raw)
	text := raw
	textPtr := &text
	var iface any = raw
	values := []struct {
		name  string
		value any
	}{
		{"struct holding a pointer", event{Name: "click", Client: &client{IP: raw}}},
		{"slice of pointers", []*client{{IP: raw}}},
		{"map of pointers", map[string]*client{"c": {IP: raw}}},
		{"stringer hiding a field", visitor{ID: "v1", Addr: addr}},
		{"json.RawMessage", json.RawMessage(`{"ip":"` + raw + `"}`)},
		{"named byte slice", payload("from " + raw)},
		{"text marshaler only", textOnly{a: addr}},
		{"formatter error", &verboseErr{addr: raw}},
		// %+v prints a pointer as hex; encoding/json writes what it
		// points to (an AWS SDK's *string, an optional field).
		{"pointer to a string", &text},
		{"pointer to a pointer to a string", &textPtr},
		{"pointer to an interface", &iface},
		{"string type whose String hides it", hiddenText(raw)},
		{"LogValuer resolving to a pointer", pointerValuer(raw)},
		// A handler writes "!ERROR:" and the error's text when a
		// marshalling method fails.
		{"marshaller failing with the address", ipNumber(0xcb007109)},
		{"formatter answering %v otherwise", plainFormatter{addr: raw}},
	}
	m, err := logmask.NewMasker(ipmask.Default, nil)
	require.NoError(t, err)
	handlers := map[string]func(io.Writer, *slog.HandlerOptions) slog.Handler{
		"json": func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewJSONHandler(w, o) },
		"text": func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewTextHandler(w, o) },
		"Value.String": func(w io.Writer, o *slog.HandlerOptions) slog.Handler {
			return valueStringHandler{w: w, opts: o}
		},
	}
	for _, tt := range values {
		t.Run(tt.name, func(t *testing.T) {
			leaked := false
			for name, newHandler := range handlers {
				var plain, wrapped, replaced bytes.Buffer
				slog.New(newHandler(&plain, nil)).Info("m", "v", tt.value)
				leaked = leaked || strings.Contains(plain.String(), raw)
				slog.New(mustHandler(t, newHandler(&wrapped, nil), nil)).Info("m", "v", tt.value)
				slog.New(newHandler(&replaced, &slog.HandlerOptions{ReplaceAttr: m.ReplaceAttr})).Info("m", "v", tt.value)
				for how, out := range map[string]string{"Handler": wrapped.String(), "ReplaceAttr": replaced.String()} {
					assert.NotContains(t, out, raw, "%s %s", name, how)
					ipmasktest.AssertNoRawIP(t, ipmask.Default, out, "%s %s", name, how)
				}
			}
			require.True(t, leaked, "the value writes its address through some handler unmasked")
		})
	}
}

type nilErr struct{ msg string }

func (e nilErr) Error() string  { return e.msg }
func (e nilErr) String() string { return e.msg }
func (e *nilErr) Other() string { return "" }

type panicky struct{}

func (panicky) String() string { panic("peer 203.0.113.9 gone") }

// TestHandlerNilAndPanickingValues logs a nil pointer whose Error and
// String methods have value receivers, which panic when called, and a
// value whose String panics: the Handler does not panic, and writes what
// slog's handlers write for them, masked.
func TestHandlerNilAndPanickingValues(t *testing.T) {
	var nilPtr *nilErr
	for _, v := range []any{error(nilPtr), fmt.Stringer(nilPtr), panicky{}} {
		var buf bytes.Buffer
		h := mustHandler(t, slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}), nil)
		require.NotPanics(t, func() { slog.New(h).Info("m", "v", v) })
		ipmasktest.AssertNoRawIP(t, ipmask.Default, buf.String())
		assert.NotEmpty(t, buf.String())
	}
	var buf bytes.Buffer
	h := mustHandler(t, slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}), nil)
	slog.New(h).Info("m", "nil", error(nilPtr), "panic", panicky{})
	assert.Equal(t, "level=INFO msg=m nil=<nil> panic=\"!PANIC: peer 203.0.113.0 gone\"\n", buf.String())
}

// selfPointer is a pointer type that points to its own type.
type selfPointer *selfPointer

// TestHandlerSelfPointer logs a value whose type is a pointer to itself:
// the Handler follows pointers a bounded number of times and returns.
func TestHandlerSelfPointer(t *testing.T) {
	var p selfPointer
	p = &p
	var buf bytes.Buffer
	slog.New(mustHandler(t, slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}), nil)).Info("m", "p", p)
	assert.Contains(t, buf.String(), "p=0x", "written as slog writes a pointer")
}

// TestHandlerGroupNamesJoinedToKeys logs keys inside groups whose names
// and key, each no address, spell one where slog's text handler joins
// them with dots; the Handler masks the address so joined (where that
// would change the group's name, already written, a '?' keeps the key
// apart from it), and leaves other joins as they are.
func TestHandlerGroupNamesJoinedToKeys(t *testing.T) {
	tests := []struct {
		name   string
		log    func(*slog.Logger)
		want   string // the key as the text handler writes it
		masked bool
	}{
		{"WithGroup then key", func(l *slog.Logger) { l.WithGroup("203.0").Info("m", "113.9", 1) }, "203.0.113.0", true},
		{"WithGroup chain", func(l *slog.Logger) { l.WithGroup("peer").WithGroup("203").WithGroup("0.113").Info("m", "9", 1) }, "peer.203.0.113.0", true},
		{"nested groups", func(l *slog.Logger) {
			l.Info("m", slog.Group("203", slog.Group("0", slog.Group("113", slog.Int("9", 1)))))
		}, "203.0.113.0", true},
		{"WithGroup then group", func(l *slog.Logger) { l.WithGroup("203.0").Info("m", slog.Group("113", slog.Int("9", 1))) }, "203.0.113.0", true},
		{"WithAttrs in a group", func(l *slog.Logger) { l.WithGroup("203.0.113").With("9", 1).Info("m") }, "203.0.113.0", true},
		{"host name", func(l *slog.Logger) { l.WithGroup("203-0-113-9").Info("m", "ec2.internal", 1) }, "203-0-113-9.?ec2.internal", true},
		{"short host name, masked as a group's name", func(l *slog.Logger) { l.WithGroup("ip-203-0-113-9").Info("m", "ec2.internal", 1) }, "ip-203-0-113-0.ec2.internal", true},
		{"reverse DNS", func(l *slog.Logger) { l.WithGroup("9.113.0.203").Info("m", "in-addr.arpa", 1) }, "9.113.0.0.?in-addr.arpa", true},
		{"LogValuer resolving to a group", func(l *slog.Logger) { l.WithGroup("203.0").Info("m", "113", valuer("x")) }, "203.0.113.peer", false},
		{"inline group", func(l *slog.Logger) { l.WithGroup("203.0.113").Info("m", slog.Group("", slog.Int("9", 1))) }, "203.0.113.0", true},
		{"key that starts with a dot", func(l *slog.Logger) { l.WithGroup("g").Info("m", ".9.1.0.2.ip6.arpa", 1) }, "g..0.1.0.0.ip6.arpa", true},
		{"group name ending in an escaped byte", func(l *slog.Logger) { l.WithGroup("x\xb2").Info("m", "0.0.1", 1) }, "x?.0.0.1", true},
		{"group key ending in an escaped byte", func(l *slog.Logger) { l.Info("m", slog.Group("x\x01", slog.Int("0.0.1", 1))) }, "x?.0.0.1", true},
		{"version numbers", func(l *slog.Logger) { l.WithGroup("v1").WithGroup("2").Info("m", "3", 1) }, "v1.2.3", false},
		{"ordinary names", func(l *slog.Logger) { l.WithGroup("http").Info("m", slog.Group("req", slog.Int("bytes", 1))) }, "http.req.bytes", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var plain, masked bytes.Buffer
			tt.log(slog.New(slog.NewTextHandler(&plain, &slog.HandlerOptions{ReplaceAttr: dropTime})))
			tt.log(slog.New(mustHandler(t, slog.NewTextHandler(&masked, &slog.HandlerOptions{ReplaceAttr: dropTime}), nil)))
			if tt.masked {
				require.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, plain.String()), "the names spell an address when joined")
			}
			ipmasktest.AssertNoRawIP(t, ipmask.Default, masked.String())
			assert.Contains(t, masked.String(), " "+tt.want+"=")
		})
	}
}

// captured keeps the last record a Handler passed on.
type captured struct{ r *slog.Record }

func (c captured) Enabled(context.Context, slog.Level) bool { return true }
func (c captured) Handle(_ context.Context, r slog.Record) error {
	*c.r = r.Clone()
	return nil
}
func (c captured) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c captured) WithGroup(string) slog.Handler      { return c }

// TestHandlerTimeZoneNames checks that the zone name of a time value, and
// of the record's time, is masked where it holds an address, since
// Time.String (and so slog.Value.String) writes it, while the instant and
// its offset are kept; ReplaceAttr masks the built-in time attribute too.
// A time in a zone of an ordinary name costs no allocation.
func TestHandlerTimeZoneNames(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.FixedZone("203.0.113.9", 3600))
	var got slog.Record
	h := mustHandler(t, captured{&got}, nil)
	r := slog.NewRecord(at, slog.LevelInfo, "m", 0)
	r.AddAttrs(slog.Time("t", at), slog.Group("g", slog.Time("t", at)))
	require.NoError(t, h.Handle(context.Background(), r))
	var text strings.Builder
	text.WriteString(got.Time.String())
	got.Attrs(func(a slog.Attr) bool { text.WriteString(" " + a.Value.String()); return true })
	ipmasktest.AssertNoRawIP(t, ipmask.Default, text.String())
	assert.True(t, got.Time.Equal(at), "the instant is kept")
	_, off := got.Time.Zone()
	assert.Equal(t, 3600, off, "the offset is kept")
	assert.Contains(t, text.String(), "+0100 203.0.113.0")

	m, err := logmask.NewMasker(ipmask.Default, nil)
	require.NoError(t, err)
	a := m.ReplaceAttr(nil, slog.Time(slog.TimeKey, at))
	ipmasktest.AssertNoRawIP(t, ipmask.Default, a.Value.String())

	plain := time.Date(2026, 12, 1, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	r = slog.NewRecord(plain, slog.LevelInfo, "m", 0)
	r.AddAttrs(slog.Time("t", plain), slog.Time("local", plain.Local()))
	n := mustHandler(t, nop{}, nil)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = n.Handle(context.Background(), r) }))
}

// callCounter is a LogValuer that counts its calls.
type callCounter struct {
	n *int
	v slog.Value
}

func (c callCounter) LogValue() slog.Value { *c.n++; return c.v }

// TestHandlerResolvesLogValuerOnce: a LogValuer is resolved once per
// record, whether the record changes because of it, because of an
// attribute before it, or because of the message.
func TestHandlerResolvesLogValuerOnce(t *testing.T) {
	a := netip.MustParseAddr("203.0.113.9")
	for name, log := range map[string]func(l *slog.Logger, v slog.LogValuer){
		"first":          func(l *slog.Logger, v slog.LogValuer) { l.Info("m", "v", v) },
		"after plain":    func(l *slog.Logger, v slog.LogValuer) { l.Info("m", "k", 1, "v", v, "a", a) },
		"after address":  func(l *slog.Logger, v slog.LogValuer) { l.Info("m", "a", a, "v", v) },
		"message masked": func(l *slog.Logger, v slog.LogValuer) { l.Info("203.0.113.9", "v", v) },
		"in a group":     func(l *slog.Logger, v slog.LogValuer) { l.Info("m", slog.Group("g", "v", v)) },
	} {
		for _, v := range []slog.Value{slog.AnyValue(a), slog.StringValue("plain")} {
			var buf bytes.Buffer
			n := 0
			log(slog.New(mustHandler(t, slog.NewJSONHandler(&buf, nil), nil)), callCounter{&n, v})
			assert.Equal(t, 1, n, "%s, resolving to %v", name, v)
			ipmasktest.AssertNoRawIP(t, ipmask.Default, buf.String(), name)
		}
	}
}
