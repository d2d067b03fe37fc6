package geo_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/stretchr/testify/require"
)

// network is one range of a test database and its record.
type network struct {
	prefix string
	record mmdbtype.DataType
}

// buildDB writes a MaxMind DB holding nets (IPv6 tree unless ipVersion is
// 4) and returns its bytes. Test databases are built, never committed.
// Their metadata has no description, which maxminddb's Reader.Verify
// refuses and geo must accept.
func buildDB(tb testing.TB, ipVersion int, dbType string, nets []network) []byte {
	tb.Helper()
	data, err := build(ipVersion, dbType, nets)
	require.NoError(tb, err)
	return data
}

func build(ipVersion int, dbType string, nets []network) ([]byte, error) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            dbType,
		IPVersion:               ipVersion,
		RecordSize:              28,
		IncludeReservedNetworks: true, // the documentation ranges are "reserved"
		BuildEpoch:              1_700_000_000,
	})
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		p := netip.MustParsePrefix(n.prefix)
		if err := tree.Insert(ipNet(p), n.record); err != nil {
			return nil, fmt.Errorf("insert %s: %w", n.prefix, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	bits := 128
	if p.Addr().Is4() {
		bits = 32
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}
}

// replaceFile writes data to path the way database updaters do: a new
// file renamed over the old one.
func replaceFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	tmp := path + ".tmp"
	require.NoError(tb, os.WriteFile(tmp, data, 0o600))
	require.NoError(tb, os.Rename(tmp, path))
}

func writeDB(tb testing.TB, data []byte) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "test.mmdb")
	replaceFile(tb, path, data)
	return path
}

// names is the localized-names map of GeoLite2 records, which lookups must
// step over.
func names(en string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(en), "de": mmdbtype.String(en + " (de)"), "ja": mmdbtype.String(en + " (ja)")}
}

// geoLite2 is a GeoLite2-City record: city, location and postal code
// included, which geo must never decode.
func geoLite2(country, continent string, asn uint32) mmdbtype.Map {
	m := mmdbtype.Map{
		"city":      mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2950159), "names": names("City of " + country)},
		"continent": mmdbtype.Map{"code": mmdbtype.String(continent), "geoname_id": mmdbtype.Uint32(6255148), "names": names(continent)},
		"country": mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2921044), "is_in_european_union": mmdbtype.Bool(true),
			"iso_code": mmdbtype.String(country), "names": names(country)},
		"location": mmdbtype.Map{"accuracy_radius": mmdbtype.Uint16(100), "latitude": mmdbtype.Float64(52.5),
			"longitude": mmdbtype.Float64(13.4), "time_zone": mmdbtype.String("Europe/Berlin")},
		"postal":             mmdbtype.Map{"code": mmdbtype.String("10115")},
		"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("ZZ"), "names": names("Registered")},
		"subdivisions":       mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("BE"), "names": names("Sub")}},
	}
	if asn != 0 { // GeoLite2 keeps ASNs in their own file; a merged file may not
		m["autonomous_system_number"] = mmdbtype.Uint32(asn)
	}
	return m
}

// ipinfoLite is an IPinfo Lite record.
func ipinfoLite(country, continent, asn string) mmdbtype.Map {
	return mmdbtype.Map{
		"asn": mmdbtype.String(asn), "as_name": mmdbtype.String("Example Networks"), "as_domain": mmdbtype.String("example.net"),
		"country": mmdbtype.String("Some Country"), "country_code": mmdbtype.String(country),
		"continent": mmdbtype.String("Some Continent"), "continent_code": mmdbtype.String(continent),
	}
}

// layoutNets covers every supported layout and some unusable values.
var layoutNets = []network{
	{"198.51.100.0/24", geoLite2("DE", "EU", 0)},
	{"203.0.113.0/25", mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("FR")}}},
	{"203.0.113.128/25", mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("BE")}}},
	{"192.0.2.0/24", ipinfoLite("US", "NA", "AS64500")},
	{"2001:db8::/32", geoLite2("JP", "AS", 64496)},
	{"233.252.0.0/24", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(64501),
		"autonomous_system_organization": mmdbtype.String("Example AS")}},
	{"192.88.99.0/24", mmdbtype.Map{"country": mmdbtype.String("nl"), "continent": mmdbtype.String("eu"), "asn": mmdbtype.String("AS64502")}},
	{"10.0.0.0/8", mmdbtype.Map{"country_code": mmdbtype.String("CH")}},
	{"172.16.0.0/12", mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("Deutschland")},
		"continent": mmdbtype.Uint32(5), "asn": mmdbtype.String("AS99999999999"), "country_code": mmdbtype.String("1A")}},
	{"100.64.0.0/10", mmdbtype.Map{"country_code": mmdbtype.String("US"), "country": mmdbtype.Map{"iso_code": mmdbtype.String("CA")}}},
}

