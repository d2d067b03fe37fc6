package aggregate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
)

// DefaultK is the publication threshold used where a [Query] leaves K zero:
// a cell with fewer than 5 distinct visitors is suppressed. Five is the
// threshold Apple's analytics use to withhold cells, and small enough that
// a link with real traffic keeps its detail, while a count of 1 or 2 for a
// /24 network in a small town, which can name a person, is never shown.
const DefaultK = 5

// Scope says what a [Cell] covers.
//
// A Scope is a small comparable value. The zero Scope is ScopeBucket.
type Scope uint8

const (
	// ScopeBucket is one time bucket of the query's granularity.
	ScopeBucket Scope = iota
	// ScopeRange is the whole query range [From, To): its counts are sums
	// over the buckets, and its Visitors the estimate of their union.
	ScopeRange
)

// String returns "bucket" or "range", or "Scope(N)".
func (s Scope) String() string {
	switch s {
	case ScopeBucket:
		return "bucket"
	case ScopeRange:
		return "range"
	}
	return fmt.Sprintf("Scope(%d)", uint8(s))
}

// Query selects what a report covers.
//
// A Query is a small comparable value. The zero Query is not valid: From
// and To are required.
type Query struct {
	// Link is the link reported on; "" means every link (only backends
	// that can list links accept it: a [Rollup] does).
	Link string
	// Granularity is the bucket width; 0 means Day.
	Granularity Granularity
	// From and To bound the range: buckets whose start is at or after
	// From and before To are reported. From must be before To.
	From, To time.Time
	// K is the publication threshold: a cell with fewer than K distinct
	// visitors is suppressed. 0 means DefaultK; negative is an error.
	K int
}

// Normalize returns q with its defaults filled in (Granularity Day, K
// DefaultK, From and To in UTC), or an error if q is invalid.
func (q Query) Normalize() (Query, error) {
	if q.Granularity == 0 {
		q.Granularity = Day
	}
	if q.K == 0 {
		q.K = DefaultK
	}
	switch {
	case q.Granularity.Duration() == 0:
		return Query{}, fmt.Errorf("aggregate: query granularity %d unknown", int(q.Granularity))
	case q.K < 0:
		return Query{}, fmt.Errorf("aggregate: query K %d is negative", q.K)
	case len(q.Link) > clickstore.MaxLinkLen:
		return Query{}, fmt.Errorf("aggregate: query link of %d bytes: longer than %d bytes", len(q.Link), clickstore.MaxLinkLen)
	case q.From.IsZero() || q.To.IsZero():
		return Query{}, fmt.Errorf("aggregate: query range: both ends are required (From zero: %t, To zero: %t)", q.From.IsZero(), q.To.IsZero())
	case !q.From.Before(q.To):
		return Query{}, errors.New("aggregate: query range: From is not before To")
	}
	q.From, q.To = q.From.UTC(), q.To.UTC()
	return q, nil
}

// Cell is one line of a report: the counts of one link in one bucket (or
// over the whole range), either in total or for one value of a dimension.
//
// A Cell is a small comparable value; the zero Cell is an empty bucket
// total with no link.
type Cell struct {
	Scope       Scope
	Link        string // "" in the suppressed summary cells of a report
	Granularity Granularity
	Start, End  time.Time // the bucket, or the query range; UTC
	Dimension   Dimension
	// Value is the dimension's value as text: a country code, a masked
	// network such as 192.0.2.0/24, a referrer host or a device class ("" is
	// a real value: not known). It is "" for Total, "other" and suppressed
	// cells.
	Value string
	// Other marks the cell that counts the values beyond the MaxValues cap.
	Other bool
	Counts
	// Visitors is the estimated number of distinct human visitors
	// (HyperLogLog; near-exact when small). It is 0 in suppressed cells.
	Visitors uint64
	// Suppressed marks a cell withheld for having fewer than K visitors
	// (see [Publish]).
	Suppressed bool
	// SuppressedCells is how many cells a suppressed cell stands for.
	SuppressedCells int
}

// Report is what [Publish] returns: the cells of a query with small cells
// suppressed.
//
// A Report's zero value is an empty report; it is a plain value, safe to
// read from many goroutines.
type Report struct {
	// Query is the query answered, normalized (see [Query.Normalize]).
	Query Query
	// Cells are in a stable order: bucket cells, then range cells; within
	// a scope, by link (suppressed summaries, with Link "", last), start,
	// dimension, then published before other before suppressed, then value.
	Cells []Cell
}

