package ipmasktest

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/clickanon/clickanon/internal/testkit"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/logmask"
)

// A Leak is an address found in text that a policy does not mask: Addr, as
// parsed, written at text[Start:End].
//
// Leak is a small comparable value; the zero Leak has the zero Addr.
type Leak struct {
	Addr       netip.Addr
	Start, End int
}

// Leaks returns every address in data that p does not mask, in order. An
// empty result means data holds no raw address.
func Leaks[T ~string | ~[]byte](p ipmask.Policy, data T) []Leak {
	var leaks []Leak
	for m := range logmask.Addrs([]byte(data)) {
		if !p.IsMasked(m.Addr) {
			leaks = append(leaks, Leak{Addr: m.Addr, Start: m.Start, End: m.End})
		}
	}
	return leaks
}

// AssertNoRawIP reports an error, through t, for every address in data
// that p does not mask, giving the address, its text, its byte offset and
// the surrounding text, and returns whether there was none. msgAndArgs are
// added to the report as testify does: a lone value is printed with %v, and
// a format string followed by its arguments is formatted.
//
// To check an error's text, use [AssertNoRawIPError].
func AssertNoRawIP[T ~string | ~[]byte](t testing.TB, p ipmask.Policy, data T, msgAndArgs ...any) bool {
	t.Helper()
	return report(t, p, string(data), Leaks(p, data), msgAndArgs)
}

// AssertNoRawIPOf is [AssertNoRawIP] for data that holds random bytes
// (pseudonyms, sealed values, sketches): any run of them may read as some
// address ("c::f"), so only the addresses in data that p does not mask
// and that p masks to what it masks one of addrs to are reported. Give
// addrs in every form the data could hold them (an IPv6 address and the
// IPv4 address it carries, say).
func AssertNoRawIPOf[T ~string | ~[]byte](t testing.TB, p ipmask.Policy, data T, addrs []netip.Addr, msgAndArgs ...any) bool {
	t.Helper()
	var found []Leak
	for _, l := range Leaks(p, data) {
		for _, a := range addrs {
			if p.Mask(l.Addr) == p.Mask(a) {
				found = append(found, l)
				break
			}
		}
	}
	return report(t, p, string(data), found, msgAndArgs)
}

// report reports leaks, found in text, as AssertNoRawIP does.
func report(t testing.TB, p ipmask.Policy, text string, leaks []Leak, msgAndArgs []any) bool {
	t.Helper()
	if len(leaks) == 0 {
		return true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ipmasktest: %d raw IP address(es) not masked under %v:", len(leaks), p)
	for _, l := range leaks {
		fmt.Fprintf(&b, "\n\t%v written %q at byte %d: %s", l.Addr, text[l.Start:l.End], l.Start, around(text, l.Start, l.End))
	}
	return fail(t, b.String(), msgAndArgs)
}

// RequireNoRawIP is [AssertNoRawIP] followed, on failure, by t.FailNow.
func RequireNoRawIP[T ~string | ~[]byte](t testing.TB, p ipmask.Policy, data T, msgAndArgs ...any) {
	t.Helper()
	if !AssertNoRawIP(t, p, data, msgAndArgs...) {
		t.FailNow()
	}
}

// AssertMasked reports an error, through t, unless a is a valid address
// that reveals no more than p allows ([ipmask.Policy.IsMasked]), and
// returns whether it is.
func AssertMasked(t testing.TB, p ipmask.Policy, a netip.Addr, msgAndArgs ...any) bool {
	t.Helper()
	if !a.IsValid() {
		return fail(t, "ipmasktest: the zero netip.Addr is not a masked address", msgAndArgs)
	}
	if !p.IsMasked(a) {
		return fail(t, fmt.Sprintf("ipmasktest: %v is not masked under %v: want %v", a, p, p.Mask(a)), msgAndArgs)
	}
	return true
}

// AssertNoRawIPError is [AssertNoRawIP] on the text of err: it reports an
// error, through t, for every address in err.Error() that p does not mask,
// and returns whether there was none. A nil err holds no address. Use it on
// every error path of code that handles addresses, since an error gets
// logged.
func AssertNoRawIPError(t testing.TB, p ipmask.Policy, err error, msgAndArgs ...any) bool {
	t.Helper()
	if err == nil {
		return true
	}
	return AssertNoRawIP(t, p, err.Error(), msgAndArgs...)
}

// fail reports msg, and the caller's message if any, through t.Errorf and
// returns false.
func fail(t testing.TB, msg string, msgAndArgs []any) bool {
	t.Helper()
	if extra := testkit.Message(msgAndArgs); extra != "" {
		msg += "\n\tmessage: " + extra
	}
	t.Errorf("%s", msg)
	return false
}

// around quotes up to 20 bytes of context on each side of text[start:end].
func around(text string, start, end int) string {
	from, to := max(0, start-20), min(len(text), end+20)
	return fmt.Sprintf("%q", text[from:to])
}
