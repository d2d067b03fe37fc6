package main

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
)

// chart draws a series as an SVG: clicks and unique clicks per bucket as
// lines, and the buckets of fewer than k visitors, whose counts are
// withheld, as grey bands. Each bucket has a title, the tooltip of the
// bucket's column, with its time and counts, or, for a withheld one, only
// that it had fewer than k visitors. It wants every bucket (zeros).
func chart(s series, k int) template.HTML {
	const w, h, pad = 720.0, 200.0, 24.0
	pts := s.Points
	var maxV uint64 = 1
	for _, p := range pts {
		maxV = max(maxV, p.Clicks)
	}
	n := len(pts)
	step := (w - 2*pad) / float64(max(n-1, 1))
	x := func(i int) float64 { return pad + float64(i)*step }
	y := func(v uint64) float64 { return h - pad - float64(v)*(h-2*pad)/float64(maxV) }
	line := func(get func(point) uint64) string {
		var b strings.Builder
		for i, p := range pts {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(i), y(get(p)))
		}
		return b.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-label="clicks and unique clicks per %s" data-clicks="%d" data-suppressed="%d">`,
		w, h, s.Step, s.Clicks, s.SuppressedClicks)
	for i, p := range pts {
		if p.Suppressed {
			fmt.Fprintf(&b, `<rect class="suppressed" x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="#d4d4d8"/>`, x(i)-max(step/2, 1.5), pad, max(step, 3), h-2*pad)
		}
	}
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#999"/>`, pad, h-pad, w-pad, h-pad)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="11" fill="#555">%d</text>`, 2.0, pad, maxV)
	fmt.Fprintf(&b, `<polyline class="clicks" fill="none" stroke="#2563eb" stroke-width="2" points="%s"/>`, line(func(p point) uint64 { return p.Clicks }))
	fmt.Fprintf(&b, `<polyline class="unique" fill="none" stroke="#16a34a" stroke-width="2" points="%s"/>`, line(func(p point) uint64 { return p.Unique }))
	layout := "15:04"
	if s.Step != "minute" {
		layout = "Jan 2 15:04"
	}
	for i, p := range pts {
		fmt.Fprintf(&b, `<rect class="bucket" x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="transparent"><title>`, x(i)-step/2, pad, step, h-2*pad)
		if p.Suppressed {
			fmt.Fprintf(&b, "%s UTC: fewer than %d visitors, not shown", p.Start.Format(layout), k)
		} else {
			fmt.Fprintf(&b, "%s UTC: %d clicks, %d unique clicks", p.Start.Format(layout), p.Clicks, p.Unique)
		}
		b.WriteString(`</title></rect>`)
	}
	if n > 0 {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="11" fill="#555">%s</text>`, pad, h-6, pts[0].Start.Format(layout))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="11" fill="#555" text-anchor="end">%s UTC</text>`, w-pad, h-6, pts[n-1].Start.Format(layout))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from numbers and times only
}

var dashboardTmpl = template.Must(template.New("dashboard").Funcs(template.FuncMap{"chart": chart}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Link {{.ID}} · clickanon linktracker</title>
<link rel="icon" href="data:,">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:780px;margin:2em auto;padding:0 1em;color:#111}
.n{display:inline-block;margin-right:2em}.n b{display:block;font-size:28px}table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{padding:2px 12px 2px 0;text-align:left}.muted{color:#666}.k1{color:#2563eb}.k2{color:#16a34a}.k3{color:#a1a1aa}
.note{background:#fefce8;border:1px solid #fde68a;padding:.5em 1em}</style></head>
<body>
<h1>Link <code>{{.ID}}</code></h1>
<p>Redirects to <a href="{{.URL}}" rel="noreferrer">{{.URL}}</a>.</p>
<p id="totals"><span class="n"><b id="clicks">{{.Clicks}}</b>clicks</span><span class="n"><b id="unique">{{.UniqueClicks}}</b>unique clicks</span><span class="n"><b id="bots">{{.BotClicks}}</b>bot clicks</span><span class="n"><b id="conversions">{{.Conversions}}</b>conversions</span></p>
<p class="note">Totals are exact. Everything broken down (a minute, an hour, a country, a network, a referrer, a device) is shown only
once at least {{.K}} different visitors are in it; below that its clicks are counted under "suppressed", so a handful of
test clicks from your own machine show up in the totals and as grey bands, not as rows. A visitor is one address and
browser (user agent) within 30 minutes.</p>
<h2>Last hour, per minute</h2>
<p class="muted"><span class="k1">■ clicks</span> <span class="k2">■ unique clicks</span> <span class="k3">■ fewer than {{.K}} visitors: not drawn</span></p>
{{chart .Minutes .K}}
<p class="muted" id="minute-caption">{{.Minutes.Clicks}} clicks in the last hour{{if .Minutes.SuppressedClicks}}, {{.Minutes.SuppressedClicks}} of them in minutes with fewer than {{.K}} visitors{{end}}.</p>
<h2>Last two days, per hour</h2>
{{chart .Hours .K}}
<p class="muted" id="hour-caption">{{.Hours.Clicks}} clicks in the last two days{{if .Hours.SuppressedClicks}}, {{.Hours.SuppressedClicks}} of them in hours with fewer than {{.K}} visitors{{end}}.</p>
{{range .Breakdowns}}<h2>By {{.Dimension}}</h2>
<table><tr><th>{{.Dimension}}</th><th>clicks</th></tr>
{{range .Cells}}<tr><td>{{if .Value}}{{.Value}}{{else}}(none){{end}}</td><td>{{.Clicks}}</td></tr>{{end}}
{{if .Suppressed}}<tr class="muted"><td>fewer than {{$.K}} visitors each (suppressed)</td><td>{{.Suppressed}}</td></tr>{{end}}
</table>{{end}}
<h2>What is stored about visitors</h2>
<p>{{.Privacy}}</p>
</body></html>
`))

