package serve_test

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/geo"
	"github.com/clickanon/clickanon/clickstore/track"
)

// oddRecords are GeoLite2-Country records of the kinds real files hold
// besides a plain country: MaxMind's EU and AP (a network known only to
// be in Europe or Asia/Pacific), Kosovo's XK, the user-assigned ZZ, the
// legacy A1 (anonymous proxy), a lower-case code, a three-letter one,
// an empty one, and records with no country at all (only where the
// network's owner is registered, or only a continent), on documentation,
// private, shared and benchmarking ranges, which real files leave out but
// a user's own may not.
var oddRecords = []struct {
	prefix  string
	record  mmdbtype.Map
	country string // what a lookup answers
}{
	{"198.51.100.0/24", country("EU", "EU"), "EU"},
	{"203.0.113.0/24", country("AP", "AS"), "AP"},
	{"192.0.2.0/24", country("ZZ", ""), "ZZ"},
	{"2001:db8::/32", country("XK", "EU"), "XK"},
	{"2001:db8:1::/48", country("A1", ""), ""},
	{"192.168.0.0/16", country("de", "eu"), "DE"},
	{"198.18.0.0/15", country("DEU", "EU"), ""},
	{"100.64.0.0/10", country("", "EU"), ""},
	{"10.0.0.0/8", mmdbtype.Map{"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")}}, ""},
	{"172.16.0.0/12", mmdbtype.Map{"continent": mmdbtype.Map{"code": mmdbtype.String("EU")}}, ""},
}

func country(code, continent string) mmdbtype.Map {
	m := mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(code), "names": mmdbtype.Map{"en": mmdbtype.String("Somewhere")}}}
	if continent != "" {
		m["continent"] = mmdbtype.Map{"code": mmdbtype.String(continent)}
	}
	return m
}

func oddDB(t *testing.T) *geo.DB {
	t.Helper()
	// No IPv4 aliases in the IPv6 tree (::ffff:0:0/96 and the like point
	// nowhere): an IPv4-mapped address is answered only if the lookup
	// reads the IPv4 address it carries.
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", IncludeReservedNetworks: true, DisableIPv4Aliasing: true})
	require.NoError(t, err)
	for _, r := range oddRecords {
		_, n, err := net.ParseCIDR(r.prefix)
		require.NoError(t, err)
		require.NoError(t, tree.Insert(n, r.record))
	}
	var b bytes.Buffer
	_, err = tree.WriteTo(&b)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "odd.mmdb")
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o600))
	db, err := geo.Open(path, &geo.Options{Fields: geo.FieldCountry | geo.FieldContinent, CheckEvery: -1, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// hosts returns addresses inside p: its second (an IPv6 address whose
// interface part is zero is taken for a masked one, as documented), one
// near the start and its last, as the visitor's peer address may be any.
func hosts(p netip.Prefix) []netip.Addr {
	first := p.Masked().Addr()
	last := first
	b := last.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ = netip.AddrFromSlice(b)
	mid := first.Next().Next().Next()
	return []netip.Addr{first.Next(), mid, last}
}

// What a country record says reaches the click as the documentation of
// geo.Facts and track.Attributes says: a code of two ASCII letters, in
// upper case, whatever the database calls it (EU, AP, XK and ZZ
// included); anything else, and a record with no country of its own, is
// no country; the same for a visitor whose peer address is the IPv4
// address or its IPv4-mapped IPv6 form, who is one visitor either way.
func TestCountryCodesOfEveryKindReachTheClick(t *testing.T) {
	db := oddDB(t)
	for _, r := range oddRecords {
		t.Run(r.prefix, func(t *testing.T) {
			for _, addr := range hosts(netip.MustParsePrefix(r.prefix)) {
				assert.Equal(t, r.country, db.Country(addr), "%v", addr)
				if addr.Is4() {
					mapped := netip.AddrFrom16(addr.As16())
					assert.Equal(t, r.country, db.Country(mapped), "%v", mapped)
				}
				f := db.Lookup(addr)
				assert.Equal(t, r.country, f.Country)
				assert.Len(t, f.Continent, map[bool]int{true: 0, false: 2}[f.Continent == ""])

				g := newRig(t, &track.Options{Enrich: func(_ *http.Request, a netip.Addr) track.Attributes {
					return track.Attributes{Country: db.Country(a)}
				}})
				forms := []string{netip.AddrPortFrom(addr, 1234).String()}
				if addr.Is4() {
					forms = append(forms, netip.AddrPortFrom(netip.AddrFrom16(addr.As16()), 1234).String())
				}
				for i, remote := range forms {
					req := httptest.NewRequest("GET", "/go/x", nil)
					req.RemoteAddr = remote
					req.Header.Set("User-Agent", chrome)
					v := g.tracker.Track(req, "x", clickstore.KindClick)
					require.Equal(t, track.Counted, v.Outcome, remote)
					want := clickstore.Unique
					if i > 0 {
						want = clickstore.Repeat // the mapped form is the same visitor
					}
					assert.Equal(t, want, v.Uniqueness, remote)
				}
				adds := g.sink.all()
				require.Len(t, adds, len(forms))
				for _, a := range adds {
					assert.Equal(t, r.country, a.click.Country, "%v", addr)
					assert.Equal(t, adds[0].click.Network, a.click.Network, "one network for both forms")
					assert.True(t, a.click.Network.Addr().Is4() == addr.Is4(), "a mapped peer's network is its IPv4 one")
				}
			}
		})
	}
}

// Whatever an enrichment hook returns as a country reaches the click as
// track.Attributes documents: any two ASCII letters, in upper case, in
// whichever case they came; anything else (a letter and a digit, three
// letters, a name, non-ASCII letters that fold to ASCII ones, a NUL, a
// space) as no country.
func TestEnrichCountryOfEveryShape(t *testing.T) {
	var next string
	g := newRig(t, &track.Options{Enrich: func(*http.Request, netip.Addr) track.Attributes {
		return track.Attributes{Country: next}
	}})
	cases := map[string]string{}
	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for _, a := range letters {
		for _, b := range letters {
			in := string([]rune{a, b})
			cases[in] = strings.ToUpper(in)
		}
	}
	for _, in := range []string{"", "D", "DEU", "A1", "1A", "D-", "Germany", "de ", " de", "D\x00", "\u212aZ", "\u017fE",
		"\uff24\uff25", "DÉ", "@[", "`{", "D\xff", "\xff\xfe"} {
		cases[in] = ""
	}
	for in, want := range cases {
		next = in
		req := httptest.NewRequest("GET", "/go/x", nil)
		req.RemoteAddr = "198.51.100.7:1234"
		req.Header.Set("User-Agent", chrome)
		v := g.tracker.Track(req, "x", clickstore.KindClick)
		require.Equal(t, track.Counted, v.Outcome, "%q", in)
		assert.Equal(t, want, g.sink.last().click.Country, "%q", in)
	}
}
