package logmask

import (
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/clickanon/clickanon/ipmask"
)

// HandlerOptions configure a [Handler]. The zero HandlerOptions (and a nil
// *HandlerOptions) mask every address, private ones too. [NewHandler]
// copies what it needs; it never modifies a HandlerOptions.
type HandlerOptions struct {
	// SkipPrivate leaves private, loopback and link-local addresses as
	// they are, as [Options].SkipPrivate does.
	SkipPrivate bool
}

// A Handler is a [slog.Handler] that masks every IP address in a record
// and passes the record on to the handler it wraps. It reads content, not
// attribute names: the message, attribute keys and group names, string
// values, [netip.Addr], [netip.Prefix], [netip.AddrPort], [net.IP],
// [*net.IPNet], [*net.TCPAddr], [*net.UDPAddr], [*net.IPAddr], []byte,
// [slog.LogValuer] results, the zone names of [time.Time] values and of
// the record's time (which Time.String, and so [slog.Value.String],
// writes; the instant and its offset are kept), and attributes inside
// groups and given to WithAttrs. Any other value (an error, a
// [fmt.Stringer], a struct, a map, a slice, a pointer) is read in every
// way a wrapped handler may write it: its Error or String text, fmt's
// %+v, its MarshalText and MarshalJSON output (or the error text a
// handler writes when one fails), fmt's %v for a [fmt.Formatter] (as
// [slog.Value.String] writes it), encoding/json's rendering of a struct,
// map, slice or interface (which follows the pointers %+v prints as hex,
// and shows the exported fields a String method may leave out; not for an
// error, whose Error text slog's JSON handler writes), the string a
// pointer leads to or a String method hides (a *string, as cloud SDKs
// hold an address), and the bytes of a named byte slice such as
// [encoding/json.RawMessage]. If any of
// those holds an address, the value is replaced by the first that does,
// masked. A method that panics (such as Error on a nil pointer) does not
// reach the caller: the value is read as slog's handlers write it then,
// "<nil>" or "!PANIC: " and the panic's text. A value is read once, when
// the record is handled: one whose methods answer otherwise on a later
// call, or that another goroutine changes meanwhile, is written as the
// wrapped handler then finds it (a LogValuer alone is resolved here and
// passed on resolved).
//
// slog's text handler writes a key inside groups after their names,
// joined by dots: a key or group name that continues an address begun by
// the names before it ("203.0" then "113.9") is masked as the joined text
// reads, or, where that would change a name already written, is written
// after a '?'.
//
// An address held as plain bytes or a number (the []byte of
// netip.Addr.AsSlice, the [4]byte of As4, a uint32) is not recognized:
// handlers write it as base64, quoted bytes or numbers, never as an
// address's text, and so many other values are 4 or 16 bytes (an MD5 sum
// is a [16]byte) that masking them all would corrupt them. Log the
// netip.Addr or net.IP instead.
//
// Typed values keep their type: an Addr becomes the masked Addr (its zone
// dropped), a Prefix the masked network (the policy's prefix, or the
// value's own shorter one), an AddrPort keeps its port, a *net.TCPAddr its
// port. Text is masked as [Masker.AppendMask] masks it in free-text mode.
// A value replaced by its text becomes a string value. LogValuer values are resolved once, here, and the result passed
// on, so the wrapped handler never calls LogValue itself.
//
// A wrapped handler writes some runes as escape sequences (slog's JSON
// handler writes a control byte as \u0001 and invalid UTF-8 as \ufffd, its
// text handler \x8e or \n), whose last characters could join the text
// after them into an address that was not there: "\x8e:::1" would be read
// as the key "x8e:" and the address ::1. So a rune that such a handler
// escapes (invalid UTF-8 or not printable, as unicode.IsPrint says) and
// that is followed by an ASCII letter or digit or one of ":.%[]_-" is
// written as '?' before the text is masked, and so is such a rune at the
// end of a group's name, which the text handler follows with a dot.
//
// A record that holds no address is passed on as it is, without
// allocating, unless it holds a LogValuer or a value that must be
// formatted or marshalled to be read (a struct, a map, a slice, a
// fmt.Formatter, a type with MarshalText or MarshalJSON); an error or a
// Stringer with none of those is read by its text alone. Text of over 256
// bytes that holds a percent-encoded colon (a query string carrying an
// encoded URL) is masked in a buffer from a sync.Pool to find out, which
// may allocate after a garbage collection.
// One that does is copied, with its attributes masked.
//
// To mask what the log package writes too (log.Printf), install a logger
// on a Handler with [slog.SetDefault]. Wrap a handler that writes to a
// file or stream, such as slog.NewTextHandler(os.Stderr, nil), not
// slog.Default().Handler() as it is before any SetDefault: that handler
// writes through the log package, which SetDefault sends back to the
// Handler, and the first record then waits forever on the log package's
// lock (a limit of log/slog, not of the Handler). Wrapping it without
// SetDefault works.
//
// A Handler is safe for concurrent use if the handler it wraps is, as
// every slog.Handler must be. The zero Handler is not usable: build one
// with [NewHandler].
type Handler struct {
	next slog.Handler
	m    *Masker
	// groups is the end of the names of the groups WithGroup opened,
	// joined by dots as slog's text handler writes them before a key.
	groups groupPath
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler returns a Handler that masks with policy p and options opts
// (nil means the defaults) and passes records on to h. It reports an error
// if h is nil.
func NewHandler(h slog.Handler, p ipmask.Policy, opts *HandlerOptions) (*Handler, error) {
	if h == nil {
		return nil, errors.New("logmask: NewHandler: nil slog.Handler")
	}
	m := &Masker{policy: p, delim: ' ', placeholder: "-", maxLine: DefaultMaxLine}
	if opts != nil {
		m.skipPrivate = opts.SkipPrivate
	}
	return &Handler{next: h, m: m}, nil
}

// Enabled reports whether the wrapped handler handles records at level l.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle masks the addresses in r and passes it on to the wrapped handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	msg, changed := h.m.maskQuoted(r.Message)
	at, tc := h.m.maskTime(r.Time)
	changed = changed || tc
	// same is how many attributes, from the first, are unchanged (-1:
	// not looked at); first is the one after them, masked, kept so that
	// it is not masked again below (a LogValuer in it is resolved once).
	same, first := -1, slog.Attr{}
	if !changed {
		same = 0
		r.Attrs(func(a slog.Attr) bool {
			if first, changed = h.m.maskAttr(a, &h.groups); !changed {
				same++
			}
			return !changed
		})
		if !changed {
			return h.next.Handle(ctx, r)
		}
	}
	out := slog.NewRecord(at, r.Level, msg, r.PC)
	i := 0
	r.Attrs(func(a slog.Attr) bool {
		switch {
		case i < same:
		case i == same:
			a = first
		default:
			a, _ = h.m.maskAttr(a, &h.groups)
		}
		i++
		out.AddAttrs(a)
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs returns a Handler whose wrapped handler has attrs, masked.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(h.m.maskAttrs(attrs, &h.groups)), m: h.m, groups: h.groups}
}

// WithGroup returns a Handler whose wrapped handler opens the group name,
// masked, also where slog's text handler writes it after the names of the
// groups already open ("203.0" then "113.9" would be 203.0.113.9).
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	name, _ = h.m.maskQuoted(name)
	name, _ = h.m.maskJoined(&h.groups, name)
	name, _ = defangEnd(name)
	return &Handler{next: h.next.WithGroup(name), m: h.m, groups: h.groups.with(name)}
}