var indexTmpl = template.Must(template.New("index").Funcs(template.FuncMap{"privacy": func() string { return privacyNotice }}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clickanon linktracker</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:780px;margin:2em auto;padding:0 1em}</style></head>
<body><h1>clickanon linktracker</h1>
<p>Create a tracking link:</p>
<pre>curl -s -XPOST {{.}}/api/links -d '{"url":"https://example.com/"}'</pre>
<p>Then click <code>{{.}}/l/ID</code>, fire the conversion pixel <code>{{.}}/c/ID.gif</code>, and open <code>{{.}}/links/ID</code>.</p>
<p>{{privacy}}</p>
</body></html>
`))

// privacyNotice says in plain words what is kept about visitors: the
// pseudonym for the window, and counts, which keep the masked network
// (and country, referring site and device) as a breakdown for as long as
// the statistics' buckets are kept (sqlsink's defaults).
const privacyNotice = "This tracker never stores, logs or returns a visitor's IP address. " +
	"For the moment a request lasts it uses the address to derive the visitor's network (the first 24 bits of an IPv4 address, 48 of an IPv6 one) " +
	"and a keyed pseudonym. The pseudonym is kept, with the link and the time, for 30 minutes to tell a unique click from a repeat and to attribute conversions, " +
	"and is then deleted; the key behind the pseudonyms is destroyed one window later. " +
	"What remains are counts per link and time (per minute for 48 hours, per hour for 90 days, per day for as long as the database is kept), " +
	"broken down by network, country, referring site and device type, with any group of fewer than 5 visitors suppressed."

func (a *app) dashboard(w http.ResponseWriter, r *http.Request) {
	st, ok := a.statsFor(w, r, true) // the charts draw every bucket
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := dashboardTmpl.Execute(w, st); err != nil {
		a.log.Error("dashboard", "err", err)
	}
}

func (a *app) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = indexTmpl.Execute(w, a.baseURL(r))
}
