package ipmasktest_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"testing"

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

// printTB stands in for the *testing.T of a real test: it prints what the
// helpers report.
type printTB struct{ testing.TB }

func (printTB) Helper()                           {}
func (printTB) Errorf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

// Errors get logged, so check their text too. Here an error that quotes
// its input fails the check, and ipmask's own error passes it.
func ExampleAssertNoRawIPError() {
	t := printTB{} // in a test: the *testing.T

	_, err := strconv.Atoi("203.0.113.9") // strconv quotes its input
	ok := ipmasktest.AssertNoRawIPError(t, ipmask.Default, err, "strconv")
	fmt.Println(ok)

	_, err = ipmask.Default.MaskString("203.0.113.9:80")
	ok = ipmasktest.AssertNoRawIPError(t, ipmask.Default, err, "ipmask")
	fmt.Println(ok, err)
	// Output:
	// ipmasktest: 1 raw IP address(es) not masked under ipv4/24,ipv6/48:
	//	203.0.113.9 written "203.0.113.9" at byte 23: "conv.Atoi: parsing \"203.0.113.9\": invalid syntax"
	//	message: strconv
	// false
	// true ipmask: not an IP address: unexpected ':' at byte 11 (text of 14 bytes)
}
