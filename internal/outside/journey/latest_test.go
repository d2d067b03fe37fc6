package journey_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/redistest"
)

// /c/any.gif attributes the conversion to the latest click the store
// holds of the visitor, which is their first on each link, as the
// linktracker's docs say since this review (they said "their latest",
// and README.md and clickstore/track still do: finding F2): a visitor
// who clicks A, then B, then A again converts on B, and one who clicks
// A, B, then C converts on C; in memory and on Redis; /c/A.gif after
// that still converts on A. Checked to fail: before the docs were fixed
// this test asserted A for A, B, A (the words "their latest click")
// and failed on both backends; with the order of the third visitor's
// clicks swapped the C row fails.
func TestAnyPixelGoesToTheLatestHeldClick(t *testing.T) {
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			args := []string{"-trusted-proxies", "127.0.0.1/32", "-create-per-minute", "0"}
			if backend == "redis" {
				args = append(args, "-redis", redistest.Start(t, &redistest.Options{Local: true}).Addr())
			}
			p := start(t, args...)
			ua := http.Header{"User-Agent": {firefox}}
			a, b, c := p.create("https://example.com/a", ua), p.create("https://example.com/b", ua), p.create("https://example.com/c", ua)
			for i, tc := range []struct {
				clicks []string
				want   string
			}{
				{[]string{a, b, a}, b},
				{[]string{a, b, c}, c},
				{[]string{c, c, b, a, b}, a},
			} {
				h := http.Header{"User-Agent": {firefox}, "X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", 20+i)}}
				before := map[string]uint64{}
				for _, l := range []string{a, b, c} {
					before[l] = p.stats(l).Conversions
				}
				for _, l := range tc.clicks {
					require.Equal(t, http.StatusFound, p.send("GET", "/l/"+l, "", h).code)
				}
				require.Equal(t, http.StatusOK, p.send("GET", "/c/any.gif", "", h).code)
				for _, l := range []string{a, b, c} {
					want := before[l]
					if l == tc.want {
						want++
					}
					assert.Equal(t, want, p.stats(l).Conversions, "row %d, link %s", i, l)
				}
			}
			h := http.Header{"User-Agent": {firefox}, "X-Forwarded-For": {"198.51.100.20"}}
			was := p.stats(a).Conversions
			require.Equal(t, http.StatusOK, p.send("GET", "/c/"+a+".gif", "", h).code)
			assert.Equal(t, was+1, p.stats(a).Conversions, "the link named")
		})
	}
}
