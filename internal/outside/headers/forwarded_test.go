package headers_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask/clientip"
)

// ows is optional whitespace, as list recipients must accept it around
// commas (RFC 9110 section 5.6.1) and as proxies write it around ';'.
func ows(r *rand.Rand) string { return pick(r, "", "", " ", "\t", " \t", "  ") }

// node writes a as an RFC 7239 node value in one of the forms the
// Forwarded doc accepts: IPv4 as a token or quoted, with a port or an
// obfuscated port; IPv6 (also IPv4-mapped) bracketed and quoted, in any
// case, compressed or expanded, with or without a port.
func node(r *rand.Rand, a netip.Addr) string {
	if a.Is4() {
		switch r.IntN(5) {
		case 0:
			return `"` + a.String() + `:` + port(r) + `"`
		case 1:
			return `"` + a.String() + `:_` + pick(r, "x", "p-1", "A.b_c") + `"`
		case 2:
			return `"` + a.String() + `"`
		case 3:
			return `"[::ffff:` + a.String() + `]` + pick(r, "", ":"+port(r)) + `"`
		}
		return a.String()
	}
	s := pick(r, a.String(), a.StringExpanded(), strings.ToUpper(a.String()), strings.ToUpper(a.StringExpanded()))
	return `"[` + s + `]` + pick(r, "", ":"+port(r), ":_obf") + `"`
}

// hostValue is a Host a proxy copies into host=: a token, or a quoted
// string holding the commas, semicolons, equal signs and "for=" text the
// walk must not read as structure.
func hostValue(r *rand.Rand) string {
	return pick(r, "example.com", `"example.com:8443"`, `"a,b"`, `"a;b"`, `"x, for=6.6.6.6"`,
		`"x;for=6.6.6.6"`, `"for=[2001:db8::6]:1, for=6.6.6.6;by=1"`, `""`, `"=,;= "`)
}

// element is the element a proxy appends for the hop it saw, a: for= in
// any case, the other parameters (proto, by, host, an extension) in any
// order, quoted or not, with empty parameters, which RFC 7239's grammar
// allows ("for=a;;proto=b", ";for=a", "for=a;"), and optional whitespace
// around the separators.
func element(r *rand.Rand, a, self netip.Addr, empties bool) string {
	pairs := []string{pick(r, "for", "For", "FOR", "fOR") + "=" + node(r, a)}
	if r.IntN(2) == 0 {
		pairs = append(pairs, pick(r, "proto", "Proto", "PROTO")+"="+pick(r, "http", "https", `"https"`))
	}
	if r.IntN(2) == 0 {
		pairs = append(pairs, pick(r, "by", "BY")+"="+pick(r, node(r, self), `"_proxy1"`, "unknown"))
	}
	if r.IntN(2) == 0 {
		pairs = append(pairs, pick(r, "host", "Host")+"="+hostValue(r))
	}
	if r.IntN(3) == 0 {
		pairs = append(pairs, pick(r, "x-ext=1", `ext="q,q;q"`, "secret=_abc"))
	}
	if empties && r.IntN(2) == 0 {
		for range 1 + r.IntN(2) {
			pairs = append(pairs, "")
		}
	}
	r.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	var sb strings.Builder
	for i, p := range pairs {
		if i > 0 {
			sb.WriteString(ows(r) + ";" + ows(r))
		}
		sb.WriteString(p)
	}
	return sb.String()
}

// split joins elements into header lines as proxies do: all in one line,
// a line each, or anything between, with empty elements and optional
// whitespace around the commas.
func split(r *rand.Rand, elems []string) []string {
	var lines []string
	var cur strings.Builder
	for i, e := range elems {
		if i > 0 && r.IntN(3) == 0 {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteString(ows(r) + pick(r, ",", ",", ",,", ", ,") + ows(r))
		}
		cur.WriteString(e)
	}
	lines = append(lines, cur.String())
	for i := range lines {
		if r.IntN(6) == 0 {
			lines[i] = pick(r, ",", " , ") + lines[i]
		}
		if r.IntN(6) == 0 {
			lines[i] += pick(r, ",", ", ", ",\t")
		}
	}
	return lines
}

// forwardedChain is a Forwarded header as a client and the trusted
// proxies behind it write it: the client's own forged elements (for= any
// address), then the element of the first proxy, for the client, then
// one for each further proxy.
func forwardedChain(r *rand.Rand, client netip.Addr, empties bool) []string {
	var elems []string
	for range r.IntN(3) {
		elems = append(elems, "for="+node(r, randClient(r)))
	}
	prev := client
	for range 1 + r.IntN(4) {
		self := randProxy(r)
		elems = append(elems, element(r, prev, self, empties))
		prev = self
	}
	return elems
}

