package signals_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/metrics"
)

// dashedForms returns the ways a host name's label, or a name someone
// makes up, spells a with '-' (or '_') in place of '.' and ':': the
// dotted quad, the compressed and the expanded IPv6 text, with the
// IPv4-mapped and NAT64 forms.
func dashedForms(a netip.Addr) []string {
	var texts []string
	if a.Is4() {
		texts = append(texts, a.String(), "::ffff:"+a.String(), "64:ff9b::"+a.String())
	} else {
		texts = append(texts, a.String(), a.StringExpanded())
	}
	var out []string
	for _, text := range texts {
		for _, sep := range []string{"-", "_"} {
			out = append(out, strings.NewReplacer(".", sep, ":", sep).Replace(text))
		}
	}
	return out
}

// TestPartNamesSpellingAddressesAreRefused generates addresses (public
// IPv4 and IPv6, random bits) and spells each with '-' or '_' for its
// separators, alone, after a word ("ip-", "node", "ec2-") and before a
// suffix ("-eu", "-80"), as the metrics documentation says a part name
// must not ("no address or network can be one"): each part kind refuses
// every such name with an error that starts with "metrics: " and does not
// echo it, while ordinary names (memory, redis-eu-1, pg-2024-12-01, web_2,
// eu-west-1, ...) are accepted. Checked to fail: before the fix of
// finding F3 "203-0-113-9", "ip-203-0-113-9-eu", "2001-db8-1-2--7" and
// most of the class were accepted.
func TestPartNamesSpellingAddressesAreRefused(t *testing.T) {
	add := func(m *metrics.Metrics, kind, name string) error {
		switch kind {
		case "Sink":
			return m.Sink(name, func() metrics.SinkStats { return metrics.SinkStats{} })
		default:
			return m.Store(name, func() metrics.StoreStats { return metrics.StoreStats{} })
		}
	}
	r := rand.New(rand.NewPCG(15, 3))
	var addrs []netip.Addr
	for len(addrs) < 60 {
		var a netip.Addr
		if len(addrs)%2 == 0 {
			a = netip.AddrFrom4([4]byte{byte(1 + r.IntN(222)), byte(r.IntN(256)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
		} else {
			var b [16]byte
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			b[0], b[1] = 0x20, 0x01
			if len(addrs)%3 == 0 {
				clear(b[6:14]) // a run of zeros, written "--"
			}
			a = netip.AddrFrom16(b)
		}
		if a.IsGlobalUnicast() && !a.IsPrivate() {
			addrs = append(addrs, a)
		}
	}
	addrs = append(addrs, netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("2001:db8:1:2::7"))
	accepted := 0
	tried := 0
	for _, a := range addrs {
		for _, form := range dashedForms(a) {
			sep := "-"
			if strings.Contains(form, "_") {
				sep = "_"
			}
			for _, name := range []string{form, "ip" + sep + form, "node" + form, "ec2" + sep + form, form + sep + "eu", form + sep + "80"} {
				if len(name) > 64 {
					continue
				}
				for _, kind := range []string{"Sink", "Store"} {
					m, err := metrics.New(prometheus.NewRegistry(), nil)
					require.NoError(t, err)
					err = add(m, kind, name)
					tried++
					if !assert.Error(t, err, "%s name %q spells %s", kind, name, a) {
						accepted++
						continue
					}
					assert.True(t, strings.HasPrefix(err.Error(), "metrics: "), err.Error())
					assert.NotContains(t, err.Error(), name)
				}
			}
		}
	}
	if accepted > 0 {
		t.Logf("%d of %d names that spell an address were accepted", accepted, tried)
	}
	for _, name := range []string{"memory", "redis", "redis-eu-1", "pg-2024-12-01", "web_2", "eu-west-1", "shard-10",
		"linktracker", "sql", "keys", "stats", "v1-2", "cache-a-b", "node-7", "db_primary", "2024-12"} {
		m, err := metrics.New(prometheus.NewRegistry(), nil)
		require.NoError(t, err)
		assert.NoError(t, add(m, "Sink", name), fmt.Sprintf("ordinary name %q", name))
	}
}
