package aggregate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
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
	rows := []struct {
		name string
		call func() error
		want string
	}{
		{"Add nil context", func() error { return r.Add(nilCtx, c, clickstore.Unique) }, "add click: nil context"},
		{"Cells nil context", func() error { _, err := r.Cells(nilCtx, q); return err }, "cells: nil context"},
		{"Report nil context", func() error { _, err := r.Report(nilCtx, q); return err }, "nil context"},
		{"Publish nil context", func() error { _, err := Publish(nilCtx, r, q); return err }, "publish: nil context"},
		{"EraseLink nil context", func() error { _, err := r.EraseLink(nilCtx, "l"); return err }, "erase link: nil context"},
		{"Sweep nil context", func() error { _, err := r.Sweep(nilCtx, t0); return err }, "sweep: nil context"},
		{"nil Add", func() error { return nr.Add(ctx, c, clickstore.Unique) }, "nil *Rollup"},
		{"nil Cells", func() error { _, err := nr.Cells(ctx, q); return err }, "nil *Rollup"},
		{"Publish of a typed nil", func() error { _, err := Publish(ctx, nr, q); return err }, "nil *Rollup"},
		{"nil EraseLink", func() error { _, err := nr.EraseLink(ctx, "l"); return err }, "nil *Rollup"},
		{"nil Sweep", func() error { _, err := nr.Sweep(ctx, t0); return err }, "nil *Rollup"},
		{"nil Merge", func() error { return nr.Merge(r) }, "nil *Rollup"},
		{"Merge of a zero Rollup", func() error { return r.Merge(zr) }, "other Rollup not made by New"},
		{"nil Close", nr.Close, "nil *Rollup"},
		{"zero Add", func() error { return zr.Add(ctx, c, clickstore.Unique) }, "not made by New"},
		{"zero Cells", func() error { _, err := zr.Cells(ctx, q); return err }, "not made by New"},
		{"zero EraseLink", func() error { _, err := zr.EraseLink(ctx, "l"); return err }, "not made by New"},
		{"zero Sweep", func() error { _, err := zr.Sweep(ctx, t0); return err }, "not made by New"},
		{"WriteCSV nil writer", func() error { return WriteCSV(nil, Report{}) }, "nil io.Writer"},
		{"WriteJSON nil writer", func() error { return WriteJSON(nil, Report{}) }, "nil io.Writer"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = row.call() })
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "aggregate: "), "%q does not name the package", err)
			assert.Contains(t, err.Error(), row.want)
		})
	}
	assert.NotPanics(t, func() { assert.Zero(t, CountsOf(nil, clickstore.Unique)) })
}
