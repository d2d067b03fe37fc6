package sqlsink

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// PostgreSQL's text holds neither invalid UTF-8 nor NUL: one click
// carrying either in a text field made every later flush fail, the
// whole batch with it, so that nothing more was written. Add refuses
// such a click, with an error that names the field and not its text, and
// the clicks around it are written.
func TestTextThatDatabasesRefuse(t *testing.T) {
	bad := []struct {
		name string
		edit func(*clickstore.Click)
	}{
		{"link not UTF-8", func(c *clickstore.Click) { c.Link = "go/203.0.113.9\xff" }},
		{"link with NUL", func(c *clickstore.Click) { c.Link = "go/203.0.113.9\x00" }},
		{"referrer not UTF-8", func(c *clickstore.Click) { c.Referrer = "\xfe203.0.113.9.example" }},
		{"bot with NUL", func(c *clickstore.Click) { c.Bot = "b\x00" }},
		{"device not UTF-8", func(c *clickstore.Click) { c.Device = "\xc3" }},
	}
	dialects(t, func(t *testing.T, dsn func(testing.TB) string) {
		s := open(t, dsn(t), &Options{Logger: slog.New(slog.DiscardHandler)})
		ctx := context.Background()
		require.NoError(t, s.Add(ctx, click("text", 1), clickstore.Unique))
		for _, tt := range bad {
			c := click("text", 2)
			tt.edit(&c)
			err := s.Add(ctx, c, clickstore.Unique)
			require.ErrorIs(t, err, clickstore.ErrInvalidClick, tt.name)
			assert.True(t, strings.HasPrefix(err.Error(), "sqlsink: "), err.Error())
			assert.Contains(t, err.Error(), strings.Fields(tt.name)[0], "the error names the field")
			ipmasktest.AssertNoRawIPError(t, ipmask.Policy{}, err, tt.name)
		}
		require.NoError(t, s.Add(ctx, click("text", 3), clickstore.Unique))
		require.NoError(t, s.Flush(ctx))
		assert.Equal(t, uint64(2), clicks(t, s, "text"), "the clicks around the refused ones are written")
	})
}
