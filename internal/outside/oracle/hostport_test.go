package oracle_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask/logmask"
)

// TestUnbracketedHostPortBeforeMessage writes IPv6 addresses with an
// unbracketed :port, as Java 8's InetSocketAddress and C programs'
// "%s:%d" write them, followed by what comes after a host and port in
// logs: a colon and a message ("2001:db8:a:b:0:0:0:2:54321: connection
// refused"), a space, a slash, a comma. The documentation: "an IPv6
// address written with an unbracketed :port is masked as well". So the
// output must hold the masked address (the port kept after it or dropped
// with it, or, where the whole text parses as IPv6, that address masked),
// the text after it unchanged, and nothing of the address the policy
// does not keep. Checked to fail: FINDING F3 (before its fix, every such
// address with a port of five digits and a colon after it came through
// whole).
func TestUnbracketedHostPortBeforeMessage(t *testing.T) {
	for _, p := range policies(t)[:5] {
		m, err := logmask.NewMasker(p, nil)
		require.NoError(t, err)
		r := rand.New(rand.NewPCG(uint64(p.IPv6Bits()), 3))
		fails := 0
		for range 3000 {
			a := pub6(r)
			var text string
			switch r.IntN(3) {
			case 0:
				text = a.String()
			case 1:
				text = full(a)
			default:
				text = nozero(a)
			}
			port := fmt.Sprint(1 + r.IntN(65535))
			pre := []string{"", " ", "/", "host/", "(", "\"", "é", "from "}[r.IntN(8)]
			post := []string{": connection refused", ":", ": ", " ", "/x", ",", "\n"}[r.IntN(7)]
			in := pre + text + ":" + port + post
			out := m.MaskString(in)
			ok := assert.True(t, strings.HasPrefix(out, pre) && strings.HasSuffix(out, post), "%v: %q -> %q", p, in, out)
			if ok {
				tok := out[len(pre) : len(out)-len(post)]
				good := func(s string, want netip.Addr) bool {
					x, err := netip.ParseAddr(s)
					return err == nil && x == want
				}
				whole, wholeErr := netip.ParseAddr(text + ":" + port)
				ok = good(tok, p.Mask(a)) ||
					strings.HasSuffix(tok, ":"+port) && good(strings.TrimSuffix(tok, ":"+port), p.Mask(a)) ||
					wholeErr == nil && good(tok, p.Mask(whole))
				ok = assert.True(t, ok, "%v: %q -> %q", p, in, out) && ok
			}
			if !p.IsMasked(a) {
				ok = assert.NotContains(t, out, text, "%v: %q", p, in) && ok
			}
			for match := range logmask.Addrs([]byte(out)) {
				ok = assert.True(t, p.IsMasked(match.Addr), "%v: %q -> %q holds %v", p, in, out, match.Addr) && ok
			}
			if !ok {
				if fails++; fails > 5 {
					t.FailNow()
				}
			}
		}
	}
}
