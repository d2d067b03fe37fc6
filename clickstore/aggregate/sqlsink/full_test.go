package sqlsink

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
)

// A SQLite file that cannot grow (a full disk, here max_page_count) fails
// the flush loudly (an error, a failure counted, a warning logged), keeps
// every increment buffered, and writes each exactly once when it has room
// again.
func TestSQLiteFullDatabaseLosesNothing(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	s := open(t, sqlitePath(t), &Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{ReplaceAttr: noTime}))})
	require.NoError(t, s.Add(ctx, click("full", 0), clickstore.Unique))
	require.NoError(t, s.Flush(ctx))
	var pages int64
	require.NoError(t, s.db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages))
	_, err := s.db.ExecContext(ctx, "PRAGMA max_page_count = "+strconv.FormatInt(pages, 10))
	require.NoError(t, err)

	for i := 1; i <= 400; i++ { // new links: new rows, new pages
		require.NoError(t, s.Add(ctx, click("full-"+strconv.Itoa(i), i), clickstore.Unique))
	}
	err = s.Flush(ctx)
	require.Error(t, err, "the database is full")
	st := s.Stats()
	assert.Equal(t, uint64(1), st.FlushErrors)
	assert.Equal(t, uint64(400), st.Buffered, "every increment stays buffered")
	assert.Contains(t, logs.String(), "sqlsink: flush failed", "the failure is logged")

	_, err = s.db.ExecContext(ctx, "PRAGMA max_page_count = 1073741823")
	require.NoError(t, err)
	require.NoError(t, s.Flush(ctx))
	assert.Equal(t, uint64(0), s.Stats().Buffered)
	assert.Equal(t, uint64(1), clicks(t, s, "full"))
	for i := 1; i <= 400; i++ {
		require.Equal(t, uint64(1), clicks(t, s, "full-"+strconv.Itoa(i)), "link %d counted once", i)
	}
}
