package clientaddr_test

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask/clientip"
)

// trustConfig is one way a service tells the resolver which proxies it
// trusts, with the ranges its proxies' addresses are drawn from.
type trustConfig struct {
	name    string
	build   func(t *testing.T) *clientip.Trusted
	proxies []netip.Prefix
}

// trustConfigs are the ways the README and the package doc offer: CIDR
// strings, single addresses, parsed prefixes (also IPv4-mapped ones, which
// are read as the IPv4 prefix they map), and a set filled at run time.
func trustConfigs() []trustConfig {
	return []trustConfig{
		{
			name: "cidr strings",
			build: func(t *testing.T) *clientip.Trusted {
				tr, err := clientip.NewTrusted("10.0.0.0/8", "fd00::/8")
				require.NoError(t, err)
				return tr
			},
			proxies: prefixes("10.0.0.0/8", "fd00::/8"),
		},
		{
			name: "single addresses",
			build: func(t *testing.T) *clientip.Trusted {
				tr, err := clientip.NewTrusted("192.0.2.10", "192.0.2.11", "2001:db8:ffff::1")
				require.NoError(t, err)
				return tr
			},
			proxies: prefixes("192.0.2.10/32", "192.0.2.11/32", "2001:db8:ffff::1/128"),
		},
		{
			name: "mapped prefixes",
			build: func(t *testing.T) *clientip.Trusted {
				tr, err := clientip.NewTrustedPrefixes(netip.MustParsePrefix("::ffff:172.16.0.0/108"), netip.MustParsePrefix("2001:db8:ffff::/48"))
				require.NoError(t, err)
				return tr
			},
			proxies: prefixes("172.16.0.0/12", "2001:db8:ffff::/48"),
		},
		{
			name: "updated at run time",
			build: func(t *testing.T) *clientip.Trusted {
				tr, err := clientip.NewTrusted()
				require.NoError(t, err)
				require.NoError(t, tr.Update("100.64.0.0/10", "fc00::/7"))
				return tr
			},
			proxies: prefixes("100.64.0.0/10", "fc00::/7"),
		},
	}
}

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

// randIn returns a random address in p.
func randIn(r *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	if p.Addr().Is4() {
		b = netip.AddrFrom4(p.Addr().As4()).As16()
	}
	off := 0
	if p.Addr().Is4() {
		off = 96
	}
	for i := off + p.Bits(); i < 128; i++ {
		if r.IntN(2) == 1 {
			b[i/8] |= 1 << (7 - i%8)
		}
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		a = a.Unmap()
	}
	return a
}

// randAddr is a random address of one of the classes a client can have:
// any IPv4, any IPv6, an IPv4-mapped IPv6, a link-local or loopback one.
func randAddr(r *rand.Rand) netip.Addr {
	switch r.IntN(6) {
	case 0, 1:
		var b [4]byte
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return netip.AddrFrom4(b)
	case 2:
		var b [16]byte
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return netip.AddrFrom16(b)
	case 3:
		return randIn(r, netip.MustParsePrefix("2000::/3"))
	case 4:
		var b [4]byte
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return netip.AddrFrom16(netip.AddrFrom4(b).As16()) // ::ffff:a.b.c.d
	default:
		return randIn(r, []netip.Prefix{
			netip.MustParsePrefix("fe80::/64"), netip.MustParsePrefix("127.0.0.0/8"),
			netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32"),
		}[r.IntN(4)])
	}
}

// randClient is a random client address that is not a trusted proxy and
// is usable (not unspecified once unmapped).
func randClient(r *rand.Rand, tr *clientip.Trusted) netip.Addr {
	for {
		a := randAddr(r)
		if !tr.Contains(a) && !a.Unmap().IsUnspecified() {
			return a
		}
	}
}

func randProxy(r *rand.Rand, c trustConfig) netip.Addr {
	return randIn(r, c.proxies[r.IntN(len(c.proxies))])
}

