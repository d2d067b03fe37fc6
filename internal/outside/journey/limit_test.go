package journey_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The per-network creation limit across its window: with
// -create-per-minute N a network (/24, /48) creates at least N links at
// once, whatever form its addresses take, is then refused with 429 and
// Retry-After (the answer repeating nothing of the request), while other
// networks are not; and it may create again once the window moves on
// (here N = 120, one link every half second), without a restart. Checked
// to fail: with -create-per-minute 0 no 429 came within 400 tries; with
// the refill made 100 times slower (a fixed window of 100 minutes) the
// recovery timed out.
func TestCreationLimitAcrossItsWindow(t *testing.T) {
	const perMinute = 120
	p := start(t, "-trusted-proxies", "127.0.0.1/32", "-create-per-minute", fmt.Sprint(perMinute))
	body := `{"url":"https://example.com/limit"}`
	forms := func(i int) string {
		switch i % 3 {
		case 0:
			return fmt.Sprintf("198.51.100.%d", i%250+1)
		case 1:
			return fmt.Sprintf("::ffff:198.51.100.%d", i%250+1)
		}
		return fmt.Sprintf("::ffff:c633:64%02x", i%250+1)
	}
	h := func(xff string) http.Header {
		return http.Header{"User-Agent": {firefox}, "X-Forwarded-For": {xff}}
	}
	created := 0
	refused := false
	for i := range 400 {
		a := p.send("POST", "/api/links", body, h(forms(i)))
		if a.code == http.StatusTooManyRequests {
			assert.Equal(t, "60", a.header.Get("Retry-After"))
			assert.NotContains(t, a.body, "198.51.100")
			assert.NotContains(t, a.body, "example.com")
			refused = true
			break
		}
		require.Equal(t, http.StatusCreated, a.code, a.body)
		created++
	}
	require.True(t, refused, "no 429 in 400 creations from one network")
	assert.GreaterOrEqual(t, created, perMinute, "a network creates at least -create-per-minute links at once")
	for _, other := range []string{"198.51.101.1", "2001:db8:9::1"} {
		assert.Equal(t, http.StatusCreated, p.send("POST", "/api/links", body, h(other)).code, "another network: %s", other)
	}
	p.Eventually("the network may create again", func() bool {
		return p.send("POST", "/api/links", body, h("198.51.100.77")).code == http.StatusCreated
	})
}
