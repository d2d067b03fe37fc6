package routing_test

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/geo"
)

// netRecord is one network of a test database and its record.
type netRecord struct {
	prefix string
	record mmdbtype.Map
}

// mmdb builds a database of the given IP version and type.
func mmdb(t testing.TB, ipVersion int, dbType string, nets []netRecord) []byte {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, IPVersion: ipVersion, RecordSize: 28, IncludeReservedNetworks: true})
	require.NoError(t, err)
	for _, n := range nets {
		_, p, err := net.ParseCIDR(n.prefix)
		require.NoError(t, err)
		require.NoError(t, tree.Insert(p, n.record))
	}
	var b bytes.Buffer
	_, err = tree.WriteTo(&b)
	require.NoError(t, err)
	return b.Bytes()
}

func countryRecord(c string) mmdbtype.Map {
	return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(c)}}
}

// A database rewritten in place with a file of the same size, right after
// it was loaded (a copy over it, as cp does), is a changed file: Reload
// loads it.
func TestReloadSameSizeInPlace(t *testing.T) {
	de := mmdb(t, 6, "v", []netRecord{{"198.51.100.0/24", countryRecord("DE")}})
	fr := mmdb(t, 6, "v", []netRecord{{"198.51.100.0/24", countryRecord("FR")}})
	require.Equal(t, len(de), len(fr))
	path := filepath.Join(t.TempDir(), "db.mmdb")
	require.NoError(t, os.WriteFile(path, de, 0o600))
	db, err := geo.Open(path, &geo.Options{CheckEvery: -1})
	require.NoError(t, err)
	defer db.Close()
	a := netip.MustParseAddr("198.51.100.1")
	for i := range 20 {
		want := [2]string{"FR", "DE"}[i%2]
		require.NoError(t, os.WriteFile(path, map[string][]byte{"DE": de, "FR": fr}[want], 0o600))
		require.NoError(t, db.Reload())
		assert.Equal(t, want, db.Country(a), "rewrite %d", i)
	}
}

func names(en string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(en), "de": mmdbtype.String(en + "-de"), "zh-CN": mmdbtype.String("国")}
}

// maxmindCountry is a GeoLite2-Country or DB-IP Lite country record, with
// the registered and represented countries that are not the address's.
func maxmindCountry() mmdbtype.Map {
	return mmdbtype.Map{
		"continent": mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148), "names": names("Europe")},
		"country": mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2921044), "is_in_european_union": mmdbtype.Bool(true),
			"iso_code": mmdbtype.String("DE"), "names": names("Germany")},
		"registered_country":  mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2782113), "iso_code": mmdbtype.String("AT"), "names": names("Austria")},
		"represented_country": mmdbtype.Map{"iso_code": mmdbtype.String("US"), "type": mmdbtype.String("military"), "names": names("United States")},
	}
}

// maxmindCity adds what a City file has finer than a country.
func maxmindCity() mmdbtype.Map {
	m := maxmindCountry()
	m["city"] = mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2950159), "names": names("Berlin")}
	m["location"] = mmdbtype.Map{"accuracy_radius": mmdbtype.Uint16(20), "latitude": mmdbtype.Float64(52.5244),
		"longitude": mmdbtype.Float64(13.4105), "time_zone": mmdbtype.String("Europe/Berlin")}
	m["postal"] = mmdbtype.Map{"code": mmdbtype.String("10115")}
	m["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("BE"), "names": names("Land Berlin")}}
	return m
}

func asnRecord(n mmdbtype.DataType) mmdbtype.Map {
	return mmdbtype.Map{"autonomous_system_number": n, "autonomous_system_organization": mmdbtype.String("Example Networks")}
}

