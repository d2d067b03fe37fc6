package dashboard_test

import (
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chart is one SVG chart as the browser laid it out.
type chart struct {
	Label      string       `json:"label"`
	Clicks     string       `json:"clicks"`     // data-clicks
	Suppressed string       `json:"suppressed"` // data-suppressed
	ClickPts   [][2]float64 `json:"clickPts"`
	UniquePts  [][2]float64 `json:"uniquePts"`
	Bands      []float64    `json:"bands"` // the centres of the grey bands
	Texts      []textAt     `json:"texts"`
	Titles     []string     `json:"titles"`   // every <title> in the chart, in order
	Hovered    []string     `json:"hovered"`  // the title under the middle of each bucket's column
	Baseline   float64      `json:"baseline"` // the axis line's y
	Drawn      float64      `json:"drawn"`    // its width on the page
}

type textAt struct {
	Y    float64 `json:"y"`
	Text string  `json:"text"`
}

// shown is a dashboard as the browser shows it.
type shown struct {
	Title       string              `json:"title"`
	Totals      map[string]string   `json:"totals"`
	Charts      []chart             `json:"charts"`
	Captions    []string            `json:"captions"`
	Tables      map[string][]string `json:"tables"` // "By X" -> "value=clicks" rows
	Privacy     string              `json:"privacy"`
	Note        string              `json:"note"`
	Text        string              `json:"text"` // the body's visible text
	HTML        string              `json:"html"` // the serialized DOM
	Attrs       []string            `json:"attrs"`
	Scripts     int                 `json:"scripts"`
	Ran         []string            `json:"ran"` // what the alert hook recorded
	LinkText    string              `json:"linkText"`
	LinkHref    string              `json:"linkHref"`
	Resources   []string            `json:"resources"` // every URL the page fetched
	ChartsWidth float64             `json:"chartsWidth"`
}

// readJS reads the page; it uses only what the page exposes: ids, classes,
// SVG geometry, attributes and text.
const readJS = `(() => {
	const txt = s => { const e = document.querySelector(s); return e ? e.textContent.trim() : ""; };
	const totals = {};
	for (const id of ["clicks", "unique", "bots", "conversions"]) totals[id] = txt("#" + id);
	const charts = Array.from(document.querySelectorAll("svg"), svg => {
		const pts = sel => { const p = svg.querySelector(sel); return p ? Array.from(p.points, q => [q.x, q.y]) : []; };
		const line = svg.querySelector("line");
		return {
			label: svg.getAttribute("aria-label") || "",
			clicks: svg.dataset.clicks || "", suppressed: svg.dataset.suppressed || "",
			clickPts: pts("polyline.clicks"), uniquePts: pts("polyline.unique"),
			bands: Array.from(svg.querySelectorAll("rect.suppressed"), r => r.x.baseVal.value + r.width.baseVal.value / 2),
			texts: Array.from(svg.querySelectorAll(":scope > text"), t => ({y: t.y.baseVal[0].value, text: t.textContent})),
			titles: Array.from(svg.querySelectorAll("title"), t => t.textContent),
			hovered: (() => {
				// What a pointer over the middle of each bucket's column
				// finds: the title of that bucket, nothing covering it.
				svg.scrollIntoView();
				return Array.from(svg.querySelectorAll("rect.bucket"), r => {
					const b = r.getBoundingClientRect();
					const e = document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2);
					const hit = e && e.closest("rect.bucket");
					return hit && hit.querySelector("title") ? hit.querySelector("title").textContent : "";
				});
			})(),
			baseline: line ? line.y1.baseVal.value : -1,
			drawn: svg.getBoundingClientRect().width,
		};
	});
	const tables = {};
	for (const h of document.querySelectorAll("h2")) {
		const t = h.nextElementSibling;
		if (!h.textContent.startsWith("By ") || !t || t.tagName !== "TABLE") continue;
		tables[h.textContent.slice(3)] = Array.from(t.querySelectorAll("tr"), r => Array.from(r.cells, c => c.textContent).join("="));
	}
	let privacy = "";
	for (const h of document.querySelectorAll("h2")) {
		if (h.textContent === "What is stored about visitors" && h.nextElementSibling) privacy = h.nextElementSibling.textContent;
	}
	const attrs = [];
	for (const e of document.querySelectorAll("*")) for (const a of e.attributes) attrs.push(a.name + "=" + a.value);
	const a = document.querySelector("p a");
	return {
		title: document.title, totals, charts,
		captions: [txt("#minute-caption"), txt("#hour-caption")],
		tables, privacy, note: txt(".note"),
		text: document.body ? document.body.innerText : "",
		html: document.documentElement.outerHTML, attrs,
		scripts: document.scripts.length,
		ran: window.__ran || ["the alert hook did not run"],
		linkText: a ? a.textContent : "", linkHref: a ? a.getAttribute("href") : "",
		resources: performance.getEntriesByType("resource").map(e => e.name),
	};
})()`

// read reads the dashboard shown in tb.
func (tb *tab) read() shown {
	tb.t.Helper()
	return eval[shown](tb, readJS)
}

// settled loads link id's dashboard in each tab and reads the API
// before and after: a minute that ends between them moves the window,
// and then all is read again. It returns the API's stats and the pages.
func settled(t *testing.T, p tracker, id string, tabs ...*tab) (stats, []shown) {
	t.Helper()
	for try := 0; ; try++ {
		s := p.stats(id)
		var pages []shown
		for _, tb := range tabs {
			tb.reset()
			res := tb.open(p.Base + "/links/" + id)
			require.Equal(t, int64(http.StatusOK), res.Status, id)
			assert.Equal(t, "text/html", res.MimeType, id)
			pages = append(pages, tb.read())
		}
		if after := p.stats(id); reflect.DeepEqual(s, after) || try == 3 {
			return s, pages
		}
	}
}

// counts reads back the count each point of a line stands for, from the
// geometry: the axis line is 0 and the top label's y is the label's
// value. It returns the counts and how far off the reading may be (the
// points are written to a tenth of a unit).
func (c chart) counts(t *testing.T, pts [][2]float64) ([]float64, float64) {
	t.Helper()
	require.NotEmpty(t, c.Texts, "the chart's labels")
	top := c.Texts[0]
	maxV, err := strconv.ParseFloat(top.Text, 64)
	require.NoError(t, err, "the chart's top label is its scale: %q", top.Text)
	span := c.Baseline - top.Y
	require.Greater(t, span, 0.0)
	out := make([]float64, len(pts))
	for i, p := range pts {
		out[i] = (c.Baseline - p[1]) * maxV / span
	}
	return out, 0.05*maxV/span + 1e-9
}

// compare checks that the dashboard shows what the stats API says, and
// nothing the API withholds.
func compare(t *testing.T, who string, s stats, page shown) {
	t.Helper()
	assert.Equal(t, map[string]string{
		"clicks": fmt.Sprint(s.Clicks), "unique": fmt.Sprint(s.Unique),
		"bots": fmt.Sprint(s.Bots), "conversions": fmt.Sprint(s.Conversions),
	}, page.Totals, "%s: the totals", who)
	require.Len(t, page.Charts, 2, "%s: a chart per minute and one per hour", who)
	for i, ser := range []series{s.Minutes, s.Hours} {
		c := page.Charts[i]
		what := fmt.Sprintf("%s: the per-%s chart", who, ser.Step)
		assert.Equal(t, "clicks and unique clicks per "+ser.Step, c.Label, what)
		assert.Equal(t, fmt.Sprint(ser.Clicks), c.Clicks, what)
		assert.Equal(t, fmt.Sprint(ser.Suppressed), c.Suppressed, what)
		assert.Greater(t, c.Drawn, 100.0, "%s has a size on the page", what)
		require.Len(t, c.ClickPts, len(ser.Points), "%s: a point per bucket of the API", what)
		require.Len(t, c.UniquePts, len(ser.Points), "%s: a unique point per bucket of the API", what)

		// The scale is the largest published bucket.
		var top uint64 = 1
		for _, p := range ser.Points {
			top = max(top, p.Clicks)
		}
		assert.Equal(t, fmt.Sprint(top), c.Texts[0].Text, "%s: the scale", what)
		clicks, tol := c.counts(t, c.ClickPts)
		unique, _ := c.counts(t, c.UniquePts)
		bands := map[int]bool{}
		for _, x := range c.Bands {
			// the band's centre is its bucket's x
			best := -1
			for j, p := range c.ClickPts {
				if math.Abs(p[0]-x) < 0.06 {
					best = j
				}
			}
			if assert.GreaterOrEqual(t, best, 0, "%s: a band at x=%v is on no bucket", what, x) {
				bands[best] = true
			}
		}
		for j, p := range ser.Points {
			at := fmt.Sprintf("%s, bucket %d (%s)", what, j, p.Start.Format("15:04"))
			assert.Equal(t, p.Suppressed, bands[j], "%s: a grey band exactly where the API suppresses", at)
			assert.InDelta(t, float64(p.Clicks), clicks[j], tol, "%s: clicks", at)
			assert.InDelta(t, float64(p.Unique), unique[j], tol, "%s: unique clicks", at)
		}
		// The time labels: the first bucket and the last, in UTC.
		layout := "15:04"
		if ser.Step != "minute" {
			layout = "Jan 2 15:04"
		}
		// Each bucket's title (its tooltip) says its exact counts, or
		// only that it had fewer than k visitors.
		var titles []string
		for _, p := range ser.Points {
			if p.Suppressed {
				titles = append(titles, fmt.Sprintf("%s UTC: fewer than %d visitors, not shown", p.Start.UTC().Format(layout), s.K))
			} else {
				titles = append(titles, fmt.Sprintf("%s UTC: %d clicks, %d unique clicks", p.Start.UTC().Format(layout), p.Clicks, p.Unique))
			}
		}
		assert.Equal(t, titles, c.Titles, "%s: the buckets' titles", what)
		assert.Equal(t, titles, c.Hovered, "%s: a pointer over a bucket finds its title", what)
		var labels []string
		for _, x := range c.Texts[1:] {
			labels = append(labels, x.Text)
		}
		if assert.NotEmpty(t, ser.Points, what) {
			assert.Equal(t, []string{ser.Points[0].Start.UTC().Format(layout), ser.Points[len(ser.Points)-1].Start.UTC().Format(layout) + " UTC"}, labels, "%s: time labels", what)
		}
	}
	assert.Contains(t, page.Captions[0], fmt.Sprintf("%d clicks in the last hour", s.Minutes.Clicks), who)
	assert.Contains(t, page.Captions[1], fmt.Sprintf("%d clicks in the last two days", s.Hours.Clicks), who)
	for i, ser := range []series{s.Minutes, s.Hours} {
		if ser.Suppressed > 0 {
			assert.Contains(t, page.Captions[i], fmt.Sprintf(", %d of them in ", ser.Suppressed), who)
		} else {
			assert.NotContains(t, page.Captions[i], "of them", who)
		}
	}

	// The tables hold the API's published values and suppressed sums,
	// nothing else.
	api := map[string][]string{}
	for _, b := range s.Breakdowns {
		rows := []string{b.Dimension + "=clicks"}
		for _, v := range b.Values {
			name := v.Value
			if name == "" {
				name = "(none)"
			}
			rows = append(rows, fmt.Sprintf("%s=%d", name, v.Clicks))
		}
		if b.Suppressed > 0 {
			rows = append(rows, fmt.Sprintf("fewer than %d visitors each (suppressed)=%d", s.K, b.Suppressed))
		}
		api[b.Dimension] = rows
	}
	assert.Equal(t, api, page.Tables, "%s: the breakdown tables", who)
	assert.Equal(t, s.Privacy, strings.TrimSpace(page.Privacy), "%s: the privacy line is the API's", who)
}
