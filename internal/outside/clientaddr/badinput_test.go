package clientaddr_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// badAddrs are the addresses the bad inputs below carry.
var badAddrs = []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8:1:2::7")}

// checkErr holds err to the package doc's rule: it starts with the
// package name and holds none of the addresses the input carried, in any
// spelling, also printed with %+v and %#v.
func checkErr(t *testing.T, what string, err error) {
	t.Helper()
	if !assert.Error(t, err, what) {
		return
	}
	assert.True(t, strings.HasPrefix(err.Error(), "clientip: "), "%s: %q", what, err)
	assert.Less(t, len(err.Error()), 512, what)
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		for _, a := range badAddrs {
			if run, ok := findAddr(text, a); ok {
				assert.Fail(t, "error echoes its input", "%s: %q holds %q", what, text, run)
			}
		}
	}
}

// TestStrategyArgumentsRefused feeds the strategy constructors what a
// configuration file can hold: hop counts out of range (negative, zero,
// past MaxHops, past int32), header names that are empty, start with a
// digit, hold an underscore, whitespace, a colon, a control character or
// non-ASCII, spell an address, are a megabyte long, or name a list header
// in any case; a nil Trusted; a strategy after RemoteAddr. New refuses
// each, with an error that names the package and echoes nothing, and no
// call panics; the strategy's String never prints the name it refused.
// Checked to fail: with a valid count or name in a row, New accepts it.
func TestStrategyArgumentsRefused(t *testing.T) {
	tr, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	for _, n := range []int{math.MinInt, -1, 0, clientip.MaxHops + 1, 1 << 31, 1<<32 + 2, math.MaxInt} {
		s := clientip.TrustedHops(tr, n)
		_, err := clientip.New(s)
		checkErr(t, fmt.Sprintf("TrustedHops(%d)", n), err)
		if n != 0 {
			assert.NotContains(t, s.String(), fmt.Sprint(n), "the count it refused")
		}
	}
	for _, n := range []int{1, clientip.MaxHops} {
		_, err := clientip.New(clientip.TrustedHops(tr, n))
		assert.NoError(t, err, "TrustedHops(%d)", n)
	}
	names := map[string]string{
		"empty": "", "digit first": "1-Real-Ip", "underscore": "X_Real_IP", "space": "X-Real-IP ", "colon": "X-Real-IP:",
		"control": "X-Real\x00IP", "crlf": "X-Real-IP\r\nX-Evil: 1", "non-ascii": "X-Réal-IP", "ipv4": badAddrs[0].String(),
		"ipv4 dashed": "ip-198-51-100-7", "ipv6": badAddrs[1].String(), "hyphen first": "-X-Real-IP",
		"xff lower": "x-forwarded-for", "xff upper": "X-FORWARDED-FOR", "forwarded": "forwarded", "forwarded mixed": "ForWarded",
	}
	for what, name := range names {
		s := clientip.SingleHeader(tr, name)
		_, err := clientip.New(s)
		if what == "ipv4 dashed" {
			// A valid header name: letters, digits and hyphens. It does
			// not spell an address in the forms the package looks for.
			assert.NoError(t, err, what)
			continue
		}
		checkErr(t, "SingleHeader "+what, err)
		str := s.String()
		assert.Less(t, len(str), 64, "%s: String %q", what, str)
		for _, a := range badAddrs {
			_, found := findAddr(str, a)
			assert.False(t, found, "%s: String %q", what, str)
		}
	}
	_, err = clientip.New(clientip.SingleHeader(tr, "x-real-ip"))
	assert.NoError(t, err, "a valid name in another case")
	for what, ss := range map[string][]clientip.Strategy{
		"nil trusted xff":       {clientip.RightmostUntrusted(nil)},
		"nil trusted hops":      {clientip.TrustedHops(nil, 1)},
		"nil trusted single":    {clientip.SingleHeader(nil, "X-Real-IP")},
		"nil trusted forwarded": {clientip.Forwarded(nil)},
		"after RemoteAddr":      {clientip.RemoteAddr(), clientip.RightmostUntrusted(tr)},
		"RemoteAddr twice":      {clientip.RemoteAddr(), clientip.RemoteAddr()},
		"late nil":              {clientip.Forwarded(tr), clientip.SingleHeader(tr, "X-Real-IP"), clientip.RightmostUntrusted(nil)},
	} {
		r, err := clientip.New(ss...)
		checkErr(t, what, err)
		assert.Nil(t, r, what)
	}
}