// Every documented vendor layout, in an IPv6 tree and an IPv4-only one,
// with every set of Fields: the facts the layout holds and the Fields ask
// for, nothing else; the same for the address in every IPv6 form that
// carries it (mapped, 6to4, NAT64, Teredo's client); a country only from
// "country" (a record with only registered_country or represented_country
// has none); and a file where no record holds an asked-for fact refused at
// Open as the wrong file.
func TestEveryVendorLayoutInBothTrees(t *testing.T) {
	de := geo.Facts{Country: "DE", Continent: "EU"}
	layouts := []struct {
		name   string
		dbType string
		record mmdbtype.Map
		holds  geo.Facts
	}{
		{"GeoLite2-Country", "GeoLite2-Country", maxmindCountry(), de},
		{"GeoLite2-City", "GeoLite2-City", maxmindCity(), de},
		{"DB-IP Lite country", "DBIP-Country-Lite", maxmindCountry(), de},
		{"GeoLite2-ASN", "GeoLite2-ASN", asnRecord(mmdbtype.Uint32(64500)), geo.Facts{ASN: 64500}},
		{"DB-IP Lite ASN", "DBIP-ASN-Lite (compat=GeoLite2-ASN)", asnRecord(mmdbtype.Uint32(4200000000)), geo.Facts{ASN: 4200000000}},
		{"ip-location-db ASN, uint16", "asn", asnRecord(mmdbtype.Uint16(64500)), geo.Facts{ASN: 64500}},
		{"ip-location-db ASN, uint64", "asn", asnRecord(mmdbtype.Uint64(64500)), geo.Facts{ASN: 64500}},
		{"IPinfo Lite", "ipinfo lite.mmdb", mmdbtype.Map{
			"as_domain": mmdbtype.String("example.net"), "as_name": mmdbtype.String("Example Networks"), "asn": mmdbtype.String("AS64500"),
			"continent": mmdbtype.String("Europe"), "continent_code": mmdbtype.String("EU"),
			"country": mmdbtype.String("Germany"), "country_code": mmdbtype.String("DE"),
		}, geo.Facts{Country: "DE", Continent: "EU", ASN: 64500}},
		{"old IPinfo country", "ipinfo country.mmdb", mmdbtype.Map{
			"continent": mmdbtype.String("EU"), "continent_name": mmdbtype.String("Europe"),
			"country": mmdbtype.String("DE"), "country_name": mmdbtype.String("Germany"),
		}, de},
		{"old IPinfo country_asn", "ipinfo country_asn.mmdb", mmdbtype.Map{
			"as_domain": mmdbtype.String("example.net"), "as_name": mmdbtype.String("Example Networks"), "asn": mmdbtype.String("AS64500"),
			"continent": mmdbtype.String("EU"), "continent_name": mmdbtype.String("Europe"),
			"country": mmdbtype.String("DE"), "country_name": mmdbtype.String("Germany"),
		}, geo.Facts{Country: "DE", Continent: "EU", ASN: 64500}},
		{"ip-location-db country", "geo-whois-asn-country", mmdbtype.Map{"country_code": mmdbtype.String("DE")}, geo.Facts{Country: "DE"}},
		{"registered_country alone", "GeoLite2-Country", mmdbtype.Map{
			"continent":          mmdbtype.Map{"code": mmdbtype.String("EU")},
			"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("AT")},
		}, geo.Facts{Continent: "EU"}},
		{"represented_country alone", "GeoLite2-Country", mmdbtype.Map{
			"continent":           mmdbtype.Map{"code": mmdbtype.String("EU")},
			"represented_country": mmdbtype.Map{"iso_code": mmdbtype.String("US"), "type": mmdbtype.String("military")},
		}, geo.Facts{Continent: "EU"}},
	}
	const v4 = "198.51.100.7"
	forms := map[string]netip.Addr{
		"IPv4":   netip.MustParseAddr(v4),
		"mapped": netip.MustParseAddr("::ffff:" + v4),
		"6to4":   netip.MustParseAddr("2002:c633:6407:1::1"),
		"NAT64":  netip.MustParseAddr("64:ff9b::" + v4),
		"Teredo": teredo("192.0.2.1", v4), // the server is not covered
	}
	fieldSets := []geo.Fields{0, geo.FieldCountry, geo.FieldContinent, geo.FieldASN,
		geo.FieldCountry | geo.FieldASN, geo.FieldCountry | geo.FieldContinent | geo.FieldASN}
	for _, l := range layouts {
		for _, ipVersion := range []int{4, 6} {
			nets := []netRecord{{"198.51.100.0/24", l.record}}
			if ipVersion == 6 {
				nets = append(nets, netRecord{"2001:db8::/32", l.record})
			}
			data := mmdb(t, ipVersion, l.dbType, nets)
			path := filepath.Join(t.TempDir(), "db.mmdb")
			require.NoError(t, os.WriteFile(path, data, 0o600))
			for _, f := range fieldSets {
				name := l.name + "/IPv" + string(rune('0'+ipVersion)) + "/" + f.String()
				want := keep(l.holds, f)
				db, err := geo.Open(path, &geo.Options{Fields: f, CheckEvery: -1})
				if want == (geo.Facts{}) {
					assert.Error(t, err, "%s: a file with none of the facts asked for is the wrong file", name)
					continue
				}
				require.NoError(t, err, name)
				for form, a := range forms {
					assert.Equal(t, want, db.Lookup(a), "%s: %s", name, form)
					assert.Equal(t, want.Country, db.Country(a), "%s: %s", name, form)
				}
				v6 := netip.MustParseAddr("2001:db8:1::1")
				if ipVersion == 6 {
					assert.Equal(t, want, db.Lookup(v6), name)
				} else {
					assert.Zero(t, db.Lookup(v6), "%s: an IPv4 file knows nothing of IPv6", name)
				}
				assert.Zero(t, db.Lookup(netip.MustParseAddr("203.0.113.1")), "%s: not covered", name)
				assert.Zero(t, db.Lookup(netip.MustParseAddr("192.0.2.1")), "%s: the Teredo server, not covered", name)
				require.NoError(t, db.Close())
			}
		}
	}
}

// keep returns f's facts that fields asks for (zero Fields: the country).
func keep(f geo.Facts, fields geo.Fields) geo.Facts {
	if fields == 0 {
		fields = geo.FieldCountry
	}
	if fields&geo.FieldCountry == 0 {
		f.Country = ""
	}
	if fields&geo.FieldContinent == 0 {
		f.Continent = ""
	}
	if fields&geo.FieldASN == 0 {
		f.ASN = 0
	}
	return f
}