// ReplaceAttr returns a with every address in it masked, as [Handler]
// masks attributes, for [slog.HandlerOptions].ReplaceAttr: a built-in
// handler calls it for the message ("msg") and every attribute, inside
// groups too. It masks in free-text mode, whatever m's Fields say.
//
// The names of groups (groups, and WithGroup's) are not passed to
// ReplaceAttr as attributes and so are not masked, nor is an address that
// a text handler writes when it joins them to a key with dots; wrap the
// handler in a [Handler] to mask those too.
func (m *Masker) ReplaceAttr(groups []string, a slog.Attr) slog.Attr {
	a, _ = m.maskAttr(a, nil)
	return a
}

// maskAttrs returns attrs, inside the groups path, with each attribute
// masked: attrs itself when nothing changes, else a copy.
func (m *Masker) maskAttrs(attrs []slog.Attr, path *groupPath) []slog.Attr {
	var out []slog.Attr
	for i, a := range attrs {
		ma, changed := m.maskAttr(a, path)
		if changed && out == nil {
			out = make([]slog.Attr, len(attrs))
			copy(out, attrs[:i])
		}
		if out != nil {
			out[i] = ma
		}
	}
	if out == nil {
		return attrs
	}
	return out
}

// maskAttr masks a's key and value and reports whether either changed.
// path is the names of the groups a is in (nil: not known), whose end a
// text handler writes before a's key.
func (m *Masker) maskAttr(a slog.Attr, path *groupPath) (slog.Attr, bool) {
	key, kc := m.maskQuoted(a.Key)
	if path != nil {
		var jc bool
		key, jc = m.maskJoined(path, key)
		kc = kc || jc
	}
	v, vc := a.Value, false
	if v.Kind() == slog.KindLogValuer {
		// Resolved here, once: the wrapped handler must see what was
		// masked, not call LogValue again.
		v, vc = v.Resolve(), true
	}
	if v.Kind() == slog.KindGroup && key != "" && path != nil {
		var dc bool
		key, dc = defangEnd(key)
		kc = kc || dc
		inner := path.with(key)
		v, vc = m.maskGroup(v, &inner, vc)
	} else {
		var c bool
		v, c = m.maskValue(v, path)
		vc = vc || c
	}
	if !kc && !vc {
		return a, false
	}
	return slog.Attr{Key: key, Value: v}, true
}

