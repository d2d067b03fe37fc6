package signals_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/testlog"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// wrap returns h inside a masking Handler with the default policy.
func wrap(t testing.TB, h slog.Handler) slog.Handler {
	t.Helper()
	mh, err := logmask.NewHandler(h, ipmask.Default, nil)
	require.NoError(t, err)
	return mh
}

// stringHandler writes every record the way handlers outside the
// standard library often do: the record's time by its String method and
// every value by slog.Value.String, groups as "name{...}".
type stringHandler struct {
	w   io.Writer
	pre string
}

func (h stringHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h stringHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Time.String() + " " + r.Level.String() + " " + r.Message + h.pre)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, a)
		return true
	})
	b.WriteString("\n")
	_, err := io.WriteString(h.w, b.String())
	return err
}

func writeAttr(b *strings.Builder, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		b.WriteString(" " + a.Key + "{")
		for _, g := range v.Group() {
			writeAttr(b, g)
		}
		b.WriteString(" }")
		return
	}
	b.WriteString(" " + a.Key + "=" + v.String())
}

func (h stringHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	for _, a := range as {
		writeAttr(&b, a)
	}
	return stringHandler{w: h.w, pre: h.pre + b.String()}
}

func (h stringHandler) WithGroup(name string) slog.Handler {
	return stringHandler{w: h.w, pre: h.pre + " " + name + "{"}
}

// sinks are the handlers the masking Handler is wrapped around.
func sinks() []struct {
	name string
	make func(w io.Writer) slog.Handler
} {
	return []struct {
		name string
		make func(w io.Writer) slog.Handler
	}{
		{"json", func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) }},
		{"text", func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) }},
		{"Value.String", func(w io.Writer) slog.Handler { return stringHandler{w: w} }},
	}
}

// split returns the address text cut into n pieces at random places, n
// at least 1; the pieces joined by dots are not the text, but a piece
// boundary at one of the text's own dots joins back into it.
func split(r *rand.Rand, text string, n int) []string {
	var out []string
	for n > 1 && len(text) > 1 {
		i := 1 + r.IntN(len(text)-1)
		out = append(out, text[:i])
		text = text[i:]
		n--
	}
	return append(out, text)
}

// TestGeneratedCompositions builds loggers by chains of With and WithGroup
// of random order and depth (0 to 10), shares each chain between
// goroutines that derive further loggers from it, and logs records whose
// address (every form of ipmasktest.Cases) sits at a random place: a
// value, a key, a group name, the text dotted across group names at
// the address's own dots, an attribute nested in slog.Group values to a
// random depth, or the message. Through the Handler around the JSON, the
// text and a Value.String handler no raw address is written, and every
// record's marker (a plain value logged beside the address) is, so
// records are neither dropped nor emptied. Checked to fail: the same
// chains on the bare handlers leak (teeth, below), and breaking the
// Handler's group-name joins (maskJoined returning key unchanged) fails
// it.
func TestGeneratedCompositions(t *testing.T) {
	cases := ipmasktest.Cases()
	for _, s := range sinks() {
		t.Run(s.name, func(t *testing.T) {
			for _, masked := range []bool{true, false} {
				var out testlog.Buffer
				var root slog.Handler = s.make(&out)
				if masked {
					root = wrap(t, root)
				}
				r := rand.New(rand.NewPCG(15, uint64(len(s.name))))
				var markers []string
				for i := range 120 {
					c := cases[i%len(cases)]
					l := slog.New(root)
					depth := r.IntN(11)
					place := r.IntN(6)
					at := r.IntN(depth + 1)
					pieces := split(r, c.Text, 1+r.IntN(4))
					for d := range depth {
						if d == at && place == 2 {
							l = l.WithGroup(c.Text)
							continue
						}
						if d == at && place == 3 {
							for _, p := range pieces {
								l = l.WithGroup(p)
							}
							continue
						}
						if r.IntN(2) == 0 {
							l = l.With(fmt.Sprintf("w%d", d), d)
						} else {
							l = l.WithGroup(fmt.Sprintf("g%d", d))
						}
					}
					marker := fmt.Sprintf("marker-%s-%d", s.name, i)
					markers = append(markers, marker)
					var a slog.Attr
					switch place {
					case 0, 2, 3:
						a = slog.String("v", c.Text)
					case 1:
						a = slog.Int(c.Text, 1)
					case 4:
						a = slog.String("leaf", c.Text)
						for k := range 1 + r.IntN(10) {
							a = slog.Group(fmt.Sprintf("n%d", k), a, slog.Int("x", k))
						}
					case 5:
						a = slog.String("k", "v")
					}
					msg := "m"
					if place == 5 {
						msg = "visit from " + c.Text
					}
					var wg sync.WaitGroup
					for g := range 3 {
						wg.Go(func() {
							ll := l.With("gor", g)
							if g == 1 {
								ll = ll.WithGroup("x")
							}
							ll.LogAttrs(context.Background(), slog.LevelInfo, msg, a, slog.String("marker", marker))
						})
					}
					wg.Wait()
				}
				text := out.String()
				if !masked {
					assert.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, text), "teeth: bare %s handler", s.name)
					continue
				}
				ipmasktest.AssertNoRawIP(t, ipmask.Default, text)
				for _, mk := range markers {
					assert.Equal(t, 3, strings.Count(text, mk+"\n")+strings.Count(text, mk+`"`)+strings.Count(text, mk+" "), "marker %s", mk)
				}
			}
		})
	}
}

