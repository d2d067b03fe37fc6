package tracking_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go4.org/netipx"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/track"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/clientip"
)

// visit is one request of the order test: a client behind the trusted
// proxy (its X-Forwarded-For lines), an agent, a link, and whether the
// handler knows the link.
type visit struct {
	xff   []string
	ua    string
	link  string
	known bool
	head  bool
}

func orderVisits() []visit {
	clients := []string{"203.0.113.9", "203.0.113.10", "2001:db8:1:2::7", "2001:db8:1:3::7",
		"::ffff:198.51.100.7", "2002:c633:6407::1", "64:ff9b::198.51.100.8", "2001:0:c633:6401:0:63bf:34ff:8ef6",
		"[2001:db8:9::1]:4711", "198.51.100.200:5555"}
	var vs []visit
	for round := range 3 {
		for i, c := range clients {
			ua := firefox
			if i%4 == 3 {
				ua = "curl/8.5.0"
			}
			vs = append(vs, visit{xff: []string{c}, ua: ua, link: fmt.Sprintf("l%d", i%3), known: true, head: round == 2 && i == 0})
			vs = append(vs, visit{xff: []string{"192.0.2.77, " + c}, ua: ua, link: "made-up", known: false})
		}
	}
	// What the trusted proxy may hand on: a chain, several lines, garbage,
	// nothing, only trusted hops.
	for _, xff := range [][]string{
		{"192.0.2.1, 203.0.113.50"}, {"192.0.2.1", "203.0.113.51"}, {"garbage"}, {""}, {"10.0.0.2"},
		{"203.0.113.52, garbage"}, {"unknown"}, {"_hidden"}, {"203.0.113.53:0"}, {"[2001:db8:1:2::7]"},
		{"203.0.113.9%eth0"}, {"0.0.0.0"}, {"::"}, {"255.255.255.255"},
	} {
		vs = append(vs, visit{xff: xff, ua: firefox, link: "l0", known: true})
	}
	return vs
}

// The clientip middleware in front of the tracker (around the mux, or on
// the route between mux and tracker), behind it (between the tracker and
// the handler) or absent (the tracker resolves with Options.Resolver), and
// rewriting the request or not (NoRewrite), gives the same counts, with the
// Handler form and the Middleware form, for every class of client the
// trusted proxy names and every kind of X-Forwarded-For it may pass on,
// known and made-up links, exclusions by full address, opt-outs, repeats,
// quotas and bots: the same Stats and the same clicks in the Sink.
func TestClientipOrderGivesTheSameCounts(t *testing.T) {
	trusted, err := clientip.NewTrusted("10.0.0.0/8")
	require.NoError(t, err)
	resolver, err := clientip.New(clientip.RightmostUntrusted(trusted), clientip.RemoteAddr())
	require.NoError(t, err)
	mask, err := clientip.NewMiddleware(resolver, ipmask.Default, nil)
	require.NoError(t, err)
	copying, err := clientip.NewMiddleware(resolver, ipmask.Default, &clientip.MiddlewareOptions{NoRewrite: true})
	require.NoError(t, err)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("link") == "made-up" || r.URL.Path == "/go/made-up" {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, "https://example.com/", http.StatusFound)
	})
	type result struct {
		stats track.Stats
		links []string
		us    []clickstore.Uniqueness
	}
	orders := map[string]func(tr *track.Tracker) http.Handler{
		"clientip around the mux": func(tr *track.Tracker) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/go/{link}", tr.Handler(app))
			return mask(mux)
		},
		"clientip on the route, in front": func(tr *track.Tracker) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/go/{link}", mask(tr.Handler(app)))
			return mux
		},
		"clientip behind the tracker": func(tr *track.Tracker) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/go/{link}", tr.Handler(mask(app)))
			return mux
		},
		"NoRewrite clientip in front": func(tr *track.Tracker) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/go/{link}", tr.Handler(app))
			return copying(mux)
		},
		"NoRewrite clientip behind": func(tr *track.Tracker) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/go/{link}", tr.Handler(copying(app)))
			return mux
		},
		"no clientip middleware: the tracker's Resolver": func(tr *track.Tracker) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/go/{link}", tr.Handler(app))
			return mux
		},
		"middleware form, clientip in front": func(tr *track.Tracker) http.Handler {
			mw, err := tr.Middleware(linkOf)
			require.NoError(t, err)
			return mask(mw(app))
		},
		"middleware form, clientip behind": func(tr *track.Tracker) http.Handler {
			mw, err := tr.Middleware(linkOf)
			require.NoError(t, err)
			return mw(mask(app))
		},
	}
	// The office (one address of a /24 others visit from) is excluded, by
	// its full address.
	var sb netipx.IPSetBuilder
	sb.Add(netip.MustParseAddr("203.0.113.10"))
	sb.Add(netip.MustParseAddr("2001:db8:1:3::7"))
	excluded, err := sb.IPSet()
	require.NoError(t, err)
	results := map[string]result{}
	for name, build := range orders {
		e := newEnv(t, &track.Options{Resolver: resolver, NetworkQuota: 3, Exclude: excluded, OptOutHeader: "Sec-GPC"}, 0)
		h := build(e.tracker)
		for _, v := range orderVisits() {
			method := "GET"
			if v.head {
				method = "HEAD"
			}
			r := req(method, "/go/"+v.link, "10.0.0.1:40000", v.ua)
			for _, x := range v.xff {
				r.Header.Add("X-Forwarded-For", x)
			}
			if v.link == "l2" {
				r.Header.Set("Sec-GPC", "1")
			}
			serve(h, r)
		}
		results[name] = result{e.tracker.Stats(), e.sink.links, e.sink.us}
	}
	want := results["clientip behind the tracker"]
	require.NotZero(t, want.stats.Unique)
	require.NotZero(t, want.stats.Repeat)
	require.NotZero(t, want.stats.Unserved)
	require.NotZero(t, want.stats.Bots)
	require.NotZero(t, want.stats.OverQuota)
	require.NotZero(t, want.stats.Excluded)
	require.NotZero(t, want.stats.OptedOut)
	t.Logf("%+v", want.stats)
	for name, got := range results {
		assert.Equal(t, want.stats, got.stats, name)
		assert.Equal(t, want.links, got.links, name)
		assert.Equal(t, want.us, got.us, name)
	}
}

func linkOf(r *http.Request) (string, clickstore.Kind, bool) {
	const p = "/go/"
	if len(r.URL.Path) > len(p) && r.URL.Path[:len(p)] == p {
		return r.URL.Path[len(p):], clickstore.KindClick, true
	}
	return "", 0, false
}
