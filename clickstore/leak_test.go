package clickstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
	"github.com/clickanon/clickanon/retention"
)

// zeroBits keeps no bit of any address: under it, any address at all in a
// text is a leak.
var zeroBits ipmask.Policy

// A canary of the exact length n (padded or cut), so that length checks
// are reached with an address in the text.
func canaryOf(text string, n int) string {
	if len(text) >= n {
		return text[:n]
	}
	return text + strings.Repeat("x", n-len(text))
}

// storable returns text cut or padded to n bytes as a link a store takes:
// valid UTF-8 without a NUL, its addresses masked to ipmask.Default
// (Validate refuses a link that holds a raw one).
func storable(text string, n int) string {
	link := strings.ReplaceAll(strings.ToValidUTF8(canaryOf(text, n), "?"), "\x00", "?")
	m, err := logmask.NewMasker(ipmask.Default, nil)
	if err != nil {
		panic(err)
	}
	return m.MaskString(link)
}

// TestErrorsCarryNoInput drives every error path of the package with input
// that holds canary addresses and checks that no error carries an address
// or quotes the input. Each path is a named row; a row that gives no error
// fails, so the test counts that every path was reached.
func TestErrorsCarryNoInput(t *testing.T) {
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	canary4 := netip.MustParseAddr("203.0.113.9")
	canary6 := netip.MustParseAddr("2001:db8:1:2:3:4:5:6")

	type row struct {
		name string
		want string // what the error must say
		is   error  // what it must wrap, if anything
		err  func(text string) error
	}
	click := func(text string, edit func(*clickstore.Click)) error {
		c := clickstore.Click{
			Link:     canaryOf(text, min(len(text), clickstore.MaxLinkLen)),
			Time:     time.Date(2025, 3, 14, 15, 9, 26, 0, time.FixedZone(text, 3600)),
			Visitor:  pseudonymOf(1),
			Network:  netip.MustParsePrefix("203.0.113.0/24"),
			Referrer: canaryOf(text, min(len(text), clickstore.MaxReferrerLen)),
			Bot:      canaryOf(text, min(len(text), clickstore.MaxLabelLen)),
			Device:   canaryOf(text, min(len(text), clickstore.MaxLabelLen)),
		}
		edit(&c)
		return c.Validate()
	}
	full := func(text string) error {
		m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Capacity: 1})
		require.NoError(t, err)
		defer m.Close()
		// A link a store takes, so that the first click is held and the
		// second meets the full store.
		c := testClick(1, storable(text, min(len(text), clickstore.MaxLinkLen)))
		_, err = m.Record(ctx, c)
		require.NoError(t, err)
		c.Visitor = pseudonymOf(2)
		_, err = m.Record(ctx, c)
		return err
	}
	closed := func() *clickstore.Memory {
		m, err := clickstore.NewMemory(nil)
		require.NoError(t, err)
		require.NoError(t, m.Close())
		return m
	}
	b, _ := newBuilder(t, zeroBits)
	deadBuilder, deadRing := newBuilder(t, zeroBits)
	require.NoError(t, deadRing.Close())
	long := func(text string) string { return canaryOf(text, clickstore.MaxLinkLen+1) }

	rows := []row{
		{"pseudonym length", "pseudonym of", nil, func(s string) error { _, err := clickstore.ParsePseudonym(canaryOf(s, 40)); return err }},
		{"pseudonym not hex", "not a hex digit", nil, func(s string) error { _, err := clickstore.ParsePseudonym(canaryOf(s, 32)); return err }},
		{"pseudonym text", "not a hex digit", nil, func(s string) error { var p clickstore.Pseudonym; return p.UnmarshalText([]byte(canaryOf(s, 32))) }},
		{"link empty", "link", clickstore.ErrInvalidClick, func(s string) error { return click(s, func(c *clickstore.Click) { c.Link = "" }) }},
		{"link long", "longer than", clickstore.ErrInvalidClick, func(s string) error { return click(s, func(c *clickstore.Click) { c.Link = long(s) }) }},
		{"time zero", "time", clickstore.ErrInvalidClick, func(s string) error { return click(s, func(c *clickstore.Click) { c.Time = time.Time{} }) }},
		{"time range", "outside the years", clickstore.ErrInvalidClick, func(s string) error {
			return click(s, func(c *clickstore.Click) { c.Time = time.Date(3000, 1, 1, 0, 0, 0, 0, time.FixedZone(s, 0)) })
		}},
		{"kind", "kind", clickstore.ErrInvalidClick, func(s string) error { return click(s, func(c *clickstore.Click) { c.Kind = 7 }) }},
		{"visitor", "zero pseudonym", clickstore.ErrInvalidClick, func(s string) error {
			return click(s, func(c *clickstore.Click) { c.Visitor = clickstore.Pseudonym{} })
		}},
		{"network invalid", "not a valid prefix", clickstore.ErrInvalidClick, func(s string) error {
			return click(s, func(c *clickstore.Click) { c.Network = netip.PrefixFrom(canary6, 129) })
		}},
		{"network unmasked", "bits set after", clickstore.ErrInvalidClick, func(s string) error {
			return click(s, func(c *clickstore.Click) { c.Network = netip.PrefixFrom(canary6, 48) })
		}},
		{"raw address zone", "has a zone", clickstore.ErrInvalidClick, func(s string) error {
			return click(s, func(c *clickstore.Click) { c.RawAddr = canary6.WithZone("eth0") })
		}},
		{"raw address outside", "not within network", clickstore.ErrInvalidClick, func(s string) error {
			return click(s, func(c *clickstore.Click) { c.RawAddr = canary6 })
		}},
		{"country", "country", clickstore.ErrInvalidClick, func(s string) error { return click(s, func(c *clickstore.Click) { c.Country = s }) }},
		{"bot", "bot", clickstore.ErrInvalidClick, func(s string) error {
			return click(s, func(c *clickstore.Click) { c.Bot = canaryOf(s, clickstore.MaxLabelLen+1) })
		}},
		{"device", "device", clickstore.ErrInvalidClick, func(s string) error {
			return click(s, func(c *clickstore.Click) { c.Device = canaryOf(s, clickstore.MaxLabelLen+1) })
		}},
		{"referrer", "referrer", clickstore.ErrInvalidClick, func(s string) error {
			return click(s, func(c *clickstore.Click) { c.Referrer = canaryOf(s, clickstore.MaxReferrerLen+1) })
		}},
		{"link not UTF-8", "not valid UTF-8", clickstore.ErrInvalidClick, func(s string) error {
			return click(s, func(c *clickstore.Click) { c.Link = s + "\xff" })
		}},
		{"bot with NUL", "not valid UTF-8", clickstore.ErrInvalidClick, func(s string) error {
			return click(s, func(c *clickstore.Click) { c.Bot = "b\x00" })
		}},
		{"device not UTF-8", "not valid UTF-8", clickstore.ErrInvalidClick, func(s string) error {
			return click(s, func(c *clickstore.Click) { c.Device = "\xc3" })
		}},
		{"referrer with NUL", "not valid UTF-8", clickstore.ErrInvalidClick, func(s string) error {
			return click(s, func(c *clickstore.Click) { c.Referrer = canaryOf(s, 40) + "\x00" })
		}},
		{"NewBuilder", "nil keyring", nil, func(string) error { _, err := clickstore.NewBuilder(zeroBits, nil, nil); return err }},
		{"Build long link", "longer than", clickstore.ErrInvalidClick, func(s string) error { _, err := b.Build(ctx, canary6, s, long(s), t0); return err }},
		{"Build zero address", "zero address", clickstore.ErrInvalidClick, func(s string) error { _, err := b.Build(ctx, netip.Addr{}, s, s, t0); return err }},
		{"Build zero digest", "digest", clickstore.ErrInvalidClick, func(s string) error {
			_, err := b.BuildDigest(ctx, canary4, clickstore.AgentDigest{}, canaryOf(s, 10), t0)
			return err
		}},
		{"Build zero time", "time", clickstore.ErrInvalidClick, func(s string) error { _, err := b.Build(ctx, canary4, s, canaryOf(s, 10), time.Time{}); return err }},
		{"Build keyring", "keyring", retention.ErrClosed, func(s string) error { _, err := deadBuilder.Build(ctx, canary4, s, canaryOf(s, 10), t0); return err }},
		{"Pseudonyms zero address", "zero address", clickstore.ErrInvalidClick, func(s string) error { _, _, err := b.Pseudonyms(ctx, netip.Addr{}, s, t0); return err }},
		{"NewMemory", "capacity", nil, func(string) error {
			_, err := clickstore.NewMemory(&clickstore.MemoryOptions{Capacity: -1})
			return err
		}},
		{"Record canceled", "record", context.Canceled, func(s string) error { _, err := closed().Record(canceled, testClick(1, canaryOf(s, 10))); return err }},
		{"Record invalid", "link", clickstore.ErrInvalidClick, func(s string) error { _, err := closed().Record(ctx, testClick(1, long(s))); return err }},
		{"Record conversion", "clicks only", clickstore.ErrInvalidClick, func(s string) error {
			c := testClick(1, storable(s, 10))
			c.Kind = clickstore.KindConversion
			_, err := closed().Record(ctx, c)
			return err
		}},
		{"Record full", "capacity 1", clickstore.ErrFull, full},
		{"Record closed", "record", clickstore.ErrClosed, func(s string) error { _, err := closed().Record(ctx, testClick(1, storable(s, 10))); return err }},
		{"Latest canceled", "latest", context.Canceled, func(s string) error {
			_, _, err := closed().Latest(canceled, pseudonymOf(1), clickstore.Pseudonym{}, s)
			return err
		}},
		{"Latest long link", "longer than", clickstore.ErrInvalidClick, func(s string) error {
			_, _, err := closed().Latest(ctx, pseudonymOf(1), clickstore.Pseudonym{}, long(s))
			return err
		}},
		{"Latest closed", "latest", clickstore.ErrClosed, func(s string) error {
			_, _, err := closed().Latest(ctx, pseudonymOf(1), clickstore.Pseudonym{}, canaryOf(s, 10))
			return err
		}},
		{"All canceled", "all", context.Canceled, func(string) error { return firstErr(closedWithNothing(t).All(canceled)) }},
		{"All closed", "all", clickstore.ErrClosed, func(string) error { return firstErr(closed().All(ctx)) }},
		{"EraseVisitor canceled", "erase visitor", context.Canceled, func(string) error { _, err := closed().EraseVisitor(canceled, pseudonymOf(1)); return err }},
		{"EraseVisitor zero", "zero pseudonym", clickstore.ErrInvalidClick, func(string) error { _, err := closed().EraseVisitor(ctx, clickstore.Pseudonym{}); return err }},
		{"EraseVisitor closed", "erase visitor", clickstore.ErrClosed, func(string) error { _, err := closed().EraseVisitor(ctx, pseudonymOf(1)); return err }},
		{"EraseLink canceled", "erase link", context.Canceled, func(s string) error { _, err := closed().EraseLink(canceled, s); return err }},
		{"EraseLink closed", "erase link", clickstore.ErrClosed, func(s string) error { _, err := closed().EraseLink(ctx, s); return err }},
		{"Sweep canceled", "sweep", context.Canceled, func(string) error { _, err := closed().Sweep(canceled, t0); return err }},
		{"Sweep closed", "sweep", clickstore.ErrClosed, func(string) error { _, err := closed().Sweep(ctx, t0); return err }},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			for _, s := range clickstoretest.Canaries() {
				err := r.err(s)
				require.Error(t, err, "input %q", s)
				msg := err.Error()
				assert.True(t, strings.HasPrefix(msg, "clickstore: "), msg)
				assert.Contains(t, msg, r.want)
				if r.is != nil {
					assert.ErrorIs(t, err, r.is)
				}
				ipmasktest.AssertNoRawIPError(t, zeroBits, err, "input %q", s)
				if frag := strings.Trim(s, " .:%[]x"); len(frag) >= 4 {
					assert.NotContains(t, msg, frag, "the error quotes its input")
				}
			}
		})
	}
}

