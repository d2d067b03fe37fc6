package geo_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/geo"
)

// benchAddrs are 1024 seeded addresses in the realistic database's
// ranges (GeoLite2-City-shaped records), one range in three IPv6.
func benchAddrs(b *testing.B, r *realistic) []netip.Addr {
	rng := rand.New(rand.NewPCG(7, 7))
	addrs := make([]netip.Addr, 1024)
	for i := range addrs {
		addrs[i] = randomIn(rng, r.leaves[rng.IntN(len(r.leaves))].prefix)
	}
	return addrs
}

// BenchmarkLookup compares geo's lookups with maxminddb used directly on the
// same file: the bare tree walk, and the walk plus the reflection decode of
// the country code alone into a struct (the library's documented way).
func BenchmarkLookup(b *testing.B) {
	r, err := realisticDB()
	require.NoError(b, err)
	path := writeDB(b, r.data)
	addrs := benchAddrs(b, r)
	reader, err := maxminddb.Open(path)
	require.NoError(b, err)
	b.Cleanup(func() { reader.Close() })

	b.Run("baseline=maxminddb.Lookup", func(b *testing.B) {
		b.ReportAllocs()
		var n uintptr
		for i := 0; b.Loop(); i++ {
			n += reader.Lookup(addrs[i%len(addrs)]).Offset()
		}
		_ = n
	})
	b.Run("baseline=maxminddb.Lookup+Decode(country.iso_code)", func(b *testing.B) {
		b.ReportAllocs()
		var rec struct {
			Country struct {
				ISOCode string `maxminddb:"iso_code"`
			} `maxminddb:"country"`
		}
		for i := 0; b.Loop(); i++ {
			_ = reader.Lookup(addrs[i%len(addrs)]).Decode(&rec)
		}
	})
	for _, tc := range []struct {
		name   string
		fields geo.Fields
	}{{"Country", geo.FieldCountry}, {"Lookup/all-fields", all}} {
		db, err := geo.Open(path, &geo.Options{Fields: tc.fields, CheckEvery: -1})
		require.NoError(b, err)
		b.Run("geo."+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for i := 0; b.Loop(); i++ {
				if tc.fields == geo.FieldCountry {
					n += len(db.Country(addrs[i%len(addrs)]))
				} else {
					n += len(db.Lookup(addrs[i%len(addrs)]).Country)
				}
			}
			_ = n
		})
		require.NoError(b, db.Close())
	}
}
