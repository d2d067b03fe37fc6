package logmask_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

func ExampleNewWriter() {
	w, err := logmask.NewWriter(os.Stdout, ipmask.Default, nil)
	if err != nil {
		panic(err)
	}
	fmt.Fprintln(w, `203.0.113.9 - - [11/Jun/2024:08:00:00 +0000] "GET / HTTP/1.1" 200 "198.51.100.7, 2001:db8:1:2::7"`)
	fmt.Fprintln(w, "IP 192.0.2.1.43436 > 198.51.100.7.22: Flags [S] (tcpdump)")
	fmt.Fprint(w, "[2002:cb00:7109::1]:443 v1.2.3.4.5 at 12:30:28") // no newline: Close writes it
	if err := w.Close(); err != nil {
		panic(err)
	}
	// Output:
	// 203.0.113.0 - - [11/Jun/2024:08:00:00 +0000] "GET / HTTP/1.1" 200 "198.51.100.0, 2001:db8:1::"
	// IP 192.0.2.0.43436 > 198.51.100.0.22: Flags [S] (tcpdump)
	// [2002:cb00:7100::]:443 v1.2.3.4.5 at 12:30:28
}

func ExampleCopy() {
	log := "::ffff:203.0.113.9 GET /\n10.1.2.3 GET /health\n"
	_, err := logmask.Copy(os.Stdout, strings.NewReader(log), ipmask.Strict, &logmask.Options{SkipPrivate: true})
	if err != nil {
		panic(err)
	}
	// Output:
	// 203.0.0.0 GET /
	// 10.1.2.3 GET /health
}

// Query strings percent-encode IPv6 colons; the masked address keeps the
// encoding.
func ExampleMasker_MaskString_urlEncoded() {
	m, err := logmask.NewMasker(ipmask.Default, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(m.MaskString(`"GET /r?ip=2001%3Adb8%3A1%3A2%3A%3A7&via=%5B2001:db8:1:2::8%5D HTTP/1.1"`))
	// Output:
	// "GET /r?ip=2001%3Adb8%3A1%3A%3A&via=%5B2001:db8:1::%5D HTTP/1.1"
}

// An address that a printf format runs into the next word is masked, and
// masking the output again changes nothing; a C++ scope stays as it is.
func ExampleMasker_MaskString_glued() {
	m, err := logmask.NewMasker(ipmask.Default, nil)
	if err != nil {
		panic(err)
	}
	out := m.MaskString("peer 2001:db8:1:2::7via wg0, fe80::1ghost; std::io::Error")
	fmt.Println(out)
	fmt.Println(m.MaskString(out) == out)
	// Output:
	// peer 2001:db8:1::via wg0, fe80::ghost; std::io::Error
	// true
}

func ExampleMasker_fieldMode() {
	m, err := logmask.NewMasker(ipmask.Default, &logmask.Options{Fields: []int{1, 3}, Delim: '\t'})
	if err != nil {
		panic(err)
	}
	fmt.Println(m.MaskString("203.0.113.9\t198.51.100.7\tclient.example.net"))
	// Output:
	// 203.0.113.0	198.51.100.7	-
}

func ExampleAddrs() {
	text := []byte(`peer=[fe80::1%eth0]:443 via 203.0.113.9`)
	for m := range logmask.Addrs(text) {
		fmt.Printf("%d-%d %q %v\n", m.Start, m.End, text[m.Start:m.End], m.Addr)
	}
	// Output:
	// 6-18 "fe80::1%eth0" fe80::1
	// 28-39 "203.0.113.9" 203.0.113.9
}

// A Handler masks every address in a record, whatever attribute carries
// it, before the handler it wraps sees it.
func ExampleNewHandler() {
	json := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	})
	h, err := logmask.NewHandler(json, ipmask.Default, nil)
	if err != nil {
		panic(err)
	}
	logger := slog.New(h)
	logger.Info("login from 203.0.113.9",
		"peer", netip.MustParseAddrPort("[2001:db8:1:2::7]:51234"),
		"err", errors.New("dial tcp 198.51.100.7:443: refused"),
		slog.Group("src", "eth0", "en0:2001:db8:a:b::1"),
	)
	logger.Info("no address here", "status", 200) // passed on as it is, no allocation
	// Output:
	// {"level":"INFO","msg":"login from 203.0.113.0","peer":"[2001:db8:1::]:51234","err":"dial tcp 198.51.100.0:443: refused","src":{"eth0":"en0:2001:db8:a::"}}
	// {"level":"INFO","msg":"no address here","status":200}
}

// ReplaceAttr masks through a built-in handler's options.
func ExampleMasker_ReplaceAttr() {
	m, err := logmask.NewMasker(ipmask.Default, nil)
	if err != nil {
		panic(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return m.ReplaceAttr(groups, a)
		},
	}))
	logger.Warn("blocked", "client", netip.MustParseAddr("2002:cb00:7109::1"), "xff", "203.0.113.9, 198.51.100.7")
	// Output:
	// level=WARN msg=blocked client=2002:cb00:7100:: xff="203.0.113.0, 198.51.100.0"
}

// Text that will be quoted afterwards (here by %q) is masked with
// MaskQuoted: the invalid byte before ":::1" would print as \x8e, and
// "x8e:" would then read as a key before the address ::1.
func ExampleMasker_MaskQuoted() {
	m, err := logmask.NewMasker(ipmask.Default, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", m.MaskString("ref\x8e:::1"))
	fmt.Printf("%q\n", m.MaskQuoted("ref\x8e:::1"))
	fmt.Printf("%q\n", m.MaskQuoted("from 203.0.113.9"))
	// Output:
	// "ref\x8e:::1"
	// "ref?:::1"
	// "from 203.0.113.0"
}