// TestTrustedArgumentsRefused feeds NewTrusted, NewTrustedPrefixes and
// Update the prefixes a configuration can hold wrongly: the zero Prefix,
// bits out of range, bits set after the length, a /0 in every spelling
// (also the IPv4-mapped ::ffff:0:0/96, which is the IPv4 /0), a zone, and
// text that is not a prefix (with an address in it). Each is refused with
// an error naming its position and echoing nothing; Update leaves the set
// as it was. An IPv4-mapped prefix is the IPv4 prefix it maps. Checked to
// fail: with a valid prefix in a row, it is accepted.
func TestTrustedArgumentsRefused(t *testing.T) {
	a4, a6 := badAddrs[0], badAddrs[1]
	for what, p := range map[string]netip.Prefix{
		"zero":            {},
		"bits past 32":    netip.PrefixFrom(a4, 33),
		"negative bits":   netip.PrefixFrom(a4, -1),
		"bits past 128":   netip.PrefixFrom(a6, 129),
		"host bits":       netip.PrefixFrom(a4, 24),
		"host bits v6":    netip.PrefixFrom(a6, 48),
		"v4 /0":           netip.MustParsePrefix("0.0.0.0/0"),
		"v6 /0":           netip.MustParsePrefix("::/0"),
		"mapped /0":       netip.MustParsePrefix("::ffff:0:0/96"),
		"mapped host bit": netip.PrefixFrom(netip.AddrFrom16(a4.As16()), 120),
	} {
		tr, err := clientip.NewTrustedPrefixes(netip.MustParsePrefix("10.0.0.0/8"), p)
		checkErr(t, "NewTrustedPrefixes "+what, err)
		assert.Nil(t, tr, what)
		if err != nil {
			assert.Contains(t, err.Error(), "2", "%s: names the entry by position", what)
		}
	}
	for what, s := range map[string]string{
		"empty": "", "host bits": "198.51.100.7/24", "v4 /0": "0.0.0.0/0", "v6 /0": "::/0", "mapped /0": "::ffff:0.0.0.0/96",
		"zone": "2001:db8:1:2::7%eth0", "zone prefix": "fe80::%eth0/64", "port": "198.51.100.7:80", "brackets": "[2001:db8:1:2::7]",
		"range": "198.51.100.7-198.51.100.9", "leading zeros": "198.051.100.007", "bits text": "198.51.100.7/x", "space": " 198.51.100.7",
		"bits past": "198.51.100.7/33",
	} {
		tr, err := clientip.NewTrusted("10.0.0.0/8", s)
		checkErr(t, "NewTrusted "+what, err)
		assert.Nil(t, tr, what)
		good, err := clientip.NewTrusted("10.0.0.0/8")
		require.NoError(t, err)
		checkErr(t, "Update "+what, good.Update("192.0.2.0/24", s))
		assert.True(t, good.Contains(netip.MustParseAddr("10.1.2.3")), "%s: Update left the set as it was", what)
		assert.False(t, good.Contains(netip.MustParseAddr("192.0.2.1")), "%s: Update left the set as it was", what)
	}

	mapped, err := clientip.NewTrustedPrefixes(netip.MustParsePrefix("::ffff:10.0.0.0/104"))
	require.NoError(t, err)
	for _, a := range []string{"10.1.2.3", "::ffff:10.1.2.3", "::FFFF:10.255.255.255"} {
		assert.True(t, mapped.Contains(netip.MustParseAddr(a)), a)
	}
	for _, a := range []string{"11.0.0.1", "::10.1.2.3", "64:ff9b::10.1.2.3", "2002:a01:203::1"} {
		assert.False(t, mapped.Contains(netip.MustParseAddr(a)), "%s carries 10.1.2.3 but is not it", a)
	}

	// A nil and a zero Trusted.
	var nilT *clientip.Trusted
	assert.False(t, nilT.Contains(a4))
	assert.NotNil(t, nilT.IPSet())
	nilT.Store(nil)
	checkErr(t, "nil Update", nilT.Update("10.0.0.0/8"))
	zero := new(clientip.Trusted)
	assert.False(t, zero.Contains(a4))
	assert.False(t, zero.Contains(netip.Addr{}))
	require.NoError(t, zero.Update("198.51.100.0/24"))
	assert.True(t, zero.Contains(a4))
	assert.True(t, zero.Contains(a4.WithZone("")), "zone dropped")
	assert.True(t, zero.Contains(netip.AddrFrom16(a4.As16())), "mapped")
	zero.Store(nil)
	assert.False(t, zero.Contains(a4), "Store(nil) empties the set")
}

