package newcomer_test

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's "The statistics are JSON" paragraph, key by key.
var (
	statsKeys = []string{"clicks", "unique_clicks", "bot_clicks", "conversions", "unknown_uniqueness",
		"unique_visitors_estimate", "k", "per_minute", "per_hour", "breakdowns", "privacy"}
	seriesKeys    = []string{"step", "from", "to", "clicks", "suppressed_clicks", "points"}
	pointKeys     = []string{"start", "clicks", "unique_clicks"}
	breakdownKeys = []string{"dimension", "values", "suppressed_clicks"}
	dimensions    = []string{"country", "network", "referrer", "device"}
)

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func num(t *testing.T, v any, what string) uint64 {
	t.Helper()
	f, ok := v.(float64)
	require.True(t, ok, "%s is a number, not %T", what, v)
	require.Equal(t, float64(uint64(f)), f, "%s is a whole number", what)
	return uint64(f)
}

func when(t *testing.T, v any, what string) time.Time {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "%s is a string, not %T", what, v)
	tm, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err, "%s is a time", what)
	return tm
}

// checkSeries checks one series against the README: its keys; its range
// (the last hour per minute, the last two days per hour) around now; its
// points in the range, in order, on bucket starts, only those with clicks
// unless zeros (then every bucket); a suppressed point marked with true;
// and the points' clicks and the suppressed clicks adding up to its
// clicks. It returns the series' clicks.
func checkSeries(t *testing.T, s map[string]any, name string, before, after time.Time, zeros bool) uint64 {
	t.Helper()
	assert.Equal(t, sortedCopy(seriesKeys), keys(s), "%s's keys", name)
	step, span, n := time.Minute, time.Hour, 60
	if name == "per_hour" {
		step, span, n = time.Hour, 48*time.Hour, 48
	}
	assert.Equal(t, strings.TrimPrefix(name, "per_"), s["step"], "%s's step", name)
	from, to := when(t, s["from"], name+".from"), when(t, s["to"], name+".to")
	assert.Equal(t, span, to.Sub(from), "%s covers %v", name, span)
	assert.True(t, !to.Before(after.Truncate(step)) && to.Sub(before) <= step, "%s ends with the bucket of now: %v, asked between %v and %v", name, to, before, after)
	assert.Zero(t, from.Sub(from.Truncate(step)), "%s starts on a bucket", name)
	clicks := num(t, s["clicks"], name+".clicks")
	suppressed := num(t, s["suppressed_clicks"], name+".suppressed_clicks")
	points, ok := s["points"].([]any)
	require.True(t, ok, "%s.points is a list (never null), not %T", name, s["points"])
	if zeros {
		assert.Len(t, points, n, "%s with zeros=true has every bucket", name)
	}
	var sum uint64
	prev := from.Add(-step)
	for i, p := range points {
		pm, ok := p.(map[string]any)
		require.True(t, ok, "%s.points[%d] is an object", name, i)
		k := keys(pm)
		if v, ok := pm["suppressed"]; ok {
			assert.Equal(t, true, v, "%s.points[%d].suppressed is there only as true", name, i)
			k = slices.DeleteFunc(k, func(s string) bool { return s == "suppressed" })
		}
		assert.Equal(t, sortedCopy(pointKeys), k, "%s.points[%d]'s keys", name, i)
		start := when(t, pm["start"], name+".points.start")
		c := num(t, pm["clicks"], name+".points.clicks")
		u := num(t, pm["unique_clicks"], name+".points.unique_clicks")
		assert.LessOrEqual(t, u, c, "%s.points[%d]: unique clicks are clicks", name, i)
		assert.True(t, !start.Before(from) && start.Before(to), "%s.points[%d] at %v is in [%v, %v)", name, i, start, from, to)
		assert.Zero(t, start.Sub(start.Truncate(step)), "%s.points[%d] starts a bucket", name, i)
		if zeros {
			assert.Equal(t, prev.Add(step), start, "%s.points[%d] follows the one before", name, i)
		} else {
			assert.True(t, start.After(prev), "%s.points are in order", name)
			assert.True(t, c > 0 || pm["suppressed"] == true, "%s.points[%d]: without zeros=true, only buckets that had clicks", name, i)
		}
		prev = start
		sum += c
	}
	assert.Equal(t, clicks, sum+suppressed, "%s: the points' clicks and the suppressed clicks add up to the clicks", name)
	if suppressed > 0 {
		assert.True(t, slices.ContainsFunc(points, func(p any) bool { return p.(map[string]any)["suppressed"] == true }),
			"%s: %d suppressed clicks are in a point marked suppressed", name, suppressed)
	}
	return clicks
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

// checkStats checks a stats answer's documented keys and shapes, and
// returns its totals and breakdowns by dimension.
func checkStats(t *testing.T, st map[string]any, before, after time.Time, zeros bool) (map[string]uint64, map[string]map[string]any) {
	t.Helper()
	for _, k := range statsKeys {
		assert.Contains(t, st, k, "the stats hold %q", k)
	}
	totals := map[string]uint64{}
	for _, k := range []string{"clicks", "unique_clicks", "bot_clicks", "conversions", "unknown_uniqueness", "unique_visitors_estimate", "k"} {
		totals[k] = num(t, st[k], k)
	}
	assert.EqualValues(t, 5, totals["k"], "k is 5, as the README says")
	for _, name := range []string{"per_minute", "per_hour"} {
		s, ok := st[name].(map[string]any)
		require.True(t, ok, "%s is an object", name)
		totals[name] = checkSeries(t, s, name, before, after, zeros)
	}
	bl, ok := st["breakdowns"].([]any)
	require.True(t, ok, "breakdowns is a list")
	bds := map[string]map[string]any{}
	for i, b := range bl {
		bm, ok := b.(map[string]any)
		require.True(t, ok, "breakdowns[%d] is an object", i)
		assert.Equal(t, sortedCopy(breakdownKeys), keys(bm), "breakdowns[%d]'s keys", i)
		d, _ := bm["dimension"].(string)
		bds[d] = bm
		_, ok = bm["values"].([]any)
		assert.True(t, ok, "breakdowns[%d].values is a list (never null), not %T", i, bm["values"])
		num(t, bm["suppressed_clicks"], d+".suppressed_clicks")
	}
	assert.ElementsMatch(t, dimensions, keys(anyMap(bds)), "one breakdown each for country, network, referrer and device")
	_, ok = st["privacy"].(string)
	assert.True(t, ok, "privacy is words")
	return totals, bds
}

func anyMap(m map[string]map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestStatsAPI clicks links with every number of visitors around k (none,
// one, a few, k-1, k, more), repeats and bots among them, and reads each
// link's stats sparse and zero-filled: every documented key and shape, the
// totals exact, the series adding up to them, and a breakdown shown only
// once k visitors are in it, its clicks then all there.
func TestStatsAPI(t *testing.T) {
	t.Parallel()
	p, out := start(t)
	require.NotNil(t, p, "%s", out)
	for _, visitors := range []int{0, 1, 2, 4, 5, 6, 9} {
		for _, repeats := range []int{0, 2} {
			for _, bots := range []int{0, 3} {
				t.Run(fmt.Sprintf("visitors=%d/repeats=%d/bots=%d", visitors, repeats, bots), func(t *testing.T) {
					before := time.Now().UTC()
					id := p.create(t, "https://example.com/")
					for i := range visitors {
						p.click(t, id, i)
					}
					for i := range repeats {
						p.click(t, id, i%max(visitors, 1))
					}
					for i := range bots {
						code, _ := p.get(t, "/l/"+id, fmt.Sprintf("203.0.113.%d", i+1), "curl/8.5.0")
						require.Equal(t, 302, code)
					}
					clicks := visitors + repeats + bots
					wantUnique := visitors
					if visitors == 0 && repeats > 0 {
						wantUnique = 1 // the repeats were visitor 0's first clicks
					}
					for _, zeros := range []bool{false, true} {
						q := ""
						if zeros {
							q = "?zeros=true"
						}
						st := p.stats(t, id, q)
						after := time.Now().UTC()
						totals, bds := checkStats(t, st, before, after, zeros)
						assert.EqualValues(t, clicks, totals["clicks"], "clicks")
						assert.EqualValues(t, wantUnique, totals["unique_clicks"], "unique clicks")
						assert.EqualValues(t, bots, totals["bot_clicks"], "bot clicks")
						assert.EqualValues(t, clicks, totals["per_minute"], "every click is in the last hour")
						assert.EqualValues(t, clicks, totals["per_hour"], "every click is in the last two days")
						if visitors+bots < 5 {
							s := st["per_hour"].(map[string]any)
							assert.EqualValues(t, clicks, num(t, s["suppressed_clicks"], "suppressed"), "fewer than 5 visitors: every click of the hours is suppressed")
						}
						network := bds["network"]
						values := network["values"].([]any)
						shown := uint64(0)
						for _, v := range values {
							shown += num(t, v.(map[string]any)["clicks"], "network value clicks")
						}
						assert.Equal(t, totals["clicks"], shown+num(t, network["suppressed_clicks"], "network suppressed"),
							"the network breakdown's values and suppressed clicks add up to the clicks")
						if visitors >= 5 {
							require.NotEmpty(t, values, "%d visitors in 198.51.100.0/24: the network is shown", visitors)
							assert.Equal(t, "198.51.100.0/24", values[0].(map[string]any)["value"])
						} else if visitors+bots < 5 {
							assert.Empty(t, values, "%d visitors: no network is shown", visitors)
						}
					}
				})
			}
		}
	}
}

// TestStatsSparseByDefault: a click makes one point per series without
// zeros=true, and the zero-filled answer holds the same non-zero points;
// every spelling of true and false that a Go flag takes is read alike.
func TestStatsSparseByDefault(t *testing.T) {
	t.Parallel()
	p, out := start(t)
	require.NotNil(t, p, "%s", out)
	id := p.create(t, "https://example.com/")
	for i := range 7 {
		p.click(t, id, i)
	}
	sparse := p.stats(t, id, "")
	for _, q := range []string{"?zeros=false", "?zeros=0", "?zeros=FALSE", "?zeros=", "?other=1"} {
		assert.Equal(t, pointsOf(sparse, "per_hour"), pointsOf(p.stats(t, id, q), "per_hour"), "%s is the sparse answer", q)
	}
	for _, q := range []string{"?zeros=true", "?zeros=1", "?zeros=TRUE", "?zeros=True", "?zeros=t"} {
		dense := p.stats(t, id, q)
		assert.Len(t, pointsOf(dense, "per_minute"), 60, "%s", q)
		assert.Len(t, pointsOf(dense, "per_hour"), 48, "%s", q)
		var nonZero []any
		for _, pt := range pointsOf(dense, "per_hour") {
			if pt.(map[string]any)["clicks"].(float64) > 0 || pt.(map[string]any)["suppressed"] == true {
				nonZero = append(nonZero, pt)
			}
		}
		assert.Equal(t, pointsOf(sparse, "per_hour"), nonZero, "%s: the zero-filled series holds the sparse one's points", q)
	}
	assert.LessOrEqual(t, len(pointsOf(sparse, "per_minute")), 2, "7 clicks in a second or two: at most two minutes")
	assert.Len(t, pointsOf(sparse, "per_hour"), 1+boolInt(hourTurned(sparse)), "7 clicks: one hour")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hourTurned says whether the minute series shows two hours (the test ran
// across the turn of an hour).
func hourTurned(st map[string]any) bool {
	hours := map[int]bool{}
	for _, p := range pointsOf(st, "per_minute") {
		tm, _ := time.Parse(time.RFC3339Nano, p.(map[string]any)["start"].(string))
		hours[tm.Hour()] = true
	}
	return len(hours) > 1
}

func pointsOf(st map[string]any, name string) []any {
	s, _ := st[name].(map[string]any)
	pts, _ := s["points"].([]any)
	return pts
}

// TestStatsBadRequests: a stats, dashboard or click URL for a link that
// does not exist, in any form, answers 404 with a JSON error that does not
// repeat the ID; a zeros parameter that is neither true nor false is
// refused with 400, not read as false.
func TestStatsBadRequests(t *testing.T) {
	t.Parallel()
	p, out := start(t)
	require.NotNil(t, p, "%s", out)
	id := p.create(t, "https://example.com/")
	for _, bad := range []string{"nosuchlink", strings.ToUpper(id) + "x", id + "0", "Zm9vYmFy", strings.Repeat("a", 300), "%C3%A9t%C3%A9", "198.51.100.77", "..%2F..%2Fetc"} {
		for _, path := range []string{"/api/links/" + bad + "/stats", "/links/" + bad, "/l/" + bad} {
			code, body := p.get(t, path, "192.0.2.1", browserAgent)
			assert.Equal(t, 404, code, "%s: %.200s", path, body)
			raw, _ := url.PathUnescape(bad)
			assert.NotContains(t, string(body), raw, "%s: the answer does not repeat the ID", path)
		}
	}
	for _, q := range []string{"?zeros=yes", "?zeros=banana", "?zeros=2", "?zeros=%00"} {
		code, body := p.get(t, "/api/links/"+id+"/stats"+q, "192.0.2.1", browserAgent)
		assert.Equal(t, 400, code, "%s: %.200s", q, body)
		assert.Contains(t, string(body), `"error"`, "%s", q)
		assert.NotContains(t, string(body), "banana", "%s", q)
		code, body = p.get(t, "/links/"+id+q, "192.0.2.1", browserAgent)
		assert.Equal(t, 200, code, "the dashboard%s, which draws every bucket, ignores zeros: %.200s", q, body)
	}
}

var (
	chartRE   = regexp.MustCompile(`aria-label="clicks and unique clicks per (minute|hour)" data-clicks="(\d+)" data-suppressed="(\d+)"`)
	captionRE = regexp.MustCompile(`id="(minute|hour)-caption">(\d+) clicks in the last`)
)

// TestDashboardMatchesStats: for links of every number of visitors around
// k, the dashboard's charts carry the stats API's series totals (clicks
// and suppressed clicks), its captions the same clicks, and it says why
// breakdowns are empty: how many visitors a cell needs.
func TestDashboardMatchesStats(t *testing.T) {
	t.Parallel()
	p, out := start(t)
	require.NotNil(t, p, "%s", out)
	for _, visitors := range []int{0, 1, 3, 4, 5, 8} {
		t.Run(strconv.Itoa(visitors), func(t *testing.T) {
			id := p.create(t, "https://example.com/")
			for i := range visitors {
				p.click(t, id, i)
			}
			for i := range visitors % 3 {
				p.click(t, id, i) // repeats
			}
			st := p.stats(t, id, "")
			code, body := p.get(t, "/links/"+id, "192.0.2.1", browserAgent)
			require.Equal(t, 200, code)
			page := string(body)
			charts := chartRE.FindAllStringSubmatch(page, -1)
			require.Len(t, charts, 2, "a chart per minute and one per hour")
			for _, c := range charts {
				s := st["per_"+c[1]].(map[string]any)
				assert.Equal(t, strconv.FormatUint(num(t, s["clicks"], "clicks"), 10), c[2], "the %s chart's clicks are the stats API's", c[1])
				assert.Equal(t, strconv.FormatUint(num(t, s["suppressed_clicks"], "suppressed"), 10), c[3], "the %s chart's suppressed clicks are the stats API's", c[1])
			}
			dense := p.stats(t, id, "?zeros=true")
			svgs := strings.Split(page, "<svg ")[1:]
			require.Len(t, svgs, 2)
			for i, name := range []string{"per_minute", "per_hour"} {
				want := 0
				for _, pt := range pointsOf(dense, name) {
					if pt.(map[string]any)["suppressed"] == true {
						want++
					}
				}
				svg, _, _ := strings.Cut(svgs[i], "</svg>")
				assert.Equal(t, want, strings.Count(svg, `class="suppressed"`), "the %s chart draws a grey band for each suppressed bucket", name)
			}
			captions := captionRE.FindAllStringSubmatch(page, -1)
			require.Len(t, captions, 2)
			for _, c := range captions {
				s := st["per_"+c[1]].(map[string]any)
				assert.Equal(t, strconv.FormatUint(num(t, s["clicks"], "clicks"), 10), c[2], "the %s caption's clicks", c[1])
			}
			assert.Contains(t, page, "at least 5 different visitors", "the dashboard says how many visitors a cell needs")
		})
	}
}
