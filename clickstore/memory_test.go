package clickstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/clickstoretest"
)

func TestMemoryConformance(t *testing.T) {
	clickstoretest.Run(t, func(t *testing.T, cfg clickstoretest.Config) clickstore.Store {
		m, err := clickstore.NewMemory(&clickstore.MemoryOptions{Policy: cfg.Policy, Capacity: cfg.Capacity, Now: cfg.Now})
		require.NoError(t, err)
		return m
	})
}

var _ = time.Second
