package tracking_test

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/geo"
	"github.com/clickanon/clickanon/clickstore/track"
)

// cityRecord is a GeoLite2 City record: everything finer than a country
// is in it, and must never come out.
func cityRecord(country, continent string) mmdbtype.Map {
	return mmdbtype.Map{
		"city":                     mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1), "names": mmdbtype.Map{"en": mmdbtype.String("Town")}},
		"continent":                mmdbtype.Map{"code": mmdbtype.String(continent)},
		"country":                  mmdbtype.Map{"iso_code": mmdbtype.String(country)},
		"registered_country":       mmdbtype.Map{"iso_code": mmdbtype.String("ZZ")},
		"location":                 mmdbtype.Map{"latitude": mmdbtype.Float64(52.5), "longitude": mmdbtype.Float64(13.4)},
		"postal":                   mmdbtype.Map{"code": mmdbtype.String("10115")},
		"autonomous_system_number": mmdbtype.Uint32(64500),
	}
}

// mmdb builds a database mapping each prefix to a country (a City layout).
func mmdb(t testing.TB, nets map[string]string) []byte {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", IncludeReservedNetworks: true})
	require.NoError(t, err)
	for p, c := range nets {
		_, n, err := net.ParseCIDR(p)
		require.NoError(t, err)
		require.NoError(t, tree.Insert(n, cityRecord(c, "EU")))
	}
	var b bytes.Buffer
	_, err = tree.WriteTo(&b)
	require.NoError(t, err)
	return b.Bytes()
}

// teredoAddr is a Teredo address of a client behind server, its public
// address obfuscated as RFC 4380 says.
func teredoAddr(server, client string) netip.Addr {
	s, c := netip.MustParseAddr(server).As4(), netip.MustParseAddr(client).As4()
	var b [16]byte
	b[0], b[1] = 0x20, 0x01
	copy(b[4:8], s[:])
	for i := range 4 {
		b[12+i] = c[i] ^ 0xff
	}
	b[10], b[11] = 0xff^0x9c, 0xff^0x40 // the obfuscated port
	return netip.AddrFrom16(b)
}

// The country comes from the visitor's full address, in every form an
// IPv6 address carries an IPv4 one: two visitors of one masked /24 whose
// halves lie in two countries get their own, and a Teredo visitor gets the
// client's country, not its server's. Nothing finer than configured comes
// out, whatever the record holds.
func TestCountryFromTheFullAddress(t *testing.T) {
	data := mmdb(t, map[string]string{
		"198.51.100.0/25":   "DE",
		"198.51.100.128/25": "FR",
		"203.0.113.0/24":    "JP", // Teredo servers' network
		"2001:db8::/32":     "US",
	})
	path := filepath.Join(t.TempDir(), "c.mmdb")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	db, err := geo.Open(path, &geo.Options{CheckEvery: -1})
	require.NoError(t, err)
	for _, c := range []struct{ host, want string }{{"7", "DE"}, {"200", "FR"}} {
		v4 := netip.MustParseAddr("198.51.100." + c.host)
		b := v4.As4()
		forms := map[string]netip.Addr{
			"IPv4":               v4,
			"IPv4-mapped":        netip.AddrFrom16(v4.As16()),
			"IPv4-compatible":    netip.AddrFrom16([16]byte{12: b[0], 13: b[1], 14: b[2], 15: b[3]}),
			"6to4":               netip.AddrFrom16([16]byte{0x20, 0x02, b[0], b[1], b[2], b[3], 15: 1}),
			"6to4, other host":   netip.AddrFrom16([16]byte{0x20, 0x02, b[0], b[1], b[2], b[3], 8: 0xaa, 15: 0x77}),
			"NAT64 64:ff9b::/96": netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b, 12: b[0], 13: b[1], 14: b[2], 15: b[3]}),
			"Teredo":             teredoAddr("203.0.113.1", v4.String()),
			"SIIT":               netip.AddrFrom16([16]byte{8: 0xff, 9: 0xff, 12: b[0], 13: b[1], 14: b[2], 15: b[3]}),
		}
		for name, a := range forms {
			assert.Equal(t, c.want, db.Country(a), "%s %s", name, a)
			assert.Equal(t, geo.Facts{Country: c.want}, db.Lookup(a), "only the country is configured: %s", name)
		}
	}
	assert.Equal(t, "US", db.Country(netip.MustParseAddr("2001:db8:1::1")))
	assert.Empty(t, db.Country(netip.MustParseAddr("192.0.2.1")), "not covered")
	// The local-use NAT64 prefix 64:ff9b:1::/48 puts the IPv4 address
	// where its operator chooses (RFC 6052): geo does not guess a layout,
	// and looks the IPv6 address up as it is (the package documentation).
	assert.Empty(t, db.Country(netip.MustParseAddr("64:ff9b:1::c633:6407")))

	all, err := geo.Open(path, &geo.Options{CheckEvery: -1, Fields: geo.FieldCountry | geo.FieldContinent | geo.FieldASN})
	require.NoError(t, err)
	assert.Equal(t, geo.Facts{Country: "FR", Continent: "EU", ASN: 64500}, all.Lookup(netip.MustParseAddr("198.51.100.130")))

	// Through the tracker: one masked network, two countries.
	e := newEnv(t, &track.Options{Enrich: func(_ *http.Request, a netip.Addr) track.Attributes {
		return track.Attributes{Country: db.Country(a)}
	}}, 0)
	for _, a := range []string{"198.51.100.7", "198.51.100.200", "2002:c633:6407::1", "64:ff9b::c633:64c8", teredoAddr("203.0.113.1", "198.51.100.9").String()} {
		e.click(netip.MustParseAddr(a), firefox, "x")
	}
	assert.Equal(t, []string{"DE", "FR", "DE", "FR", "DE"}, e.sink.countries)
}

