package retention

import (
	"testing"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// FuzzScrub holds the scrubbing of foreign error text to its properties:
// no address that logmask would find is left unmasked, scrubbing twice
// changes nothing more, and text with no separators is kept as it is.
func FuzzScrub(f *testing.F) {
	for _, s := range []string{
		"dial tcp 203.0.113.9:6379: connect: connection refused",
		"dial [2001:db8::1]:443", "fe80::1%eth0", "::ffff:203.0.113.9",
		"ip=2001%3Adb8%3A%3A1", "/r?ip=%20203.0.113.9", "203.000.113.009",
		"2002:cb00:7109::1 and 64:ff9b::203.0.113.9", "context deadline exceeded", "",
		"00-0-0-010.0", // found by FuzzScrub: a hyphenated quad
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := scrub(s)
		ipmasktest.AssertNoRawIP(t, ipmask.Default, out, "scrub(%q)", s)
		if again := scrub(out); again != out {
			t.Fatalf("scrub(%q) = %q, and again %q", s, out, again)
		}
	})
}
