package sweep_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
	"github.com/clickanon/clickanon/retention"
)

// sweepOffsets are when, after the oldest bucket's start, the statistics
// are swept: at it, a nanosecond, a fraction of a second and whole seconds
// after, and before it (a clock stepped back).
var sweepOffsets = []time.Duration{
	0, time.Nanosecond, 999 * time.Millisecond, time.Second + 500*time.Millisecond,
	7*time.Hour + 8*time.Minute + 9*time.Second + 623456789, 47*time.Hour + 59*time.Minute + 59*time.Second + 999999999,
	-time.Nanosecond, -time.Hour,
}

// checkOldest sweeps s at each offset after the start of the day bucket
// of a click made at 07:08:09.123456789: days are kept for ever, so the
// day bucket is the oldest held and the report's Oldest must be the exact
// age of its start ("the age of the oldest remaining bucket's start"), 0
// for a sweep before it.
func checkOldest(t *testing.T, s retention.Sweepable) {
	day := time.Date(t0.Year(), t0.Month(), t0.Day(), 0, 0, 0, 0, time.UTC)
	for _, off := range sweepOffsets {
		st, err := s.Sweep(context.Background(), day.Add(off))
		require.NoError(t, err)
		require.Positive(t, st.Held)
		assert.Equal(t, max(0, off), st.Oldest, "a sweep %v after the oldest bucket's start", off)
	}
	// More than 292 years after it, the age is more than a Duration
	// holds: it is the longest Duration (as time.Time.Sub gives it), not
	// a negative one.
	for _, at := range []time.Time{day.AddDate(300, 0, 0), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)} {
		st, err := s.Sweep(context.Background(), at)
		require.NoError(t, err)
		assert.Equal(t, time.Duration(math.MaxInt64), st.Oldest, "a sweep in %d", at.Year())
	}
}

// A Rollup's and a SQL sink's sweep report the age of the oldest bucket
// held exactly, to the nanosecond, like the click stores', not rounded
// down to the second below it (F1), and never a negative age for a sweep
// centuries on (F2: the whole seconds, multiplied, overflowed).
func TestStatisticsSweepOldestIsExact(t *testing.T) {
	t.Run("Rollup", func(t *testing.T) {
		r, err := aggregate.New(&aggregate.Options{Now: func() time.Time { return t0 }})
		require.NoError(t, err)
		defer r.Close()
		require.NoError(t, r.Add(context.Background(), clickstoretest.Click(1, "l", t0), clickstore.Unique))
		checkOldest(t, r)
	})
	t.Run("sqlsink", func(t *testing.T) {
		ctx := context.Background()
		s, err := sqlsink.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "stats.db"), &sqlsink.Options{Logger: quiet})
		require.NoError(t, err)
		defer s.Close(ctx)
		require.NoError(t, s.Add(ctx, clickstoretest.Click(1, "l", t0), clickstore.Unique))
		require.NoError(t, s.Flush(ctx))
		checkOldest(t, s)
	})
}
