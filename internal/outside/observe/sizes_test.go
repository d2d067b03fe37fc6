package observe_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// TestHandlerEverySize puts each address form at the start, middle and
// end of text of every size class the masker treats apart (short, around
// 256 bytes, over 1 KiB, and over 64 KiB for an IPv4 and an IPv6 form),
// with and without a percent-encoded
// colon elsewhere in it, and logs it as the message, a value, a key and
// []byte. Checked to fail: the bare handler leaks at every size (teeth).
func TestHandlerEverySize(t *testing.T) {
	var out, raw bytes.Buffer
	mh, err := logmask.NewHandler(slog.NewJSONHandler(&out, nil), ipmask.Default, nil)
	require.NoError(t, err)
	masked, bare := slog.New(mh), slog.New(slog.NewJSONHandler(&raw, nil))
	for i, c := range ipmasktest.Cases() {
		sizes := []int{0, 250, 255, 256, 257, 1023, 1024, 1025, 5000}
		if i < 2 {
			sizes = append(sizes, 70000) // one IPv4 and one IPv6 form
		}
		for _, size := range sizes {
			for _, filler := range []string{"x ", "a%3Ab "} {
				pad := strings.Repeat(filler, size/len(filler)+1)[:size]
				for _, text := range []string{c.Text + " " + pad, pad + " " + c.Text + " " + pad, pad + " " + c.Text} {
					out.Reset()
					raw.Reset()
					for _, l := range []*slog.Logger{masked, bare} {
						l.Info(text, "v", text, text, 1, "b", []byte(text))
					}
					if !ipmasktest.AssertNoRawIP(t, ipmask.Default, out.Bytes(), "%s, %d bytes of %q", c.Name, size, filler) {
						return
					}
					assert.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, raw.Bytes()), "teeth")
				}
			}
		}
	}
}

// TestHandlerSlogtestTextAndJSON runs testing/slogtest on the Handler
// around slog's JSON handler and around its text handler (the issue names
// the JSON one; the text one is what most services configure), with a
// ReplaceAttr-configured handler of each kind too. Checked to fail: a
// Handler that drops a record's attributes (a wrapper written here that
// forgets them) fails the same suite (the teeth subtest).
func TestHandlerSlogtestTextAndJSON(t *testing.T) {
	m, err := logmask.NewMasker(ipmask.Default, nil)
	require.NoError(t, err)
	for _, kind := range []string{"json", "text", "json ReplaceAttr", "text ReplaceAttr"} {
		t.Run(kind, func(t *testing.T) {
			var buf bytes.Buffer
			slogtest.Run(t, func(t *testing.T) slog.Handler {
				buf.Reset()
				opts := &slog.HandlerOptions{}
				if strings.HasSuffix(kind, "ReplaceAttr") {
					opts.ReplaceAttr = m.ReplaceAttr
				}
				var h slog.Handler = slog.NewJSONHandler(&buf, opts)
				if strings.HasPrefix(kind, "text") {
					h = slog.NewTextHandler(&buf, opts)
				}
				if opts.ReplaceAttr != nil {
					return h
				}
				mh, err := logmask.NewHandler(h, ipmask.Default, nil)
				require.NoError(t, err)
				return mh
			}, func(t *testing.T) map[string]any {
				if strings.HasPrefix(kind, "json") {
					var got map[string]any
					require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
					return got
				}
				return parseText(t, buf.String())
			})
		})
	}
}

// parseText reads one line of slog's text handler into nested maps,
// splitting keys at dots (the test's keys and values hold no spaces,
// quotes or dots but the time's).
func parseText(t *testing.T, line string) map[string]any {
	t.Helper()
	top := map[string]any{}
	for _, field := range strings.Fields(strings.TrimSpace(line)) {
		k, v, ok := strings.Cut(field, "=")
		require.True(t, ok, "field %q", field)
		m := top
		parts := strings.Split(k, ".")
		for _, g := range parts[:len(parts)-1] {
			sub, ok := m[g].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[g] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = v
	}
	return top
}

// TestHandlerConcurrent logs addresses from many goroutines through one
// Handler and loggers derived from it at the same time (With, WithGroup,
// in both orders), into one buffer under a lock as a real writer is: every
// line is whole and none holds a raw address; run with -race it also
// checks the Handler shares no unguarded state. Checked to fail: the bare
// handler's output leaks (teeth).
func TestHandlerConcurrent(t *testing.T) {
	var mu sync.Mutex
	var out bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	})
	mh, err := logmask.NewHandler(slog.NewJSONHandler(w, nil), ipmask.Default, nil)
	require.NoError(t, err)
	base := slog.New(mh)
	cases := ipmasktest.Cases()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				c := cases[(g*31+i)%len(cases)]
				l := base
				switch i % 3 {
				case 1:
					l = l.With("peer", c.Addr).WithGroup("req")
				case 2:
					l = l.WithGroup("req").With("peer", c.Text)
				}
				l.Info("from "+c.Text, "addr", c.Addr, "long", strings.Repeat("a%3Ab ", 60)+c.Text)
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Len(t, lines, 8*200)
	for _, l := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), "a whole JSON line")
	}
	ipmasktest.AssertNoRawIP(t, ipmask.Default, out.Bytes())
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
