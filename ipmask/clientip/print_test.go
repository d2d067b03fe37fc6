package clientip_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/testkit"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// A Resolver and a Trusted print and log as their names and sizes, with
// every verb, also while requests are resolved and the trusted set is
// replaced: fmt read their counters and set without atomic loads (a data
// race), and a Trusted never prints a proxy's address.
func TestPrintsAsItsName(t *testing.T) {
	tr, err := clientip.NewTrusted("198.51.100.0/24", "2001:db8::/32", "203.0.113.7")
	require.NoError(t, err)
	r, err := clientip.New(clientip.RightmostUntrusted(tr), clientip.RemoteAddr())
	require.NoError(t, err)
	testkit.CheckPrintsAs(t, tr, "clientip.Trusted(3 ranges)")
	testkit.CheckPrintsAs(t, r, "clientip.Resolver(2 strategies)")
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 100 {
			_, _ = r.Resolve(http.Header{"X-Forwarded-For": {"192.0.2.1"}}, "198.51.100.9:1")
			require.NoError(t, tr.Update("198.51.100.0/24", fmt.Sprintf("203.0.113.%d", i)))
		}
	})
	for range 50 {
		_ = fmt.Sprintf("%+v %+v", r, tr)
	}
	wg.Wait()
	testkit.CheckPrintsAs(t, tr, "clientip.Trusted(2 ranges)")
	var nilTrusted *clientip.Trusted
	testkit.CheckPrintsAs(t, nilTrusted, "clientip.Trusted(nil)")
	testkit.CheckPrintsAs(t, &clientip.Trusted{}, "clientip.Trusted(0 ranges)")
	var nilResolver *clientip.Resolver
	testkit.CheckPrintsAs(t, nilResolver, "clientip.Resolver(nil)")
}
