package sqlsink

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/errmask"
	"github.com/clickanon/clickanon/retention"
)

// Sweep deletes from the database every bucket past its granularity's
// retention at now (a bucket of granularity g starting at s once now >= s
// + g + retention(g)), and the tokens of batches written more than
// TokenRetention ago by the database's clock (which stamps them, so that
// instances whose clocks disagree cannot sweep a token whose batch is
// still being retried and count it twice). Every click is counted in its minute, hour
// and day bucket at once, so the coarser buckets already hold the detail
// deleted: minutes roll up into hours and hours into days by construction.
// It reports the cells deleted, the cells held and the age at now of the
// oldest held bucket's start, to the nanosecond (0 for a start after now).
// It makes a Sink [retention.Sweepable]; one sweeper
// per database is enough, and several are harmless.
func (s *Sink) Sweep(ctx context.Context, now time.Time) (_ retention.SweepStats, err error) {
	if err := s.check(ctx, "sweep"); err != nil {
		return retention.SweepStats{}, err
	}
	defer errmask.Wrap(&err)
	var st retention.SweepStats
	if now.IsZero() {
		return st, fmt.Errorf("sqlsink: sweep: zero time")
	}
	if s.closed.Load() {
		return st, fmt.Errorf("sqlsink: sweep: %w", ErrClosed)
	}
	for _, g := range granularities {
		ret := s.cfg.retention[g]
		if ret == aggregate.KeepForever {
			continue
		}
		// Expired iff start + width <= now - retention, to the
		// nanosecond: start + width is a whole second.
		cutoff := now.Add(-ret).Unix() - int64(g.Duration()/time.Second)
		res, err := s.exec(ctx, s.dialect.rebind("DELETE FROM clickanon_cells WHERE granularity = ? AND bucket <= ?"), int64(g), cutoff)
		if err != nil {
			return st, fmt.Errorf("sqlsink: sweep %s buckets: %w", g, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return st, fmt.Errorf("sqlsink: sweep %s buckets: %w", g, err)
		}
		st.Deleted += int(n)
	}
	// Tokens by the database's clock, which stamped them: an instance
	// whose clock runs days ahead must not sweep the token of a batch
	// another instance is about to retry.
	if _, err := s.exec(ctx, s.dialect.rebind("DELETE FROM clickanon_batches WHERE at < "+s.dialect.unixNow()+" - ?"), int64(TokenRetention/time.Second)); err != nil {
		return st, fmt.Errorf("sqlsink: sweep batch tokens: %w", err)
	}
	var (
		held   int64
		oldest sql.NullInt64
	)
	err = s.db.QueryRowContext(ctx, "SELECT count(*), min(bucket) FROM clickanon_cells").Scan(&held, &oldest)
	for tries := 1; s.again(ctx, err, tries); tries++ {
		err = s.db.QueryRowContext(ctx, "SELECT count(*), min(bucket) FROM clickanon_cells").Scan(&held, &oldest)
	}
	if err != nil {
		return st, fmt.Errorf("sqlsink: sweep: count: %w", err)
	}
	st.Held = int(held)
	if oldest.Valid {
		// To the nanosecond, and at most the largest Duration (Sub
		// saturates) for a bucket kept for good centuries ago.
		st.Oldest = max(0, now.Sub(time.Unix(oldest.Int64, 0)))
	}
	return st, nil
}

// EraseLink destroys every statistic of link: what the buffer holds, what
// a failed batch waiting to be retried holds, and every row in the
// database. It reports how many database rows it deleted. Clicks on link
// that other instances still buffer reach the database when they flush:
// erase a link once no instance counts it any more (after deleting the
// link itself).
func (s *Sink) EraseLink(ctx context.Context, link string) (_ int, err error) {
	if err := s.check(ctx, "erase link"); err != nil {
		return 0, err
	}
	defer errmask.Wrap(&err)
	if link == "" || len(link) > clickstore.MaxLinkLen {
		return 0, fmt.Errorf("sqlsink: erase link: %w", clickstore.Click{Link: link}.Validate())
	}
	if s.closed.Load() {
		return 0, fmt.Errorf("sqlsink: erase link: %w", ErrClosed)
	}
	if err := s.flushMu.lock(ctx); err != nil {
		return 0, fmt.Errorf("sqlsink: erase link: waiting for a flush: %w", err)
	}
	defer s.flushMu.unlock()
	sh := s.buf.shard(link)
	sh.mu.Lock()
	freed, adds := 0, uint64(0)
	for k, b := range sh.buckets {
		if k.link != link {
			continue
		}
		freed += b.cells()
		if k.g == aggregate.Day {
			// Every Add counts one click or one conversion in its day
			// bucket's total: that is how many Adds leave the buffer.
			adds += b.total.n.Clicks + b.total.n.Conversions
		}
		delete(sh.buckets, k)
	}
	sh.cells -= freed
	sh.adds -= adds
	sh.mu.Unlock()
	s.held.Add(int64(-freed))
	s.stats.buffered.Add(-adds)
	if s.memory != nil {
		s.memory.forgetLink(link)
	}
	if b := s.pending; b != nil {
		// The batch may have been committed already (its reply lost): its
		// token then makes the retry a no-op and the DELETE below removes
		// its rows; if not, the retry writes the batch without link.
		kept := b.rows[:0:0]
		for _, r := range b.rows {
			if r.link != link {
				kept = append(kept, r)
			}
		}
		b.rows = kept
	}
	res, err := s.exec(ctx, s.dialect.rebind("DELETE FROM clickanon_cells WHERE link = ?"), link)
	if err != nil {
		return 0, fmt.Errorf("sqlsink: erase link: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlsink: erase link: %w", err)
	}
	return int(n), nil
}
