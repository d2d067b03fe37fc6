package publish_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// t0 is a Thursday, 10:41:17 UTC: on no bucket boundary.
var t0 = time.Date(2026, 3, 5, 10, 41, 17, 0, time.UTC)

var dimensions = []aggregate.Dimension{aggregate.Country, aggregate.Network, aggregate.Referrer, aggregate.Device}

// pseudonym returns the pseudonym of visitor i of set s (never zero).
func pseudonym(s, i int) clickstore.Pseudonym {
	var p clickstore.Pseudonym
	copy(p[:], fmt.Sprintf("p%06d.%08d", s, i))
	return p
}

func newRollup(t testing.TB, o aggregate.Options) *aggregate.Rollup {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return t0 }
	}
	r, err := aggregate.New(&o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func net4(a, b, c byte) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{a, b, c, 0}), 24)
}

func add(t testing.TB, b clickstore.Sink, c clickstore.Click, u clickstore.Uniqueness) {
	t.Helper()
	require.NoError(t, b.Add(context.Background(), c, u))
}