// TestLogPackageThroughSetDefault installs a logger on the Handler with
// slog.SetDefault, as services do, and writes every address form with the
// log package (log.Printf, log.Print, log.Println, with and without a
// prefix and flags), which slog then routes through the Handler: no raw
// address is written and every line arrives. Checked to fail: the same
// lines with the bare JSON handler installed leak (teeth).
func TestLogPackageThroughSetDefault(t *testing.T) {
	prevDefault, prevFlags, prevPrefix := slog.Default(), log.Flags(), log.Prefix()
	t.Cleanup(func() {
		slog.SetDefault(prevDefault)
		log.SetFlags(prevFlags)
		log.SetPrefix(prevPrefix)
	})
	for _, masked := range []bool{true, false} {
		var out testlog.Buffer
		var h slog.Handler = slog.NewJSONHandler(&out, nil)
		if masked {
			h = wrap(t, h)
		}
		slog.SetDefault(slog.New(h))
		n := 0
		for i, c := range ipmasktest.Cases() {
			log.SetFlags([]int{0, log.LstdFlags, log.Lshortfile | log.Lmsgprefix}[i%3])
			log.SetPrefix([]string{"", "app: ", c.Text + " "}[i%3])
			log.Printf("peer %s refused", c.Text)
			log.Print(c.Text)
			log.Println("from", c.Text, "via", c.Text)
			n += 3
		}
		text := out.String()
		if !masked {
			assert.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, text), "teeth")
			continue
		}
		ipmasktest.AssertNoRawIP(t, ipmask.Default, text)
		assert.Equal(t, n, strings.Count(text, "\n"), "every line arrives")
	}
}

// TestWrappedHandlersReplaceAttr wraps the Handler around built-in
// handlers configured with a ReplaceAttr of the user's own that renames
// keys, turns a value into the key, prefixes group names into keys, or
// drops every other attribute: whatever the user's ReplaceAttr does with
// what it is given, it is given masked text, so nothing raw is written.
// Checked to fail: the same handlers without the Handler leak (teeth).
func TestWrappedHandlersReplaceAttr(t *testing.T) {
	replacers := map[string]func([]string, slog.Attr) slog.Attr{
		"rename": func(_ []string, a slog.Attr) slog.Attr { a.Key = "user_" + a.Key; return a },
		"value into key": func(_ []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() != slog.KindGroup {
				a.Key = a.Value.String()
			}
			return a
		},
		"groups into key": func(groups []string, a slog.Attr) slog.Attr {
			a.Key = strings.Join(groups, "/") + "/" + a.Key
			return a
		},
		"drop half": func(_ []string, a slog.Attr) slog.Attr {
			if len(a.Key)%2 == 0 {
				return slog.Attr{}
			}
			return a
		},
		"stringify": func(_ []string, a slog.Attr) slog.Attr {
			return slog.String(a.Key, fmt.Sprintf("%+v", a.Value.Any()))
		},
	}
	for name, ra := range replacers {
		for _, kind := range []string{"json", "text"} {
			for _, masked := range []bool{true, false} {
				var out bytes.Buffer
				opts := &slog.HandlerOptions{ReplaceAttr: ra}
				var h slog.Handler = slog.NewJSONHandler(&out, opts)
				if kind == "text" {
					h = slog.NewTextHandler(&out, opts)
				}
				if masked {
					h = wrap(t, h)
				}
				for _, c := range ipmasktest.Cases() {
					l := slog.New(h).With("peer", c.Text).WithGroup(c.Text)
					l.Info("from "+c.Text, "addr", c.Addr, c.Text, 1, "err", fmt.Errorf("dial %s: refused", c.Text),
						slog.Group("g", "prefix", netip.PrefixFrom(c.Addr, c.Addr.BitLen())))
				}
				if !masked {
					assert.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, out.Bytes()), "teeth: %s %s", name, kind)
					continue
				}
				ipmasktest.AssertNoRawIP(t, ipmask.Default, out.Bytes(), "%s %s", name, kind)
			}
		}
	}
}

