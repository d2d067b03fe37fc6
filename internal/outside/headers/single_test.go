package headers_test

import (
	"fmt"
	"math/rand/v2"
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

// vendorHeaders are single-address headers of proxies and CDNs, as the
// SingleHeader doc and ClientAddrHeaders name them.
var vendorHeaders = []string{"X-Real-IP", "CF-Connecting-IP", "True-Client-IP", "Fastly-Client-IP",
	"Fly-Client-IP", "X-Azure-ClientIP", "X-Client-IP", "X-Cluster-Client-IP", "Incap-Client-IP", "EO-Connecting-IP"}

// oddCase spells name in random case, and sometimes all lower or upper.
func oddCase(r *rand.Rand, name string) string {
	switch r.IntN(3) {
	case 0:
		return strings.ToLower(name)
	case 1:
		return strings.ToUpper(name)
	}
	b := []byte(name)
	for i := range b {
		if r.IntN(2) == 0 {
			b[i] = []byte(strings.ToUpper(string(b[i])))[0]
		} else {
			b[i] = []byte(strings.ToLower(string(b[i])))[0]
		}
	}
	return string(b)
}

// singleValue writes a as a proxy sets a single-address header, in the
// forms the SingleHeader doc accepts (a port, brackets, IPv4-mapped), with
// optional whitespace around it.
func singleValue(r *rand.Rand, a netip.Addr) string {
	var s string
	if a.Is4() {
		s = pick(r, a.String(), a.String()+":"+port(r), "::ffff:"+a.String(), "[::ffff:"+a.String()+"]:"+port(r))
	} else {
		s = pick(r, a.String(), a.StringExpanded(), "["+a.String()+"]", "["+strings.ToUpper(a.String())+"]:"+port(r))
	}
	return pick(r, "", " ", "\t") + s + pick(r, "", " ", "\t")
}

// TestSingleHeaderForms: a SingleHeader strategy built with its header's
// name in any case reads the header net/http stores under the canonical
// name and answers the client in every accepted form; from a peer that is
// not trusted it answers ErrUntrusted, whatever the header holds.
func TestSingleHeaderForms(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 10))
	tr := trusted(t)
	for i := range 2000 {
		name := pick(r, vendorHeaders...)
		res := resolver(t, clientip.SingleHeader(tr, oddCase(r, name)))
		client := randClient(r)
		h := http.Header{}
		h.Set(name, singleValue(r, client))
		what := fmt.Sprintf("case %d: %s: %q", i, name, h.Values(name))
		a, err := res.Resolve(h, peer(r, randProxy(r)))
		if !assert.NoError(t, err, what) || !assert.Equal(t, client, a, what) {
			return
		}
		a, err = res.Resolve(h, peer(r, randClient(r)))
		if !assert.ErrorIs(t, err, clientip.ErrUntrusted, "%s from an untrusted peer answered %v", what, a) {
			return
		}
	}
}

// TestSingleHeaderRefusals: two copies of the header (in any order, the
// client's first or last), a list, junk after the address, control and
// obs-text bytes, a zone, leading zeros: each is ErrMalformed, never the
// first or the last address of the value.
func TestSingleHeaderRefusals(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 11))
	tr := trusted(t)
	for i := range 3000 {
		name := pick(r, vendorHeaders...)
		res := resolver(t, clientip.SingleHeader(tr, name))
		client, chosen := randClient(r), randClient(r)
		c, x := singleValue(r, client), singleValue(r, chosen)
		var vv []string
		switch r.IntN(8) {
		case 0:
			vv = []string{c, x}
		case 1:
			vv = []string{x, c}
		case 2:
			vv = []string{x + pick(r, ",", ", ", " ,") + c}
		case 3:
			vv = []string{c + pick(r, ",", ", ", ",,")}
		case 4:
			vv = []string{pick(r, ",", ", ") + c}
		case 5:
			vv = []string{c + pick(r, " junk", ";proto=https", " "+chosen.String(), "x", "/24", "#")}
		case 6:
			b := []byte(strings.TrimSpace(c))
			at := r.IntN(len(b) + 1)
			vv = []string{string(b[:at]) + pick(r, "\x00", "\r", "\n", "\x01", "\x7f", "\x80", "\xff") + string(b[at:])}
		default:
			if client.Is4() {
				b := client.As4()
				vv = []string{pick(r, fmt.Sprintf("0%d.%d.%d.%d", b[0], b[1], b[2], b[3]), client.String()+"%eth0")}
			} else {
				vv = []string{client.String() + "%eth0"}
			}
		}
		h := http.Header{http.CanonicalHeaderKey(name): vv}
		a, err := res.Resolve(h, peer(r, randProxy(r)))
		if !assert.ErrorIs(t, err, clientip.ErrMalformed, "case %d: %s: %q answered %v", i, name, vv, a) {
			return
		}
	}
}