// TestForwardedElementForms: whatever form the proxies' elements take
// among those RFC 7239 and the Forwarded doc allow (parameter names in any
// case, parameters in any order, quoted values holding commas and
// semicolons, quoted IPv4 and bracketed IPv6 nodes with and without ports,
// obfuscated ports, empty elements, whitespace around the separators, any
// number of header lines), the answer is exactly the client.
func TestForwardedElementForms(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 3))
	res := resolver(t, clientip.Forwarded(trusted(t)))
	for i := range 3000 {
		client := randClient(r)
		lines := split(r, forwardedChain(r, client, false))
		a, err := res.Resolve(http.Header{"Forwarded": lines}, peer(r, randProxy(r)))
		if !assert.NoError(t, err, "case %d: %q", i, lines) || !assert.Equal(t, client, a, "case %d: %q", i, lines) {
			return
		}
	}
}

// TestForwardedEmptyParameters: RFC 7239 section 4 writes an element as
// [ forwarded-pair ] *( ";" [ forwarded-pair ] ), so an element may hold
// empty parameters ("for=192.0.2.1;", ";for=192.0.2.1",
// "for=192.0.2.1;;proto=http"); they say nothing, and a proxy's element
// with them still names the client.
func TestForwardedEmptyParameters(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	res := resolver(t, clientip.Forwarded(trusted(t)))
	for i := range 2000 {
		client := randClient(r)
		lines := split(r, forwardedChain(r, client, true))
		a, err := res.Resolve(http.Header{"Forwarded": lines}, peer(r, randProxy(r)))
		if !assert.NoError(t, err, "case %d: %q", i, lines) || !assert.Equal(t, client, a, "case %d: %q", i, lines) {
			return
		}
	}
}

// quoteRFC writes s as an RFC 9110 quoted-string, escaping '"' and '\'
// with a backslash, as a careful proxy copies a client's Host into host=.
func quoteRFC(s string) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			sb.WriteByte('\\')
		}
		sb.WriteByte(s[i])
	}
	sb.WriteByte('"')
	return sb.String()
}

