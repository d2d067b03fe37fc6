package routing_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// The clientip masking middleware in front of every route form (nested
// muxes and StripPrefix, chi, the middleware form, a func router) or not
// at all: the same visitors are counted the same way, unique then repeat
// per visitor and link, and the sink never gets a raw address.
func TestClientipInFrontOfEveryRouteForm(t *testing.T) {
	mask, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	addrs := []string{"198.51.100.7", "198.51.100.8", "2001:db8:1:2::7", "2001:db8:1:2::8", "::ffff:203.0.113.9", "64:ff9b::192.0.2.33", "2002:c633:6407::1"}
	for _, f := range routeForms() {
		counts := map[bool][]clickstore.Uniqueness{}
		for _, front := range []bool{false, true} {
			e := newEnv(t, nil, 0)
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://example.com/", http.StatusFound)
			})
			h := f.build(t, e.tracker, next, func(r *http.Request) string { return chi.URLParam(r, "link") })
			if front {
				h = mask(h)
			}
			for round := range 2 {
				for i, a := range addrs {
					for _, l := range []string{"abc", "spring-sale"} {
						r := req("GET", f.path(l), netip.AddrPortFrom(netip.MustParseAddr(a), 5000).String(), firefox)
						assert.Equal(t, http.StatusFound, serve(h, r), "%s front=%v round %d addr %d", f.name, front, round, i)
					}
				}
			}
			for _, a := range e.sink.all() {
				counts[front] = append(counts[front], a.u)
				assert.False(t, a.click.RawAddr.IsValid(), "%s: no raw address in the sink", f.name)
				assert.Equal(t, a.click.Network, a.click.Network.Masked(), f.name)
			}
		}
		want := len(addrs) * 2
		assert.Len(t, counts[false], 2*want, f.name)
		assert.Equal(t, counts[false], counts[true], "%s: the same answers in both orders", f.name)
		for i, u := range counts[false] {
			exp := clickstore.Unique
			if i >= want {
				exp = clickstore.Repeat
			}
			assert.Equal(t, exp, u, fmt.Sprintf("%s: add %d", f.name, i))
		}
	}
}
