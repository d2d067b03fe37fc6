// Both orders of the clientip masking middleware and the tracker count
// three visitors of one /24 as three: the middleware hands the full client
// address on through internal/reqctx.

package track_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// With the real clientip middleware, in front of the tracker or behind it,
// three visitors of one /24 are three unique clicks.
func TestClientipMiddlewareEitherOrder(t *testing.T) {
	mask, err := clientip.NewMiddleware(nil, ipmask.Default, nil)
	require.NoError(t, err)
	for _, outside := range []bool{true, false} {
		t.Run(map[bool]string{true: "clientip outside", false: "clientip inside"}[outside], func(t *testing.T) {
			e := newTrackEnv(t, nil)
			mux := http.NewServeMux()
			var h http.Handler = mux
			if outside {
				mux.Handle("GET /go/{link}", e.tracker.Handler(http.HandlerFunc(redirect)))
				h = mask(mux)
			} else {
				mux.Handle("GET /go/{link}", e.tracker.Handler(mask(http.HandlerFunc(redirect))))
			}
			for _, remote := range []string{"203.0.113.9:1", "203.0.113.10:1", "203.0.113.11:1", "203.0.113.9:2"} {
				require.Equal(t, http.StatusFound, get(h, "/go/spring-sale", remote, firefox))
			}
			var got []clickstore.Uniqueness
			for _, a := range e.sink.all() {
				got = append(got, a.U)
			}
			assert.Equal(t, []clickstore.Uniqueness{clickstore.Unique, clickstore.Unique, clickstore.Unique, clickstore.Repeat}, got)
			assert.Zero(t, e.tracker.Stats().MaskedAddrs)
		})
	}
}
