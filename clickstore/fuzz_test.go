package clickstore_test

import (
	"strings"
	"testing"

	"github.com/clickanon/clickanon/clickstore"
)

// FuzzParsePseudonym: parsing never panics and round-trips what it accepts.
func FuzzParsePseudonym(f *testing.F) {
	f.Add("00112233445566778899aabbccddeeff")
	f.Add("00112233445566778899AABBCCDDEEFF")
	f.Add("0011")
	f.Add("zz112233445566778899aabbccddeeff")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := clickstore.ParsePseudonym(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "clickstore: ") {
				t.Fatalf("error %q does not name the package", err)
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
