package clickstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// FuzzParsePseudonym: parsing never panics, round-trips what it accepts,
// and its errors neither quote the input nor carry an address.
// pseudonymError matches ParsePseudonym's errors: their wording is fixed,
// their numbers come from the input's length and the position of a fault.
var pseudonymError = regexp.MustCompile(`^clickstore: pseudonym(?: of \d+ bytes: want 32 hex digits|: byte \d+ of \d+ is not a hex digit)$`)

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
			// Only numbers vary in the wording, so the error cannot quote
			// the input (a substring test would flag inputs such as "digi",
			// which the fixed wording holds).
			if !pseudonymError.MatchString(err.Error()) {
				t.Fatalf("error %q is not one of the input-free forms", err)
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

// FuzzClick: for any text in a Click's fields, Validate never panics, its
// error carries no address, it accepts no link, label or referrer holding an
// address ipmask.Default would mask, and the printed Click (String, %#v, slog)
// shows no address finer than its masked network.
func FuzzClick(f *testing.F) {
	f.Add("spring-sale", "DE", "googlebot", "mobile", "news.example.com", int64(0))
	f.Add("go-203.0.113.9", "::ffff:203.0.113.9", "2002:cb00:7109::1", "[2001:db8::1]:80", "http://203.0.113.9:8080/x", int64(-1))
	f.Add("", "de", "", "", "", int64(1)<<62)
	f.Add("out/https://x/?ip=198.51.100.7", "DE", "crawler (+2001:db8::7)", "ip-198-51-100-7", `{"ip":"203.0.113.9"}`, int64(0))
	f.Add("/r?ip=198.51.100.0", "", "", "", "deadbeef.nip.io", int64(0))
	f.Fuzz(func(t *testing.T, link, country, bot, device, referrer string, nanos int64) {
		raw := netip.MustParseAddr("198.51.100.7")
		c := clickstore.Click{
			Link: link, Time: time.Unix(0, nanos).In(time.FixedZone(link, 0)),
			Visitor: clickstoretest.Visitor(1), Network: ipmask.Default.Prefix(raw), RawAddr: raw,
			Country: country, Bot: bot, Device: device, Referrer: referrer,
		}
		if err := c.Validate(); err != nil {
			if !strings.HasPrefix(err.Error(), "clickstore: ") || !errors.Is(err, clickstore.ErrInvalidClick) {
				t.Fatalf("error %q does not name the package or wrap ErrInvalidClick", err)
			}
			ipmasktest.AssertNoRawIPError(t, zeroBits, err)
		} else {
			// What Validate accepts, stores and sinks keep as given: it
			// holds no address the default policy would mask.
			for _, s := range []string{link, bot, device, referrer} {
				if leaks := ipmasktest.Leaks(ipmask.Default, s); len(leaks) > 0 {
					t.Fatalf("Validate accepted %q, which holds %v", s, leaks[0].Addr)
				}
			}
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("", "c", c)
		for _, text := range []string{c.String(), fmt.Sprintf("%#v %d", c, c), buf.String()} {
			ipmasktest.AssertNoRawIP(t, ipmask.Default, text)
			if strings.Contains(text, c.Visitor.String()) {
				t.Fatalf("%q shows the pseudonym", text)
			}
		}
	})
}