// layoutDB is built once per test binary; tests require its error nil.
var layoutDB = sync.OnceValues(func() ([]byte, error) { return build(6, "clickanon-test", layoutNets) })

// realistic builds a database shaped like a real country file: IPv4
// ranges from /16 to /24 and IPv6 ranges from /32 to /48, one in ten finer
// than the mask (down to /30 or /64), each with a country that half the
// time is its neighbour's.
type realistic struct {
	nets   []network
	leaves []leaf // in address order
	data   []byte // the database file
}

type leaf struct {
	prefix  netip.Prefix
	country string
}

var countries = []string{"US", "DE", "FR", "GB", "JP", "CN", "BR", "IN", "RU", "NL", "SE", "CA", "AU", "IT", "ES", "PL", "KR", "ZA", "MX", "AR",
	"CH", "AT", "BE", "DK", "NO", "FI", "IE", "PT", "CZ", "UA", "TR", "IL", "SG", "HK", "TW", "ID", "VN", "TH", "EG", "NG"}

var continentOf = map[string]string{"US": "NA", "CA": "NA", "MX": "NA", "BR": "SA", "AR": "SA", "AU": "OC", "ZA": "AF", "EG": "AF", "NG": "AF",
	"JP": "AS", "CN": "AS", "IN": "AS", "KR": "AS", "IL": "AS", "SG": "AS", "HK": "AS", "TW": "AS", "ID": "AS", "VN": "AS", "TH": "AS", "TR": "AS"}

func continent(c string) string {
	if k, ok := continentOf[c]; ok {
		return k
	}
	return "EU"
}

func newRealistic(seed uint64) *realistic {
	r := &realistic{}
	rng := rand.New(rand.NewPCG(seed, 1))
	r.fill(rng, netip.MustParsePrefix("12.0.0.0/9"), 16, 24, 30)
	r.fill(rng, netip.MustParsePrefix("2a00::/30"), 32, 48, 64)
	for _, l := range r.leaves {
		r.nets = append(r.nets, network{l.prefix.String(), geoLite2(l.country, continent(l.country), 0)})
	}
	return r
}

// fill covers root, from its first address, with ranges of coarse to fine
// bits, one in ten finer than fine (down to finest bits). A range can be
// no larger than its first address's alignment allows.
func (r *realistic) fill(rng *rand.Rand, root netip.Prefix, coarse, fine, finest int) {
	country := countries[rng.IntN(len(countries))]
	for a := root.Masked().Addr(); a.IsValid() && root.Contains(a); {
		bits := coarse + rng.IntN(fine-coarse+1)
		if rng.IntN(10) == 0 {
			bits = fine + 1 + rng.IntN(finest-fine)
		}
		p := netip.PrefixFrom(a, max(bits, alignment(a)))
		if rng.IntN(2) == 0 {
			country = countries[rng.IntN(len(countries))]
		}
		r.leaves = append(r.leaves, leaf{p, country})
		a = lastAddr(p).Next()
	}
}

// alignment is the shortest prefix length a begins.
func alignment(a netip.Addr) int {
	if a.Is4() {
		b := a.As4()
		return 32 - bits.TrailingZeros32(binary.BigEndian.Uint32(b[:]))
	}
	b := a.As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	if lo != 0 {
		return 128 - bits.TrailingZeros64(lo)
	}
	return 64 - bits.TrailingZeros64(hi)
}

