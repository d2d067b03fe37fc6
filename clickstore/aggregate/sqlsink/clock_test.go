package sqlsink

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
)

// Two instances share a database; one's clock is eight days behind the
// other's (a machine whose clock was never set, a step the other way). The
// slow one's flush loses its commit reply, and before its retry the other
// sweeps batch tokens older than TokenRetention by its own clock. The
// retry must still find its token: the batch counts once.
func TestTokenSurvivesAnotherInstancesClock(t *testing.T) {
	dialects(t, func(t *testing.T, dsn func(testing.TB) string) {
		ctx := context.Background()
		d := dsn(t)
		quiet := slog.New(slog.DiscardHandler)
		slow := open(t, d, &Options{Logger: quiet, Now: func() time.Time { return t0.Add(-8 * 24 * time.Hour) }})
		sweeper := open(t, d, &Options{Logger: quiet})
		lost := true
		slow.afterCommit = func() error {
			if lost {
				lost = false
				return errors.New("connection reset after commit")
			}
			return nil
		}
		for i := range 10 {
			require.NoError(t, slow.Add(ctx, click("skewed", i), clickstore.Unique))
		}
		require.Error(t, slow.Flush(ctx), "the reply is lost")
		_, err := sweeper.Sweep(ctx, t0.Add(time.Hour))
		require.NoError(t, err)
		require.NoError(t, slow.Flush(ctx), "the retry")
		assert.Equal(t, uint64(10), clicks(t, sweeper, "skewed"), "the batch counts once")
	})
}
