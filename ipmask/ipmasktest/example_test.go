package ipmasktest_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// logClient is the code under test: it logs a visitor's network.
func logClient(logger *slog.Logger, a netip.Addr) {
	logger.Info("click", "net", ipmask.Default.Prefix(a))
}

func Example() {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	for _, c := range ipmasktest.Cases() {
		logClient(logger, c.Addr)
	}
	// In a test: ipmasktest.AssertNoRawIP(t, ipmask.Default, buf.Bytes())
	fmt.Println(len(ipmasktest.Leaks(ipmask.Default, buf.Bytes())))

	// A leaky line: the 6to4 address keeps all of 203.0.113.9 at /48.
	leaky := `{"msg":"click","net":"2002:cb00:7109::/48"}`
	for _, l := range ipmasktest.Leaks(ipmask.Default, leaky) {
		fmt.Println(l.Addr, "at byte", l.Start)
	}
	// Output:
	// 0
	// 2002:cb00:7109:: at byte 22
}

func ExampleAssertMasked() {
	// In a test: ipmasktest.AssertMasked(t, ipmask.Default, got)
	got := ipmask.Default.Mask(netip.MustParseAddr("::ffff:203.0.113.9"))
	fmt.Println(got, ipmask.Default.IsMasked(got))
	// Output: 203.0.113.0 true
}