// TestOtherFunctionsOnBadInput calls the rest of the API with what it may
// get wrong: a nil and a zero Resolver, a nil request, a nil and a
// foreign context, invalid Failure and Outcome values, a nil next
// handler, and slices the caller then modifies. Nothing panics; errors
// name the package and wrap ErrNoAddr where the doc says.
func TestOtherFunctionsOnBadInput(t *testing.T) {
	var nilR *clientip.Resolver
	a, err := nilR.Resolve(http.Header{"X-Forwarded-For": {"203.0.113.9"}}, "198.51.100.7:1")
	require.NoError(t, err)
	assert.Equal(t, badAddrs[0], a, "a nil Resolver reads RemoteAddr alone")
	assert.Equal(t, clientip.Stats{}, nilR.Stats())
	assert.Equal(t, []clientip.Strategy{clientip.RemoteAddr()}, nilR.Strategies())
	_, err = nilR.ResolveRequest(nil)
	checkErr(t, "ResolveRequest(nil)", err)
	assert.ErrorIs(t, err, clientip.ErrNoAddr)
	zs, err := clientip.New(clientip.Strategy{})
	require.NoError(t, err)
	a, err = zs.Resolve(http.Header{"X-Forwarded-For": {"203.0.113.9"}}, "198.51.100.7:1")
	require.NoError(t, err)
	assert.Equal(t, badAddrs[0], a, "the zero Strategy is RemoteAddr")
	assert.Equal(t, "remote-addr", clientip.Strategy{}.String())
	var zeroR clientip.Resolver
	a, err = zeroR.Resolve(nil, "[2001:db8:1:2::7%eth0]:1")
	require.NoError(t, err)
	assert.Equal(t, badAddrs[1], a, "the zero Resolver reads RemoteAddr alone, zone dropped")
	assert.Equal(t, clientip.Stats{Peer: 1}, zeroR.Stats())

	tr, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	r, err := clientip.New(clientip.RightmostUntrusted(tr), clientip.RemoteAddr())
	require.NoError(t, err)
	got := r.Strategies()
	got[0] = clientip.RemoteAddr()
	a, err = r.Resolve(http.Header{"X-Forwarded-For": {"198.51.100.7"}}, "10.0.0.1:1")
	require.NoError(t, err)
	assert.Equal(t, badAddrs[0], a, "modifying Strategies' result changes nothing")

	headers := clientip.ClientAddrHeaders()
	// The README's figure: X-Forwarded-For, Forwarded, X-Real-IP,
	// CF-Connecting-IP, True-Client-IP, Fastly-Client-IP "and 30 more",
	// "36 in all", in canonical form, each once.
	assert.Len(t, headers, 36)
	once := map[string]bool{}
	for _, h := range headers {
		assert.Equal(t, canonical(h), h)
		assert.False(t, once[h], "%s twice", h)
		once[h] = true
	}
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-IP", "CF-Connecting-IP", "True-Client-IP", "Fastly-Client-IP"} {
		assert.True(t, once[canonical(h)], h)
	}
	want := append([]string(nil), headers...)
	for i := range headers {
		headers[i] = "X-Nothing"
	}
	assert.Equal(t, want, clientip.ClientAddrHeaders(), "modifying ClientAddrHeaders' result changes nothing")

	for _, f := range []clientip.Failure{3, 4, 255} {
		_, err := clientip.NewMiddleware(r, ipmask.Default, &clientip.MiddlewareOptions{OnFailure: f})
		checkErr(t, fmt.Sprintf("OnFailure %d", f), err)
		assert.Equal(t, fmt.Sprintf("Failure(%d)", f), f.String())
	}
	assert.Equal(t, "Outcome(9)", clientip.Outcome(9).String())
	assert.Equal(t, "none", clientip.Outcome(0).String())

	opts := &clientip.MiddlewareOptions{OnFailure: clientip.Continue}
	mw, err := clientip.NewMiddleware(nil, ipmask.Policy{}, opts)
	require.NoError(t, err)
	assert.Equal(t, clientip.MiddlewareOptions{OnFailure: clientip.Continue}, *opts, "the caller's options are not modified")
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "198.51.100.7:1"
	mw(nil).ServeHTTP(w, req)
	assert.Equal(t, http.StatusNotFound, w.Code, "a nil next handler is NotFound")
	assert.Equal(t, "0.0.0.0:1", req.RemoteAddr, "the zero Policy keeps no bits")

	_, ok := clientip.FromContext(nil) //nolint:staticcheck // a nil context is the input under test
	assert.False(t, ok)
	_, ok = clientip.FromContext(context.Background())
	assert.False(t, ok)
	_, err = clientip.KeyFunc(nil)
	checkErr(t, "KeyFunc(nil)", err)
	assert.ErrorIs(t, err, clientip.ErrNoAddr)
	_, err = clientip.KeyFunc(httptest.NewRequest(http.MethodGet, "/", nil))
	checkErr(t, "KeyFunc without the middleware", err)
	assert.ErrorIs(t, err, clientip.ErrNoAddr)

	// NewContext: what tests of handlers use; printing the context prints
	// no address, whatever the Info holds.
	raw := badAddrs[1]
	info := clientip.Info{Addr: ipmask.Default.Mask(raw), Prefix: ipmask.Default.Prefix(raw), Outcome: clientip.Resolved, Raw: raw, Err: errors.New("x")}
	ctx := clientip.NewContext(nil, info) //nolint:staticcheck // a nil context is the input under test
	back, ok := clientip.FromContext(ctx)
	require.True(t, ok)
	assert.Equal(t, info, back)
	ctx = context.WithValue(ctx, struct{ k int }{1}, "v")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		text := fmt.Sprintf(verb, ctx)
		_, found := findAddr(text, raw)
		assert.False(t, found, "%s of a NewContext context: %s", verb, text)
	}
}
