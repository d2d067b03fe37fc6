package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// writeGeoDB builds a GeoLite2-Country-shaped database in a temporary
// directory: each network with its country and continent.
func writeGeoDB(t *testing.T, nets map[string][2]string) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "GeoLite2-Country",
		IPVersion:               6,
		RecordSize:              28,
		IncludeReservedNetworks: true, // the documentation ranges are "reserved"
	})
	require.NoError(t, err)
	for prefix, cc := range nets {
		p := netip.MustParsePrefix(prefix)
		n := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
		require.NoError(t, tree.Insert(n, mmdbtype.Map{
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String(cc[0])},
			"continent": mmdbtype.Map{"code": mmdbtype.String(cc[1])},
		}))
	}
	var buf bytes.Buffer
	_, err = tree.WriteTo(&buf)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "country.mmdb")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	return path
}

// A link with geo targets sends each visitor by country, then continent,
// then to its URL; the countries fill the breakdown; the targets survive a
// restart; no address is kept anywhere the test can see.
func TestGeoRedirectsAndCountries(t *testing.T) {
	cfg := config{
		db: "sqlite:" + filepath.Join(t.TempDir(), "links.db"),
		geoIP: writeGeoDB(t, map[string][2]string{
			"203.0.113.0/24":  {"DE", "EU"},
			"198.51.100.0/24": {"FR", "EU"},
			"192.0.2.0/24":    {"US", "NA"},
		}),
	}
	tr := newTrackerWith(t, cfg)
	w := tr.do("POST", "/api/links", "192.0.2.1", browser, strings.NewReader(`{"url": "https://example.com/",
		"geo": {"countries": {"de": "https://example.de/"}, "continents": {"EU": "https://example.eu/"}}}`))
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var l Link
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &l))
	assert.Equal(t, geoTargets{Countries: map[string]string{"DE": "https://example.de/"}, Continents: map[string]string{"EU": "https://example.eu/"}}, l.Geo,
		"codes in upper case")

	for _, tc := range []struct{ name, client, want string }{
		{"country", "203.0.113.9", "https://example.de/"},
		{"continent", "198.51.100.7", "https://example.eu/"},
		{"elsewhere", "192.0.2.1", "https://example.com/"},
		{"not in the database", "2001:db8::1", "https://example.com/"},
	} {
		w := tr.do("GET", "/l/"+l.ID, tc.client, browser, nil)
		assert.Equal(t, http.StatusFound, w.Code, tc.name)
		assert.Equal(t, tc.want, w.Header().Get("Location"), tc.name)
	}
	for i := range 5 { // five visitors from Germany: enough to publish the country
		w := tr.do("GET", "/l/"+l.ID, fmt.Sprintf("203.0.113.%d", 20+i), browser+fmt.Sprint(i), nil)
		require.Equal(t, "https://example.de/", w.Header().Get("Location"))
	}
	st := tr.stats(l.ID)
	var countries []valueCount
	for _, b := range st.Breakdowns {
		if b.Dimension == "country" {
			countries = b.Cells
		}
	}
	assert.Contains(t, countries, valueCount{Value: "DE", Clicks: 6, Unique: 6}, "the country breakdown: %+v", st.Breakdowns)
	tr.assertNoLeak()
	require.NoError(t, tr.app.Close())

	again := newTrackerWith(t, cfg)
	w = again.do("GET", "/l/"+l.ID, "203.0.113.9", browser, nil)
	assert.Equal(t, "https://example.de/", w.Header().Get("Location"), "the targets are in the database")
}

