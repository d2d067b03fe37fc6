package masklog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// lazy is a LogValuer that resolves to v.
type lazy struct{ v slog.Value }

func (l lazy) LogValue() slog.Value { return l.v }

// nested is a struct a service logs whole, with an address deep inside.
type nested struct {
	Name  string
	Inner *struct {
		Peers []map[string]any
	}
}

// valueWith returns a value of a random kind that carries text (an
// address form) somewhere inside it, nested depth levels deep.
func valueWith(r *rand.Rand, text string, a netip.Addr, depth int) slog.Value {
	if depth > 0 && r.IntN(3) > 0 {
		inner := valueWith(r, text, a, depth-1)
		attrs := []slog.Attr{slog.Int("n", r.IntN(9)), slog.String("s", "ok")}
		k := r.IntN(len(attrs) + 1)
		key := []string{"peer", text, "deep"}[r.IntN(3)]
		attrs = append(attrs[:k], append([]slog.Attr{{Key: key, Value: inner}}, attrs[k:]...)...)
		if r.IntN(3) == 0 {
			return slog.AnyValue(lazy{slog.GroupValue(attrs...)})
		}
		return slog.GroupValue(attrs...)
	}
	switch r.IntN(11) {
	case 0:
		return slog.StringValue("from " + text + " ok")
	case 1:
		return slog.AnyValue(a)
	case 2:
		return slog.AnyValue(netip.AddrPortFrom(a, 443))
	case 3:
		return slog.AnyValue(net.IP(a.AsSlice()))
	case 4:
		return slog.AnyValue(fmt.Errorf("wrap: %w", errors.Join(errors.New("first"), fmt.Errorf("dial %s: refused", text))))
	case 5:
		return slog.AnyValue([]any{1, "x", []string{"y", text}})
	case 6:
		return slog.AnyValue(map[string]any{"k": map[string]any{"deeper": []any{text}}})
	case 7:
		n := nested{Name: "n"}
		n.Inner = &struct{ Peers []map[string]any }{Peers: []map[string]any{{"ip": text}}}
		return slog.AnyValue(&n)
	case 8:
		return slog.AnyValue(lazy{slog.StringValue(text)})
	case 9:
		return slog.AnyValue(&net.TCPAddr{IP: net.IP(a.AsSlice()), Port: 8080})
	default:
		return slog.AnyValue([]byte("bytes " + text))
	}
}

// TestHandlerMasksEveryNesting checks the and the Handler doc's
// "masks every attribute, group, nested value and message", over random
// trees: groups in groups (up to five deep, some behind LogValuers), the
// address in a key, a string, a typed value, an error chain, a slice, a
// map, a struct behind a pointer, bytes; the record also has more
// attributes than a Record stores inline, and the logger has WithGroup and
// WithAttrs levels holding addresses. Through slog's JSON and text
// handlers, with random address forms. Checked to fail: the same trees
// through the bare handlers leak (the teeth subtest).
func TestHandlerMasksEveryNesting(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 34))
	for _, kind := range []string{"json", "text", "bare json (teeth)"} {
		t.Run(kind, func(t *testing.T) {
			leaked := 0
			for i := range 300 {
				var fs []form
				var a netip.Addr
				if i%2 == 0 {
					fs, a = forms4(r), v4(r)
				} else {
					fs, a = forms6(r), v6(r)
				}
				f := fs[r.IntN(len(fs))]
				var buf bytes.Buffer
				var h slog.Handler = slog.NewJSONHandler(&buf, nil)
				if kind == "text" {
					h = slog.NewTextHandler(&buf, nil)
				}
				if kind != "bare json (teeth)" {
					var err error
					h, err = logmask.NewHandler(h, ipmask.Default, nil)
					require.NoError(t, err)
				}
				l := slog.New(h)
				switch r.IntN(3) {
				case 0:
					l = l.WithGroup("g").With("with", f.text)
				case 1:
					l = l.With("k", valueWith(r, f.text, a, 2)).WithGroup("g2")
				}
				var args []any
				for k := range 8 {
					args = append(args, fmt.Sprintf("a%d", k), k)
				}
				args = append(args, slog.Attr{Key: "target", Value: valueWith(r, f.text, a, 5)})
				msg := "done"
				if r.IntN(4) == 0 {
					msg = "peer " + f.text + " gone"
				}
				l.Info(msg, args...)
				out := buf.String()
				leaks := ipmasktest.Leaks(ipmask.Default, out)
				for _, raw := range append([]string{a.String(), a.StringExpanded()}, f.raw...) {
					if strings.Contains(strings.ToLower(out), strings.ToLower(raw)) {
						leaks = append(leaks, ipmasktest.Leak{})
					}
				}
				if kind == "bare json (teeth)" {
					if len(leaks) > 0 {
						leaked++
					}
					continue
				}
				assert.Empty(t, leaks, "%s: %s", f.name, out)
			}
			if kind == "bare json (teeth)" {
				assert.Greater(t, leaked, 250, "the trees hold addresses the bare handler writes")
			}
		})
	}
}

// nopHandler is a slog.Handler that does nothing, so that only the
// masking Handler's allocations are counted.
type nopHandler struct{}

func (nopHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (nopHandler) Handle(context.Context, slog.Record) error { return nil }
func (h nopHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h nopHandler) WithGroup(string) slog.Handler           { return h }

// TestHandlerNoAllocWithoutAddress checks the Handler doc's "a record that
// holds no address is passed on as it is, without allocating", for the
// kinds it names as read without formatting: strings (also long ones, and
// text with times, versions and hashes), numbers, booleans, times,
// durations, groups nested three deep, an error, and more
// attributes than a Record stores inline. Skipped under -race, whose
// sync.Pool drops buffers. Checked to fail: adding a map attribute (which
// must be marshalled to be read) makes it allocate.
func TestHandlerNoAllocWithoutAddress(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts do not hold under the race detector")
	}
	h, err := logmask.NewHandler(nopHandler{}, ipmask.Default, nil)
	require.NoError(t, err)
	ctx := context.Background()
	now := time.Date(2024, 6, 11, 12, 34, 56, 0, time.UTC)
	long := strings.Repeat("GET /index.html?q=v1.2.3&t=12:30:28 sha256:deadbeef ", 40)
	errPlain := errors.New("connection reset by peer")
	rec := slog.NewRecord(now, slog.LevelInfo, "request done at 12:30:28 by nginx/1.25.3", 0)
	rec.AddAttrs(
		slog.String("path", "/api/v2.0.1/items"),
		slog.String("long", long),
		slog.Int("status", 200),
		slog.Float64("took", 0.0123),
		slog.Bool("cached", true),
		slog.Time("at", now),
		slog.Duration("d", 3*time.Second),
		slog.Group("g1", slog.String("mac", "00:1a:2b:3c:4d:5e"), slog.Group("g2", slog.String("uuid", "123e4567-e89b-12d3-a456-426614174000"), slog.Group("g3", slog.Uint64("n", 7)))),
		slog.Any("err", errPlain),
		slog.String("date", "2024-06-11"),
	)
	allocs := testing.AllocsPerRun(200, func() {
		if err := h.Handle(ctx, rec); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}
