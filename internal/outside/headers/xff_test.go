package headers_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/clickanon/clickanon/ipmask/clientip"
)

// xffEntry writes a as proxies write it in X-Forwarded-For, in the forms
// the package doc accepts: IPv4 alone or with a port, IPv4-mapped in every
// spelling (dotted or hex, compressed or not, bracketed with a port); IPv6
// in either case, compressed or expanded, bracketed with or without a port.
func xffEntry(r *rand.Rand, a netip.Addr) string {
	if a.Is4() {
		m := netip.AddrFrom16(a.As16())
		return pick(r,
			a.String(), a.String()+":"+port(r),
			"::ffff:"+a.String(), "::FFFF:"+a.String(), "0:0:0:0:0:ffff:"+a.String(),
			"[::ffff:"+a.String()+"]", "[::ffff:"+a.String()+"]:"+port(r),
			m.StringExpanded(), strings.ToUpper(m.StringExpanded()), "["+m.StringExpanded()+"]:"+port(r),
			fmt.Sprintf("::ffff:%x:%x", uint16(a.As4()[0])<<8|uint16(a.As4()[1]), uint16(a.As4()[2])<<8|uint16(a.As4()[3])),
		)
	}
	s := pick(r, a.String(), strings.ToUpper(a.String()), a.StringExpanded())
	return pick(r, s, "["+s+"]", "["+s+"]:"+port(r))
}

// xffLines joins entries into X-Forwarded-For lines as proxies do, with
// empty entries, a leading or trailing comma, spaces and tabs around the
// commas, and any number of lines.
func xffLines(r *rand.Rand, entries []string) []string {
	var lines []string
	var cur strings.Builder
	for i, e := range entries {
		if i > 0 && r.IntN(3) == 0 {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteString(ows(r) + pick(r, ",", ",", ",,", ", ,", ",\t,") + ows(r))
		}
		cur.WriteString(e)
	}
	lines = append(lines, cur.String())
	for i := range lines {
		if r.IntN(5) == 0 {
			lines[i] = pick(r, ",", " ,", "\t, ") + lines[i]
		}
		if r.IntN(5) == 0 {
			lines[i] += pick(r, ",", ", ", ",\t", " ,, ")
		}
	}
	return lines
}

// xffChain is what the service receives: forged entries, the client as
// the first proxy saw it, then each further proxy; and the hop count.
func xffChain(r *rand.Rand, client netip.Addr) (entries []string, hops int) {
	for range r.IntN(3) {
		entries = append(entries, xffEntry(r, randClient(r)))
	}
	entries = append(entries, xffEntry(r, client))
	hops = 1 + r.IntN(4)
	for range hops - 1 {
		entries = append(entries, xffEntry(r, randProxy(r)))
	}
	return entries, hops
}

// TestXFFEntryForms: whatever form the proxies' entries take among those
// the package doc accepts, and however the list is laid out (empty
// entries, a trailing comma, tabs, several lines), RightmostUntrusted and
// TrustedHops with the right count answer exactly the client, unmapped.
func TestXFFEntryForms(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 7))
	tr := trusted(t)
	ru := resolver(t, clientip.RightmostUntrusted(tr))
	for i := range 3000 {
		client := randClient(r)
		entries, hops := xffChain(r, client)
		lines := xffLines(r, entries)
		h := http.Header{"X-Forwarded-For": lines}
		p := peer(r, randProxy(r))
		what := fmt.Sprintf("case %d: %q", i, lines)
		a, err := ru.Resolve(h, p)
		if !assert.NoError(t, err, what) || !assert.Equal(t, client, a, what) {
			return
		}
		a, err = resolver(t, clientip.TrustedHops(tr, hops)).Resolve(h, p)
		if !assert.NoError(t, err, "hops=%d %s", hops, what) || !assert.Equal(t, client, a, "hops=%d %s", hops, what) {
			return
		}
	}
}

// refusedEntry is a form the package doc says the walk refuses, built
// around a: a zone, leading zeros, the unspecified address, IPv4 in
// brackets, quotes, text after the address, a bad port, two ports,
// control and obs-text bytes, an IPv6 address whose brackets do not close,
// and an entry longer than any address.
func refusedEntry(r *rand.Rand, a netip.Addr) string {
	s := a.String()
	if a.Is4() {
		b := a.As4()
		return pick(r,
			fmt.Sprintf("%d.%d.%d.0%d", b[0], b[1], b[2], b[3]), fmt.Sprintf("0%d.%d.%d.%d", b[0], b[1], b[2], b[3]),
			"["+s+"]", "["+s+"]:80", `"`+s+`"`, s+" x", s+"x", s+":99999", s+":80:80", s+":", s+"\x00", s+"\r",
			"\xff"+s, s+"\x7f", "0.0.0.0", "0.0.0.0:80", "::ffff:0.0.0.0", s+"%eth0", "::ffff:"+s+"%1",
			s+strings.Repeat(" ", 60)+"x", "for="+s, "unknown", "_hidden",
		)
	}
	return pick(r, s+"%eth0", "["+s+"%25eth0]:443", "["+s, s+"]", "["+s+"]x", `"`+s+`"`, "::", "[::]:80",
		s+"\x00", "["+s+"]:99999", strings.Repeat("0", 50)+s)
}

// TestXFFRefusedAtTheWalkPoint: when the entry the walk reaches is in a
// refused form, both X-Forwarded-For strategies fail closed with
// ErrMalformed; they never skip it to answer an address further left,
// which the client wrote.
func TestXFFRefusedAtTheWalkPoint(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 8))
	tr := trusted(t)
	ru := resolver(t, clientip.RightmostUntrusted(tr))
	for i := range 3000 {
		client := randClient(r)
		entries, hops := xffChain(r, client)
		entries[len(entries)-hops] = refusedEntry(r, client)
		lines := xffLines(r, entries)
		h := http.Header{"X-Forwarded-For": lines}
		p := peer(r, randProxy(r))
		what := fmt.Sprintf("case %d: %q", i, lines)
		a, err := ru.Resolve(h, p)
		if !assert.ErrorIs(t, err, clientip.ErrMalformed, "%s answered %v", what, a) {
			return
		}
		a, err = resolver(t, clientip.TrustedHops(tr, hops)).Resolve(h, p)
		if !assert.ErrorIs(t, err, clientip.ErrMalformed, "hops=%d %s answered %v", hops, what, a) {
			return
		}
	}
}

// TestTrustedHopsPastTheChain: a hop count larger than the entries the
// header holds (empty ones do not count as hops) is ErrMalformed, never
// the leftmost entry, for every count up to MaxHops.
func TestTrustedHopsPastTheChain(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 9))
	tr := trusted(t)
	for i := range 300 {
		n := 1 + r.IntN(6)
		var entries []string
		for range n {
			entries = append(entries, xffEntry(r, randClient(r)))
		}
		lines := xffLines(r, entries)
		for hops := n + 1; hops <= clientip.MaxHops; hops++ {
			a, err := resolver(t, clientip.TrustedHops(tr, hops)).Resolve(http.Header{"X-Forwarded-For": lines}, peer(r, randProxy(r)))
			if !assert.ErrorIs(t, err, clientip.ErrMalformed, "case %d hops=%d: %q answered %v", i, hops, lines, a) {
				return
			}
		}
	}
}