// Backend is where rollups live: it counts clicks as a [clickstore.Sink]
// and answers queries with raw cells. [Rollup] is the in-memory Backend;
// package clickstore/aggregate/sqlsink keeps the statistics in PostgreSQL
// or SQLite, and package clickstore/redisstore in Redis, shared by many
// instances. Package clickstore/aggregate/aggregatetest checks a Backend
// against this contract, one subtest per clause.
//
// The contract, for every implementation:
//
//   - Exactly once. Every Add that returns nil is counted exactly once, as
//     [CountsOf] says, in its minute, hour and day bucket, in total and in
//     each dimension, however many goroutines, and however many instances
//     sharing one storage, add at once. A retry inside the backend (a
//     resent command, a flush retried after a lost reply) never counts
//     twice. An Add that returns an error counts nothing, or (for a
//     backend that writes at once and lost the reply) the click once:
//     never twice, never half of it.
//   - Input. An invalid click ([clickstore.Click.Validate]), an unknown
//     Uniqueness or a done ctx is refused with an error and counts nothing.
//     A nil ctx is an error from every method, never a panic, and leaves
//     the backend working.
//   - Buffering. A backend may count in memory first and write later (the
//     SQL sink does); it then has a Flush(ctx) method after which Cells
//     sees every Add that returned before Flush was called, and it bounds
//     its buffer: an Add past the bound returns an error, it is not
//     dropped silently. Cells may lag the Adds of a buffering backend,
//     never the other way round.
//   - Cells. Cells returns the cells a normalized query selects,
//     unsuppressed: for every link and bucket of q.Granularity whose start
//     is in [q.From, q.To), a Total cell and one cell per dimension value
//     (plus "other" cells where a backend caps values), and for every link
//     one ScopeRange Total cell whose counts are the sums and whose
//     Visitors estimates the union of the buckets' visitors (never their
//     sum). Bucket starts and ends are UTC. A link with no click in range
//     has no cells. Bots never count as visitors.
//   - Retention and erasure, where offered. A backend that is a
//     [retention.Sweepable] drops a bucket of granularity g starting at s
//     once now >= s + g + retention(g), and coarser buckets keep the
//     totals; one with EraseLink(ctx, link) leaves nothing of the link,
//     buffered or stored.
//
// Raw cells must not be published as they are: [Publish] suppresses the
// small ones. Implementations must be safe for concurrent use.
type Backend interface {
	clickstore.Sink
	Cells(ctx context.Context, q Query) ([]Cell, error)
}

// Publish answers q from b with every cell of fewer than q.K distinct
// visitors suppressed, so the report can be shown to anyone.
//
// A network in a report is never finer than ipmask.Default keeps, whatever
// b returns: a finer Network value (a /32 stored by a backend that kept
// networks as given, as this module's did before [NetworkOf]) is replaced
// by the network ipmask.Default keeps for it; a Network value that is
// neither a network nor an address (an address with a port, a URL, a
// list: text that may hold an address in a form no prefix parser reads)
// is counted in the dimension's "other" cell; and the cells that then
// share a value are merged, before suppression.
//
// The contributors of a cell are its distinct human visitors as estimated
// by its sketch, not its clicks: one person clicking ten times is one
// contributor, and bot traffic contributes no one (a cell of bots alone is
// suppressed). Small sketches are near-exact, so the threshold is applied
// to the true count in the range where it matters: for K up to
// 2^p/64 + 1, p being the sketches' precision (257 at the default 14, 5
// at the least a Rollup takes, 8); above, to an estimate within the
// sketch's standard error, so that a cell a few percent short of K may
// be published.
//
// Suppression keeps the sums: for every scope and dimension, the counts of
// all cells of that dimension add up to the total.
//
//   - A dimension cell below K is removed and its counts added to a single
//     suppressed cell for its link, bucket and dimension, with Value ""
//     and SuppressedCells saying how many it stands for.
//   - A Total cell below K stays in place, marked Suppressed with its
//     counts not shown (zero); its counts, and those of its bucket's
//     dimension cells (none of which is published), go to suppressed
//     summary cells with Link "", one per dimension, spanning the query
//     range.
//
// What suppression guarantees, within one report: every published cell
// (a bucket's counts, a dimension value's) stands for at least K distinct
// visitors, and the value of a suppressed cell (which country, network,
// referrer or device) is not in the report and no subtraction of its
// cells isolates it: each dimension is broken down once per bucket,
// never across dimensions or over the range. (Where a dimension has few
// values, as device classes do, the published ones leave few candidates
// for the rest.) Suppressed counts are shown as sums, so
// that totals add up: a sum that stands for one cell (SuppressedCells 1)
// is that cell's counts, without its value, and the counts of a bucket
// whose Total is suppressed are the range total minus the published
// buckets when it is the only one. Suppression hides which small group a
// count belongs to, not that it exists.
//
// What it does not guarantee: reports compared with each other. A value
// published in a coarse bucket (a day) but suppressed in a finer one (an
// hour of that day) is recovered by subtracting the finer buckets that
// publish it; the range totals of two overlapping ranges subtract to the
// buckets between them. Where readers you do not trust can run queries
// of their own, give them one granularity over fixed, non-overlapping
// ranges (the example linktracker publishes its breakdowns by day only).
func Publish(ctx context.Context, b Backend, q Query) (Report, error) {
	q, err := q.Normalize()
	if err != nil {
		return Report{}, err
	}
	if b == nil {
		return Report{}, errors.New("aggregate: publish: nil backend")
	}
	if ctx == nil {
		return Report{}, errors.New("aggregate: publish: nil context")
	}
	raw, err := b.Cells(ctx, q)
	if err != nil {
		return Report{}, err
	}
	return Report{Query: q, Cells: suppress(q, raw)}, nil
}

