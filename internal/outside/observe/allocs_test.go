package observe_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// noAddrTexts are texts that look like addresses in part but hold none,
// of every size class the masker treats apart (short, over 256 bytes,
// over 1 KiB, with a percent-encoded colon).
func noAddrTexts() map[string]string {
	long := strings.Repeat("no address here, only words and 12.5 ms. ", 40)
	return map[string]string{
		"empty":         "",
		"words":         "request served",
		"version":       "v1.2.3 build 2024-06-11T08:00:00Z took 12.5ms",
		"clock":         "at 12:34:56, std::abs, deadbeef",
		"uuid":          "8d3c2f0e-6b1a-4c3e-9f2a-1b2c3d4e5f60",
		"mac":           "00:1a:2b:3c:4d:5e",
		"url":           "https://example.com/c/abc?x=1&y=2",
		"encoded url":   "/c/abc?next=https%3A%2F%2Fexample.com%2Fpath%3Fq%3D1",
		"long":          long,
		"long encoded":  "/c/abc?next=https%3A%2F%2Fexample.com%2F" + strings.Repeat("a", 300),
		"huge encoded":  "/c/abc?next=https%3A%2F%2Fexample.com%2F" + strings.Repeat("segment%2F", 200),
		"user agent":    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36",
		"long no colon": strings.Repeat("abcdefghij", 100),
	}
}

// TestHandlerAddsNoAllocationWithoutAddress checks "a record holding no
// address passes through without an allocation" for every class of text
// without one, in the message, a string value and a key, also inside
// WithGroup and With, around slog's JSON handler: the Handler adds no
// allocation to what the bare JSON handler makes. Checked to fail: the
// same records holding an address do allocate (the teeth assertion), and
// before the fix of finding F1 the texts of over 256 bytes with a
// percent-encoded colon cost up to 7 allocations. Not under the race
// detector, whose sync.Pool drops buffers on purpose.
func TestHandlerAddsNoAllocationWithoutAddress(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops buffers: make test runs this without it (make allocs)")
	}
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	bare := slog.NewJSONHandler(io.Discard, nil)
	mh, err := logmask.NewHandler(bare, ipmask.Default, nil)
	require.NoError(t, err)
	masked := slog.Handler(mh)
	for name, text := range noAddrTexts() {
		r := slog.NewRecord(now, slog.LevelInfo, text, 0)
		r.AddAttrs(
			slog.String("s", text), slog.Int(text, 1), slog.Bool("b", true), slog.Duration("d", time.Second),
			slog.Time("t", now), slog.Float64("f", 1.5), slog.Uint64("u", 7), slog.Any("err", io.ErrUnexpectedEOF),
			slog.Group("g", slog.String("s", text), slog.Int64("n", 2)),
		)
		for _, derive := range []struct {
			name string
			f    func(slog.Handler) slog.Handler
		}{
			{"plain", func(h slog.Handler) slog.Handler { return h }},
			{"groups", func(h slog.Handler) slog.Handler { return h.WithGroup("http").WithGroup("v1") }},
			{"with", func(h slog.Handler) slog.Handler {
				return h.WithAttrs([]slog.Attr{slog.String("svc", "web")}).WithGroup("req")
			}},
		} {
			b, m := derive.f(bare), derive.f(masked)
			base := testing.AllocsPerRun(50, func() { _ = b.Handle(ctx, r) })
			got := testing.AllocsPerRun(50, func() { _ = m.Handle(ctx, r) })
			assert.Equal(t, base, got, "%s, %s: allocations added by the Handler", name, derive.name)
		}
	}
	// Teeth: an address costs allocations.
	r := slog.NewRecord(now, slog.LevelInfo, "from 203.0.113.9", 0)
	assert.Greater(t, testing.AllocsPerRun(50, func() { _ = masked.Handle(ctx, r) }),
		testing.AllocsPerRun(50, func() { _ = bare.Handle(ctx, r) }), "teeth")
}

// TestMaskQuotedNoAllocationWithoutAddress checks Masker.MaskQuoted's
// "when nothing changes it returns s itself, without allocating" for every
// class of text without an address. Checked to fail: before the fix of
// F1 the texts of over 256 bytes with a percent-encoded colon allocated
// once each; an address costs allocations (teeth).
func TestMaskQuotedNoAllocationWithoutAddress(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops buffers: make test runs this without it (make allocs)")
	}
	m, err := logmask.NewMasker(ipmask.Default, nil)
	require.NoError(t, err)
	for name, text := range noAddrTexts() {
		assert.Zero(t, testing.AllocsPerRun(50, func() { _ = m.MaskQuoted(text) }), name)
	}
	long := strings.Repeat("a%3Ab ", 60) + "203.0.113.9"
	assert.Positive(t, testing.AllocsPerRun(50, func() { _ = m.MaskQuoted(long) }), "teeth")
}

// TestMaskStringNoAllocationWithoutAddress checks Masker.MaskString's
// "when nothing changes it returns s itself, so text holding no address
// ... costs no allocation" for every class of text without an address.
// Checked to fail: it fails on the texts of over 256 bytes with a
// percent-encoded colon (finding F2).
func TestMaskStringNoAllocationWithoutAddress(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops buffers: make test runs this without it (make allocs)")
	}

	m, err := logmask.NewMasker(ipmask.Default, nil)
	require.NoError(t, err)
	for name, text := range noAddrTexts() {
		assert.Zero(t, testing.AllocsPerRun(50, func() { _ = m.MaskString(text) }), name)
	}
}
