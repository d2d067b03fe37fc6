package clickstore

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

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

// String returns a one-line description of c for logs and test failures:
// its kind, link, time, masked network and attributes. It never shows the
// visitor's pseudonyms or raw address (RawAddr shows as "raw=kept" when
// set), and any address in a text field (Link, Referrer, Bot, Device,
// Country) is masked to no bits at all by [logmask.Masker.MaskQuoted]:
// the text is quoted afterwards, so a rune the quoting escapes is printed
// as '?' where the escape could join what follows into an address.
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
		slog.String("link", textMasker.MaskQuoted(c.Link)),
		slog.Time("time", c.Time),
		slog.String("network", c.Network.String()),
	)
	if c.RawAddr.IsValid() {
		attrs = append(attrs, slog.String("raw", "kept"))
	}
	for _, a := range [...]struct{ k, v string }{{"country", c.Country}, {"bot", c.Bot}, {"device", c.Device}, {"referrer", c.Referrer}} {
		if a.v != "" {
			attrs = append(attrs, slog.String(a.k, textMasker.MaskQuoted(a.v)))
		}
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON implements [json.Marshaler]: c as the object its LogValue
// is ({"kind", "link", "time", "network"}, "raw": "kept" when RawAddr is
// set, and the text fields that are not empty, masked the same way), so
// that a logger that writes values with encoding/json (zap, zerolog,
// logrus) shows no more of a Click than slog does. The time is written as
// String writes it (RFC 3339 with nanoseconds, any year). It is for logs,
// not a serialization: nothing reads it back into a Click.
func (c Click) MarshalJSON() ([]byte, error) {
	v := struct {
		Kind     string       `json:"kind"`
		Link     string       `json:"link"`
		Time     string       `json:"time"`
		Network  netip.Prefix `json:"network"`
		Raw      string       `json:"raw,omitempty"`
		Country  string       `json:"country,omitempty"`
		Bot      string       `json:"bot,omitempty"`
		Device   string       `json:"device,omitempty"`
		Referrer string       `json:"referrer,omitempty"`
	}{
		Kind: c.Kind.String(), Link: textMasker.MaskQuoted(c.Link), Time: c.Time.Format(time.RFC3339Nano), Network: c.Network,
		Country: masked(c.Country), Bot: masked(c.Bot), Device: masked(c.Device), Referrer: masked(c.Referrer),
	}
	if c.RawAddr.IsValid() {
		v.Raw = "kept"
	}
	return json.Marshal(v) // strings and a Prefix: it cannot fail
}

// masked is s with every address masked away, or "" for "".
func masked(s string) string {
	if s == "" {
		return ""
	}
	return textMasker.MaskQuoted(s)
}

func (c Click) appendText(b []byte) []byte {
	b = append(b, c.Kind.String()...)
	b = append(b, " link="...)
	b = strconv.AppendQuote(b, textMasker.MaskQuoted(c.Link))
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
			b = strconv.AppendQuote(b, textMasker.MaskQuoted(a.v))
		}
	}
	return b
}
