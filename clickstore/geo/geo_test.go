package geo_test

import (
	"bytes"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/geo"
)

const all = geo.FieldCountry | geo.FieldContinent | geo.FieldASN

// openDB opens data from a new file with no watcher unless opts asks for
// one, and closes it when the test ends.
func openDB(t *testing.T, data []byte, opts *geo.Options) (*geo.DB, string) {
	t.Helper()
	path := writeDB(t, data)
	var o geo.Options
	if opts != nil {
		o = *opts
	}
	if o.CheckEvery == 0 {
		o.CheckEvery = -1
	}
	db, err := geo.Open(path, &o)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, db.Close()) })
	return db, path
}

func openLayout(t *testing.T, fields geo.Fields) *geo.DB {
	t.Helper()
	data, err := layoutDB()
	require.NoError(t, err)
	db, _ := openDB(t, data, &geo.Options{Fields: fields})
	return db
}

// teredo builds a Teredo address: server IPv4 at bits 32–63, the client's
// IPv4 inverted in the last 32 bits.
func teredo(server, client string) netip.Addr {
	s, c := netip.MustParseAddr(server).As4(), netip.MustParseAddr(client).As4()
	b := [16]byte{0x20, 0x01, 0, 0, s[0], s[1], s[2], s[3], 0x80, 0, 0xf2, 0x27}
	for i := range 4 {
		b[12+i] = ^c[i]
	}
	return netip.AddrFrom16(b)
}

func TestLookupLayouts(t *testing.T) {
	db := openLayout(t, all)
	for _, tc := range []struct {
		name string
		addr string
		want geo.Facts
	}{
		{"GeoLite2 City record", "198.51.100.7", geo.Facts{Country: "DE", Continent: "EU"}},
		{"GeoLite2 Country, first half of a /24", "203.0.113.5", geo.Facts{Country: "FR"}},
		{"GeoLite2 Country, second half of a /24", "203.0.113.200", geo.Facts{Country: "BE"}},
		{"IPinfo Lite", "192.0.2.1", geo.Facts{Country: "US", Continent: "NA", ASN: 64500}},
		{"GeoLite2 City record with an ASN, IPv6", "2001:db8:1:2::3", geo.Facts{Country: "JP", Continent: "AS", ASN: 64496}},
		{"GeoLite2 ASN", "233.252.0.9", geo.Facts{ASN: 64501}},
		{"old IPinfo country_asn, lower case", "192.88.99.1", geo.Facts{Country: "NL", Continent: "EU", ASN: 64502}},
		{"ip-location-db country_code", "10.1.2.3", geo.Facts{Country: "CH"}},
		{"unusable values", "172.16.0.1", geo.Facts{}},
		{"both layouts: the first usable in key order", "100.64.0.1", geo.Facts{Country: "CA"}},
		{"not covered", "8.8.8.8", geo.Facts{}},
		{"not covered, IPv6", "2001:db9::1", geo.Facts{}},
		{"zone dropped", "2001:db8::1%eth0", geo.Facts{Country: "JP", Continent: "AS", ASN: 64496}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, db.Lookup(netip.MustParseAddr(tc.addr)))
			assert.Equal(t, tc.want.Country, db.Country(netip.MustParseAddr(tc.addr)))
		})
	}
}

// Only the configured facts are decoded: a database that holds more says
// no more than asked.
func TestFieldsLimitFacts(t *testing.T) {
	a := netip.MustParseAddr("2001:db8::1") // JP, AS, 64496 in the file
	for _, tc := range []struct {
		name   string
		fields geo.Fields
		want   geo.Facts
	}{
		{"zero means country", 0, geo.Facts{Country: "JP"}},
		{"country", geo.FieldCountry, geo.Facts{Country: "JP"}},
		{"continent", geo.FieldContinent, geo.Facts{Continent: "AS"}},
		{"ASN", geo.FieldASN, geo.Facts{ASN: 64496}},
		{"continent and ASN", geo.FieldContinent | geo.FieldASN, geo.Facts{Continent: "AS", ASN: 64496}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openLayout(t, tc.fields)
			assert.Equal(t, tc.want, db.Lookup(a))
			assert.Equal(t, tc.want.Country, db.Country(a))
		})
	}
}

