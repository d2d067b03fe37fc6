package sqlsink

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
)

// A nil context, a nil *Sink and a Sink not made by New or Open are
// errors that name the package and the fault. A nil context used to
// panic in the driver with SQLite's one connection taken, after which
// every call on the Sink, Close included, waited for good; the last row
// proves the Sink still answers.
func TestBadReceiverOrContext(t *testing.T) {
	ctx := context.Background()
	var nilCtx context.Context
	s := open(t, sqlitePath(t), nil)
	c := click("l", 1)
	q := aggregate.Query{Link: "l", From: t0, To: t0.Add(time.Hour)}
	var ns *Sink
	zs := new(Sink)
	rows := []struct {
		name string
		call func() error
		want string
	}{
		{"Open nil context", func() error { _, err := Open(nilCtx, sqlitePath(t), nil); return err }, "open: nil context"},
		{"New nil context", func() error { _, err := New(nilCtx, s.db, SQLite, nil); return err }, "new: nil context"},
		{"Add nil context", func() error { return s.Add(nilCtx, c, clickstore.Unique) }, "add click: nil context"},
		{"Flush nil context", func() error { return s.Flush(nilCtx) }, "flush: nil context"},
		{"Cells nil context", func() error { _, err := s.Cells(nilCtx, q); return err }, "cells: nil context"},
		{"EraseLink nil context", func() error { _, err := s.EraseLink(nilCtx, "l"); return err }, "erase link: nil context"},
		{"Sweep nil context", func() error { _, err := s.Sweep(nilCtx, t0); return err }, "sweep: nil context"},
		{"Close nil context", func() error { return s.Close(nilCtx) }, "close: nil context"},
		{"nil Add", func() error { return ns.Add(ctx, c, clickstore.Unique) }, "nil *Sink"},
		{"nil Flush", func() error { return ns.Flush(ctx) }, "nil *Sink"},
		{"nil Cells", func() error { _, err := ns.Cells(ctx, q); return err }, "nil *Sink"},
		{"nil EraseLink", func() error { _, err := ns.EraseLink(ctx, "l"); return err }, "nil *Sink"},
		{"nil Sweep", func() error { _, err := ns.Sweep(ctx, t0); return err }, "nil *Sink"},
		{"nil Close", func() error { return ns.Close(ctx) }, "nil *Sink"},
		{"zero Add", func() error { return zs.Add(ctx, c, clickstore.Unique) }, "not made by New or Open"},
		{"zero Flush", func() error { return zs.Flush(ctx) }, "not made by New or Open"},
		{"zero Cells", func() error { _, err := zs.Cells(ctx, q); return err }, "not made by New or Open"},
		{"zero EraseLink", func() error { _, err := zs.EraseLink(ctx, "l"); return err }, "not made by New or Open"},
		{"zero Sweep", func() error { _, err := zs.Sweep(ctx, t0); return err }, "not made by New or Open"},
		{"zero Close", func() error { return zs.Close(ctx) }, "not made by New or Open"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = row.call() })
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "sqlsink: "), "%q does not name the package", err)
			assert.Contains(t, err.Error(), row.want)
		})
	}
	assert.NotPanics(t, func() { assert.Zero(t, ns.Stats()) })
	require.NoError(t, s.Add(ctx, c, clickstore.Unique))
	require.NoError(t, s.Flush(ctx))
	assert.Equal(t, uint64(1), clicks(t, s, "l"))
}