// closedWithNothing is an open, empty Memory (All over it meets the
// canceled context before anything else).
func closedWithNothing(t *testing.T) *clickstore.Memory {
	m, err := clickstore.NewMemory(nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	_, err = m.Record(context.Background(), testClick(1, "l"))
	require.NoError(t, err)
	return m
}

func firstErr(seq func(func(clickstore.Click, error) bool)) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return errors.New("no error")
}

// A Click prints (String, every fmt verb, slog in text and JSON) its masked
// network and nothing finer: not its raw address, not its pseudonyms, and
// no address written in a text field, whatever the field holds.
func TestClickPrintsNoAddress(t *testing.T) {
	raw := netip.MustParseAddr("203.0.113.9")
	for _, s := range clickstoretest.Canaries() {
		c := clickstore.Click{
			Link:        canaryOf(s, min(len(s), clickstore.MaxLinkLen)),
			Time:        time.Date(2025, 3, 14, 15, 9, 26, 0, time.FixedZone(s, 3600)),
			Visitor:     pseudonymOf(1),
			PrevVisitor: pseudonymOf(2),
			Network:     ipmask.Default.Prefix(raw),
			RawAddr:     raw,
			Country:     s,
			Bot:         s,
			Device:      s,
			Referrer:    s,
		}
		var texts []string
		texts = append(texts, c.String())
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X", "%08.3f"} {
			texts = append(texts, fmt.Sprintf(verb, c))
		}
		for _, h := range []func(io.Writer) slog.Handler{
			func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) },
			func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) },
		} {
			var buf bytes.Buffer
			slog.New(h(&buf)).Info("click", "click", c)
			texts = append(texts, buf.String())
		}
		texts = append(texts, jsonTexts(t, c)...)
		for _, text := range texts {
			require.Contains(t, text, "203.0.113.0/24", "the masked network is shown")
			ipmasktest.AssertNoRawIP(t, ipmask.Default, text, "input %q", s)
			for _, p := range []clickstore.Pseudonym{c.Visitor, c.PrevVisitor} {
				assert.NotContains(t, text, p.String())
				assert.NotContains(t, strings.ToLower(text), fmt.Sprintf("%x", p[:4]))
			}
			assert.NotContains(t, text, s, "a text field is printed unmasked")
		}
	}
}

