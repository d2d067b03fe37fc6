package clientip_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// FuzzResolve checks every header strategy on arbitrary headers: it never
// panics; an answer is valid, unmapped, zoneless and specified; the
// rightmost-untrusted walks never answer a trusted address; the answer
// re-parses to itself; text prepended to the left of a list never changes
// an answer; every error starts with the package name, wraps exactly one
// sentinel and holds no raw address, whatever addresses the input held.
func FuzzResolve(f *testing.F) {
	f.Add("203.0.113.9, 198.51.100.7, 10.0.0.2", `for=192.0.2.60;proto=http, for="[2001:db8::17]:4711"`, "198.51.100.7", "10.0.0.1:4711")
	f.Add("[2001:db8::7]:443,, 10.1.1.1", `For="_hidden", for=unknown`, "[2001:db8::7]", "[fd00::1]:80")
	f.Add("::ffff:198.51.100.7, 0.0.0.0", `for="198.51.100.7:_p";by=x`, "010.0.0.1", "[::ffff:10.0.0.1]:1")
	f.Add("fe80::1%eth0", `for="a,b";host="x\"y"`, "1.2.3.4:99999", "198.51.100.1:1")
	f.Add("unknown, 2001:db8::7:80", `for=`, "", "")

	tr, err := clientip.NewTrusted("10.0.0.0/8", "fd00::/8")
	if err != nil {
		f.Fatal(err)
	}
	walks := map[string]clientip.Strategy{
		"xff": clientip.RightmostUntrusted(tr),
		"fwd": clientip.Forwarded(tr),
	}
	others := map[string]clientip.Strategy{
		"hops":   clientip.TrustedHops(tr, 2),
		"single": clientip.SingleHeader(tr, "X-Real-IP"),
		"viewer": clientip.SingleHeader(tr, "CloudFront-Viewer-Address"),
		"remote": clientip.RemoteAddr(),
	}
	resolvers := map[string]*clientip.Resolver{}
	for name, s := range walks {
		r, err := clientip.New(s)
		if err != nil {
			f.Fatal(err)
		}
		resolvers[name] = r
	}
	for name, s := range others {
		r, err := clientip.New(s)
		if err != nil {
			f.Fatal(err)
		}
		resolvers[name] = r
	}
	sentinels := []error{clientip.ErrNoAddr, clientip.ErrUntrusted, clientip.ErrMalformed}

	f.Fuzz(func(t *testing.T, xff, fwd, single, remote string) {
		h := http.Header{
			"X-Forwarded-For":           {xff},
			"Forwarded":                 {fwd},
			"X-Real-Ip":                 {single},
			"Cloudfront-Viewer-Address": {single},
		}
		for name, r := range resolvers {
			a, err := r.Resolve(h, remote)
			if err != nil {
				if a.IsValid() {
					t.Fatalf("%s: error %v with address %v", name, err, a)
				}
				if !strings.HasPrefix(err.Error(), "clientip: ") {
					t.Fatalf("%s: error %q lacks the package name", name, err)
				}
				n := 0
				for _, s := range sentinels {
					if errors.Is(err, s) {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("%s: error %q wraps %d sentinels", name, err, n)
				}
				ipmasktest.AssertNoRawIP(t, ipmask.Default, []byte(err.Error()))
				continue
			}
			if !a.IsValid() || a.Is4In6() || a.Zone() != "" || a.IsUnspecified() {
				t.Fatalf("%s: bad answer %v", name, a)
			}
			if _, walk := walks[name]; walk && tr.Contains(a) {
				t.Fatalf("%s: answer %v is a trusted proxy", name, a)
			}
			if b, err := netip.ParseAddr(a.String()); err != nil || b != a {
				t.Fatalf("%s: answer %v does not re-parse to itself: %v, %v", name, a, b, err)
			}
			// Text left of the list can only be forged by the client: it
			// must not change the answer.
			h2 := http.Header{
				"X-Forwarded-For": {"evil, 203.0.113.66 ,," + xff},
				"Forwarded":       {`for=203.0.113.66, x, ` + fwd},
				"X-Real-Ip":       {single},
			}
			if name == "xff" || name == "fwd" {
				b, err := r.Resolve(h2, remote)
				if err != nil || b != a {
					t.Fatalf("%s: prefixing the header changed %v to %v, %v", name, a, b, err)
				}
			}
		}
	})
}

// FuzzHideHeaders checks the middleware's header hiding by name against a
// plain reference: a header whose value is no address is removed exactly
// when its name, in any case and with underscores read as hyphens, is one
// of ClientAddrHeaders or the SingleHeader name configured; every other
// such header reaches the handler untouched. The same headers sent as
// trailers, which arrive at the end of the body as net/http's HTTP/1
// server fills them in, follow the same rule. (FuzzListsAddr checks the
// removal of headers by their value.)
func FuzzHideHeaders(f *testing.F) {
	f.Add("X-Forwarded-For", "cf_connecting_ip", "User-Agent")
	f.Add("TRUE-CLIENT-IP", "x-my-client", "Accept")
	f.Add("X_Real_Ip", "X-Forwarded-Fo", "Forwarded-Forx")
	f.Add("", "\xff", "Cf-Connecting-Ipv6")
	tr, err := clientip.NewTrusted("10.0.0.0/8")
	if err != nil {
		f.Fatal(err)
	}
	r, err := clientip.New(clientip.SingleHeader(tr, "X-My-Client"), clientip.RemoteAddr())
	if err != nil {
		f.Fatal(err)
	}
	mw, err := clientip.NewMiddleware(r, ipmask.Default, nil)
	if err != nil {
		f.Fatal(err)
	}
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "-")) }
	hidden := map[string]bool{norm("X-My-Client"): true}
	for _, n := range clientip.ClientAddrHeaders() {
		hidden[norm(n)] = true
	}
	var got, gotTrailer http.Header
	h := mw(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		got = req.Header.Clone()
		_, _ = io.Copy(io.Discard, req.Body)
		gotTrailer = req.Trailer.Clone()
	}))
	tmpl := httptest.NewRequest(http.MethodGet, "/", nil)
	tmpl.RemoteAddr = "198.51.100.7:1"
	w := httptest.NewRecorder()
	f.Fuzz(func(t *testing.T, a, b, c string) {
		in := http.Header{a: {"v"}, b: {"v"}, c: {"v"}}
		req := *tmpl // a fresh request: the middleware rewrites the one it gets
		req.Header = in.Clone()
		req.TransferEncoding = []string{"chunked"}
		req.Body = io.NopCloser(&trailerSetter{r: strings.NewReader("body"), set: func() { req.Trailer = in.Clone() }})
		got, gotTrailer = nil, nil
		h.ServeHTTP(w, &req)
		if got == nil || gotTrailer == nil {
			t.Fatal("the handler did not run, or the body did not end")
		}
		for k := range in {
			// ASCII case folding only: strings.ToLower folds more.
			want := !hidden[norm(k)] || !isASCII(k)
			if _, kept := got[k]; kept != want {
				t.Fatalf("header %q: kept=%v, want %v", k, kept, want)
			}
			if _, kept := gotTrailer[k]; kept != want {
				t.Fatalf("trailer %q: kept=%v, want %v", k, kept, want)
			}
		}
		if len(got) > len(in) || len(gotTrailer) > len(in) {
			t.Fatalf("headers appeared: %v, %v", got, gotTrailer)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