// maskGroup masks the attributes of the group value v, inside path, and
// reports whether they changed or changed was already true.
func (m *Masker) maskGroup(v slog.Value, path *groupPath, changed bool) (slog.Value, bool) {
	attrs := v.Group()
	if masked := m.maskAttrs(attrs, path); len(masked) > 0 && &masked[0] != &attrs[0] {
		return slog.GroupValue(masked...), true
	}
	return v, changed
}

// maskValue masks v, resolved, whose attributes if it is a group are
// inside path, and reports whether it changed.
func (m *Masker) maskValue(v slog.Value, path *groupPath) (slog.Value, bool) {
	switch v.Kind() {
	case slog.KindString:
		if s, changed := m.maskQuoted(v.String()); changed {
			return slog.StringValue(s), true
		}
	case slog.KindGroup:
		return m.maskGroup(v, path, false)
	case slog.KindTime:
		if t, changed := m.maskTime(v.Time()); changed {
			return slog.TimeValue(t), true
		}
	case slog.KindAny:
		return m.maskAny(v)
	}
	return v, false
}

// maskAny masks a value of kind Any.
func (m *Masker) maskAny(v slog.Value) (slog.Value, bool) {
	switch x := v.Any().(type) {
	case nil:
	case netip.Addr:
		if a, changed := m.maskAddr(x); changed {
			return slog.AnyValue(a), true
		}
	case netip.AddrPort:
		if a, changed := m.maskAddr(x.Addr()); changed {
			return slog.AnyValue(netip.AddrPortFrom(a, x.Port())), true
		}
	case netip.Prefix:
		if p, changed := m.maskPrefix(x); changed {
			return slog.AnyValue(p), true
		}
	case net.IP:
		if a, changed := m.maskIP(x); changed {
			return slog.AnyValue(a), true
		}
	case *net.IPNet:
		if x == nil {
			break
		}
		a, ok := netip.AddrFromSlice(x.IP)
		ones, bits := x.Mask.Size()
		if !ok || bits != a.BitLen() {
			return m.maskText(v, x.String()) // a mask that is not a prefix
		}
		if p, changed := m.maskPrefix(netip.PrefixFrom(a, ones)); changed {
			return slog.AnyValue(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}), true
		}
	case *net.TCPAddr:
		if x == nil {
			break
		}
		if a, changed := m.maskIP(x.IP); changed || x.Zone != "" {
			return slog.AnyValue(&net.TCPAddr{IP: a, Port: x.Port}), true
		}
	case *net.UDPAddr:
		if x == nil {
			break
		}
		if a, changed := m.maskIP(x.IP); changed || x.Zone != "" {
			return slog.AnyValue(&net.UDPAddr{IP: a, Port: x.Port}), true
		}
	case *net.IPAddr:
		if x == nil {
			break
		}
		if a, changed := m.maskIP(x.IP); changed || x.Zone != "" {
			return slog.AnyValue(&net.IPAddr{IP: a}), true
		}
	case *slog.Source:
		if x == nil {
			break
		}
		fn, fc := m.maskQuoted(x.Function)
		file, ffc := m.maskQuoted(x.File)
		if fc || ffc {
			return slog.AnyValue(&slog.Source{Function: fn, File: file, Line: x.Line}), true
		}
	case []byte:
		// The text handler quotes it as it quotes a string, escapes
		// and all.
		if out, changed := m.maskQuoted(unsafe.String(unsafe.SliceData(x), len(x))); changed {
			return slog.AnyValue([]byte(out)), true
		}
	case slog.Level:
		// Its String, MarshalText and MarshalJSON all write a level name.
	default:
		return m.maskRendered(v, x)
	}
	return v, false
}

