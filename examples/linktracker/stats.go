package main

import (
	"context"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/retention"
)

// statsBook is where the tracker's counts go and where the API reads them:
// the SQL sink in the links' database.
type statsBook struct {
	backend aggregate.Backend
	now     func() time.Time
	timeout time.Duration
}

func newStatsBook(backend aggregate.Backend, now func() time.Time, timeout time.Duration) *statsBook {
	return &statsBook{backend: backend, now: now, timeout: timeout}
}

// Add makes statsBook a clickstore.Sink. A click is counted even if the
// visitor hangs up or the store used up the request's time: the count gets
// its own deadline, detached from the request's.
func (s *statsBook) Add(ctx context.Context, c clickstore.Click, u clickstore.Uniqueness) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	return s.backend.Add(ctx, c, u)
}

// Sweep deletes the buckets past their retention, when the backend keeps
// any.
func (s *statsBook) Sweep(ctx context.Context, now time.Time) (retention.SweepStats, error) {
	if sw, ok := s.backend.(retention.Sweepable); ok {
		return sw.Sweep(ctx, now)
	}
	return retention.SweepStats{}, nil
}

// point is one bucket of a time series.
type point struct {
	Start      time.Time `json:"start"`
	Clicks     uint64    `json:"clicks"`
	Unique     uint64    `json:"unique_clicks"`
	Suppressed bool      `json:"suppressed,omitempty"`
}

// valueCount is one published value of a breakdown.
type valueCount struct {
	Value  string `json:"value"`
	Clicks uint64 `json:"clicks"`
	Unique uint64 `json:"unique_clicks"`
}

// breakdown is one dimension's published values and what was withheld.
type breakdown struct {
	Dimension  string       `json:"dimension"`
	Cells      []valueCount `json:"values"`
	Suppressed uint64       `json:"suppressed_clicks"`
}

// series is a time series of one link over a range: every click in it,
// and the buckets. A bucket of fewer than K visitors is published as
// suppressed, its counts withheld; SuppressedClicks says how many of the
// range's clicks are in such buckets, so that the points and it add up to
// Clicks.
type series struct {
	Step             string    `json:"step"`
	From             time.Time `json:"from"`
	To               time.Time `json:"to"`
	Clicks           uint64    `json:"clicks"`
	SuppressedClicks uint64    `json:"suppressed_clicks"`
	Points           []point   `json:"points"`
}

// linkStats is the JSON of /api/links/{id}/stats and the dashboard's data.
type linkStats struct {
	ID                string      `json:"id"`
	URL               string      `json:"url"`
	Clicks            uint64      `json:"clicks"`
	UniqueClicks      uint64      `json:"unique_clicks"`
	BotClicks         uint64      `json:"bot_clicks"`
	Conversions       uint64      `json:"conversions"`
	UnknownUniqueness uint64      `json:"unknown_uniqueness"`
	UniqueVisitors    uint64      `json:"unique_visitors_estimate"`
	K                 int         `json:"k"`
	Minutes           series      `json:"per_minute"`
	Hours             series      `json:"per_hour"`
	Breakdowns        []breakdown `json:"breakdowns"`
	Privacy           string      `json:"privacy"`
}

