package aggregate_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/clickstore/aggregate/aggregatetest"
)

func TestRollupConformance(t *testing.T) {
	aggregatetest.Run(t, func(t *testing.T, cfg aggregatetest.Config) aggregate.Backend {
		if cfg.SharedWith != nil {
			return cfg.SharedWith // one process's memory: a second instance is the same Rollup
		}
		r, err := aggregate.New(&aggregate.Options{Now: cfg.Now})
		require.NoError(t, err)
		t.Cleanup(func() { _ = r.Close() })
		return r
	})
}
