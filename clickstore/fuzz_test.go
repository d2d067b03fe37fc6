package clickstore_test

import (
	"strings"
	"testing"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// FuzzParsePseudonym: parsing never panics, round-trips what it accepts,
// and its errors neither quote the input nor carry an address.
func FuzzParsePseudonym(f *testing.F) {
	f.Add("00112233445566778899aabbccddeeff")
	f.Add("00112233445566778899AABBCCDDEEFF")
	f.Add("0011")
	f.Add("zz112233445566778899aabbccddeeff")
	f.Add("203.0.113.9")
	f.Add("2001:db8:1:2:3:4:5:6%eth0")
	f.Add("::ffff:203.0.113.9:8080xx")
	f.Add("2002:cb00:7109::1aaaaaaaaaaaaaaa")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := clickstore.ParsePseudonym(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "clickstore: ") {
				t.Fatalf("error %q does not name the package", err)
			}
			// Errors carry no raw address, whatever text they were given.
			ipmasktest.AssertNoRawIPError(t, zeroBits, err, "input %q", s)
			if len(s) >= 4 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q quotes its input", err)
			}
			return
		}
		if !strings.EqualFold(p.String(), s) {
			t.Fatalf("%q parsed to %v", s, p)
		}
		var q clickstore.Pseudonym
		if err := q.UnmarshalText([]byte(p.String())); err != nil || q != p {
			t.Fatalf("text round trip of %v: %v, %v", p, q, err)
		}
	})
}
