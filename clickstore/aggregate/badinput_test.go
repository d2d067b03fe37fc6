package aggregate

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/internal/testkit"
)

// A nil context, a nil *Rollup, a Rollup not made by New and a nil
// io.Writer are errors that name the package and the fault, not nil
// dereferences (a zero Rollup panicked in maphash; Publish of a typed nil
// backend, and every method with a nil context, on a nil pointer).
func TestBadReceiverOrArgument(t *testing.T) {
	ctx := context.Background()
	var nilCtx context.Context
	c := click("l", t0, 1)
	q := Query{From: t0.Add(-time.Hour), To: t0.Add(time.Hour)}
	r, err := New(nil)
	require.NoError(t, err)
	defer r.Close()
	var nr *Rollup
	zr := new(Rollup)
	rows := []testkit.BadCall{
		{Name: "Add nil context", Call: func() error { return r.Add(nilCtx, c, clickstore.Unique) }, Want: "add click: nil context"},
		{Name: "Cells nil context", Call: func() error { _, err := r.Cells(nilCtx, q); return err }, Want: "cells: nil context"},
		{Name: "Report nil context", Call: func() error { _, err := r.Report(nilCtx, q); return err }, Want: "nil context"},
		{Name: "Publish nil context", Call: func() error { _, err := Publish(nilCtx, r, q); return err }, Want: "publish: nil context"},
		{Name: "EraseLink nil context", Call: func() error { _, err := r.EraseLink(nilCtx, "l"); return err }, Want: "erase link: nil context"},
		{Name: "Sweep nil context", Call: func() error { _, err := r.Sweep(nilCtx, t0); return err }, Want: "sweep: nil context"},
		{Name: "nil Add", Call: func() error { return nr.Add(ctx, c, clickstore.Unique) }, Want: "nil *Rollup"},
		{Name: "nil Cells", Call: func() error { _, err := nr.Cells(ctx, q); return err }, Want: "nil *Rollup"},
		{Name: "Publish of a typed nil", Call: func() error { _, err := Publish(ctx, nr, q); return err }, Want: "nil *Rollup"},
		{Name: "nil EraseLink", Call: func() error { _, err := nr.EraseLink(ctx, "l"); return err }, Want: "nil *Rollup"},
		{Name: "nil Sweep", Call: func() error { _, err := nr.Sweep(ctx, t0); return err }, Want: "nil *Rollup"},
		{Name: "nil Merge", Call: func() error { return nr.Merge(r) }, Want: "nil *Rollup"},
		{Name: "Merge of a zero Rollup", Call: func() error { return r.Merge(zr) }, Want: "other Rollup not made by New"},
		{Name: "nil Close", Call: nr.Close, Want: "nil *Rollup"},
		{Name: "zero Add", Call: func() error { return zr.Add(ctx, c, clickstore.Unique) }, Want: "not made by New"},
		{Name: "zero Cells", Call: func() error { _, err := zr.Cells(ctx, q); return err }, Want: "not made by New"},
		{Name: "zero EraseLink", Call: func() error { _, err := zr.EraseLink(ctx, "l"); return err }, Want: "not made by New"},
		{Name: "zero Sweep", Call: func() error { _, err := zr.Sweep(ctx, t0); return err }, Want: "not made by New"},
		{Name: "WriteCSV nil writer", Call: func() error { return WriteCSV(nil, Report{}) }, Want: "nil io.Writer"},
		{Name: "WriteJSON nil writer", Call: func() error { return WriteJSON(nil, Report{}) }, Want: "nil io.Writer"},
	}
	testkit.CheckBadCalls(t, "aggregate", rows)
	assert.NotPanics(t, func() { assert.Zero(t, CountsOf(nil, clickstore.Unique)) })
}