// maskRendered masks a value of a type the Handler does not know. A
// wrapped handler may write it in any of several ways: by its Error or
// String method, fmt's %+v (which a fmt.Formatter writes itself), its
// MarshalText or MarshalJSON method, encoding/json's reflection (which
// follows the pointers that %+v prints as hex, and ignores String: the
// string a *string leads to, the value of a string type), or, for a named
// byte slice, its bytes. If any of these that x has holds an
// address, v is replaced by the first that does, masked, as a string
// value; otherwise v is kept. An error is not marshalled by reflection, as
// slog's JSON handler writes its Error text. A method that panics is
// written as slog's handlers write it: "<nil>" for a nil pointer, else
// "!PANIC: " and the panic's text, masked.
func (m *Masker) maskRendered(v slog.Value, x any) (slog.Value, bool) {
	check := func(text string, ok bool) (slog.Value, bool) {
		if !ok {
			return v, false
		}
		return m.maskText(v, text)
	}
	err, isErr := x.(error)
	str, isStr := x.(fmt.Stringer)
	_, isFmt := x.(fmt.Formatter)
	switch {
	case isErr:
		if r, changed := check(render(x, err.Error)); changed {
			return r, true
		}
	case isStr:
		if r, changed := check(render(x, str.String)); changed {
			return r, true
		}
	}
	if isFmt || !isErr && !isStr {
		if r, changed := check(render(x, func() string { return fmt.Sprintf("%+v", x) })); changed {
			return r, true
		}
	}
	if isFmt {
		// slog.Value.String, which handlers of other libraries call,
		// formats with %v, to which a Formatter may answer otherwise.
		if r, changed := check(render(x, func() string { return fmt.Sprint(x) })); changed {
			return r, true
		}
	}
	tm, isText := x.(encoding.TextMarshaler)
	if isText {
		if r, changed := check(renderBytes(x, tm.MarshalText)); changed {
			return r, true
		}
	}
	if jm, ok := x.(json.Marshaler); ok {
		if r, changed := check(renderBytes(x, jm.MarshalJSON)); changed {
			return r, true
		}
	} else if !isText && !isErr {
		switch rv := reflectTarget(x); rv.Kind() {
		case reflect.String:
			// encoding/json writes the string that a pointer leads to,
			// or that a String or Format method hides.
			return check(rv.String(), true)
		case reflect.Struct, reflect.Map, reflect.Slice, reflect.Array, reflect.Interface:
			if r, changed := check(renderBytes(x, func() ([]byte, error) { return json.Marshal(x) })); changed {
				return r, true
			}
		}
	}
	if rv := reflect.ValueOf(x); rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
		return check(string(rv.Bytes()), true)
	}
	return v, false
}

// maxDeref bounds how many pointers reflectTarget follows: a pointer type
// may point to itself (type P *P).
const maxDeref = 32

// reflectTarget returns what x leads to through its pointers, as
// encoding/json follows them: the value itself if x is no pointer, the
// zero reflect.Value for a nil pointer or one more than maxDeref deep. A
// pointer to an interface stops at the interface, which json writes by
// reflection.
func reflectTarget(x any) reflect.Value {
	rv := reflect.ValueOf(x)
	for range maxDeref {
		if rv.Kind() != reflect.Pointer {
			return rv
		}
		if rv.IsNil() {
			return reflect.Value{}
		}
		rv = rv.Elem()
	}
	return reflect.Value{}
}

// render calls f, a method of x, and returns its text. If f panics it
// returns what slog's handlers write then: "<nil>" if x is a nil pointer,
// else "!PANIC: " and the panic's value.
func render(x any, f func() string) (s string, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			s, ok = panicText(x, r), true
		}
	}()
	return f(), true
}

// renderBytes is render for a marshalling method; if the method fails it
// returns the error's text, which a handler writes then ("!ERROR:" and
// the text) in place of the value.
func renderBytes(x any, f func() ([]byte, error)) (s string, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			s, ok = panicText(x, r), true
		}
	}()
	b, err := f()
	if err != nil {
		return err.Error(), true
	}
	return string(b), true
}

