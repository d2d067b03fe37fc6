package geo_test

import (
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/clickanon/clickanon/clickstore/geo"
)

// exampleDatabase writes a tiny GeoLite2-style database and returns its
// path. A real service points geo.Open at the file its updater maintains
// (GeoLite2-Country.mmdb, dbip-country-lite.mmdb, ipinfo_lite.mmdb, ...).
func exampleDatabase(dir string) string {
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "Example-Country", IncludeReservedNetworks: true})
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range []struct{ cidr, country, continent string }{
		{"198.51.100.0/24", "DE", "EU"},
		{"203.0.113.0/24", "FR", "EU"},
		{"2001:db8::/32", "JP", "AS"},
	} {
		_, network, _ := net.ParseCIDR(n.cidr)
		record := mmdbtype.Map{
			"country":                  mmdbtype.Map{"iso_code": mmdbtype.String(n.country)},
			"continent":                mmdbtype.Map{"code": mmdbtype.String(n.continent)},
			"autonomous_system_number": mmdbtype.Uint32(64496),
		}
		if err := tree.Insert(network, record); err != nil {
			log.Fatal(err)
		}
	}
	path := filepath.Join(dir, "country.mmdb")
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		log.Fatal(err)
	}
	return path
}

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "geo")
	defer os.RemoveAll(dir)

	db, err := geo.Open(exampleDatabase(dir), nil) // country only; reloads the file when it changes
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	fmt.Println(db.Country(netip.MustParseAddr("198.51.100.7")))
	fmt.Println(db.Country(netip.MustParseAddr("2002:cb00:7105::1")))  // 6to4: looked up as 203.0.113.5
	fmt.Printf("%q\n", db.Country(netip.MustParseAddr("192.0.2.1")))   // not in the file
	fmt.Printf("%+v\n", db.Lookup(netip.MustParseAddr("2001:db8::1"))) // no continent, no ASN: not asked for
	// Output:
	// DE
	// FR
	// ""
	// {Country:JP Continent: ASN:0}
}

func ExampleDB_Lookup() {
	dir, _ := os.MkdirTemp("", "geo")
	defer os.RemoveAll(dir)

	db, err := geo.Open(exampleDatabase(dir), &geo.Options{Fields: geo.FieldCountry | geo.FieldContinent | geo.FieldASN})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// A geo redirect: the target is chosen from the full address at click
	// time; neither the address nor the facts need to be stored.
	targets := map[string]string{"DE": "https://example.com/de/", "EU": "https://example.com/eu/"}
	choose := func(addr netip.Addr) string {
		f := db.Lookup(addr)
		if u, ok := targets[f.Country]; ok {
			return u
		}
		if u, ok := targets[f.Continent]; ok {
			return u
		}
		return "https://example.com/"
	}
	fmt.Printf("%+v\n", db.Lookup(netip.MustParseAddr("203.0.113.9")))
	fmt.Println(choose(netip.MustParseAddr("198.51.100.7")))
	fmt.Println(choose(netip.MustParseAddr("203.0.113.9")))
	fmt.Println(choose(netip.MustParseAddr("2001:db8::1")))
	// Output:
	// {Country:FR Continent:EU ASN:64496}
	// https://example.com/de/
	// https://example.com/eu/
	// https://example.com/
}

// The tracker's enrichment hook needs the country alone. A nil *DB is
// valid and knows nothing, so the hook works with geo switched off too.
func ExampleDB_Country() {
	var db *geo.DB // no -geoip file configured
	enrich := func(addr netip.Addr) string { return db.Country(addr) }
	fmt.Printf("%q\n", enrich(netip.MustParseAddr("198.51.100.7")))
	// Output:
	// ""
}

// An updater replaces the file; the watcher (or Reload, on SIGHUP say)
// puts the new one in service, and a broken file leaves the old one there.
func ExampleDB_Reload() {
	dir, _ := os.MkdirTemp("", "geo")
	defer os.RemoveAll(dir)
	path := exampleDatabase(dir)

	db, err := geo.Open(path, &geo.Options{CheckEvery: -1}) // no watcher: reload by hand
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	info, _ := db.Info()
	fmt.Println(info.DatabaseType, db.Country(netip.MustParseAddr("198.51.100.7")))

	_ = os.WriteFile(path+".new", []byte("half a download"), 0o644)
	_ = os.Rename(path+".new", path)
	fmt.Println(db.Reload())
	fmt.Println(db.Country(netip.MustParseAddr("198.51.100.7"))) // still answered by the last good file
	// Output:
	// Example-Country DE
	// geo: not a valid MaxMind DB file (15 bytes): no metadata marker
	// DE
}