func TestEmbeddedIPv4(t *testing.T) {
	db := openLayout(t, geo.FieldCountry)
	for _, tc := range []struct {
		name string
		addr netip.Addr
		want string
	}{
		{"IPv4-mapped", netip.MustParseAddr("::ffff:198.51.100.7"), "DE"},
		{"IPv4-compatible", netip.MustParseAddr("::203.0.113.5"), "FR"},
		{"SIIT translated", netip.MustParseAddr("::ffff:0:203.0.113.200"), "BE"},
		{"6to4", netip.MustParseAddr("2002:cb00:7105::1"), "FR"},
		{"NAT64 well-known prefix", netip.MustParseAddr("64:ff9b::203.0.113.130"), "BE"},
		// MaxMind's own IPv6 alias points 2001::/32 at the Teredo server
		// (DE here); the visitor is the client behind it.
		{"Teredo: the client, not the server", teredo("198.51.100.1", "203.0.113.200"), "BE"},
		{"ISATAP alone: the IPv6 network", netip.MustParseAddr("2001:db8::5efe:cb00:7105"), "JP"},
		{"ISATAP after 6to4: the 6to4 IPv4", netip.MustParseAddr("2002:c633:6401::5efe:cb00:7105"), "DE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, db.Country(tc.addr))
		})
	}
}

func TestIPv4OnlyDatabase(t *testing.T) {
	var logs bytes.Buffer
	data := buildDB(t, 4, "v4-only", []network{{"198.51.100.0/24", geoLite2("DE", "EU", 0)}})
	db, _ := openDB(t, data, &geo.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	assert.Equal(t, "DE", db.Country(netip.MustParseAddr("198.51.100.1")))
	assert.Equal(t, "DE", db.Country(netip.MustParseAddr("::ffff:198.51.100.1")), "mapped address unmapped first")
	assert.Equal(t, "DE", db.Country(netip.MustParseAddr("2002:c633:6401::1")), "6to4 looked up by its IPv4")
	assert.Equal(t, "", db.Country(netip.MustParseAddr("2001:db8::1")))
	assert.Empty(t, logs.String(), "an IPv6 address in an IPv4 database is not an error")
}

func TestNilAndZeroDB(t *testing.T) {
	a := netip.MustParseAddr("198.51.100.1")
	var zero geo.DB
	var null *geo.DB
	for _, tc := range []struct {
		name string
		db   *geo.DB
	}{{"zero", &zero}, {"nil", null}} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, geo.Facts{}, tc.db.Lookup(a))
			assert.Equal(t, "", tc.db.Country(a))
			_, ok := tc.db.Info()
			assert.False(t, ok)
			err := tc.db.Reload()
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "geo: "), err.Error())
			assert.NoError(t, tc.db.Close())
		})
	}
}

func TestInvalidAddress(t *testing.T) {
	db := openLayout(t, all)
	assert.Equal(t, geo.Facts{}, db.Lookup(netip.Addr{}))
}

func TestOpenErrors(t *testing.T) {
	data, err := layoutDB()
	require.NoError(t, err)
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		p := dir + "/" + name
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	for _, tc := range []struct {
		name string
		path string
		opts *geo.Options
		want string
	}{
		{"empty path", "", nil, "geo: empty database path"},
		{"unknown field", writeDB(t, data), &geo.Options{Fields: 1 << 6}, "geo: unknown Fields bits 0x40"},
		{"negative LogEvery", writeDB(t, data), &geo.Options{LogEvery: -time.Second}, "geo: negative LogEvery"},
		{"missing file", dir + "/missing.mmdb", nil, "geo: cannot open the database file"},
		{"directory", dir, nil, "geo: the database path is not a regular file (d---------)"},
		{"the wrong kind of file", writeDB(t, buildDB(t, 6, "GeoLite2-ASN", []network{{"198.51.100.0/24", mmdbtype.Map{
			"autonomous_system_number": mmdbtype.Uint32(64500)}}})), &geo.Options{Fields: geo.FieldCountry | geo.FieldContinent},
			"geo: none of the database's 1 networks has a country or continent in a layout geo reads"},
		{"device", "/dev/zero", nil, "geo: the database path is not a regular file (Dc---------)"},
		{"not a database", file("text", []byte("198.51.100.7 DE\n")), nil, "geo: not a valid MaxMind DB file (16 bytes)"},
		{"truncated", file("truncated", data[:len(data)/2]), nil, "geo: not a valid MaxMind DB file"},
		{"damaged tree", file("damaged", damage(data, 0, 200)), nil, "geo: the database's search tree is damaged (network 1)"},
		{"damaged data", file("damaged-data", damage(data, dataStart(t, data)+3, 60)), nil, "geo: the database's record for network 1 cannot be read"},
		// A tree of shared nodes: 24 nodes that read as 2^24 networks.
		{"not a tree", file("chain", chainDB(24, false)), nil, "geo: the database's search tree is damaged: it reaches more networks than its 24 nodes can hold"},
		{"not a tree, and no data", file("empty-chain", chainDB(24, true)), nil, "geo: the database's search tree is damaged: it reaches more networks than its 24 nodes can hold"},
		// 4096 records, each inside the one before: reading all is quadratic.
		{"records that overlap", file("nested", nestedDB(12)), nil, "cannot be read: records overlap"},
		// A metadata value of the wrong type: maxminddb's error quotes it.
		{"metadata string for a number", file("meta-string", withMetadata(t, data, "ip_version", []byte("\x4c198.51.100.7"))), nil,
			"bytes): its metadata has a value of the wrong type"},
		{"metadata IPv6 for a number", file("meta-ipv6", withMetadata(t, data, "record_size", []byte("\x4b2001:db8::7"))), nil,
			"bytes): its metadata has a value of the wrong type"},
		{"metadata number for a string", file("meta-number", withMetadata(t, data, "database_type", []byte{0xc4, 0xc6, 0x33, 0x64, 0x07})), nil,
			"bytes): its metadata has a value of the wrong type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := geo.Open(tc.path, tc.opts)
			require.Error(t, err)
			assert.Nil(t, db)
			assert.Contains(t, err.Error(), tc.want)
			assertNoAddress(t, err.Error())
		})
	}
}