// jsonTexts returns c as encoding/json writes it alone, by pointer, in a
// slice, a map and a struct field: the way logging libraries that are not
// slog (zap, zerolog, logrus) write a value they are given.
func jsonTexts(t *testing.T, c clickstore.Click) []string {
	t.Helper()
	var out []string
	for _, v := range []any{c, &c, []clickstore.Click{c}, map[string]clickstore.Click{"c": c}, struct{ C clickstore.Click }{c}} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		out = append(out, string(b))
	}
	return out
}

// A Click written by encoding/json is the object its LogValue is: kind,
// link, time, network, "raw": "kept" when RawAddr is set, and the text
// fields that are not empty, masked.
func TestClickJSON(t *testing.T) {
	c := clickstoretest.Click(1, "spring-sale", time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC))
	c.RawAddr = netip.MustParseAddr("192.0.2.7")
	c.Network = ipmask.Default.Prefix(c.RawAddr)
	c.Referrer, c.Device = "news.example.com", "mobile"
	b, err := json.Marshal(c)
	require.NoError(t, err)
	assert.JSONEq(t, `{"kind":"click","link":"spring-sale","time":"2025-03-14T15:09:26Z","network":"192.0.2.0/24","raw":"kept","device":"mobile","referrer":"news.example.com"}`, string(b))

	c.RawAddr, c.Referrer, c.Device, c.Kind = netip.Addr{}, "", "", clickstore.KindConversion
	b, err = json.Marshal(c)
	require.NoError(t, err)
	assert.JSONEq(t, `{"kind":"conversion","link":"spring-sale","time":"2025-03-14T15:09:26Z","network":"192.0.2.0/24"}`, string(b))
}

