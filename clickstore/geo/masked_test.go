package geo_test

import (
	"math/big"
	"net/netip"
	"os"
	"slices"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/geo"
	"github.com/clickanon/clickanon/ipmask"
)

// maskedFigures is how often the country of the masked network differs
// from the country of the full address, over every network in a database.
type maskedFigures struct {
	v4Addrs, v4AddrsDiff   uint64   // covered IPv4 addresses, and those whose masked country differs
	v4Nets, v4NetsDiff     int      // IPv4 ranges with a country, and those that differ
	v6Nets, v6NetsDiff     int      // the same for IPv6 ranges
	v6Space, v6SpaceDiff   *big.Int // and IPv6 addresses
	differingNotFinerCount int      // differing ranges no finer than the mask: must be 0
}

// measureMasked looks every network of the file at path up twice through
// the public API, by its first address and by that address masked with p.
// All addresses of one network share both answers, so one pair per
// network gives the exact per-address figure, with no sampling.
func measureMasked(t *testing.T, path string, p ipmask.Policy) maskedFigures {
	t.Helper()
	db, err := geo.Open(path, &geo.Options{CheckEvery: -1})
	require.NoError(t, err)
	defer db.Close()
	r, err := maxminddb.Open(path)
	require.NoError(t, err)
	defer r.Close()

	m := maskedFigures{v6Space: new(big.Int), v6SpaceDiff: new(big.Int)}
	for res := range r.Networks() {
		require.NoError(t, res.Err())
		pfx := res.Prefix()
		a := pfx.Addr()
		if a.Is4In6() {
			a, pfx = a.Unmap(), netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
		}
		full := db.Country(a)
		if full == "" {
			continue
		}
		differs := db.Country(p.Mask(a)) != full
		if differs && pfx.Bits() <= p.Bits(a) {
			m.differingNotFinerCount++
		}
		if a.Is4() {
			n := uint64(1) << (32 - pfx.Bits())
			m.v4Nets++
			m.v4Addrs += n
			if differs {
				m.v4NetsDiff++
				m.v4AddrsDiff += n
			}
			continue
		}
		n := new(big.Int).Lsh(big.NewInt(1), uint(128-pfx.Bits()))
		m.v6Nets++
		m.v6Space.Add(m.v6Space, n)
		if differs {
			m.v6NetsDiff++
			m.v6SpaceDiff.Add(m.v6SpaceDiff, n)
		}
	}
	return m
}

func pct(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * a / b
}

// TestMaskedVersusFull measures what users ask before masking addresses
// before the geo lookup instead of after: how often the country of the
// masked network (ipmask.Default: /24, /48; and ipmask.Strict: /16, /32)
// differs from that of the full address. It runs on a built database
// shaped like a real one; on a real file with
//
//	CLICKANON_GEOIP_DB=/path/GeoLite2-Country.mmdb go test -run TestMaskedVersusFull -v ./clickstore/geo
func TestMaskedVersusFull(t *testing.T) {
	path := os.Getenv("CLICKANON_GEOIP_DB")
	var real *realistic
	if path == "" {
		var err error
		real, err = realisticDB()
		require.NoError(t, err)
		path = writeDB(t, real.data)
		t.Logf("built database: %d ranges (set CLICKANON_GEOIP_DB to measure a real file)", len(real.leaves))
	}
	for _, tc := range []struct {
		name   string
		policy ipmask.Policy
	}{{"Default", ipmask.Default}, {"Strict", ipmask.Strict}} {
		t.Run(tc.name, func(t *testing.T) {
			m := measureMasked(t, path, tc.policy)
			t.Logf("%s (%s): IPv4: country differs for %.3g%% of covered addresses, %.2f%% of ranges (%d of %d)",
				tc.name, tc.policy, pct(float64(m.v4AddrsDiff), float64(m.v4Addrs)),
				pct(float64(m.v4NetsDiff), float64(m.v4Nets)), m.v4NetsDiff, m.v4Nets)
			v6 := 0.0
			if m.v6Space.Sign() > 0 {
				v6, _ = new(big.Float).Quo(new(big.Float).SetInt(m.v6SpaceDiff), new(big.Float).SetInt(m.v6Space)).Float64()
			}
			t.Logf("%s (%s): IPv6: country differs for %.3g%% of covered addresses, %.2f%% of ranges (%d of %d)",
				tc.name, tc.policy, 100*v6, pct(float64(m.v6NetsDiff), float64(m.v6Nets)), m.v6NetsDiff, m.v6Nets)

			// Whatever the file: a network no finer than the mask holds
			// its masked address, so only finer networks can differ.
			assert.Zero(t, m.differingNotFinerCount)
			if real == nil {
				return
			}
			// On the built file the figure must match the one computed
			// from the generator's ranges, without the database.
			want := real.expectedDiff(tc.policy)
			// (Range counts differ: the writer merges neighbours that share
			// a record; addresses do not.)
			assert.Equal(t, want.v4AddrsDiff, m.v4AddrsDiff)
			assert.Equal(t, want.v6SpaceDiff, m.v6SpaceDiff)
			if tc.policy == ipmask.Default {
				assert.Positive(t, m.v4AddrsDiff, "the built file splits some /24s between countries")
			}
		})
	}
}

// expectedDiff computes, from the generated ranges alone, which ranges'
// masked address lies in a range of another country.
func (r *realistic) expectedDiff(p ipmask.Policy) maskedFigures {
	m := maskedFigures{v6SpaceDiff: new(big.Int)}
	for _, l := range r.leaves {
		base := netip.PrefixFrom(l.prefix.Addr(), p.Bits(l.prefix.Addr())).Masked().Addr()
		if r.countryOf(base) == l.country {
			continue
		}
		if l.prefix.Addr().Is4() {
			m.v4AddrsDiff += uint64(1) << (32 - l.prefix.Bits())
		} else {
			m.v6SpaceDiff.Add(m.v6SpaceDiff, new(big.Int).Lsh(big.NewInt(1), uint(128-l.prefix.Bits())))
		}
	}
	return m
}

// countryOf finds the range holding a; leaves are generated in address
// order.
func (r *realistic) countryOf(a netip.Addr) string {
	i, _ := slices.BinarySearchFunc(r.leaves, a, func(l leaf, a netip.Addr) int {
		if l.prefix.Contains(a) {
			return 0
		}
		return l.prefix.Addr().Compare(a)
	})
	if i < len(r.leaves) && r.leaves[i].prefix.Contains(a) {
		return r.leaves[i].country
	}
	return ""
}

// Every network of the realistic file answers what maxminddb's own
// reflection decoder reads from the same record.
func TestAgreesWithMaxminddb(t *testing.T) {
	real, err := realisticDB()
	require.NoError(t, err)
	path := writeDB(t, real.data)
	db, err := geo.Open(path, &geo.Options{Fields: all, CheckEvery: -1})
	require.NoError(t, err)
	defer db.Close()
	r, err := maxminddb.Open(path)
	require.NoError(t, err)
	defer r.Close()
	n := 0
	for res := range r.Networks() {
		var rec struct {
			Country struct {
				ISOCode string `maxminddb:"iso_code"`
			} `maxminddb:"country"`
			Continent struct {
				Code string `maxminddb:"code"`
			} `maxminddb:"continent"`
		}
		require.NoError(t, res.Decode(&rec))
		a := res.Prefix().Addr()
		if !assert.Equal(t, geo.Facts{Country: rec.Country.ISOCode, Continent: rec.Continent.Code}, db.Lookup(a), res.Prefix()) {
			break
		}
		n++
	}
	assert.Greater(t, n, 10000)
}