// damage overwrites n bytes from off with 0xff.
func damage(data []byte, off, n int) []byte {
	b := bytes.Clone(data)
	for i := off; i < off+n && i < len(b); i++ {
		b[i] = 0xff
	}
	return b
}

// dataStart finds the data section: after the 16 zero bytes that end the
// search tree.
func dataStart(t *testing.T, data []byte) int {
	i := bytes.Index(data, make([]byte, 16))
	require.Positive(t, i)
	return i + 16
}

// assertNoAddress checks s holds none of the test addresses.
func assertNoAddress(t *testing.T, s string) {
	t.Helper()
	for _, a := range []string{"198.51.100", "203.0.113", "192.0.2", "2001:db8", "c633", "cb00", "3325256711"} {
		assert.NotContains(t, s, a)
	}
}

// The type a file declares is passed on, in Info and in the reload log
// line, unless it holds an address: the file's content is never quoted
// with one in it.
func TestDatabaseTypeHoldsNoAddress(t *testing.T) {
	data, err := layoutDB()
	require.NoError(t, err)
	str := func(s string) []byte { return append([]byte{2<<5 | byte(len(s))}, s...) }
	for _, tc := range []struct{ name, declared, want string }{
		{"a type", "GeoLite2-Country", "GeoLite2-Country"},
		{"a version", "DBIP-Country-Lite 2025.11", "DBIP-Country-Lite 2025.11"},
		{"ipv4", "Country 198.51.100.7", ""},
		{"ipv6", "2001:db8::7 build", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := geo.OpenBytes(withMetadata(t, data, "database_type", str(tc.declared)), geo.FieldCountry)
			require.NoError(t, err)
			info, ok := db.Info()
			require.True(t, ok)
			assert.Equal(t, tc.want, info.DatabaseType)
		})
	}
}

func TestReload(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	de := buildDB(t, 6, "v1", []network{{"198.51.100.0/24", geoLite2("DE", "EU", 0)}})
	fr := buildDB(t, 6, "v2", []network{{"198.51.100.0/24", geoLite2("FR", "EU", 0)}})
	a := netip.MustParseAddr("198.51.100.1")

	db, path := openDB(t, de, &geo.Options{Now: clock})
	info, ok := db.Info()
	require.True(t, ok)
	assert.Equal(t, geo.Info{DatabaseType: "v1", BuildTime: time.Unix(1_700_000_000, 0), LoadedAt: now, Size: int64(len(de))}, info)

	now = now.Add(time.Minute)
	require.NoError(t, db.Reload())
	info, _ = db.Info()
	assert.Equal(t, now.Add(-time.Minute), info.LoadedAt, "an unchanged file is not loaded again")

	replaceFile(t, path, fr)
	require.NoError(t, db.Reload())
	assert.Equal(t, "FR", db.Country(a))
	info, _ = db.Info()
	assert.Equal(t, "v2", info.DatabaseType)
	assert.Equal(t, now, info.LoadedAt)

	replaceFile(t, path, []byte("not a database"))
	err := db.Reload()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "geo: not a valid MaxMind DB file")
	assert.Equal(t, "FR", db.Country(a), "a broken file keeps the last good database in service")
	assert.Equal(t, err, db.Reload(), "the same broken file gives the same error")

	require.NoError(t, os.Remove(path))
	err = db.Reload()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "geo: cannot open the database file")
	assert.Equal(t, "FR", db.Country(a), "a missing file keeps the last good database in service")

	replaceFile(t, path, de)
	require.NoError(t, db.Reload())
	assert.Equal(t, "DE", db.Country(a))
}

