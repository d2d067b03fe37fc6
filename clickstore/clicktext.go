package clickstore

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// textMasker masks any address in a Click's text fields down to no bits at
// all: a link, a referrer or a label is client input and may hold one.
var textMasker = func() *logmask.Masker {
	m, err := logmask.NewMasker(ipmask.Policy{}, nil)
	if err != nil {
		panic(err) // the zero Policy and nil Options are valid
	}
	return m
}()

// shown returns s masked for printing: every rune a quoting would escape
// (by strconv.Quote, slog's JSON or text handler: control and invalid
// bytes, non-printable runes, '"', '\\', '<', '>', '&') becomes '?' first,
// so that no escape sequence can be written next to an address and join
// it (`\x8e` before `:::1` would read as a key before `::1`), and then any
// address is masked to no bits: what is masked is exactly what is printed.
func shown(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || escaped(rune(c)) {
			clean = false
			break
		}
	}
	if !clean {
		b := make([]byte, 0, len(s))
		for _, r := range s {
			if r == utf8.RuneError || !unicode.IsPrint(r) || escaped(r) {
				r = '?'
			}
			b = utf8.AppendRune(b, r)
		}
		s = string(b)
	}
	return textMasker.MaskString(s)
}

// escaped reports whether r is a printable ASCII rune that some encoding
// of a log line escapes.
func escaped(r rune) bool { return r == '"' || r == '\\' || r == '<' || r == '>' || r == '&' }

// String returns a one-line description of c for logs and test failures:
// its kind, link, time, masked network and attributes. It never shows the
// visitor's pseudonyms or raw address (RawAddr shows as "raw=kept" when
// set), and any address in a text field (Link, Referrer, Bot, Device,
// Country) is masked to no bits at all, after every rune that a quoting
// would escape (control and invalid bytes, non-printable runes, '"', '\\',
// '<', '>', '&') has been replaced by '?'.
func (c Click) String() string { return string(c.appendText(nil)) }

// Format implements [fmt.Formatter]: every verb prints what [Click.String]
// gives (%q quotes it), so that no verb (%#v, %d, %x) can print the
// pseudonyms or the raw address field by field.
func (c Click) Format(f fmt.State, verb rune) {
	b := c.appendText(make([]byte, 0, 128))
	if verb == 'q' {
		b = strconv.AppendQuote(nil, string(b))
	}
	_, _ = f.Write(b)
}

// LogValue implements [slog.LogValuer]: a group of the attributes
// [Click.String] shows, under the same rules.
func (c Click) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs,
		slog.String("kind", c.Kind.String()),
		slog.String("link", shown(c.Link)),
		slog.Time("time", c.Time),
		slog.String("network", c.Network.String()),
	)
	if c.RawAddr.IsValid() {
		attrs = append(attrs, slog.String("raw", "kept"))
	}
	for _, a := range [...]struct{ k, v string }{{"country", c.Country}, {"bot", c.Bot}, {"device", c.Device}, {"referrer", c.Referrer}} {
		if a.v != "" {
			attrs = append(attrs, slog.String(a.k, shown(a.v)))
		}
	}
	return slog.GroupValue(attrs...)
}

func (c Click) appendText(b []byte) []byte {
	b = append(b, c.Kind.String()...)
	b = append(b, " link="...)
	b = strconv.AppendQuote(b, shown(c.Link))
	b = append(b, " time="...)
	b = c.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, " network="...)
	b = c.Network.AppendTo(b)
	if c.RawAddr.IsValid() {
		b = append(b, " raw=kept"...)
	}
	for _, a := range [...]struct{ k, v string }{{"country", c.Country}, {"bot", c.Bot}, {"device", c.Device}, {"referrer", c.Referrer}} {
		if a.v != "" {
			b = append(b, ' ')
			b = append(b, a.k...)
			b = append(b, '=')
			b = strconv.AppendQuote(b, shown(a.v))
		}
	}
	return b
}
