package redisstore

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/burstlog"
	"github.com/clickanon/clickanon/internal/errmask"
)

// Stats are a Store's failure counters since New, for metrics. A failure
// is an error that is not the caller's: bad input (an error wrapping
// clickstore.ErrInvalidClick), a closed store, a canceled context and a
// changed epoch key (counted in Restarts) are not counted as errors.
//
// Stats is a small comparable value; the zero Stats is all zeros.
type Stats struct {
	RecordErrors uint64 // Record and RecordBatch calls that failed (Redis, the network, a full store, WAIT)
	LatestErrors uint64 // Latest calls that failed
	SweepErrors  uint64 // Sweep calls that failed
	Restarts     uint64 // times Record found the epoch key gone from Redis or replaced (needs Options.KeyStore)
	Full         uint64 // clicks refused because the store held Options.Capacity clicks
	IndexErrors  uint64 // writes of queued index entries that failed
	IndexDropped uint64 // index entries lost: their write failed, or the queue was full
}

// Stats returns the Store's counters. It is safe for concurrent use, after
// Close too.
func (s *Store) Stats() Stats {
	if s == nil {
		return Stats{}
	}
	return Stats{
		RecordErrors: s.fails.record.Failures(),
		LatestErrors: s.fails.latest.Failures(),
		SweepErrors:  s.fails.sweep.Failures(),
		Restarts:     s.fails.restarts.Load(),
		Full:         s.fails.full.Load(),
		IndexErrors:  s.fails.index.Failures(),
		IndexDropped: s.idx.droppedEntries(),
	}
}

// failures logs and counts a Store's failures, once per burst each.
type failures struct {
	record, latest, sweep, index burstlog.Logger
	restarts, full               atomic.Uint64
}

func (f *failures) init(log *slog.Logger) {
	for _, l := range []*burstlog.Logger{&f.record, &f.latest, &f.sweep, &f.index} {
		l.Logger, l.Mask = log, errmask.Text
	}
}

// callerError marks an error as the caller's fault (a bad query), so
// that it is neither counted nor logged as a failure.
type callerError struct{ error }

func (e callerError) Unwrap() error { return e.error }

// isFailure reports whether err is the store's failure rather than the
// caller's (see Stats).
func isFailure(err error) bool {
	var ce callerError
	return err != nil &&
		!errors.As(err, &ce) &&
		!errors.Is(err, clickstore.ErrInvalidClick) &&
		!errors.Is(err, clickstore.ErrClosed) &&
		!errors.Is(err, context.Canceled) &&
		!errors.Is(err, ErrKeyChanged)
}

// op names an operation in log lines: what it is, what its failure
// costs. Its lines are built once, so that a success on a hot path
// builds no string.
type op struct{ failed, ok string }

func newOp(name, lost string) op {
	return op{failed: "redisstore: " + name + " failed; " + lost, ok: "redisstore: " + name + " works again"}
}

var (
	opRecord = newOp("record", "the clicks are counted with uniqueness unknown")
	opLatest = newOp("latest", "conversions are not attributed to their clicks")
	opSweep  = newOp("sweep", "expired clicks stay until their TTL deletes them")
	opIndex  = newOp("index write", "Latest on any link, All, Sweep and the erasures miss the clicks concerned until their TTL deletes them")
	opAdd    = newOp("add click", "the clicks may not be counted")
	opCells  = newOp("cells", "reports cannot be read")
	opErase  = newOp("erase link", "the link's statistics may be partly kept")
)

// note records the outcome of one call of operation o: a failure is
// counted and logged once per burst with what it costs, and the first
// success after failures logs one recovery line.
func note(ctx context.Context, l *burstlog.Logger, now func() time.Time, o *op, err error) {
	switch {
	case err == nil:
		l.OK(ctx, now(), o.ok)
	case isFailure(err):
		l.Fail(ctx, now(), o.failed, err)
	}
}