type groupKey struct {
	scope Scope
	link  string
	start time.Time
	dim   Dimension
}

type bucketID struct {
	scope Scope
	link  string
	start time.Time
}

// coarsenNetworks returns raw with every Network value finer than
// ipmask.Default (a /32 a backend stored before it counted networks with
// NetworkOf, or one that never does) replaced by the network the policy
// keeps for it, every Network value that is neither a network nor an
// address (an address with a port, a URL, a list: text that may hold an
// address in a form no prefix parser reads) counted in the dimension's
// "other" cell, and cells that then share a value merged: their counts
// add, and so do their visitors, which are distinct (a visitor's
// pseudonym is of its address, so networks that do not overlap hold
// different visitors). raw is reused.
func coarsenNetworks(raw []Cell) []Cell {
	type cellKey struct { // of a Network cell
		scope Scope
		link  string
		start time.Time
		value string
		other bool
	}
	var at map[cellKey]int
	index := func(out []Cell) {
		if at != nil {
			return
		}
		at = make(map[cellKey]int)
		for i, o := range out {
			if o.Dimension == Network {
				at[cellKey{o.Scope, o.Link, o.Start, o.Value, o.Other}] = i
			}
		}
	}
	out := raw[:0]
	for _, c := range raw {
		if c.Dimension == Network && !c.Other {
			p, err := netip.ParsePrefix(c.Value)
			if a, aerr := netip.ParseAddr(c.Value); err != nil && aerr == nil {
				p, err = netip.PrefixFrom(a.WithZone(""), a.BitLen()), nil
			}
			if err != nil {
				c.Value, c.Other = "", true
				index(out)
			} else if n := NetworkOf(p.Masked(), ipmask.Default); n.String() != c.Value {
				c.Value = n.String()
				index(out)
			}
		}
		if at != nil && c.Dimension == Network {
			k := cellKey{c.Scope, c.Link, c.Start, c.Value, c.Other}
			if i, ok := at[k]; ok {
				out[i].Counts = out[i].Counts.Add(c.Counts)
				out[i].Visitors += c.Visitors
				continue
			}
			at[k] = len(out)
		}
		out = append(out, c)
	}
	return out
}

func suppress(q Query, raw []Cell) []Cell {
	raw = coarsenNetworks(raw)
	hidden := make(map[bucketID]bool)
	for _, c := range raw {
		if c.Dimension == Total && c.Visitors < uint64(q.K) {
			hidden[bucketID{c.Scope, c.Link, c.Start}] = true
		}
	}
	out := make([]Cell, 0, len(raw))
	groups := make(map[groupKey]int)  // index in out of a group's suppressed cell
	summary := make(map[groupKey]int) // same, for the summaries (link "")
	addTo := func(idx map[groupKey]int, k groupKey, c Cell, start, end time.Time) {
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Cell{
				Scope: c.Scope, Link: k.link, Granularity: c.Granularity,
				Start: start, End: end, Dimension: c.Dimension, Suppressed: true,
			})
		}
		out[i].Counts = out[i].Counts.Add(c.Counts)
		out[i].SuppressedCells++
	}
	for _, c := range raw {
		if hidden[bucketID{c.Scope, c.Link, c.Start}] {
			addTo(summary, groupKey{scope: c.Scope, dim: c.Dimension}, c, q.From, q.To)
			if c.Dimension == Total {
				m := c
				m.Counts, m.Visitors, m.Value, m.Other = Counts{}, 0, "", false
				m.Suppressed, m.SuppressedCells = true, 1
				out = append(out, m)
			}
			continue
		}
		if c.Visitors < uint64(q.K) {
			addTo(groups, groupKey{c.Scope, c.Link, c.Start, c.Dimension}, c, c.Start, c.End)
			continue
		}
		c.Suppressed, c.SuppressedCells = false, 0
		out = append(out, c)
	}
	slices.SortStableFunc(out, compareCells)
	return out
}

