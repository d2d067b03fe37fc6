package sqlsink

import (
	"context"
	"fmt"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/errmask"
	"github.com/clickanon/clickanon/internal/hll"
)

// Cells returns the raw, unsuppressed cells q selects (see
// [aggregate.Backend]) from what has been written to the database: clicks
// still in this or another instance's buffer are not seen until flushed.
// q.Link "" selects every link. Visitors are estimated as a Rollup
// estimates them, from a sketch turned dense once it holds more than 256
// visitors (however it was merged on write), so that a Sink and a Rollup
// given the same clicks report the same. Publish them only through
// [aggregate.Publish].
func (s *Sink) Cells(ctx context.Context, q aggregate.Query) (_ []aggregate.Cell, err error) {
	if err := s.check(ctx, "cells"); err != nil {
		return nil, err
	}
	defer errmask.Wrap(&err)
	q, err = q.Normalize()
	if err != nil {
		return nil, fmt.Errorf("sqlsink: cells: %w", err)
	}
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlsink: cells: %w", ErrClosed)
	}
	from, to := q.From.Unix(), q.To.Unix()
	if q.From.Nanosecond() != 0 {
		from++ // buckets start on whole seconds: the first at or after From
	}
	if q.To.Nanosecond() != 0 {
		to++ // a bucket at To's whole second is before To
	}
	query := "SELECT " + cellKeyColumns + ", clicks, uniq, unknown, bots, conversions, sketch FROM clickanon_cells WHERE granularity = ? AND bucket >= ? AND bucket < ?"
	args := []any{int64(q.Granularity), from, to}
	if q.Link != "" {
		query += " AND link = ?"
		args = append(args, q.Link)
	}
	query += " ORDER BY link, bucket, dimension, other, value"
	rows, err := s.query(ctx, s.dialect.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlsink: cells: %w", err)
	}
	defer rows.Close()
	type rangeAcc struct {
		n  aggregate.Counts
		sk *hyperloglog.Sketch
	}
	var (
		out     []aggregate.Cell
		links   []string
		ranges  = map[string]*rangeAcc{}
		width   = q.Granularity.Duration()
		scratch []byte
	)
	for rows.Next() {
		var (
			c                 aggregate.Cell
			g                 int64
			start, other      int64
			clicks, uniq, unk int64
			bots, conv        int64
			sketch            []byte
		)
		if err := rows.Scan(&c.Link, &g, &start, &c.Dimension, &other, &c.Value, &clicks, &uniq, &unk, &bots, &conv, &sketch); err != nil {
			return nil, fmt.Errorf("sqlsink: cells: %w", err)
		}
		c.Scope, c.Granularity, c.Other = aggregate.ScopeBucket, q.Granularity, other != 0
		c.Start = time.Unix(start, 0).UTC()
		c.End = c.Start.Add(width)
		c.Counts = aggregate.Counts{Clicks: uint64(clicks), Unique: uint64(uniq), UnknownUniqueness: uint64(unk), Bots: uint64(bots), Conversions: uint64(conv)}
		var sk *hyperloglog.Sketch
		if sketch != nil {
			sk = new(hyperloglog.Sketch)
			if err := sk.UnmarshalBinary(sketch); err != nil {
				return nil, fmt.Errorf("sqlsink: cells: stored sketch of %d bytes: %w", len(sketch), err)
			}
			sk = denseIfLarge(sk, &scratch)
			c.Visitors = sk.Estimate()
		}
		out = append(out, c)
		if c.Dimension != aggregate.Total {
			continue
		}
		ra := ranges[c.Link]
		if ra == nil {
			ra = &rangeAcc{}
			ranges[c.Link] = ra
			links = append(links, c.Link)
		}
		ra.n = ra.n.Add(c.Counts)
		if sk != nil {
			if ra.sk == nil {
				ra.sk = sk
			} else if err := ra.sk.Merge(sk); err != nil {
				return nil, fmt.Errorf("sqlsink: cells: %w", err)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlsink: cells: %w", err)
	}
	for _, link := range links {
		ra := ranges[link]
		c := aggregate.Cell{Scope: aggregate.ScopeRange, Link: link, Granularity: q.Granularity, Start: q.From, End: q.To, Dimension: aggregate.Total, Counts: ra.n}
		if ra.sk != nil {
			c.Visitors = denseIfLarge(ra.sk, &scratch).Estimate()
		}
		out = append(out, c)
	}
	return out, nil
}

// denseIfLarge returns sk, or a dense copy of it if sk is a sparse sketch
// of more than hll.DenseAt entries. A stored sketch merged on write, and a
// union of sparse ones, stays sparse in axiomhq past that size, and a
// sparse sketch estimates differently from a dense one: a Rollup turns
// such a sketch dense before its estimate, and so does Cells, so that the
// two answer the same for the same clicks. scratch is a buffer to reuse.
func denseIfLarge(sk *hyperloglog.Sketch, scratch *[]byte) *hyperloglog.Sketch {
	var g hll.Growth
	if ds := g.Check(sk, precision, scratch); ds != nil {
		return ds
	}
	return sk
}
