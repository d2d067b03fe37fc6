package logmask

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/clickanon/clickanon/ipmask"
)

// genLog returns n lines of a combined-format access log, seeded: client
// addresses about 70% IPv4, 25% IPv6 and 5% IPv4-mapped, and on 30% of
// lines a quoted X-Forwarded-For field with one to three more addresses.
func genLog(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	addr := func() string {
		switch x := r.IntN(100); {
		case x < 70:
			return netip.AddrFrom4([4]byte{byte(1 + r.IntN(223)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}).String()
		case x < 95:
			var b [16]byte
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			b[0] = 0x20 | b[0]&0x0f
			return netip.AddrFrom16(b).String()
		default:
			return "::ffff:" + netip.AddrFrom4([4]byte{byte(1 + r.IntN(223)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}).String()
		}
	}
	methods := []string{"GET", "GET", "GET", "HEAD", "POST"}
	paths := []string{"/r/GTQn8z?ref=home", "/c/5Gvk?utm_source=newsletter&utm_medium=email", "/go/RGQH", "/c/8gAjIy", "/"}
	refs := []string{"-", "https://www.example.com/", "android-app://com.example.mail/", "https://news.example.org/a/b?id=42"}
	agents := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
		"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
		"curl/8.4.0",
	}
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "%s - - [11/Jun/2024:%02d:%02d:%02d +0000] \"%s %s HTTP/1.1\" %d %d \"%s\" \"%s\"",
			addr(), 8+i/3600%16, i/60%60, i%60, methods[r.IntN(len(methods))], paths[r.IntN(len(paths))],
			[]int{200, 301, 302, 404, 500}[r.IntN(5)], r.IntN(5000), refs[r.IntN(len(refs))], agents[r.IntN(len(agents))])
		if r.IntN(10) < 3 {
			b.WriteString(` "`)
			for k := range 1 + r.IntN(3) {
				if k > 0 {
					b.WriteString(", ")
				}
				b.WriteString(addr())
			}
			b.WriteByte('"')
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// benchLog is the benchmark input: the file CLICKANON_ACCESS_LOG names, or
// a generated log of 20,000 lines.
func benchLog(b *testing.B) []byte {
	if name := os.Getenv("CLICKANON_ACCESS_LOG"); name != "" {
		data, err := os.ReadFile(name)
		if err != nil {
			b.Fatalf("CLICKANON_ACCESS_LOG: %v", err)
		}
		return data
	}
	return genLog(20000, 20240611)
}

// naive is the baseline: a regexp finds candidates, netip.ParseAddr checks
// them and Policy.Mask masks them, the way a first Go version would.
type naive struct {
	re *regexp.Regexp
	p  ipmask.Policy
}

func newNaive(p ipmask.Policy) *naive {
	return &naive{re: regexp.MustCompile(`[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]*`), p: p}
}

func (n *naive) appendMask(dst, line []byte) []byte {
	last := 0
	for _, loc := range n.re.FindAllIndex(line, -1) {
		a, err := netip.ParseAddr(string(line[loc[0]:loc[1]]))
		if err != nil {
			continue
		}
		dst = append(dst, line[last:loc[0]]...)
		dst = n.p.Mask(a).AppendTo(dst)
		last = loc[1]
	}
	return append(dst, line[last:]...)
}

// BenchmarkAccessLog compares, on the same access log, the naive baseline
// with Masker.AppendMask and the Writer, line by line as a piped logger
// sees it.
func BenchmarkAccessLog(b *testing.B) {
	data := benchLog(b)
	lines := bytes.SplitAfter(data, []byte("\n"))
	b.Run("naive", func(b *testing.B) {
		n := newNaive(ipmask.Default)
		dst := make([]byte, 0, 64<<10)
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			for _, l := range lines {
				dst = n.appendMask(dst[:0], l)
			}
		}
	})
	b.Run("AppendMask", func(b *testing.B) {
		m, _ := NewMasker(ipmask.Default, nil)
		dst := make([]byte, 0, 64<<10)
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			for _, l := range lines {
				dst = m.AppendMask(dst[:0], l)
			}
		}
	})
	b.Run("AppendMaskEscaped", func(b *testing.B) {
		// Each line also carries its client address percent-encoded in a
		// query string, so every line takes the decoding path.
		esc := escapedLines(lines)
		n := 0
		for _, l := range esc {
			n += len(l)
		}
		m, _ := NewMasker(ipmask.Default, nil)
		dst := make([]byte, 0, 64<<10)
		b.SetBytes(int64(n))
		b.ReportAllocs()
		for b.Loop() {
			for _, l := range esc {
				dst = m.AppendMask(dst[:0], l)
			}
		}
	})
	b.Run("Writer", func(b *testing.B) {
		w, _ := NewWriter(io.Discard, ipmask.Default, nil)
		_, _ = w.Write(data[:min(64<<10, len(data))]) // size the buffers before measuring
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			for off := 0; off < len(data); off += 64 << 10 {
				_, _ = w.Write(data[off:min(off+64<<10, len(data))])
			}
		}
	})
	b.Run("FieldMode", func(b *testing.B) {
		m, _ := NewMasker(ipmask.Default, &Options{Fields: []int{1}})
		dst := make([]byte, 0, 64<<10)
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			for _, l := range lines {
				dst = m.AppendMask(dst[:0], l)
			}
		}
	})
}

// escapedLines returns lines, each with ` "/c?ip=ADDR"` added before its
// newline, ADDR being its first field percent-encoded as a query value.
func escapedLines(lines [][]byte) [][]byte {
	out := make([][]byte, 0, len(lines))
	for _, l := range lines {
		body := bytes.TrimSuffix(l, []byte("\n"))
		first, _, _ := bytes.Cut(body, []byte(" "))
		e := fmt.Appendf(nil, "%s \"/c?ip=%s\"\n", body, url.QueryEscape(string(first)))
		out = append(out, e)
	}
	return out
}

// BenchmarkHandler compares, in one run, a JSON handler writing to
// io.Discard with the same handler wrapped in a Handler, on records with
// and without an address.
func BenchmarkHandler(b *testing.B) {
	ctx := context.Background()
	attrs := func(client string) []slog.Attr {
		return []slog.Attr{
			slog.String("method", "GET"), slog.String("path", "/c/abc123?utm_source=news"),
			slog.Int("status", 200), slog.Duration("took", 1234*time.Microsecond),
			slog.String("ua", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0.6099.109"),
			slog.String("client", client),
		}
	}
	for _, tt := range []struct {
		name  string
		attrs []slog.Attr
	}{
		{"no address", attrs("anonymous")},
		{"one address", attrs("203.0.113.9")},
	} {
		b.Run("JSON/"+tt.name, func(b *testing.B) {
			logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
			b.ReportAllocs()
			for b.Loop() {
				logger.LogAttrs(ctx, slog.LevelInfo, "request", tt.attrs...)
			}
		})
		b.Run("Handler/"+tt.name, func(b *testing.B) {
			h, _ := NewHandler(slog.NewJSONHandler(io.Discard, nil), ipmask.Default, nil)
			logger := slog.New(h)
			b.ReportAllocs()
			for b.Loop() {
				logger.LogAttrs(ctx, slog.LevelInfo, "request", tt.attrs...)
			}
		})
	}
}
