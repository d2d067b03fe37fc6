package geo_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/geo"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// validFacts checks a lookup's answer has the documented shape.
func validFacts(t *testing.T, f geo.Facts) {
	t.Helper()
	for _, c := range []string{f.Country, f.Continent} {
		if c == "" {
			continue
		}
		assert.Len(t, c, 2)
		assert.Equal(t, strings.ToUpper(c), c)
		for _, r := range c {
			assert.True(t, r >= 'A' && r <= 'Z', c)
		}
	}
}

var fuzzAddrs = []netip.Addr{
	netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("203.0.113.200"), netip.MustParseAddr("192.0.2.1"),
	netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2002:cb00:7105::1"), netip.MustParseAddr("10.1.2.3"),
	netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("::"), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
}

// FuzzOpen feeds damaged and arbitrary files to the loader: it never
// panics, refuses with a "geo: " error that quotes no address, or loads a database whose every
// answer has the documented shape.
func FuzzOpen(f *testing.F) {
	data, err := layoutDB()
	require.NoError(f, err)
	f.Add(data)
	f.Add(buildDB(f, 4, "v4", []network{{"198.51.100.0/24", ipinfoLite("DE", "EU", "AS1")}}))
	f.Add(withMetadata(f, data, "ip_version", []byte("\x4c198.51.100.7"))) // a value maxminddb's error would quote
	f.Add(chainDB(12, false))                                              // a tree of shared nodes
	f.Add(chainDB(12, true))                                               // and with no data at its ends
	f.Add(nestedDB(6))                                                     // records inside one another
	f.Fuzz(func(t *testing.T, buf []byte) {
		db, err := geo.OpenBytes(buf, all)
		if err != nil {
			assert.True(t, strings.HasPrefix(err.Error(), "geo: "), err.Error())
			ipmasktest.AssertNoRawIPError(t, ipmask.Policy{}, err) // the file's content is never quoted
			return
		}
		for _, a := range fuzzAddrs {
			facts := db.Lookup(a)
			validFacts(t, facts)
			assert.Equal(t, facts, db.Lookup(a), "lookups are repeatable")
			assert.Equal(t, facts.Country, db.Country(a))
		}
	})
}

// FuzzLookup looks arbitrary addresses up: answers have the documented
// shape, an address carrying an IPv4 address answers as that address, and
// a zone changes nothing.
func FuzzLookup(f *testing.F) {
	data, err := layoutDB()
	require.NoError(f, err)
	db, err := geo.OpenBytes(data, all)
	require.NoError(f, err)
	for _, a := range fuzzAddrs {
		b := a.As16()
		f.Add(b[:], a.Is4())
	}
	f.Fuzz(func(t *testing.T, b []byte, four bool) {
		var a16 [16]byte
		copy(a16[:], b)
		a := netip.AddrFrom16(a16)
		if four {
			a = netip.AddrFrom4([4]byte(a16[12:]))
		}
		facts := db.Lookup(a)
		validFacts(t, facts)
		if a.Is6() {
			assert.Equal(t, facts, db.Lookup(a.WithZone("eth0")))
		}
		if e, n := ipmask.EmbeddedIPv4(a); n > 0 && e[0].Form != ipmask.ISATAP && e[0].IPv4.IsValid() {
			assert.Equal(t, db.Lookup(e[0].IPv4), facts, "%s", e[0].Form)
		}
	})
}