// How a replacement file arrives: renamed over the old one, rewritten in
// place (truncated, then written), deleted and created again, written in
// two steps with a half-written file seen in between. Each time the new
// database serves once the file is whole, a missing or broken file keeps
// the last good database in service, and the watcher logs the failure
// without the file's path.
func TestReloadOnEveryKindOfReplacement(t *testing.T) {
	de := mmdb(t, map[string]string{"198.51.100.0/24": "DE"})
	fr := mmdb(t, map[string]string{"198.51.100.0/24": "FR"})
	it := mmdb(t, map[string]string{"198.51.100.0/24": "IT", "192.0.2.0/24": "IT"})
	a := netip.MustParseAddr("198.51.100.1")
	type step struct {
		do   func(path string) error
		want string // the country answered afterwards
		bad  bool   // the step leaves the file missing or broken
	}
	rename := func(data []byte) func(string) error {
		return func(path string) error {
			if err := os.WriteFile(path+".new", data, 0o600); err != nil {
				return err
			}
			return os.Rename(path+".new", path)
		}
	}
	inPlace := func(data []byte) func(string) error {
		return func(path string) error { return os.WriteFile(path, data, 0o600) }
	}
	remove := func(path string) error { return os.Remove(path) }
	half := func(data []byte) func(string) error {
		return func(path string) error { return os.WriteFile(path, data[:len(data)/2], 0o600) }
	}
	empty := func(path string) error { return os.WriteFile(path, nil, 0o600) }
	scenarios := map[string][]step{
		"rename":                 {{rename(fr), "FR", false}, {rename(de), "DE", false}},
		"truncate and write":     {{inPlace(fr), "FR", false}, {inPlace(it), "IT", false}, {inPlace(de), "DE", false}},
		"same size in place":     {{inPlace(fr), "FR", false}, {inPlace(de), "DE", false}, {inPlace(fr), "FR", false}},
		"delete and recreate":    {{remove, "DE", true}, {inPlace(fr), "FR", false}, {remove, "FR", true}, {rename(it), "IT", false}},
		"truncated, then whole":  {{empty, "DE", true}, {half(fr), "DE", true}, {inPlace(fr), "FR", false}},
		"corrupt, then the same": {{inPlace([]byte("not a database")), "DE", true}, {inPlace(de), "DE", false}},
	}
	for name, steps := range scenarios {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.mmdb")
			require.NoError(t, os.WriteFile(path, de, 0o600))
			db, err := geo.Open(path, &geo.Options{CheckEvery: -1})
			require.NoError(t, err)
			require.Equal(t, "DE", db.Country(a))
			for i, s := range steps {
				require.NoError(t, s.do(path))
				err := db.Reload()
				if s.bad {
					assert.Error(t, err, "step %d", i)
					if err != nil {
						assert.NotContains(t, err.Error(), filepath.Base(path))
						assert.True(t, strings.HasPrefix(err.Error(), "geo: "), err.Error())
					}
				} else {
					assert.NoError(t, err, "step %d", i)
				}
				assert.Equal(t, s.want, db.Country(a), "step %d", i)
			}
		})
	}
}

