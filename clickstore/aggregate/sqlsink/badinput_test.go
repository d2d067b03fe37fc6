package sqlsink

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/testkit"
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
	rows := []testkit.BadCall{
		{Name: "Open nil context", Call: func() error { _, err := Open(nilCtx, sqlitePath(t), nil); return err }, Want: "open: nil context"},
		{Name: "New nil context", Call: func() error { _, err := New(nilCtx, s.db, SQLite, nil); return err }, Want: "new: nil context"},
		{Name: "Add nil context", Call: func() error { return s.Add(nilCtx, c, clickstore.Unique) }, Want: "add click: nil context"},
		{Name: "Flush nil context", Call: func() error { return s.Flush(nilCtx) }, Want: "flush: nil context"},
		{Name: "Cells nil context", Call: func() error { _, err := s.Cells(nilCtx, q); return err }, Want: "cells: nil context"},
		{Name: "EraseLink nil context", Call: func() error { _, err := s.EraseLink(nilCtx, "l"); return err }, Want: "erase link: nil context"},
		{Name: "Sweep nil context", Call: func() error { _, err := s.Sweep(nilCtx, t0); return err }, Want: "sweep: nil context"},
		{Name: "Close nil context", Call: func() error { return s.Close(nilCtx) }, Want: "close: nil context"},
		{Name: "nil Add", Call: func() error { return ns.Add(ctx, c, clickstore.Unique) }, Want: "nil *Sink"},
		{Name: "nil Flush", Call: func() error { return ns.Flush(ctx) }, Want: "nil *Sink"},
		{Name: "nil Cells", Call: func() error { _, err := ns.Cells(ctx, q); return err }, Want: "nil *Sink"},
		{Name: "nil EraseLink", Call: func() error { _, err := ns.EraseLink(ctx, "l"); return err }, Want: "nil *Sink"},
		{Name: "nil Sweep", Call: func() error { _, err := ns.Sweep(ctx, t0); return err }, Want: "nil *Sink"},
		{Name: "nil Close", Call: func() error { return ns.Close(ctx) }, Want: "nil *Sink"},
		{Name: "zero Add", Call: func() error { return zs.Add(ctx, c, clickstore.Unique) }, Want: "not made by New or Open"},
		{Name: "zero Flush", Call: func() error { return zs.Flush(ctx) }, Want: "not made by New or Open"},
		{Name: "zero Cells", Call: func() error { _, err := zs.Cells(ctx, q); return err }, Want: "not made by New or Open"},
		{Name: "zero EraseLink", Call: func() error { _, err := zs.EraseLink(ctx, "l"); return err }, Want: "not made by New or Open"},
		{Name: "zero Sweep", Call: func() error { _, err := zs.Sweep(ctx, t0); return err }, Want: "not made by New or Open"},
		{Name: "zero Close", Call: func() error { return zs.Close(ctx) }, Want: "not made by New or Open"},
	}
	testkit.CheckBadCalls(t, "sqlsink", rows)
	assert.NotPanics(t, func() { assert.Zero(t, ns.Stats()) })
	require.NoError(t, s.Add(ctx, c, clickstore.Unique))
	require.NoError(t, s.Flush(ctx))
	assert.Equal(t, uint64(1), clicks(t, s, "l"))
}