// hostileHost is a Host a client sends to make a proxy's host= parameter
// look like more structure: quotes, escapes, commas, semicolons and for=
// of an address the client chose.
func hostileHost(r *rand.Rand, chosen netip.Addr) string {
	n := node(r, chosen)
	pieces := []string{`"`, `\`, `\"`, ",", ";", " ", "for=" + n, "for=" + chosen.String(), "x=", `"";`, chosen.String(), "a.example"}
	var sb strings.Builder
	for range 1 + r.IntN(8) {
		sb.WriteString(pick(r, pieces...))
	}
	return sb.String()
}

// TestForwardedQuotedClientText: the text a client controls inside a
// trusted proxy's element (its Host, copied into host= as an RFC 9110
// quoted string with backslash escapes, before or after for=) never makes
// the walk answer an address the client chose: the answer is the client,
// or ErrMalformed (the Forwarded doc refuses what is not a plain node). And
// when the Host holds no quote or backslash, nothing to escape, the answer
// is the client.
func TestForwardedQuotedClientText(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	res := resolver(t, clientip.Forwarded(trusted(t)))
	for i := range 5000 {
		client, chosen := randClient(r), randClient(r)
		host := hostileHost(r, chosen)
		pairs := []string{"for=" + node(r, client), "host=" + quoteRFC(host)}
		if r.IntN(2) == 0 {
			pairs[0], pairs[1] = pairs[1], pairs[0]
		}
		if r.IntN(2) == 0 {
			pairs = append(pairs, "proto=https")
		}
		elems := []string{strings.Join(pairs, ";")}
		for range r.IntN(3) {
			elems = append(elems, "for="+node(r, randProxy(r)))
		}
		h := http.Header{"Forwarded": {strings.Join(elems, ", ")}}
		a, err := res.Resolve(h, peer(r, randProxy(r)))
		what := fmt.Sprintf("case %d: %q", i, h["Forwarded"])
		if err != nil {
			if !assert.ErrorIs(t, err, clientip.ErrMalformed, what) {
				return
			}
			if !strings.ContainsAny(host, `"\`) {
				assert.Fail(t, "a Host with nothing to escape was refused", what)
				return
			}
			continue
		}
		if !assert.Equal(t, client, a, what) {
			return
		}
	}
}

// TestForwardedRefusedForms: the forms the Forwarded doc refuses, when
// the walk reaches them, end it with ErrMalformed, never with another
// address: an unquoted or unbracketed IPv6 node, "unknown" and obfuscated
// nodes in any case, a zone, leading zeros, the unspecified address, a
// bad port, two for= in one element, an element without for=, whitespace
// around '=', an unterminated quote, a quoted value with a backslash
// escape, control and obs-text bytes, an element longer than the walk
// reads.
func TestForwardedRefusedForms(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 6))
	res := resolver(t, clientip.Forwarded(trusted(t)))
	bad := func(c netip.Addr) []string {
		v6 := netip.MustParseAddr("2001:db8:1::" + fmt.Sprintf("%x", 1+r.IntN(0xfff0)))
		return []string{
			"for=[" + v6.String() + "]", `for="` + v6.String() + `"`, "for=" + v6.String(),
			pick(r, "for=unknown", `for="UNKNOWN"`, "FOR=Unknown", `for="unknown:80"`, "for=_hidden", `for="_h.i-d_e"`, `for="[_x]"`),
			`for="[fe80::1%25eth0]"`, `for="[fe80::1%eth0]:80"`,
			"for=" + strings.Replace(c.String(), ".", ".0", 1), `for="010.0.0.1"`,
			"for=0.0.0.0", `for="[::]"`, `for="[::ffff:0.0.0.0]"`,
			`for="` + c.String() + `:99999"`, `for="` + c.String() + `:-1"`, `for="` + c.String() + `:"`,
			"for=" + c.String() + ";for=" + c.String(), "FOR=" + c.String() + ";for=" + randClient(r).String(),
			"proto=https;by=" + c.String(), "by=" + c.String(),
			"for =" + c.String(), "for= " + c.String(), `for="` + c.String(),
			`for="\` + c.String() + `"`, `for="` + c.String() + `\"`,
			"for=" + c.String() + "\x00", "for=\"" + c.String() + "\r\"", "for=" + c.String() + "\xff",
			"for=" + c.String() + ";host=\"" + strings.Repeat("a", 600) + "\"",
		}
	}
	for i := range 300 {
		client := randClient(r)
		if !client.Is4() {
			client = netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + r.IntN(254))})
		}
		for _, e := range bad(client) {
			var elems []string
			elems = append(elems, "for="+node(r, randClient(r)), e)
			for range r.IntN(3) {
				elems = append(elems, "for="+node(r, randProxy(r)))
			}
			lines := split(r, elems)
			a, err := res.Resolve(http.Header{"Forwarded": lines}, peer(r, randProxy(r)))
			if !assert.ErrorIs(t, err, clientip.ErrMalformed, "case %d: %q answered %v", i, lines, a) {
				return
			}
			require.False(t, errors.Is(err, clientip.ErrNoAddr))
			assert.False(t, a.IsValid())
		}
	}
}

// TestForwardedElementLength: the package doc says the walk reads at most
// 512 bytes of a Forwarded element: a proxy's element that fits (a long
// host= or extension value included) names the client, one well past it
// is ErrMalformed, never another address; either way the element before
// it, the client's own, is never read.
func TestForwardedElementLength(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 17))
	res := resolver(t, clientip.Forwarded(trusted(t)))
	for i := range 2000 {
		client := randClient(r)
		pad := strings.Repeat(pick(r, "a", "b.", ",", ";", "x="), 1+r.IntN(700))
		elem := "for=" + node(r, client) + ";" + pick(r, "host", "ext") + `="` + pad + `"`
		if r.IntN(2) == 0 {
			elem = pick(r, "host", "ext") + `="` + pad + `";for=` + node(r, client)
		}
		lines := []string{"for=" + node(r, randClient(r)) + pick(r, ",", ", "), elem + ", for=" + node(r, randProxy(r))}
		if r.IntN(2) == 0 {
			lines = []string{lines[0] + lines[1]}
		}
		a, err := res.Resolve(http.Header{"Forwarded": lines}, peer(r, randProxy(r)))
		switch {
		case len(elem) <= 500:
			if !assert.NoError(t, err, "case %d: %d bytes", i, len(elem)) || !assert.Equal(t, client, a, "case %d", i) {
				return
			}
		case len(elem) >= 520:
			if !assert.ErrorIs(t, err, clientip.ErrMalformed, "case %d: %d bytes answered %v", i, len(elem), a) {
				return
			}
		}
	}
}