func port(r *rand.Rand) string { return strconv.Itoa(1 + r.IntN(65535)) }

// xffEntry writes a as a proxy writes it in X-Forwarded-For: IPv4 alone or
// with a port, IPv6 alone, bracketed, with a port, upper case, expanded;
// an IPv4 address also IPv4-mapped.
func xffEntry(r *rand.Rand, a netip.Addr) string {
	if a.Is4() {
		switch r.IntN(5) {
		case 0:
			return a.String() + ":" + port(r)
		case 1:
			return "::ffff:" + a.String()
		case 2:
			return "[::ffff:" + a.String() + "]:" + port(r)
		default:
			return a.String()
		}
	}
	s := a.String()
	switch r.IntN(3) {
	case 1:
		s = strings.ToUpper(s)
	case 2:
		s = a.StringExpanded()
	}
	switch r.IntN(3) {
	case 0:
		return "[" + s + "]"
	case 1:
		return "[" + s + "]:" + port(r)
	}
	return s
}

// forwardedNode writes a as an RFC 7239 node value: an IPv4 address as a
// token or quoted, with a port or an obfuscated port; IPv6 bracketed and
// quoted, with or without a port.
func forwardedNode(r *rand.Rand, a netip.Addr) string {
	if a.Is4() {
		switch r.IntN(4) {
		case 0:
			return `"` + a.String() + `"`
		case 1:
			return `"` + a.String() + ":" + port(r) + `"`
		case 2:
			return `"` + a.String() + `:_p` + strconv.Itoa(r.IntN(9)) + `"`
		default:
			return a.String()
		}
	}
	s := a.String()
	if r.IntN(2) == 0 {
		s = strings.ToUpper(a.StringExpanded())
	}
	switch r.IntN(3) {
	case 0:
		return `"[` + s + `]:` + port(r) + `"`
	case 1:
		return `"[` + s + `]:_x"`
	}
	return `"[` + s + `]"`
}

// forwardedElement is the element a proxy that saw a appends: for= in any
// case, and other parameters in any order, a host holding a comma.
func forwardedElement(r *rand.Rand, a, self netip.Addr) string {
	pairs := []string{[]string{"for", "For", "FOR", "fOr"}[r.IntN(4)] + "=" + forwardedNode(r, a)}
	if r.IntN(2) == 0 {
		pairs = append(pairs, "proto="+[]string{"http", "https", `"https"`}[r.IntN(3)])
	}
	if r.IntN(2) == 0 {
		pairs = append(pairs, "By="+forwardedNode(r, self))
	}
	if r.IntN(3) == 0 {
		pairs = append(pairs, `host="example.com,evil"`)
	}
	r.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	return strings.Join(pairs, ";")
}

// appendList appends entry to the list header vv as one of the proxies in
// the wild does: joining every line and appending (Go's ReverseProxy,
// nginx's $proxy_add_x_forwarded_for), adding a line (HAProxy's
// http-request add-header), or appending to the last line.
func appendList(r *rand.Rand, vv []string, entry string) []string {
	if len(vv) == 0 {
		return []string{entry}
	}
	switch r.IntN(3) {
	case 0:
		return []string{strings.Join(vv, ", ") + ", " + entry}
	case 1:
		return append(vv, entry)
	}
	out := append([]string(nil), vv...)
	out[len(out)-1] += []string{",", ", ", " , ", ",\t"}[r.IntN(4)] + entry
	return out
}