// teredo builds a Teredo address of a client behind server, its public
// address obfuscated as RFC 4380 says.
func teredo(server, client string) netip.Addr {
	s, c := netip.MustParseAddr(server).As4(), netip.MustParseAddr(client).As4()
	b := [16]byte{0x20, 0x01, 0, 0, s[0], s[1], s[2], s[3], 0x80, 0, 0xf2, 0x27}
	for i := range 4 {
		b[12+i] = ^c[i]
	}
	return netip.AddrFrom16(b)
}

// Lookups from several goroutines while the file is replaced in every way
// a deploy does it, over and over, with Reload racing the writes: a rename
// over it, a rewrite in place (truncate, then write), a delete then a
// recreate, a half-written file completed later, garbage. Every answer is
// one of the two databases' (the lookup fails open onto the last good
// one, never to no country), never a fact not configured although every
// record holds them, and once the file settles Reload puts it in service.
func TestReloadUnderConcurrentLookups(t *testing.T) {
	rec := func(c string) mmdbtype.Map {
		m := maxmindCity()
		m["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(c), "names": names(c)}
		m["autonomous_system_number"] = mmdbtype.Uint32(64500)
		return m
	}
	files := map[string][]byte{
		"DE": mmdb(t, 6, "v", []netRecord{{"198.51.100.0/24", rec("DE")}, {"2001:db8::/32", rec("DE")}}),
		"FR": mmdb(t, 6, "v", []netRecord{{"198.51.100.0/24", rec("FR")}, {"2001:db8::/32", rec("FR")}, {"203.0.113.0/24", rec("FR")}}),
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "db.mmdb")
	require.NoError(t, os.WriteFile(path, files["DE"], 0o600))
	db, err := geo.Open(path, &geo.Options{CheckEvery: -1})
	require.NoError(t, err)
	defer db.Close()

	addrs := []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::7"), netip.MustParseAddr("2002:c633:6407::1")}
	stop := make(chan struct{})
	bad := make(chan geo.Facts, 1)
	done := make(chan struct{})
	for g := range 3 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				f := db.Lookup(addrs[(g+i)%len(addrs)])
				if (f != geo.Facts{Country: "DE"} && f != geo.Facts{Country: "FR"}) {
					select {
					case bad <- f:
					default:
					}
				}
			}
		}()
	}
	reloads := make(chan struct{})
	go func() {
		defer close(reloads)
		for {
			select {
			case <-stop:
				return
			default:
				_ = db.Reload()
			}
		}
	}()
	rename := func(data []byte) {
		tmp := filepath.Join(dir, "db.mmdb.tmp")
		require.NoError(t, os.WriteFile(tmp, data, 0o600))
		require.NoError(t, os.Rename(tmp, path))
	}
	a := addrs[0]
	// Each state is reloaded explicitly too, racing the reloader: a broken
	// one is refused and the last good database keeps answering; a whole
	// one is served.
	broken := func(i int, what string, last string) {
		assert.Error(t, db.Reload(), "step %d: %s", i, what)
		assert.Equal(t, last, db.Country(a), "step %d: %s: the last good database answers", i, what)
	}
	whole := func(i int, c string) {
		require.NoError(t, db.Reload(), "step %d", i)
		assert.Equal(t, c, db.Country(a), "step %d", i)
	}
	last := "DE"
	for i := range 30 {
		c := [2]string{"FR", "DE"}[i%2]
		data := files[c]
		switch i % 5 {
		case 0:
			rename(data)
		case 1:
			require.NoError(t, os.WriteFile(path, data, 0o600)) // truncate, then write
		case 2:
			require.NoError(t, os.Remove(path))
			broken(i, "deleted", last)
			require.NoError(t, os.WriteFile(path, data, 0o600))
		case 3:
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o600)
			require.NoError(t, err)
			_, err = f.Write(data[:len(data)/2])
			require.NoError(t, err)
			broken(i, "half written", last)
			_, err = f.Write(data[len(data)/2:])
			require.NoError(t, err)
			require.NoError(t, f.Close())
		case 4:
			require.NoError(t, os.WriteFile(path, []byte("garbage, not a database"), 0o600))
			broken(i, "garbage", last)
			require.NoError(t, os.WriteFile(path, nil, 0o600))
			broken(i, "empty", last)
			rename(data)
		}
		whole(i, c)
		last = c
	}
	close(stop)
	<-reloads
	for range 3 {
		<-done
	}
	select {
	case f := <-bad:
		t.Errorf("a lookup answered %+v", f)
	default:
	}
	// Settled: a rename of the last database in, and Reload serves it.
	rename(files["FR"])
	require.NoError(t, db.Reload())
	for _, a := range addrs {
		assert.Equal(t, geo.Facts{Country: "FR"}, db.Lookup(a), a)
	}
	assert.Equal(t, "FR", db.Country(netip.MustParseAddr("203.0.113.9")))
}
