package clickstore_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// validBase is a valid Click for Validate's tests to edit.
func validBase() clickstore.Click {
	raw := netip.MustParseAddr("198.51.100.7")
	return clickstore.Click{
		Link: "spring-sale", Time: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC),
		Visitor: clickstoretest.Visitor(1), Network: ipmask.Default.Prefix(raw),
	}
}

// Link, Bot and Device are stored as given by every store and sink, and a
// Click may be built by hand: one that holds an address ipmask.Default
// would mask (in any form ipmasktest finds) is refused, naming the field,
// never the value. An address already masked to the default policy, as
// the tracker leaves one in a link, passes.
func TestValidateRefusesAddressText(t *testing.T) {
	fields := []struct {
		name string
		set  func(*clickstore.Click, string)
		max  int
	}{
		{"link", func(c *clickstore.Click, s string) { c.Link = s }, clickstore.MaxLinkLen},
		{"bot", func(c *clickstore.Click, s string) { c.Bot = s }, clickstore.MaxLabelLen},
		{"device", func(c *clickstore.Click, s string) { c.Device = s }, clickstore.MaxLabelLen},
	}
	texts := []string{
		"/out/https://example.com/?ip=198.51.100.7",
		"ec2-198-51-100-7.compute-1.amazonaws.com",
		"app.c6336407.nip.io",
		"https://example.com/x?ip=2001%3Adb8%3A1%3A2%3A%3A7",
		"crawler/1.0 (+198.51.100.7)",
		"go/ip-198-51-100-7", // a host name written without its domain
		"go/{198,51,100,7}",  // an Erlang tuple
		"bot {198, 51, 100, 7}",
	}
	// Percent-encoded, once and twice, which logmask does not read (and
	// ipmasktest, built on it, does not flag): checked below.
	encoded := []string{
		"go/198%2E51%2E100%2E7", "/out/https://x.example/?ip=%31%39%38.51.100.7", "go/198%252E51%252E100%252E7",
		"go/2001%253Adb8%253A1%253A2%253A%253A7",
	}
	for _, c := range ipmasktest.Cases() {
		texts = append(texts, c.Text, "go/"+c.Text)
	}
	for _, f := range fields {
		for _, text := range texts {
			if len(text) > f.max || len(ipmasktest.Leaks(ipmask.Default, text)) == 0 {
				continue
			}
			t.Run(f.name+" "+text, func(t *testing.T) {
				c := validBase()
				f.set(&c, text)
				err := c.Validate()
				if assert.ErrorIs(t, err, clickstore.ErrInvalidClick) {
					assert.Contains(t, err.Error(), "clickstore: "+f.name+": ")
					ipmasktest.AssertNoRawIPError(t, zeroBits, err)
				}
			})
		}
	}
	// The referrer is read the same way, percent-encoded or not: a hand-built
	// Click may carry one that only decoded spells an address.
	encFields := append(fields, struct {
		name string
		set  func(*clickstore.Click, string)
		max  int
	}{"referrer", func(c *clickstore.Click, s string) { c.Referrer = s }, clickstore.MaxReferrerLen})
	for _, f := range encFields {
		for _, text := range append(encoded, "198%2E51%2E100%2E7", "198%252E51%252E100%252E7") {
			c := validBase()
			f.set(&c, text)
			err := c.Validate()
			if assert.ErrorIs(t, err, clickstore.ErrInvalidClick, "%s %q", f.name, text) {
				assert.Contains(t, err.Error(), "clickstore: "+f.name+": ")
				ipmasktest.AssertNoRawIPError(t, zeroBits, err)
			}
		}
	}
	for _, text := range []string{
		"spring-sale", "2026-03-03", "v1.2.3", "iPhone14,2", "Googlebot/2.1", "go/50%25-off", "go/a%20b%2Fc", "go/198%2E51%2E100%2E0",
		"/out/https://example.com/?ip=198.51.100.0", "/out/http://[2001:db8:1::]/", "sale-10-20-30",
	} {
		for _, f := range fields {
			c := validBase()
			f.set(&c, text)
			assert.NoError(t, c.Validate(), "%s %q", f.name, text)
		}
	}
}

// A bot or device label that spells an address with dashes, as a host
// name does, is refused as the tracker drops it, masked or not.
func TestValidateRefusesDashedLabels(t *testing.T) {
	for _, l := range []string{"198-51-100-7", "bot-2001-db8--7", "ip-198-51-100-0"} {
		c := validBase()
		c.Bot = l
		assert.ErrorIs(t, c.Validate(), clickstore.ErrInvalidClick, "bot %q", l)
		c = validBase()
		c.Device = l
		assert.ErrorIs(t, c.Validate(), clickstore.ErrInvalidClick, "device %q", l)
	}
}

// A Referrer is a host name, but a Click built by hand may carry any text
// there: text that is not a host name is refused when it holds an address
// the default policy would mask, wherever in it, and a host name when its
// label spells one in hex without a digit (deadbeef is 222.173.190.239 to
// logmask, and so to ipmasktest).
func TestValidateRefusesAddressInReferrerText(t *testing.T) {
	for _, ref := range []string{
		`{"ip":"198.51.100.7"}`, "/r?ip=2001%3Adb8%3A1%3A2%3A%3A7", "via 2001:db8:1:2::7", "deadbeef.nip.io",
		"x session=<ESIzRFVmOTDLAHEJ>",
	} {
		require.NotEmpty(t, ipmasktest.Leaks(ipmask.Default, ref), "%q holds an address", ref)
		c := validBase()
		c.Referrer = ref
		err := c.Validate()
		if assert.ErrorIs(t, err, clickstore.ErrInvalidClick, ref) {
			assert.Contains(t, err.Error(), "clickstore: referrer: ", ref)
			ipmasktest.AssertNoRawIPError(t, zeroBits, err, ref)
		}
	}
	for _, ref := range []string{"news.example.com", "android-app://com.google.android.gm", "news.example.com:8443", "/r?id=7", "facade.example.com"} {
		c := validBase()
		c.Referrer = ref
		assert.NoError(t, c.Validate(), ref)
	}
}