func panicText(x any, r any) string {
	if v := reflect.ValueOf(x); v.Kind() == reflect.Pointer && v.IsNil() {
		return "<nil>"
	}
	return fmt.Sprintf("!PANIC: %v", r)
}

// maskText returns, if the text of v holds an address, the masked text as
// a string value; otherwise v.
func (m *Masker) maskText(v slog.Value, text string) (slog.Value, bool) {
	if s, changed := m.maskQuoted(text); changed {
		return slog.StringValue(s), true
	}
	return v, false
}

// maskTime returns t in a fixed zone of the same offset named by t's
// zone name, masked, if the name of t's zone or of its location holds an
// address: Time.String, and so slog.Value.String, writes the zone's name
// ("+0100 203.0.113.9"), and a location can be made or loaded under any
// name. Otherwise it returns t, without allocating.
func (m *Masker) maskTime(t time.Time) (time.Time, bool) {
	name, off := t.Zone()
	zone, zc := m.maskQuoted(name)
	if _, lc := m.maskQuoted(t.Location().String()); !zc && !lc {
		return t, false
	}
	return t.In(time.FixedZone(zone, off)), true
}

// maskAddr masks a as the Masker masks an address in text, dropping its
// zone, and reports whether that changed it. A private address that
// SkipPrivate keeps is only unmapped.
func (m *Masker) maskAddr(a netip.Addr) (netip.Addr, bool) {
	if !a.IsValid() {
		return a, false
	}
	out := m.policy.Mask(a)
	if m.skipPrivate && isPrivate(a) {
		out = a.Unmap().WithZone("")
	}
	return out, out != a
}

// maskIP masks an address given as a net.IP, which holds an IPv4 address
// in 4 bytes or 16 (as IPv4-mapped IPv6); one of another length is left
// alone (it prints as "?" and hex digits).
func (m *Masker) maskIP(ip net.IP) (net.IP, bool) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return ip, false
	}
	if masked, _ := m.maskAddr(a); masked != a.Unmap() {
		return net.IP(masked.AsSlice()), true
	}
	return ip, false
}

// maskPrefix masks a network: the policy's prefix of its address, or the
// network itself, masked to its own length, if that is shorter.
func (m *Masker) maskPrefix(p netip.Prefix) (netip.Prefix, bool) {
	if !p.IsValid() || m.skipPrivate && isPrivate(p.Addr()) {
		return p, false
	}
	q := m.policy.Prefix(p.Addr())
	if p.Addr().Is4() == q.Addr().Is4() && p.Bits() < q.Bits() {
		q = p.Masked()
	}
	return q, q != p
}

// MaskQuoted returns s masked for text that a later step quotes or
// escapes (a %q verb, a JSON string, slog's handlers), as the [Handler]
// masks a string: each rune such a step writes as an escape sequence
// (invalid UTF-8, or not printable) becomes '?' where an ASCII letter or
// digit or one of ":.%[]_-" follows it, so that the escape's last
// characters cannot join that text into an address ("\x8e:::1" would read
// as the key "x8e:" and ::1); then addresses are masked in free-text mode.
// When nothing changes it returns s itself, without allocating.
func (m *Masker) MaskQuoted(s string) string {
	out, _ := m.maskQuoted(s)
	return out
}

// maskQuoted is MaskQuoted, also reporting whether anything changed.
func (m *Masker) maskQuoted(s string) (string, bool) {
	d, dc := defang(s)
	out, mc := m.maskString(d, false)
	return out, dc || mc
}

// defang returns s with '?' in place of each rune that a handler writes
// as an escape sequence (invalid UTF-8, or not printable) when the byte
// after it could continue an address or a key, and whether it changed
// anything. Printable ASCII text is returned as it is, without allocating.
func defang(s string) (string, bool) {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return s, false
	}
	var b []byte
	for j := i; j < len(s); {
		r, size := utf8.DecodeRuneInString(s[j:])
		if (r == utf8.RuneError && size <= 1 || !unicode.IsPrint(r)) && j+size < len(s) && joins(s[j+size]) {
			if b == nil {
				b = make([]byte, 0, len(s))
				b = append(b, s[:j]...)
			}
			b = append(b, '?')
		} else if b != nil {
			b = append(b, s[j:j+size]...)
		}
		j += size
	}
	if b == nil {
		return s, false
	}
	return string(b), true
}

