package sqlsink_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/aggregatetest"
	"github.com/clickanon/clickanon/clickstore/aggregate/sqlsink"
	"github.com/clickanon/clickanon/internal/pgtest"
)

// newSinks returns an aggregatetest.NewBackend of sinks on the database dsn
// gives for each subtest.
func newSinks(dsn func(t *testing.T) string) aggregatetest.NewBackend {
	dsns := map[aggregate.Backend]string{}
	return func(t *testing.T, cfg aggregatetest.Config) aggregate.Backend {
		d, ok := dsns[cfg.SharedWith]
		if !ok {
			d = dsn(t)
		}
		s, err := sqlsink.Open(context.Background(), d, &sqlsink.Options{Now: cfg.Now, FlushInterval: time.Hour})
		require.NoError(t, err)
		t.Cleanup(func() {
			assert.NoError(t, s.Close(context.Background()))
			assert.Zero(t, s.Stats().Dropped, "increments dropped")
		})
		dsns[s] = d
		return s
	}
}

func sqliteDSN(t *testing.T) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "stats.db")
}

func TestConformanceSQLite(t *testing.T) {
	aggregatetest.Run(t, newSinks(sqliteDSN))
}

func TestConformancePostgreSQL(t *testing.T) {
	aggregatetest.Run(t, newSinks(func(t *testing.T) string { return pgtest.DB(t) }))
}