func compareCells(a, b Cell) int {
	rank := func(c Cell) int {
		switch {
		case c.Suppressed && c.Dimension != Total:
			return 2
		case c.Other:
			return 1
		}
		return 0
	}
	return cmp.Or(
		cmp.Compare(a.Scope, b.Scope),
		cmpBool(a.Link == "", b.Link == ""),
		cmp.Compare(a.Link, b.Link),
		a.Start.Compare(b.Start),
		cmp.Compare(a.Dimension, b.Dimension),
		cmp.Compare(rank(a), rank(b)),
		cmp.Compare(a.Value, b.Value),
	)
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// Report answers q from r with small cells suppressed: it is
// Publish(ctx, r, q).
func (r *Rollup) Report(ctx context.Context, q Query) (Report, error) {
	return Publish(ctx, r, q)
}

// Cells returns the raw, unsuppressed cells q selects (see [Backend]).
// q.Link "" selects every link. The granularity must be one r keeps.
// Publish them only through [Publish] or [Rollup.Report].
func (r *Rollup) Cells(ctx context.Context, q Query) ([]Cell, error) {
	if err := r.check(ctx, "cells"); err != nil {
		return nil, err
	}
	q, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	if !r.cfg.on[q.Granularity] {
		return nil, fmt.Errorf("aggregate: query granularity %s is not kept by this rollup", q.Granularity)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("aggregate: cells: %w", err)
	}
	from, to := q.From.Unix(), q.To.Unix()
	if q.From.Nanosecond() != 0 {
		from++ // buckets start on whole seconds: the first at or after From
	}
	if q.To.Nanosecond() != 0 {
		to++ // a bucket at To's whole second is before To
	}
	width := q.Granularity.Duration()
	ranges := make(map[string]*cell)
	var out []Cell
	collect := func(s *shard) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		p := &s.x
		for k, b := range s.buckets {
			if k.g != q.Granularity || k.start < from || k.start >= to || (q.Link != "" && k.link != q.Link) {
				continue
			}
			start := time.Unix(k.start, 0).UTC()
			base := Cell{Scope: ScopeBucket, Link: k.link, Granularity: k.g, Start: start, End: start.Add(width)}
			out = appendCell(out, base, Total, "", false, &b.total, p)
			out = appendBreakdown(out, base, Country, &b.country, p, func(v string) string { return v })
			out = appendBreakdown(out, base, Network, &b.network, p, func(v netip.Prefix) string { return v.String() })
			out = appendBreakdown(out, base, Referrer, &b.referrer, p, func(v string) string { return v })
			out = appendBreakdown(out, base, Device, &b.device, p, func(v string) string { return v })
			ra := ranges[k.link]
			if ra == nil {
				ra = new(cell)
				ranges[k.link] = ra
			}
			if err := ra.merge(&b.total, p); err != nil {
				return fmt.Errorf("aggregate: cells: %w", err)
			}
		}
		return nil
	}
	if q.Link != "" {
		if err := collect(r.shard(q.Link)); err != nil {
			return nil, err
		}
	} else {
		for i := range r.shards {
			if err := collect(&r.shards[i]); err != nil {
				return nil, err
			}
		}
	}
	x := sketchBuf{p: r.cfg.precision}
	for link, ra := range ranges {
		out = append(out, Cell{Scope: ScopeRange, Link: link, Granularity: q.Granularity, Start: q.From, End: q.To, Dimension: Total, Counts: ra.n, Visitors: ra.visitors(&x)})
	}
	slices.SortStableFunc(out, compareCells)
	return out, nil
}

func appendCell(out []Cell, base Cell, d Dimension, v string, other bool, c *cell, x *sketchBuf) []Cell {
	base.Dimension, base.Value, base.Other = d, v, other
	base.Counts = c.n
	base.Visitors = c.visitors(x)
	return append(out, base)
}

func appendBreakdown[K comparable](out []Cell, base Cell, d Dimension, b *breakdown[K], x *sketchBuf, text func(K) string) []Cell {
	for k, c := range b.vals {
		out = appendCell(out, base, d, text(k), false, c, x)
	}
	if b.other != nil {
		out = appendCell(out, base, d, "", true, b.other, x)
	}
	return out
}
