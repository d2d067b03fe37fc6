package crash_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/pgtest"
)

// Four processes start at once on one new SQLite file (so that they
// create its schema at once), and on one PostgreSQL database, and add
// clicks to the same cells, flushing every few milliseconds and at random
// moments, so that their flushes of one cell meet. None fails a flush
// (SQLite's busy timeout and immediate transactions make the writers take
// turns), and the database then holds exactly what a Rollup given every
// process's clicks holds: every count, in every bucket, dimension and
// range, and every cell's visitors, merged from the four processes'
// sketches. Checked to fail: with one writer's clicks left out of the
// Rollup (the counts differ), and with the SQLite upsert's merge of
// sketches replaced by keeping the batch's (the visitors differ).
func TestProcessesFlushingTheSameCells(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		together(t, "sqlite:"+filepath.Join(t.TempDir(), "shared stats.db"))
	})
	t.Run("postgresql", func(t *testing.T) {
		t.Parallel()
		together(t, pgtest.DB(t))
	})
}

func together(t *testing.T, dsn string) {
	const writers = 4
	n := scaled(500, 200)
	seed := uint64(time.Now().UnixNano())
	ctx := context.Background()
	cs := make([]*child, writers)
	for w := range cs {
		cs[w] = startChild(t, "writer", envDSN+"="+dsn, fmt.Sprintf("%s=%d", envWorker, w),
			fmt.Sprintf("%s=%d", envSeed, seed), fmt.Sprintf("%s=%d", envN, n))
	}
	for w, c := range cs {
		var rep *writerReport
		for e := range c.events {
			switch e.kind {
			case "error":
				t.Fatalf("writer %d: %s\n%s", w, e.rest, c.errors())
			case "stats":
				rep = new(writerReport)
				require.NoError(t, json.Unmarshal([]byte(e.rest), rep))
			}
		}
		require.NoError(t, c.cmd.Wait(), "writer %d", w)
		require.NotNil(t, rep, "writer %d reported", w)
		assert.Equal(t, uint64(n), rep.Stats.Written, "writer %d: every click written", w)
		assert.Zero(t, rep.Stats.Dropped, "writer %d: nothing dropped", w)
		assert.Zero(t, rep.Stats.FlushErrors, "writer %d: no flush failed", w)
		t.Logf("writer %d: %+v", w, rep.Stats)
	}

	r, err := aggregate.New(&aggregate.Options{Now: fixedNow})
	require.NoError(t, err)
	for w := range writers {
		for _, a := range writerClicks(seed, uint64(w), uint64(n)) {
			require.NoError(t, r.Add(ctx, a.c, a.u))
		}
	}
	s := openSink(t, dsn)
	for _, link := range hotLinks {
		for _, g := range []aggregate.Granularity{aggregate.Minute, aggregate.Hour, aggregate.Day} {
			q := dayQuery(link, g)
			want, err := r.Cells(ctx, q)
			require.NoError(t, err)
			got, err := s.Cells(ctx, q)
			require.NoError(t, err)
			sortCells(want)
			sortCells(got)
			assert.Equal(t, want, got, "%s %s", link, g)
		}
	}
}

// sortCells orders cells by everything that names them.
func sortCells(cs []aggregate.Cell) {
	slices.SortFunc(cs, func(a, b aggregate.Cell) int {
		return cmp.Or(cmp.Compare(a.Scope, b.Scope), strings.Compare(a.Link, b.Link), a.Start.Compare(b.Start),
			cmp.Compare(a.Dimension, b.Dimension), cmpBool(a.Other, b.Other), strings.Compare(a.Value, b.Value))
	})
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