// Geo targets are checked like the link's URL; errors say what is wrong
// without repeating it.
func TestGeoTargetsRefused(t *testing.T) {
	tr := newTracker(t, "")
	for _, tc := range []struct{ name, geo, want string }{
		{"continent code", `{"continents": {"XX": "https://example.org/"}}`, "a geo continent code is not one of AF AN AS EU NA OC SA"},
		{"long code", `{"countries": {"DEU": "https://example.org/"}}`, "a 3-byte code is not one"},
		{"bad URL", `{"countries": {"DE": "javascript:alert(1)"}}`, "geo country DE: bad URL: only http and https"},
		{"twice", `{"countries": {"de": "https://example.org/", "DE": "https://example.org/"}}`, "given twice"},
	} {
		w := tr.do("POST", "/api/links", "192.0.2.1", browser, strings.NewReader(`{"url": "https://example.com/", "geo": `+tc.geo+`}`))
		assert.Equal(t, http.StatusBadRequest, w.Code, tc.name)
		assert.Contains(t, w.Body.String(), tc.want, tc.name)
		assert.NotContains(t, w.Body.String(), "example.org", tc.name)
	}
}

// The geo target is chosen from the visitor's full address, as the trusted
// proxy names it, in every form an IPv6 address carries an IPv4 one: two
// visitors of one masked /24 whose halves lie in two countries go to their
// own country's URL. The choice is not stored: the database and the store
// hold no form of any visitor's address, and the country breakdown is all
// that stays.
func TestGeoTargetFromTheFullAddress(t *testing.T) {
	cfg := config{
		db: "sqlite:" + filepath.Join(t.TempDir(), "links.db"),
		geoIP: writeGeoDB(t, map[string][2]string{
			"203.0.113.0/25":   {"DE", "EU"},
			"203.0.113.128/25": {"AT", "EU"},
			"198.51.100.0/24":  {"US", "NA"}, // the Teredo server's network
		}),
	}
	tr := newTrackerWith(t, cfg)
	w := tr.do("POST", "/api/links", "192.0.2.1", browser, strings.NewReader(`{"url": "https://example.com/",
		"geo": {"countries": {"DE": "https://example.de/", "AT": "https://example.at/", "US": "https://example.us/"}}}`))
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var l Link
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &l))

	teredo := func(client string) string { // behind the server 198.51.100.1
		c := netip.MustParseAddr(client).As4()
		return netip.AddrFrom16([16]byte{0x20, 0x01, 4: 198, 5: 51, 6: 100, 7: 1, 10: 0x63, 11: 0xbf,
			12: c[0] ^ 0xff, 13: c[1] ^ 0xff, 14: c[2] ^ 0xff, 15: c[3] ^ 0xff}).String()
	}
	var clients []netip.Addr
	for i, host := range []string{"7", "100", "130", "250"} {
		v4 := "203.0.113." + host
		want := "https://example.de/"
		if i >= 2 {
			want = "https://example.at/"
		}
		b := netip.MustParseAddr(v4).As4()
		for form, client := range map[string]string{
			"IPv4":   v4,
			"mapped": "::ffff:" + v4,
			"6to4":   netip.AddrFrom16([16]byte{0x20, 0x02, b[0], b[1], b[2], b[3], 15: 9}).String(),
			"NAT64":  "64:ff9b::" + v4,
			"Teredo": teredo(v4),
		} {
			w := tr.do("GET", "/l/"+l.ID, client, browser+" "+form, nil)
			assert.Equal(t, http.StatusFound, w.Code, "%s %s", form, client)
			assert.Equal(t, want, w.Header().Get("Location"), "%s %s", form, client)
			clients = append(clients, netip.MustParseAddr(client))
		}
		clients = append(clients, netip.MustParseAddr(v4))
	}
	require.NoError(t, tr.app.sink.Flush(context.Background()))
	for name, dump := range map[string][]byte{"database": dumpTables(t, tr.app.db), "memory": dumpStore(t, tr.app.store)} {
		ipmasktest.AssertNoRawIPOf(t, ipmask.Default, dump, clients, name)
		for _, a := range clients {
			assertNoBinaryAddr(t, dump, a, name)
		}
	}
	tr.assertNoLeak()
}