// A byte that a quoting escapes (an invalid byte, a control character,
// '<' in JSON) writes letters and digits next to what follows it, which
// could then read as the key before an address ("\x8e" before ":::1"
// reads as "x8e:" and "::1"). A Click masks its text with
// logmask.Masker.MaskQuoted, which prints such a rune as '?' where it could
// join what follows, through String, %q, and slog's text and JSON handlers.
func TestClickPrintsNoAddressBesideEscapes(t *testing.T) {
	var prefixes = []string{"\x8e", "\x01", "\x7f", "<", ">", "&", "\"", "\\", "\u2028", "\ufeff", "\xff\xfe"}
	for _, pre := range prefixes {
		for _, tail := range []string{":::1", "::1", ":2001:db8::7", ":203.0.113.9", "a:::1"} {
			c := clickstoretest.Click(1, "l", time.Unix(1_700_000_000, 0))
			c.Referrer, c.Link, c.Bot = pre+tail, pre+tail, tail+pre+tail
			var text, jsonOut bytes.Buffer
			slog.New(slog.NewTextHandler(&text, nil)).Info("", "c", c)
			slog.New(slog.NewJSONHandler(&jsonOut, nil)).Info("", "c", c)
			outs := map[string]string{
				"String": c.String(), "%q": fmt.Sprintf("%q", c), "text": text.String(), "json": jsonOut.String(),
			}
			for i, s := range jsonTexts(t, c) {
				outs[fmt.Sprint("encoding/json ", i)] = s
			}
			for name, out := range outs {
				ipmasktest.AssertNoRawIP(t, ipmask.Default, out, "%s of %q", name, pre+tail)
			}
		}
	}
}

// A Referrer that is an address, or spells one in its labels, is refused
// by Validate, so that no store or sink keeps it as given; the error names
// the field, never the value. Host names with digits that spell none pass.
func TestValidateRefusesAddressReferrer(t *testing.T) {
	raw := netip.MustParseAddr("198.51.100.7")
	base := clickstore.Click{
		Link: "spring-sale", Time: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC),
		Visitor: clickstoretest.Visitor(1), Network: ipmask.Default.Prefix(raw),
	}
	for _, ref := range []string{"198.51.100.7", "3325256711", "2001:db8::7", "198.51.100.7.nip.io",
		"ec2-198-51-100-7.compute-1.amazonaws.com", "2001-db8--7.sslip.io", "app-c6336407.nip.io", "p5dc5a9f2.dip0.t-ipconnect.de"} {
		c := base
		c.Referrer = ref
		err := c.Validate()
		if assert.ErrorIs(t, err, clickstore.ErrInvalidClick, ref) {
			assert.Contains(t, err.Error(), "referrer", ref)
			ipmasktest.AssertNoRawIPError(t, zeroBits, err, ref)
		}
	}
	for _, ref := range []string{"", "news.example.com", "123.example.com", "2025-11-28-1.example.com", "xn--bcher-kva.example"} {
		c := base
		c.Referrer = ref
		assert.NoError(t, c.Validate(), ref)
	}
}
