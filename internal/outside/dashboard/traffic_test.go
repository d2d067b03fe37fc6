package dashboard_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// visitor is one person or bot: the address its proxy names, every text
// form that address could leak in, and its user agent.
type visitor struct {
	xff   string
	forms []string
	ua    string
}

// v4 is a random address of the documentation and shared ranges.
func v4(r *rand.Rand) netip.Addr {
	nets := [][3]byte{{198, 51, 100}, {203, 0, 113}, {192, 0, 2}, {100, 64, 7}, {185, 199, 108}}
	n := nets[r.IntN(len(nets))]
	return netip.AddrFrom4([4]byte{n[0], n[1], n[2], byte(1 + r.IntN(254))})
}

// newVisitor makes a visitor in form f (0..7) with a user agent that
// carries a token the page must never show.
func newVisitor(r *rand.Rand, f int, ua string) visitor {
	a := v4(r)
	b := a.As4()
	hex := fmt.Sprintf("%02x%02x:%02x%02x", b[0], b[1], b[2], b[3])
	inv := fmt.Sprintf("%02x%02x:%02x%02x", ^b[0], ^b[1], ^b[2], ^b[3])
	var x string
	switch f % 8 {
	case 0:
		x = a.String()
	case 1:
		x = fmt.Sprintf("2001:db8:%x:%x::%x", r.IntN(0xffff), r.IntN(0xffff), 1+r.IntN(0xfffe))
	case 2: // 6to4
		x = fmt.Sprintf("2002:%s:%x::%x", hex, r.IntN(0xffff), 1+r.IntN(0xfffe))
	case 3: // mapped
		x = "::ffff:" + a.String()
	case 4: // Teredo: the client's IPv4 inverted in the last 32 bits
		x = fmt.Sprintf("2001:0:4136:e378:8000:%x:%s", r.IntN(0xffff), inv)
	case 5: // NAT64
		x = "64:ff9b::" + a.String()
	case 6: // ISATAP
		x = fmt.Sprintf("2001:db8:%x:1:0:5efe:%s", r.IntN(0xffff), a)
	case 7: // IPv6 with a zone-free full form
		x = fmt.Sprintf("2a00:1450:%x:80b::%x", r.IntN(0xffff), 1+r.IntN(0xfffe))
	}
	tok := fmt.Sprintf("uatok%08x", r.Uint32())
	return visitor{xff: x, forms: []string{x, a.String(), hex, inv, tok}, ua: ua + " " + tok}
}