// TestSingleHeaderOtherSpellingsNotRead: the header sent under another
// spelling (underscores for hyphens, or a key net/http did not
// canonicalize, as a client of Resolve may build) is never read in the
// canonical one's place: the answer is ErrNoAddr, and a chain goes on to
// the peer.
func TestSingleHeaderOtherSpellingsNotRead(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 12))
	tr := trusted(t)
	for i := range 1000 {
		name := pick(r, vendorHeaders...)
		key := pick(r, strings.ReplaceAll(name, "-", "_"), strings.ToLower(name), strings.ToUpper(name))
		if key == http.CanonicalHeaderKey(name) {
			continue
		}
		h := http.Header{key: {singleValue(r, randClient(r))}}
		p := randProxy(r)
		a, err := resolver(t, clientip.SingleHeader(tr, name)).Resolve(h, peer(r, p))
		if !assert.ErrorIs(t, err, clientip.ErrNoAddr, "case %d: %s read from %q, answered %v", i, name, key, a) {
			return
		}
		a, err = resolver(t, clientip.SingleHeader(tr, name), clientip.RemoteAddr()).Resolve(h, peer(r, p))
		if !assert.NoError(t, err) || !assert.Equal(t, p, a, "case %d", i) {
			return
		}
	}
}

// TestCloudFrontViewerAddress: CloudFront-Viewer-Address always ends in
// the viewer's port and writes IPv6 without brackets, so the text after
// the last colon is the port; without one the value is ErrMalformed.
func TestCloudFrontViewerAddress(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 13))
	res := resolver(t, clientip.SingleHeader(trusted(t), "cloudfront-viewer-address"))
	for i := range 1000 {
		client := randClient(r)
		h := http.Header{"Cloudfront-Viewer-Address": {client.String() + ":" + port(r)}}
		a, err := res.Resolve(h, peer(r, randProxy(r)))
		if !assert.NoError(t, err, "case %d: %q", i, h) || !assert.Equal(t, client, a) {
			return
		}
		bad := pick(r, client.String(), client.String()+":", client.String()+":x", client.String()+":1:2")
		if client.Is6() {
			// An IPv6 address alone is the doc's own ambiguity (its last
			// group read as the port); these forms are not.
			bad = pick(r, client.String()+":", client.String()+":x", "["+client.String()+"]")
		}
		h = http.Header{"Cloudfront-Viewer-Address": {bad}}
		a, err = res.Resolve(h, peer(r, randProxy(r)))
		if !assert.ErrorIs(t, err, clientip.ErrMalformed, "case %d: %q answered %v", i, h, a) {
			return
		}
	}
}

// TestConfiguredHeaderRemovedInEverySpelling: a header of the service's
// own naming that a SingleHeader strategy reads is deleted before the
// handler runs, in any case and with underscores for hyphens (the
// ClientAddrHeaders doc), whatever its value: one the strategy refused,
// and text naming an address that is not the client's, which the search
// for the client's own address would not mask.
func TestConfiguredHeaderRemovedInEverySpelling(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 18))
	tr := trusted(t)
	for i := range 500 {
		name := pick(r, "X-Edge-Visitor", "Visitor-Addr", "X-My-Client", "Edge-Ip")
		res := resolver(t, clientip.SingleHeader(tr, name), clientip.RemoteAddr())
		mw, err := clientip.NewMiddleware(res, ipmask.Default, nil)
		require.NoError(t, err)
		var hdr http.Header
		h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hdr = r.Header.Clone() }))
		chosen := randClient(r)
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = peer(r, randProxy(r))
		spelling := pick(r, name, strings.ToLower(name), strings.ReplaceAll(name, "-", "_"), oddCase(r, strings.ReplaceAll(name, "-", "_")), oddCase(r, name))
		vv := pick(r, []string{"visitor " + chosen.String() + " (edge)"}, []string{chosen.String(), chosen.String()}, []string{"x, " + chosen.String() + ", y"}, []string{"\x80" + chosen.String() + " junk"})
		req.Header[spelling] = vv
		req.Header["X-Kept"] = []string{"plain text"}
		h.ServeHTTP(httptest.NewRecorder(), req)
		if !assert.Equal(t, http.Header{"X-Kept": {"plain text"}}, hdr, "case %d: %s as %q: %q", i, name, spelling, vv) {
			return
		}
	}
}

// TestListedHeadersRemovedWhateverTheValue: each header ClientAddrHeaders
// names is deleted in every spelling whatever its value holds: text
// around an address that is not the client's (which the search for the
// client's own address does not mask), several lines, a list with junk,
// obs-text bytes.
func TestListedHeadersRemovedWhateverTheValue(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 19))
	mw, err := clientip.NewMiddleware(resolver(t, clientip.RightmostUntrusted(trusted(t)), clientip.RemoteAddr()), ipmask.Default, nil)
	require.NoError(t, err)
	var hdr http.Header
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hdr = r.Header.Clone() }))
	for i := range 20 {
		for _, name := range clientip.ClientAddrHeaders() {
			chosen := randClient(r)
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = peer(r, randClient(r))
			spelling := pick(r, name, strings.ToLower(name), strings.ToUpper(name), strings.ReplaceAll(name, "-", "_"), oddCase(r, strings.ReplaceAll(name, "-", "_")))
			vv := pick(r, []string{"client " + chosen.String() + " via edge"}, []string{chosen.String(), "x"}, []string{"junk; " + chosen.String() + "; junk"}, []string{"\xa0" + chosen.String() + "\x80"}, []string{"for=" + node(r, chosen) + ";proto=https"})
			req.Header[spelling] = vv
			h.ServeHTTP(httptest.NewRecorder(), req)
			if !assert.Empty(t, hdr, "case %d: %s as %q: %q", i, name, spelling, vv) {
				return
			}
		}
	}
}