// TestHandBuiltRecords builds records with slog.NewRecord and AddAttrs,
// of 1 to 12 attributes (past the few a Record holds inline), the address
// at every index, given one at a time or all at once, and on a clone of a
// record that a first Handle already saw; Handle is called directly. No
// raw address is written, every attribute is, in order, and the caller's
// record is left as it was. Checked to fail: the bare handler leaks
// (teeth), and a Handle that drops the first attribute of a record it
// copies fails the order check (tried).
func TestHandBuiltRecords(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, c := range ipmasktest.Cases() {
		for n := 1; n <= 12; n++ {
			for idx := range n {
				var out bytes.Buffer
				h := wrap(t, slog.NewJSONHandler(&out, nil))
				attrs := make([]slog.Attr, n)
				for i := range n {
					attrs[i] = slog.Int(fmt.Sprintf("a%02d", i), i)
				}
				attrs[idx] = slog.String(fmt.Sprintf("a%02d", idx), c.Text)
				r := slog.NewRecord(at, slog.LevelWarn, "hand built", 0)
				if n%2 == 0 {
					r.AddAttrs(attrs...)
				} else {
					for _, a := range attrs {
						r.AddAttrs(a)
					}
				}
				before := r.Clone()
				require.NoError(t, h.Handle(ctx, r))
				r2 := r.Clone()
				r2.AddAttrs(slog.String("extra", c.Text))
				require.NoError(t, h.Handle(ctx, r2))
				ipmasktest.AssertNoRawIP(t, ipmask.Default, out.Bytes(), "%s n=%d idx=%d", c.Name, n, idx)

				lines := strings.Split(strings.TrimSpace(out.String()), "\n")
				require.Len(t, lines, 2)
				last := -1
				for i := range n {
					k := strings.Index(lines[0], fmt.Sprintf(`"a%02d":`, i))
					assert.Greater(t, k, last, "%s n=%d: attribute %d in order", c.Name, n, i)
					last = k
				}
				assert.Contains(t, lines[1], `"extra":`)
				var got []string
				r.Attrs(func(a slog.Attr) bool { got = append(got, a.String()); return true })
				var want []string
				before.Attrs(func(a slog.Attr) bool { want = append(want, a.String()); return true })
				assert.Equal(t, want, got, "the caller's record is not changed")
				assert.Equal(t, n, r.NumAttrs())
			}
		}
	}
	var out bytes.Buffer
	r := slog.NewRecord(at, slog.LevelWarn, "hand built", 0)
	r.AddAttrs(slog.String("a", ipmasktest.Cases()[0].Text))
	require.NoError(t, slog.NewJSONHandler(&out, nil).Handle(ctx, r))
	assert.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, out.Bytes()), "teeth")
}

// chainErr wraps an error and adds an address of its own, as a network
// library's error types do.
type chainErr struct {
	peer string
	err  error
}

func (e *chainErr) Error() string { return "from " + e.peer + ": " + e.err.Error() }
func (e *chainErr) Unwrap() error { return e.err }

// panicker panics in every method a handler may call, with the address in
// the panic's value.
type panicker struct{ peer string }

