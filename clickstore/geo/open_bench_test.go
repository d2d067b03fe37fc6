package geo_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/geo"
)

// BenchmarkOpen is the cost of a load or reload: reading the file and
// checking every network and record. CLICKANON_GEOIP_DB=/path measures a
// real file; without it, the built realistic one.
func BenchmarkOpen(b *testing.B) {
	path := os.Getenv("CLICKANON_GEOIP_DB")
	if path == "" {
		r, err := realisticDB()
		require.NoError(b, err)
		path = writeDB(b, r.data)
	}
	b.ReportAllocs()
	for b.Loop() {
		db, err := geo.Open(path, &geo.Options{CheckEvery: -1})
		require.NoError(b, err)
		require.NoError(b, db.Close())
	}
}