// The watcher finds each kind of replacement on its own, under a fake
// clock, and logs what it could not load once, without the path.
func TestWatcherFindsEveryReplacement(t *testing.T) {
	de := mmdb(t, map[string]string{"198.51.100.0/24": "DE"})
	fr := mmdb(t, map[string]string{"198.51.100.0/24": "FR"})
	it := mmdb(t, map[string]string{"198.51.100.0/24": "IT"})
	a := netip.MustParseAddr("198.51.100.1")
	dir := t.TempDir()
	path := filepath.Join(dir, "secret-198.51.100.7.mmdb")
	require.NoError(t, os.WriteFile(path, de, 0o600))
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logs.Write(p)
		}), nil))
		db, err := geo.Open(path, &geo.Options{CheckEvery: time.Second, LogEvery: time.Millisecond, Logger: logger})
		require.NoError(t, err)
		defer db.Close()
		tick := func() { time.Sleep(1500 * time.Millisecond); synctest.Wait() }

		require.NoError(t, os.WriteFile(path+".tmp", fr, 0o600))
		require.NoError(t, os.Rename(path+".tmp", path))
		tick()
		assert.Equal(t, "FR", db.Country(a), "replaced by rename")

		require.NoError(t, os.WriteFile(path, it, 0o600))
		tick()
		assert.Equal(t, "IT", db.Country(a), "rewritten in place")

		require.NoError(t, os.Remove(path))
		tick()
		assert.Equal(t, "IT", db.Country(a), "deleted: the last good one stays")
		require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o600))
		tick()
		assert.Equal(t, "IT", db.Country(a), "corrupt: the last good one stays")
		require.NoError(t, os.WriteFile(path, de, 0o600))
		tick()
		assert.Equal(t, "DE", db.Country(a), "recreated")

		mu.Lock()
		out := logs.String()
		mu.Unlock()
		assert.GreaterOrEqual(t, strings.Count(out, "level=ERROR"), 2, "the missing and the corrupt file are logged:\n%s", out)
		assert.NotContains(t, out, "198.51.100")
		assert.NotContains(t, out, "secret")
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// A lookup allocates nothing, in every form of address, covered or not,
// with every set of fields, and on the nil DB a service without a database
// keeps calling.
func TestLookupAllocatesNothing(t *testing.T) {
	data := mmdb(t, map[string]string{"198.51.100.0/24": "DE", "2001:db8::/32": "US"})
	path := filepath.Join(t.TempDir(), "c.mmdb")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	addrs := []netip.Addr{
		netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("::ffff:198.51.100.7"),
		netip.MustParseAddr("2002:c633:6407::1"), netip.MustParseAddr("64:ff9b::c633:6407"),
		teredoAddr("203.0.113.1", "198.51.100.7"), netip.MustParseAddr("2001:db8::1%eth0"),
		netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("64:ff9b:1::c633:6407"), {},
	}
	var null *geo.DB
	for _, f := range []geo.Fields{geo.FieldCountry, geo.FieldCountry | geo.FieldContinent | geo.FieldASN} {
		db, err := geo.Open(path, &geo.Options{CheckEvery: -1, Fields: f})
		require.NoError(t, err)
		for _, a := range addrs {
			assert.Zero(t, testing.AllocsPerRun(100, func() { _ = db.Lookup(a); _ = db.Country(a) }), "%s, %v", a, f)
			assert.Zero(t, testing.AllocsPerRun(10, func() { _ = null.Lookup(a) }))
		}
	}
}