func (v visitor) hdr(extra ...string) http.Header {
	h := http.Header{"X-Forwarded-For": {v.xff}, "User-Agent": {v.ua}}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

// load is one link's generated traffic.
type load struct {
	name   string
	people int // distinct people, each clicking 1 + repeats times
	repeat int
	bots   int
	heads  int
	prefch int
	conv   int
}

// addrLike finds anything in a page that may be an address or a network.
var addrLike = regexp.MustCompile(`[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]+(?:/\d+)?`)

// noLeak checks that text holds none of the visitors' address forms or
// user-agent tokens, no address at all, no network finer than /24 or /48,
// and no long hex or base64 run (a pseudonym).
func noLeak(t *testing.T, where, text string, visitors []visitor, ids []string) {
	t.Helper()
	low := strings.ToLower(text)
	for _, v := range visitors {
		for _, f := range v.forms {
			if !assert.NotContains(t, low, strings.ToLower(f), "%s: a visitor's address or user agent", where) {
				return
			}
		}
	}
	assert.NotContains(t, low, "firefox", "%s: a raw user agent", where)
	assert.NotContains(t, low, "slackbot", "%s: a raw user agent", where)
	for _, m := range addrLike.FindAllString(text, -1) {
		if p, err := netip.ParsePrefix(m); err == nil {
			bits := 24
			if p.Addr().Is6() && !p.Addr().Is4In6() {
				bits = 48
			}
			assert.LessOrEqual(t, p.Bits(), bits, "%s: a network finer than the policy: %s", where, m)
			assert.Equal(t, p.Masked(), p, "%s: an address, or a network with host bits: %s", where, m)
			continue
		}
		if a, err := netip.ParseAddr(strings.Trim(m, ".:")); err == nil && !a.IsLoopback() {
			assert.Fail(t, "an address in the page", "%s: %s", where, m)
		}
	}
	rest := low
	for _, id := range ids {
		rest = strings.ReplaceAll(rest, strings.ToLower(id), "")
	}
	assert.NotRegexp(t, `[0-9a-f]{16,}|[a-z0-9+/_-]{24,}`, rest, "%s: a pseudonym-like run", where)
}

// TestDashboardsUnderTraffic drives the tracker with generated traffic on
// several links and reads every dashboard in the browser: each shows
// exactly the API's figures, suppresses where the API does, and holds
// no address, user agent or pseudonym anywhere a browser can see.
func TestDashboardsUnderTraffic(t *testing.T) {
	t.Parallel()
	p := start(t)
	tb := newTab(t, true)
	r := rand.New(rand.NewPCG(8, 13))

	loads := []load{
		{name: "busy", people: 16, repeat: 2, bots: 4, heads: 2, prefch: 2, conv: 5},
		{name: "few", people: 3, repeat: 1, bots: 1, conv: 1},
		{name: "bots only", bots: 7, heads: 3},
		{name: "exactly k", people: 5},
		{name: "one short of k", people: 4, repeat: 3},
		{name: "none"},
		{name: "large", people: 200, repeat: 3, bots: 30},
	}
	bots := []string{"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "curl/8.5.0", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "python-requests/2.31"}
	var all []visitor
	var ids []string
	for li, l := range loads {
		id := p.create(fmt.Sprintf("https://example.com/%d", li))
		ids = append(ids, id)
		var people []visitor
		for i := range l.people {
			people = append(people, newVisitor(r, r.IntN(8), fmt.Sprintf("%s v%d", firefox, i)))
		}
		var botv []visitor
		for i := range l.bots {
			botv = append(botv, newVisitor(r, i, bots[i%len(bots)]))
		}
		all = append(append(all, people...), botv...)
		// The requests, shuffled, from 8 goroutines.
		type rq struct {
			method, path string
			h            http.Header
		}
		var rqs []rq
		for _, v := range people {
			for range 1 + l.repeat {
				rqs = append(rqs, rq{"GET", "/l/" + id, v.hdr()})
			}
		}
		for _, v := range botv {
			rqs = append(rqs, rq{"GET", "/l/" + id, v.hdr()})
		}
		anyone := append(append([]visitor(nil), people...), botv...)
		for i := range l.heads {
			rqs = append(rqs, rq{"HEAD", "/l/" + id, anyone[i%len(anyone)].hdr()})
		}
		for i := range l.prefch {
			rqs = append(rqs, rq{"GET", "/l/" + id, people[i%len(people)].hdr("Sec-Purpose", "prefetch")})
		}
		r.Shuffle(len(rqs), func(i, j int) { rqs[i], rqs[j] = rqs[j], rqs[i] })
		var wg sync.WaitGroup
		work := make(chan rq)
		for range 8 {
			wg.Go(func() {
				for q := range work {
					a := p.send(q.method, q.path, q.h)
					assert.Equal(t, http.StatusFound, a.code)
				}
			})
		}
		for _, q := range rqs {
			work <- q
		}
		close(work)
		wg.Wait()
		for i := range l.conv {
			a := p.send("GET", "/c/"+id+".gif", people[i%len(people)].hdr())
			require.Equal(t, http.StatusOK, a.code)
		}
	}

	for i, l := range loads {
		who := l.name + " " + ids[i]
		s, pages := settled(t, p, ids[i], tb)
		page := pages[0]
		compare(t, who, s, page)
		if l.name == "large" {
			assert.Equal(t, uint64(200*4+30), s.Clicks, "every click of the large link is counted")
		}
		if l.name == "one short of k" || l.name == "bots only" || l.name == "few" {
			for _, pt := range s.Minutes.Points {
				assert.Zero(t, pt.Clicks, "%s: a bucket of fewer than k visitors publishes no count", who)
			}
			assert.NotEmpty(t, page.Charts[0].Bands, "%s: the suppressed minute is drawn as a band", who)
		}

		// Nothing of a visitor, anywhere the browser has the page.
		console, errs, failed, dialogs, responses := tb.seen()
		assert.Empty(t, errs, "%s: console errors", who)
		assert.Empty(t, failed, "%s: failed requests", who)
		assert.Empty(t, dialogs, "%s: dialogs", who)
		assert.Empty(t, page.Ran, "%s: scripts called alert & co", who)
		assert.Zero(t, page.Scripts, "%s: the page has no script", who)
		assert.Empty(t, page.Resources, "%s: the page fetches nothing else", who)
		for _, r := range responses {
			assert.Less(t, r.Response.Status, int64(400), "%s: %s", who, r.Response.URL)
		}
		noLeak(t, who+": DOM", page.HTML, all, ids)
		noLeak(t, who+": text", page.Text, all, ids)
		noLeak(t, who+": attributes", strings.Join(page.Attrs, "\n"), all, ids)
		noLeak(t, who+": console", strings.Join(console, "\n"), all, ids)
		bodies := tb.bodies()
		assert.NotEmpty(t, bodies, "%s: the page's source", who)
		for _, b := range bodies {
			noLeak(t, who+": a response", b, all, ids)
		}
		for k, v := range responseHeaders(responses) {
			noLeak(t, who+": header "+k, v, all, ids)
		}
	}
}

// responseHeaders is every response's headers, as JSON, by URL.
func responseHeaders(rs []*network.EventResponseReceived) map[string]string {
	out := map[string]string{}
	for _, r := range rs {
		b, _ := json.Marshal(r.Response.Headers)
		out[r.Response.URL] = string(b)
	}
	return out
}