// lastAddr is the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// randomIn returns a uniformly random address in p.
func randomIn(rng *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		if rng.IntN(2) == 1 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

var realisticDB = sync.OnceValues(func() (*realistic, error) {
	r := newRealistic(13)
	data, err := build(6, "clickanon-realistic", r.nets)
	r.data = data
	return r, err
})

// withMetadata returns the database data with its metadata map replaced
// by one whose field holds value, already encoded in the MaxMind DB data
// format, and the other fields the geo loader needs from the original:
// how a file looks whose metadata a hostile or broken writer made.
func withMetadata(tb testing.TB, data []byte, field string, value []byte) []byte {
	tb.Helper()
	marker := []byte("\xAB\xCD\xEFMaxMind.com")
	i := bytes.LastIndex(data, marker)
	require.Positive(tb, i)
	str := func(s string) []byte { return append([]byte{2<<5 | byte(len(s))}, s...) } // strings of < 29 bytes
	u16 := func(v uint16) []byte { return []byte{5<<5 | 2, byte(v >> 8), byte(v)} }
	nc := bytes.Index(data[i:], []byte("node_count"))
	require.Positive(tb, nc)
	count := data[i+nc+len("node_count"):]
	fields := map[string][]byte{
		"node_count":    count[:1+int(count[0]&0x1f)], // the original value, a uint32 encoded
		"record_size":   u16(28),
		"ip_version":    u16(6),
		"database_type": str("clickanon-test"),
	}
	fields[field] = value
	md := append(bytes.Clone(data[:i]), marker...)
	md = append(md, 7<<5|byte(len(fields)))
	for k, v := range fields {
		md = append(md, str(k)...)
		md = append(md, v...)
	}
	return md
}

// chainDB returns an IPv4 database whose search tree is a chain of depth
// nodes, each pointing twice at the next and the last twice at one record
// (or, if empty, twice at no data): depth nodes that a walk of the tree
// reads as 2^depth networks. No writer makes such a file; a hostile or
// broken one can.
func chainDB(depth int, empty bool) []byte {
	var b []byte
	for i := range depth {
		next := uint32(i + 1)
		switch {
		case i == depth-1 && empty:
			next = uint32(depth) // the node count: no data
		case i == depth-1:
			next = uint32(depth) + 16 // the record at offset 0 of the data section
		}
		rec := []byte{byte(next >> 16), byte(next >> 8), byte(next)}
		b = append(b, rec...)
		b = append(b, rec...)
	}
	b = append(b, make([]byte, 16)...)                       // the data section separator
	b = append(b, 7<<5|1, 2<<5|12)                           // a map of one key, "country_code"
	b = append(b, "country_code"...)                         //
	b = append(b, 2<<5|2, 'D', 'E')                          // "DE"
	b = append(b, "\xAB\xCD\xEFMaxMind.com"...)              // the metadata
	b = append(b, 7<<5|4)                                    // a map of four keys
	b = append(b, 2<<5|10)                                   //
	b = append(b, "node_count"...)                           //
	b = append(b, 6<<5|4, 0, 0, byte(depth>>8), byte(depth)) // uint32
	b = append(b, 2<<5|11)                                   //
	b = append(b, "record_size"...)                          //
	b = append(b, 5<<5|1, 24)                                // uint16
	b = append(b, 2<<5|10)                                   //
	b = append(b, "ip_version"...)                           //
	b = append(b, 5<<5|1, 4)                                 //
	b = append(b, 2<<5|13)                                   //
	b = append(b, "database_type"...)                        //
	b = append(b, 2<<5|5)                                    //
	b = append(b, "chain"...)
	return b
}

// nestedDB returns an IPv4 database whose complete search tree of depth d
// points its 2^d networks at the 2^d levels of one nesting of maps, each
// {"x": the next level, "country_code": "DE"}: records that start inside
// one another, so that reading each reads all those below it. No writer
// makes such a file; a hostile one can.
func nestedDB(d int) []byte {
	leaves := 1 << d
	nodes := leaves - 1
	var b []byte
	rec := func(v int) []byte { return []byte{byte(v >> 16), byte(v >> 8), byte(v)} }
	for i := range nodes {
		l, r := 2*i+1, 2*i+2
		if l >= nodes {
			l = nodes + 16 + 13 + 3*(l-nodes)
			r = nodes + 16 + 13 + 3*(r-nodes)
		}
		b = append(b, rec(l)...)
		b = append(b, rec(r)...)
	}
	b = append(b, make([]byte, 16)...)
	b = append(b, 2<<5|12)
	b = append(b, "country_code"...)
	for range leaves {
		b = append(b, 7<<5|2, 2<<5|1, 'x')
	}
	b = append(b, 7<<5|0)
	for range leaves {
		b = append(b, 0x20, 0x00, 2<<5|2, 'D', 'E')
	}
	b = append(b, "\xAB\xCD\xEFMaxMind.com"...)
	b = append(b, 7<<5|4, 2<<5|10)
	b = append(b, "node_count"...)
	b = append(b, 6<<5|4, byte(nodes>>24), byte(nodes>>16), byte(nodes>>8), byte(nodes))
	b = append(b, 2<<5|11)
	b = append(b, "record_size"...)
	b = append(b, 5<<5|1, 24, 2<<5|10)
	b = append(b, "ip_version"...)
	b = append(b, 5<<5|1, 4, 2<<5|13)
	b = append(b, "database_type"...)
	b = append(b, 2<<5|6)
	b = append(b, "nested"...)
	return b
}
