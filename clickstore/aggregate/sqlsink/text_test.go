package sqlsink

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/pgtest"
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

// A database that cannot be reached gives errors whose driver text names
// the server ("failed to connect to ... 127.0.0.1:5432"): what a Sink
// returns has every address masked, as its log has, and still unwraps to
// the driver's error.
func TestErrorsHoldNoServerAddress(t *testing.T) {
	ctx := context.Background()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := closed.Addr().String()
	require.NoError(t, closed.Close())
	_, err = Open(ctx, "postgres://u@"+down+"/x?connect_timeout=5", nil)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "sqlsink: "), err.Error())
	ipmasktest.AssertNoRawIPError(t, ipmask.Policy{}, err, "Open on a closed port")
	var pgErr *pgconn.ConnectError
	assert.ErrorAs(t, err, &pgErr, "the driver's error stays reachable")

	srv := pgtest.Start(t)
	s := open(t, srv.DB(t), &Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, s.Add(ctx, click("down", 1), clickstore.Unique))
	require.NoError(t, s.Add(ctx, click("kept", 1), clickstore.Unique))
	srv.Stop(t)
	calls := map[string]func() error{
		"Flush": func() error { return s.Flush(ctx) },
		"Cells": func() error {
			_, err := s.Cells(ctx, aggregate.Query{Link: "down", From: t0, To: t0.Add(time.Hour)})
			return err
		},
		"Sweep":     func() error { _, err := s.Sweep(ctx, t0); return err },
		"EraseLink": func() error { _, err := s.EraseLink(ctx, "down"); return err },
	}
	for name, call := range calls {
		err := call()
		require.Error(t, err, name)
		assert.True(t, strings.HasPrefix(err.Error(), "sqlsink: "), err.Error())
		ipmasktest.AssertNoRawIPError(t, ipmask.Policy{}, err, name)
	}
	srv.Resume(t)
	require.NoError(t, s.Flush(ctx), "buffered while the database was down")
	assert.Equal(t, uint64(1), clicks(t, s, "kept"))
}