func (p panicker) String() string               { panic("peer " + p.peer) }
func (p panicker) Error() string                { panic(errors.New("peer " + p.peer)) }
func (p panicker) MarshalJSON() ([]byte, error) { panic(fmt.Sprintf("peer %s", p.peer)) }

// TestEveryKind logs values of every slog Kind beside the address forms:
// Duration, Time (in a zone whose name is the address, as a time.Location
// loaded from a name the caller controls may be; and as the record's own
// time), Uint64, Int64, Float64, Bool, and Any values that are error
// chains (%w, several %w, errors.Join nested, a custom Unwrap chain) and
// values whose String, Error and MarshalJSON panic with the address. The
// output of the JSON, text and Value.String handlers behind the Handler
// holds no raw address. Checked to fail: without the Handler each sink
// leaks (teeth); a time's zone name was the finding F1 (the Handler
// passed KindTime values and the record's time on untouched, and
// Value.String and Time.String write the zone's name).
func TestEveryKind(t *testing.T) {
	for _, s := range sinks() {
		for _, masked := range []bool{true, false} {
			var out testlog.Buffer
			var h slog.Handler = s.make(&out)
			if masked {
				h = wrap(t, h)
			}
			l := slog.New(h)
			for _, c := range ipmasktest.Cases() {
				zone := time.FixedZone(c.Text, 3600)
				at := time.Date(2026, 12, 1, 9, 0, 0, 0, zone)
				base := errors.New("dial " + c.Text + ": refused")
				wrapped := fmt.Errorf("connect: %w", base)
				multi := fmt.Errorf("both: %w and %w", io.EOF, wrapped)
				joined := errors.Join(io.EOF, errors.Join(errors.New("x"), wrapped))
				custom := &chainErr{peer: c.Text, err: io.ErrUnexpectedEOF}
				l.Info("kinds",
					slog.Duration("d", 1500*time.Millisecond),
					slog.Time("t", at),
					slog.Any("tany", at),
					slog.Uint64("u", ^uint64(0)),
					slog.Int64("i", -1),
					slog.Float64("f", 203.0113),
					slog.Bool("b", true),
					slog.Any("wrapped", wrapped),
					slog.Any("multi", multi),
					slog.Any("joined", joined),
					slog.Any("custom", custom),
					slog.Any("panicker", panicker{peer: c.Text}),
					slog.Group("g", slog.Time("t", at)),
				)
				r := slog.NewRecord(at, slog.LevelInfo, "record time", 0)
				require.NoError(t, h.Handle(context.Background(), r))
			}
			text := out.String()
			if !masked {
				assert.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, text), "teeth: %s", s.name)
				continue
			}
			ipmasktest.AssertNoRawIP(t, ipmask.Default, text, s.name)
		}
	}
}

// TestSlogtestComposed runs testing/slogtest on handlers users compose
// from the Handler: one Handler inside another, the Handler around a
// JSON handler configured with the Masker's ReplaceAttr, and the
// Handler's logger after With of an address (which every record then
// carries, masked); the With case's address is checked masked, not just
// present. Checked to fail: a Handler whose WithGroup does not open the
// group on the handler it wraps fails the suite (tried).
func TestSlogtestComposed(t *testing.T) {
	m, err := logmask.NewMasker(ipmask.Default, nil)
	require.NoError(t, err)
	canary := ipmasktest.Cases()[0]
	for _, kind := range []string{"nested", "ReplaceAttr inside", "With address"} {
		t.Run(kind, func(t *testing.T) {
			var buf bytes.Buffer
			slogtest.Run(t, func(t *testing.T) slog.Handler {
				buf.Reset()
				switch kind {
				case "nested":
					return wrap(t, wrap(t, slog.NewJSONHandler(&buf, nil)))
				case "ReplaceAttr inside":
					return wrap(t, slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: m.ReplaceAttr}))
				}
				return wrap(t, slog.NewJSONHandler(&buf, nil)).WithAttrs([]slog.Attr{slog.String("peer", canary.Text)})
			}, func(t *testing.T) map[string]any {
				ipmasktest.AssertNoRawIP(t, ipmask.Default, buf.Bytes())
				var got map[string]any
				require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
				if kind == "With address" {
					assert.Equal(t, ipmask.Default.Prefix(canary.Addr).Addr().String(), got["peer"])
				}
				return got
			})
		})
	}
}