// forgedPiece is one piece of what a client writes in a forwarding header
// to choose its address: addresses in every syntax (also trusted ones, to
// be skipped as proxies), RFC 7239 elements, quotes, unterminated and
// escaped, "unknown" and obfuscated nodes, empty elements, whitespace,
// zones, leading zeros, the unspecified address, random bytes, and long
// runs of entries.
func forgedPiece(r *rand.Rand, c trustConfig) string {
	a := randAddr(r)
	switch r.IntN(18) {
	case 0:
		return a.String()
	case 1:
		return xffEntry(r, a)
	case 2:
		return xffEntry(r, randProxy(r, c))
	case 3:
		return []string{"unknown", "UNKNOWN", "for=unknown", `for="unknown"`}[r.IntN(4)]
	case 4:
		return []string{"_hidden", `for=_x`, `for="_x.y-z"`, `for="[_x]"`}[r.IntN(4)]
	case 5:
		return "for=" + forwardedNode(r, a)
	case 6:
		return forwardedElement(r, a, randProxy(r, c))
	case 7:
		return `for="` + a.String() // unterminated
	case 8:
		return []string{`"`, `\"`, `\`, `"\"`, `for="a\",b"`, `"",""`}[r.IntN(6)]
	case 9:
		return ""
	case 10:
		return []string{" ", "\t", " \t ", ",,,", " , ,"}[r.IntN(5)]
	case 11:
		return []string{"0.0.0.0", "::", "[::]:80", "010.0.0.1", "198.051.100.007", "fe80::1%eth0", "[fe80::1%25eth0]:80", "::ffff:0.0.0.0"}[r.IntN(8)]
	case 12:
		b := make([]byte, 1+r.IntN(40))
		for i := range b {
			b[i] = byte(0x20 + r.IntN(0x5f))
		}
		return string(b)
	case 13:
		return `host="a,b";for=` + forwardedNode(r, a)
	case 14:
		var sb strings.Builder
		for range 1 + r.IntN(400) {
			sb.WriteString(xffEntry(r, randAddr(r)))
			sb.WriteString(", ")
		}
		return sb.String()
	case 15:
		return []string{"for=;proto=", "for", "=", ";", "for==1.2.3.4", "for=1.2.3.4;for=5.6.7.8"}[r.IntN(6)]
	case 16:
		return a.String() + ":" + port(r) + ":" + port(r)
	default:
		return "[" + a.String() + "]"
	}
}

// forgedValue joins pieces with the separators a hostile client uses.
func forgedValue(r *rand.Rand, c trustConfig) string {
	var sb strings.Builder
	for i := range 1 + r.IntN(5) {
		if i > 0 {
			sb.WriteString([]string{",", ", ", ";", " ", "", ",,"}[r.IntN(6)])
		}
		sb.WriteString(forgedPiece(r, c))
	}
	return sb.String()
}

// singleHeaders are the single-address headers the README names, which a
// SingleHeader strategy may read.
var singleHeaders = []string{"X-Real-IP", "CF-Connecting-IP", "True-Client-IP", "Fastly-Client-IP", "Fly-Client-IP", "CloudFront-Viewer-Address", "X-Client-IP"}

// forgedHeaders is what a hostile client sends: every forwarding header
// and every single-address header, some in several lines, and their
// twins spelt with underscores or in another case (which net/http keeps
// as other keys: a proxy that sets the canonical one leaves them).
func forgedHeaders(r *rand.Rand, c trustConfig) map[string][]string {
	h := map[string][]string{}
	names := append([]string{"X-Forwarded-For", "Forwarded"}, singleHeaders...)
	for _, n := range names {
		if r.IntN(4) == 0 {
			continue
		}
		key := n
		switch r.IntN(6) {
		case 0:
			key = strings.ReplaceAll(n, "-", "_")
		case 1:
			key = strings.ToLower(n)
		default:
			key = canonical(n)
		}
		for range 1 + r.IntN(3) {
			h[key] = append(h[key], forgedValue(r, c))
		}
	}
	return h
}

func canonical(n string) string {
	// As net/http canonicalizes a key (textproto.CanonicalMIMEHeaderKey).
	b := []byte(strings.ToLower(n))
	up := true
	for i, c := range b {
		if up && 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '-'
	}
	return string(b)
}