// A file rewritten in place (same inode) is noticed by its size or time.
func TestReloadInPlace(t *testing.T) {
	de := buildDB(t, 6, "v1", []network{{"198.51.100.0/24", geoLite2("DE", "EU", 0)}})
	fr := buildDB(t, 6, "v2", []network{{"198.51.100.0/24", geoLite2("FR", "EU", 0)}, {"203.0.113.0/24", geoLite2("BE", "EU", 0)}})
	db, path := openDB(t, de, nil)
	require.NoError(t, os.WriteFile(path, fr, 0o600))
	require.NoError(t, db.Reload())
	assert.Equal(t, "FR", db.Country(netip.MustParseAddr("198.51.100.1")))
}

// Lookups run while the file is reloaded over and over: each sees the old
// database or the new one, never a mix or nothing (run with -race).
func TestConcurrentReload(t *testing.T) {
	de := buildDB(t, 6, "v1", []network{{"198.51.100.0/24", geoLite2("DE", "EU", 0)}})
	fr := buildDB(t, 6, "v2", []network{{"198.51.100.0/24", mmdbtype.Map{"country_code": mmdbtype.String("FR")}}})
	db, path := openDB(t, de, nil)
	a := netip.MustParseAddr("198.51.100.1")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	seen := make([]map[string]int, 4)
	for i := range seen {
		seen[i] = map[string]int{}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					seen[i][db.Country(a)]++
				}
			}
		})
	}
	for i := range 20 {
		replaceFile(t, path, [][]byte{fr, de}[i%2])
		require.NoError(t, db.Reload())
	}
	close(stop)
	wg.Wait()
	for _, s := range seen {
		for c := range s {
			assert.Contains(t, []string{"DE", "FR"}, c)
		}
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	db := openLayout(t, all)
	for _, a := range []string{"198.51.100.7", "192.0.2.1", "2001:db8::1", "2002:cb00:7105::1", "8.8.8.8", "172.16.0.1"} {
		addr := netip.MustParseAddr(a)
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = db.Lookup(addr) }), a)
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = db.Country(addr) }), a)
	}
}

func TestFieldsString(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    geo.Fields
		want string
	}{
		{"zero", 0, "none"},
		{"one", geo.FieldASN, "ASN"},
		{"all", all, "country or continent or ASN"},
		{"unknown bits", geo.FieldCountry | 1<<7, "country or 0x80"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.f.String())
		})
	}
}

// Records that share one country map (mmdbwriter writes a repeated value
// once and points at it) cost the load that map once, not once per record:
// 200 records that share a country map with a large value before its
// iso_code made the load skip that value 200 times (work that grows with
// the square of a hostile file's size).
func TestLoadReadsASharedValueOnce(t *testing.T) {
	pad := make(mmdbtype.Slice, 2000)
	for i := range pad {
		pad[i] = mmdbtype.Uint32(i)
	}
	shared := mmdbtype.Map{"a_pad": pad, "iso_code": mmdbtype.String("DE")} // keys are written in order
	var nets []network
	for i := range 200 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 7, byte(i), 0}), 24)
		nets = append(nets, network{p.String(), mmdbtype.Map{"country": shared, "n": mmdbtype.Uint32(i)}})
	}
	data := buildDB(t, 4, "shared", nets)
	var db *geo.DB
	walks := geo.CountMapWalks(func() {
		var err error
		db, err = geo.OpenBytes(data, geo.FieldCountry)
		require.NoError(t, err)
	})
	assert.Equal(t, "DE", db.Country(netip.MustParseAddr("10.7.7.1")))
	assert.Equal(t, int64(1), walks, "the shared country map is walked once")
}
