package journey_test

import (
	"html"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	totalRe = regexp.MustCompile(`<b id="(clicks|unique|bots|conversions)">(\d+)</b>`)
	chartRe = regexp.MustCompile(`aria-label="clicks and unique clicks per (minute|hour)" data-clicks="(\d+)" data-suppressed="(\d+)"`)
	tableRe = regexp.MustCompile(`(?s)<h2>By ([a-z]+)</h2>\s*<table>(.*?)</table>`)
	rowRe   = regexp.MustCompile(`<tr(?: class="muted")?><td>(.*?)</td><td>(\d+)</td></tr>`)
	// addrRe finds anything that may be an address or a network.
	addrRe = regexp.MustCompile(`[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]+(?:/\d+)?`)
)

// checkDashboard compares the dashboard of link l on p with the stats the
// API answered for it, and looks in the page for any of the visitors'
// addresses (every form they were sent in) and for any network finer
// than the policy's /24 and /48.
func checkDashboard(t *testing.T, who string, p inst, l string, s stats, visitors []visitor) {
	t.Helper()
	a := p.send("GET", "/links/"+l, "", http.Header{"User-Agent": {firefox}})
	require.Equal(t, http.StatusOK, a.code, "%s %s: dashboard", who, l)
	page := a.body
	got := map[string]uint64{}
	for _, m := range totalRe.FindAllStringSubmatch(page, -1) {
		got[m[1]], _ = strconv.ParseUint(m[2], 10, 64)
	}
	assert.Equal(t, map[string]uint64{"clicks": s.Clicks, "unique": s.Unique, "bots": s.Bots, "conversions": s.Conversions}, got, "%s %s: dashboard totals", who, l)
	charts := map[string][2]uint64{}
	for _, m := range chartRe.FindAllStringSubmatch(page, -1) {
		c, _ := strconv.ParseUint(m[2], 10, 64)
		sup, _ := strconv.ParseUint(m[3], 10, 64)
		charts[m[1]] = [2]uint64{c, sup}
	}
	assert.Equal(t, map[string][2]uint64{"minute": {s.Minutes.Clicks, s.Minutes.Suppressed}, "hour": {s.Hours.Clicks, s.Hours.Suppressed}}, charts, "%s %s: charts", who, l)
	tables := map[string]map[string]uint64{}
	for _, m := range tableRe.FindAllStringSubmatch(page, -1) {
		rows := map[string]uint64{}
		for _, r := range rowRe.FindAllStringSubmatch(m[2], -1) {
			n, _ := strconv.ParseUint(r[2], 10, 64)
			rows[html.UnescapeString(r[1])] = n
		}
		tables[m[1]] = rows
	}
	api := map[string]map[string]uint64{}
	for _, b := range s.Breakdowns {
		rows := map[string]uint64{}
		for _, c := range b.Values {
			v := c.Value
			if v == "" {
				v = "(none)"
			}
			rows[v] = c.Clicks
		}
		if b.Suppressed > 0 {
			rows["fewer than "+strconv.Itoa(s.K)+" visitors each (suppressed)"] = b.Suppressed
		}
		api[b.Dimension] = rows
	}
	assert.Equal(t, api, tables, "%s %s: breakdown tables", who, l)

	for _, v := range visitors {
		for _, f := range v.forms {
			assert.NotContains(t, strings.ToLower(page), strings.ToLower(f), "%s %s: an address in the dashboard", who, l)
		}
	}
	for _, m := range addrRe.FindAllString(page, -1) {
		pf, err := netip.ParsePrefix(m)
		if err != nil {
			if a, err := netip.ParseAddr(m); err == nil {
				assert.Fail(t, "an address in the dashboard", "%s %s: %s", who, l, a)
			}
			continue
		}
		bits := 24
		if pf.Addr().Is6() {
			bits = 48
		}
		assert.LessOrEqual(t, pf.Bits(), bits, "%s %s: a network finer than the policy: %s", who, l, pf)
		assert.Equal(t, pf.Masked(), pf, "%s %s: a network with host bits: %s", who, l, pf)
	}
}
