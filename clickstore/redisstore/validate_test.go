package redisstore

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// validate never panics, wraps ErrInvalidClick for every invalid click,
// names a field, and quotes none of the click's text: whatever the link,
// labels and network hold, its error carries no address (under a policy
// that keeps no bits) and no 4-byte run of the input.
func FuzzValidate(f *testing.F) {
	f.Add("go/203.0.113.9", "203.0.113.9", "bot 2001:db8::7", "mobile", "ref.example", []byte{203, 0, 113, 9}, uint8(24), int64(0))
	f.Add("", "DE", "", "", "", []byte{192, 0, 2, 0}, uint8(24), int64(1))
	f.Add(strings.Repeat("2001:db8::1/", 30), "ZZ", "", "", "", []byte{0x20, 1, 0xd, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}, uint8(48), int64(2))
	f.Fuzz(func(t *testing.T, link, country, bot, device, ref string, ip []byte, bits uint8, shift int64) {
		c := clickstore.Click{Link: link, Time: time.Unix(shift, 0), Visitor: clickstore.Pseudonym{1},
			Country: country, Bot: bot, Device: device, Referrer: ref}
		if a, ok := netip.AddrFromSlice(ip); ok {
			c.Network = netip.PrefixFrom(a, int(bits))
			if shift%2 == 0 {
				c.RawAddr = a
			}
		}
		err := validate("record", c)
		if err == nil {
			if c.Validate() != nil {
				t.Fatalf("validate passed a click Validate refuses")
			}
			return
		}
		if !errors.Is(err, clickstore.ErrInvalidClick) {
			t.Fatalf("error does not wrap ErrInvalidClick: %v", err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "redisstore: record: invalid click: ") {
			t.Fatalf("error does not start with the package, the operation and the sentinel: %q", msg)
		}
		ipmasktest.AssertNoRawIPError(t, ipmask.Policy{}, err, "validate")
		for _, in := range []string{link, country, bot, device, ref} {
			in = strings.Trim(in, " ,()-0123456789abcdefghijklmnopqrstuvwxyz")
			if len(in) >= 4 && strings.Contains(msg, in) {
				t.Fatalf("error %q quotes its input", msg)
			}
		}
	})
}
