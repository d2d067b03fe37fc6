package sqlsink

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// again reports whether an idempotent statement (a read, or a DELETE that
// deletes the same rows however often it runs) that failed with err on
// its tries-th run should run once more, on another session. That is so
// when PostgreSQL did not answer it: a pooled session the server ended (a
// restart, a failover, pg_terminate_backend) fails one statement, with
// "unexpected EOF", before the pool drops it. Each idle session may be
// such a one, so the statement runs at most once more than the pool holds
// idle sessions, and never once ctx is done or the server answered with
// an error of its own.
func (s *Sink) again(ctx context.Context, err error, tries int) bool {
	if err == nil || s.dialect != PostgreSQL || ctx.Err() != nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return tries <= s.db.Stats().Idle+1
}

// exec runs an idempotent statement, again on another session while
// [Sink.again] says so.
func (s *Sink) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := s.db.ExecContext(ctx, query, args...)
	for tries := 1; s.again(ctx, err, tries); tries++ {
		res, err = s.db.ExecContext(ctx, query, args...)
	}
	return res, err
}

// query runs a read, again on another session while [Sink.again] says so.
func (s *Sink) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	for tries := 1; s.again(ctx, err, tries); tries++ {
		rows, err = s.db.QueryContext(ctx, query, args...)
	}
	return rows, err
}