// defangEnd returns the name of a group with '?' in place of its last
// rune if a handler writes that rune as an escape sequence: slog's text
// handler writes a dot after a group's name, which the escape's last
// characters could join into an address ("\xb2" then ".0.0.1"). It
// reports whether it changed name.
func defangEnd(name string) (string, bool) {
	r, size := utf8.DecodeLastRuneInString(name)
	if size == 0 || r != utf8.RuneError && unicode.IsPrint(r) || r == utf8.RuneError && size > 1 {
		return name, false
	}
	return name[:len(name)-size] + "?", true
}

// joins reports whether c, after an escape sequence, could continue it
// into an address or the key before one.
func joins(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == ':' || c == '.' || c == '%' || c == '[' || c == ']' || c == '_' || c == '-'
}

// groupTail is how much of the names of open groups a groupPath keeps:
// more than the longest text an address can be read in across a dot
// (an ip6.arpa name is 72 bytes).
const groupTail = 160

// A groupPath is the end of the names of the groups an attribute is in,
// joined by dots, as slog's text handler writes them before its key. The
// zero groupPath is the top level.
type groupPath struct {
	n int
	b [groupTail]byte
}

// with returns p with the group name added.
func (p *groupPath) with(name string) groupPath {
	var buf [2*groupTail + 1]byte
	t := append(buf[:0], p.b[:p.n]...)
	if p.n > 0 {
		t = append(t, '.')
	}
	if len(name) > groupTail {
		name = name[len(name)-groupTail:]
	}
	t = append(t, name...)
	var q groupPath
	q.n = copy(q.b[:], t[max(0, len(t)-groupTail):])
	return q
}

// joinChanges reports whether free-text masking changes path's end and
// key joined by a dot, masking in a pooled buffer.
func (m *Masker) joinChanges(path *groupPath, key string) bool {
	p := scratchPool.Get().(*[]byte)
	in := slices.Grow((*p)[:0], 2*(path.n+1+len(key))+8) // the join, then its mask
	in = append(in, path.b[:path.n]...)
	in = append(in, '.')
	in = append(in, key...)
	out := m.appendFree(in[len(in):], in)
	changed := string(out) != string(in)
	if cap(in) <= maxScratch {
		*p = in[:0]
		scratchPool.Put(p)
	}
	return changed
}

// maskJoined returns key (or a group's name), already masked alone, masked
// where it continues an address that the end of path starts: slog's text
// handler writes the two joined by a dot ("203.0" and "113.9", or
// "ip-203-0-113-9" and "ec2.internal"). It reports whether it changed key.
// Even where the path ends with a byte that never touches an address,
// the joining dot can change how the key reads (".0:::1" is not "0:::1"),
// so every join is read; it costs no allocation.
func (m *Masker) maskJoined(path *groupPath, key string) (string, bool) {
	if path.n == 0 || key == "" {
		return key, false
	}
	var buf [2*groupTail + 1]byte
	j := append(buf[:0], path.b[:path.n]...)
	j = append(j, '.')
	j = append(j, key[:min(len(key), groupTail)]...)
	if !m.hasAddr(j) {
		return key, false
	}
	// A percent-encoded colon alone makes hasAddr true: mask the join
	// (on the stack, or in a pooled buffer for a long key) to tell
	// whether anything changes without allocating.
	if len(key) <= groupTail {
		var out [2 * (2*groupTail + 1)]byte
		if string(m.appendFree(out[:0], j)) == string(j) {
			return key, false
		}
	} else if !m.joinChanges(path, key) {
		return key, false
	}
	head := string(path.b[:path.n]) + "."
	joined, changed := m.maskString(head+key, false)
	if !changed {
		return key, false
	}
	if rest, ok := strings.CutPrefix(joined, head); ok {
		// A JSON handler writes the key alone, where what the join's
		// masking wrote can read differently: "0:::1:0:0:0:0:1" after
		// "g." is masked to "0:" and "0:0:1::", which alone read as
		// 0:0:0:1::. The key must hold no address either way.
		if alone, changed := m.maskString(rest, false); changed {
			if _, again := m.maskString(head+alone, false); again {
				return "?" + alone, true
			}
			rest = alone
		}
		return rest, true
	}
	// The address starts inside the path, whose text masking would
	// change: a byte no address continues keeps key apart from it.
	return "?" + key, true
}