// Link reports a link's statistics at now: exact totals since it was
// created, the last hour per minute and the last two days per hour (the
// buckets that had clicks, or every bucket if zeros is set), and
// breakdowns by country, network, referrer and device, with every cell of
// fewer than aggregate.DefaultK visitors suppressed in the series and
// breakdowns.
func (s *statsBook) Link(ctx context.Context, l Link, now time.Time, zeros bool) (linkStats, error) {
	st := linkStats{ID: l.ID, URL: l.URL, K: aggregate.DefaultK, Privacy: privacyNotice}
	// A sink that buffers (the SQL sink) reads only what it has written:
	// write this instance's clicks first, so a click shows at once. The
	// write gets half the request's time at most: a database that cannot
	// be written for a while (SQLite locked by another process, a full
	// disk) can still be read, and then the answer lacks only the clicks
	// still buffered, which the sink keeps and writes later.
	if f, ok := s.backend.(interface{ Flush(context.Context) error }); ok {
		fctx, cancel := ctx, context.CancelFunc(func() {})
		if d, ok := ctx.Deadline(); ok {
			fctx, cancel = context.WithTimeout(ctx, time.Until(d)/2)
		}
		_ = f.Flush(fctx)
		cancel()
	}
	dayFrom := aggregate.Day.Start(l.Created)
	dayTo := aggregate.Day.Start(now).Add(24 * time.Hour)

	// Totals are counts of one link, exact and unsuppressed: they say how
	// many clicked, not who.
	raw, err := s.backend.Cells(ctx, aggregate.Query{Link: l.ID, Granularity: aggregate.Day, From: dayFrom, To: dayTo})
	if err != nil {
		return linkStats{}, err
	}
	for _, c := range raw {
		if c.Dimension != aggregate.Total {
			continue
		}
		if c.Scope == aggregate.ScopeRange {
			st.UniqueVisitors = c.Visitors
			continue
		}
		st.Clicks += c.Clicks
		st.UniqueClicks += c.Unique
		st.BotClicks += c.Bots
		st.Conversions += c.Conversions
		st.UnknownUniqueness += c.UnknownUniqueness
	}

	if st.Minutes, err = s.series(ctx, l.ID, aggregate.Minute, now, 60, zeros); err != nil {
		return linkStats{}, err
	}
	if st.Hours, err = s.series(ctx, l.ID, aggregate.Hour, now, 48, zeros); err != nil {
		return linkStats{}, err
	}

	// Breakdowns over every day since the link was created, published
	// cells only.
	rep, err := aggregate.Publish(ctx, s.backend, aggregate.Query{Link: l.ID, Granularity: aggregate.Day, From: dayFrom, To: dayTo})
	if err != nil {
		return linkStats{}, err
	}
	dims := []aggregate.Dimension{aggregate.Country, aggregate.Network, aggregate.Referrer, aggregate.Device}
	st.Breakdowns = make([]breakdown, len(dims))
	byDim := make(map[aggregate.Dimension]*breakdown, len(dims))
	index := make(map[aggregate.Dimension]map[string]int, len(dims))
	for i, d := range dims {
		st.Breakdowns[i] = breakdown{Dimension: d.String(), Cells: []valueCount{}}
		byDim[d] = &st.Breakdowns[i]
		index[d] = map[string]int{}
	}
	for _, c := range rep.Cells {
		b, ok := byDim[c.Dimension]
		if !ok || c.Scope != aggregate.ScopeBucket {
			continue
		}
		if c.Suppressed {
			b.Suppressed += c.Clicks
			continue
		}
		v := c.Value
		if c.Other {
			v = "other"
		}
		i, seen := index[c.Dimension][v]
		if !seen {
			i = len(b.Cells)
			index[c.Dimension][v] = i
			b.Cells = append(b.Cells, valueCount{Value: v})
		}
		b.Cells[i].Clicks += c.Clicks
		b.Cells[i].Unique += c.Unique
	}
	return st, nil
}

// series returns the last n buckets of width g up to now, with the buckets
// of fewer than K visitors marked suppressed: those with clicks, or all n
// if zeros is set.
func (s *statsBook) series(ctx context.Context, link string, g aggregate.Granularity, now time.Time, n int, zeros bool) (series, error) {
	to := g.Start(now).Add(g.Duration())
	from := to.Add(-time.Duration(n) * g.Duration())
	q := aggregate.Query{Link: link, Granularity: g, From: from, To: to}
	out := series{Step: g.String(), From: from, To: to, Points: []point{}}
	raw, err := s.backend.Cells(ctx, q)
	if err != nil {
		return series{}, err
	}
	for _, c := range raw {
		if c.Scope == aggregate.ScopeBucket && c.Dimension == aggregate.Total && c.Link == link {
			out.Clicks += c.Clicks
		}
	}
	rep, err := aggregate.Publish(ctx, s.backend, q)
	if err != nil {
		return series{}, err
	}
	pts := make([]point, n)
	for i := range pts {
		pts[i].Start = from.Add(time.Duration(i) * g.Duration())
	}
	var shown uint64
	for _, c := range rep.Cells {
		if c.Scope != aggregate.ScopeBucket || c.Dimension != aggregate.Total || c.Link != link {
			continue
		}
		i := int(c.Start.Sub(from) / g.Duration())
		if i < 0 || i >= n {
			continue
		}
		pts[i].Clicks, pts[i].Unique, pts[i].Suppressed = c.Clicks, c.Unique, c.Suppressed
		shown += c.Clicks
	}
	out.SuppressedClicks = out.Clicks - min(shown, out.Clicks)
	for _, p := range pts {
		if zeros || p.Clicks > 0 || p.Suppressed {
			out.Points = append(out.Points, p)
		}
	}
	return out, nil
}
