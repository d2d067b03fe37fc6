package sqlsink

import (
	"context"
	"fmt"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/errmask"
)

// Cells returns the raw, unsuppressed cells q selects (see
// [aggregate.Backend]) from what has been written to the database: clicks
// still in this or another instance's buffer are not seen until flushed.
// q.Link "" selects every link. Publish them only through
// [aggregate.Publish].
func (s *Sink) Cells(ctx context.Context, q aggregate.Query) (_ []aggregate.Cell, err error) {
	if err := s.check(ctx, "cells"); err != nil {
		return nil, err
	}
	defer errmask.Wrap(&err)
	q, err = q.Normalize()
	if err != nil {
		return nil, err
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
	rows, err := s.db.QueryContext(ctx, s.dialect.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlsink: cells: %w", err)
	}
	defer rows.Close()
	type rangeAcc struct {
		n  aggregate.Counts
		sk *hyperloglog.Sketch
	}
	var (
		out    []aggregate.Cell
		links  []string
		ranges = map[string]*rangeAcc{}
		width  = q.Granularity.Duration()
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
			c.Visitors = ra.sk.Estimate()
		}
		out = append(out, c)
	}
	return out, nil
}
